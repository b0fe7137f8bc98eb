//! The Flax modules of the official M3AE (`m3ae/model.py`), declared under their Flax parameter
//! paths and in Flax's layouts, so our checkpoint holds exactly the official tensors and no
//! conversion is needed anywhere: `nn.Dense` stores `kernel [in, out]` (`y = x · kernel + bias`,
//! the transpose of a PyTorch Linear weight), `nn.LayerNorm` stores `scale` and `bias`, and
//! `nn.compact` names submodules `Dense_0`, `LayerNorm_1`, `Block_3`, ... in creation order.
use tessera_dsl::graph::{GResult, NodeId};
use tessera_dsl::spec::VitDims;

use crate::blocks::Scope;
use crate::params::Init;

/// `nn.Dense(out)` with xavier-uniform kernel and zero bias: `x [.., in] → [.., out]`.
pub fn dense(s: &mut Scope, x: NodeId, fan_in: usize, fan_out: usize) -> GResult<NodeId> {
    let kernel = s.param(
        "kernel",
        &[fan_in, fan_out],
        Init::XavierUniform { fan_in, fan_out },
    )?;
    let bias = s.param("bias", &[fan_out], Init::Zeros)?;
    let g = s.g();
    let y = g.matmul(x, kernel, false, false)?;
    g.add(y, bias)
}

/// `nn.LayerNorm()` over the last dim: `scale` (ones) and `bias` (zeros).
pub fn layer_norm(s: &mut Scope, x: NodeId, dim: usize, eps: f64) -> GResult<NodeId> {
    let scale = s.param("scale", &[dim], Init::Ones)?;
    let bias = s.param("bias", &[dim], Init::Zeros)?;
    s.g().layer_norm(x, scale, bias, eps)
}

/// The official `Attention` (with `use_bias=True`, as `Block` builds it): `Dense_0` is the qkv
/// projection, reshaped `[.., 3, heads, D/heads]` (the channel order of the packed
/// self-attention op), `Dense_1` the output projection. `padding` is the additive key mask
/// `[B, 1, 1, L]`; see [`super::graph`] for why adding −1e7 equals the official replacement.
fn attention(s: &mut Scope, x: NodeId, d: &VitDims, padding: Option<NodeId>) -> GResult<NodeId> {
    let qkv = dense(&mut s.pp("Dense_0"), x, d.dim, 3 * d.dim)?;
    let scale = (d.head_dim as f64).powf(-0.5);
    let o = s.g().self_attention(qkv, d.heads, padding, scale)?;
    dense(&mut s.pp("Dense_1"), o, d.dim, d.dim)
}

/// The official `TransformerMLP`: `fc2(gelu(fc1(x)))` with Flax's tanh-approximate GELU.
fn mlp(s: &mut Scope, x: NodeId, d: &VitDims) -> GResult<NodeId> {
    let h = dense(&mut s.pp("fc1"), x, d.dim, d.mlp_hidden)?;
    let h = s.g().gelu_tanh(h)?;
    dense(&mut s.pp("fc2"), h, d.mlp_hidden, d.dim)
}

/// The official `Block` (pre-norm; dropout and drop-path are 0 as in the released recipes).
fn block(
    s: &mut Scope,
    x: NodeId,
    d: &VitDims,
    eps: f64,
    padding: Option<NodeId>,
) -> GResult<NodeId> {
    let h = layer_norm(&mut s.pp("LayerNorm_0"), x, d.dim, eps)?;
    let h = attention(&mut s.pp("Attention_0"), h, d, padding)?;
    let x = s.g().add(x, h)?;
    let h = layer_norm(&mut s.pp("LayerNorm_1"), x, d.dim, eps)?;
    let h = mlp(&mut s.pp("TransformerMLP_0"), h, d)?;
    s.g().add(x, h)
}

/// The official `Transformer`: `Block_0 .. Block_{depth-1}`, then `LayerNorm_0`. Call with
/// `s.pp("encoder")` or `s.pp("decoder")`.
pub fn transformer(
    s: &mut Scope,
    x: NodeId,
    d: &VitDims,
    eps: f64,
    padding: Option<NodeId>,
) -> GResult<NodeId> {
    let mut x = x;
    for i in 0..d.depth {
        x = block(&mut s.pp(format!("Block_{i}")), x, d, eps, padding)?;
    }
    layer_norm(&mut s.pp("LayerNorm_0"), x, d.dim, eps)
}

#[cfg(test)]
mod tests {
    use tessera_dsl::graph::{compile, PlanOptions};
    use tessera_runtime::cpu::CpuExecutor;

    use super::*;
    use crate::blocks::Builder;

    /// `dense` is `x · kernel + bias` with the kernel stored `[in, out]`, checked against a loop.
    #[test]
    fn dense_multiplies_by_the_stored_in_out_kernel() {
        let (rows, fan_in, fan_out) = (3, 4, 5);
        let mut b = Builder::new();
        let mut s = b.root();
        let x = s.g().input("x", &[rows, fan_in]).unwrap();
        let y = dense(&mut s.pp("proj"), x, fan_in, fan_out).unwrap();
        let built = b.finish();
        let names: Vec<_> = built.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["proj.kernel", "proj.bias"]);
        assert_eq!(built.params[0].shape, [fan_in, fan_out]);
        let xs: Vec<f64> = (0..rows * fan_in)
            .map(|i| (i as f64 * 0.37).sin())
            .collect();
        let k: Vec<f64> = (0..fan_in * fan_out)
            .map(|i| (i as f64 * 0.11).cos())
            .collect();
        let bias: Vec<f64> = (0..fan_out).map(|i| 0.1 * i as f64 - 0.2).collect();
        let plan = compile(&built.graph, &[y], &PlanOptions::default()).unwrap();
        let mut ex = CpuExecutor::<f64>::new(&plan).unwrap();
        ex.set_param("proj.kernel", &k).unwrap();
        ex.set_param("proj.bias", &bias).unwrap();
        ex.set_input("x", &xs).unwrap();
        ex.run().unwrap();
        let out = ex.read(y).unwrap();
        for r in 0..rows {
            for o in 0..fan_out {
                let want: f64 = (0..fan_in)
                    .map(|i| xs[r * fan_in + i] * k[i * fan_out + o])
                    .sum::<f64>()
                    + bias[o];
                assert!((out[r * fan_out + o] - want).abs() < 1e-12);
            }
        }
    }
}
