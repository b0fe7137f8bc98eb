//! Matrix products: `MatMul` (with the `linear` layer built on it) and `MatMulBias`, the
//! matmul + bias that fusion makes (it has no gradient rule: `grad` runs before fusion).
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use crate::graph::autodiff::{every_input, Contributions, Vjp, VjpRule};
use crate::graph::shape::{numel, shape_err};
use crate::graph::{misrouted, GResult, Graph, NodeId, Op};

impl Graph {
    /// `op(a) · op(b)` batched over the leading dims of `a`, where `op` transposes the last two
    /// dims when the flag is set. `b` either has the same leading dims as `a`, or is 2-D and is
    /// shared by every batch (then `trans_a` must be false).
    pub fn matmul(
        &mut self,
        a: NodeId,
        b: NodeId,
        trans_a: bool,
        trans_b: bool,
    ) -> GResult<NodeId> {
        self.matmul_scaled(a, b, trans_a, trans_b, 1.0)
    }

    /// `alpha · op(a) · op(b)` (see [`Graph::matmul`]).
    pub fn matmul_scaled(
        &mut self,
        a: NodeId,
        b: NodeId,
        trans_a: bool,
        trans_b: bool,
        alpha: f64,
    ) -> GResult<NodeId> {
        let sa = self.data_shape("matmul", a)?;
        let sb = self.data_shape("matmul", b)?;
        let err = |why: &str| shape_err("matmul", &[&sa, &sb], why.into());
        if sa.len() < 2 || sb.len() < 2 {
            return Err(err("both operands need at least 2 dims"));
        }
        let (ra, rb) = (sa.len(), sb.len());
        let (m, ka) = if trans_a {
            (sa[ra - 1], sa[ra - 2])
        } else {
            (sa[ra - 2], sa[ra - 1])
        };
        let (kb, n) = if trans_b {
            (sb[rb - 1], sb[rb - 2])
        } else {
            (sb[rb - 2], sb[rb - 1])
        };
        if ka != kb {
            return Err(shape_err(
                "matmul",
                &[&sa, &sb],
                format!(
                    "inner dimensions differ ({ka} vs {kb}; trans_a {trans_a}, trans_b {trans_b})"
                ),
            ));
        }
        if rb == 2 {
            if trans_a && ra > 2 {
                return Err(err("a shared 2-D right operand needs trans_a = false"));
            }
        } else if sa[..ra - 2] != sb[..rb - 2] {
            return Err(err("batched operands need equal leading dims"));
        }
        let mut out = sa[..ra - 2].to_vec();
        out.extend_from_slice(&[m, n]);
        let op = Op::MatMul {
            trans_a,
            trans_b,
            alpha,
        };
        self.op(op, vec![a, b], out)
    }

    /// PyTorch `nn.Linear`: `x · Wᵀ (+ bias)` with `W` of shape `[out, in]`.
    pub fn linear(&mut self, x: NodeId, w: NodeId, bias: Option<NodeId>) -> GResult<NodeId> {
        let y = self.matmul(x, w, false, true)?;
        match bias {
            Some(b) => {
                let sb = self.data_shape("linear", b)?;
                let sy = self.shape(y).to_vec();
                if sb.len() != 1 || sb[0] != sy[sy.len() - 1] {
                    return Err(shape_err(
                        "linear",
                        &[&sy, &sb],
                        "bias must be 1-D with the output width".into(),
                    ));
                }
                self.add(y, b)
            }
            None => Ok(y),
        }
    }
}

/// `MatMul`: `da = dy · op(b)ᵀ`, `db = op(a)ᵀ · dy`, each with the transposes folded into the
/// product's flags; a shared 2-D `b` gets one GEMM over the batch folded into rows.
pub(crate) const MATMUL_VJP: VjpRule = VjpRule {
    through: every_input,
    vjp: matmul_vjp,
};

fn matmul_vjp(g: &mut Graph, v: &Vjp<'_>) -> GResult<Contributions> {
    let Op::MatMul {
        trans_a: ta,
        trans_b: tb,
        alpha,
    } = v.node.op
    else {
        misrouted(&v.node.op)
    };
    let (a, b, dy) = (v.x(0), v.x(1), v.dy);
    let (sa, sb) = (v.shape(g, 0), v.shape(g, 1));
    let mut out = Vec::new();
    if v.need(0) {
        let da = if ta {
            g.matmul_scaled(b, dy, tb, true, alpha)?
        } else {
            g.matmul_scaled(dy, b, false, !tb, alpha)?
        };
        out.push((a, da));
    }
    if v.need(1) {
        let db = if sb.len() == 2 && sa.len() > 2 {
            // Shared weight: fold the batch into rows, one GEMM sums over it.
            let k = sa[sa.len() - 1];
            let rows = numel(&sa) / k;
            let nn = v.node.shape[v.node.shape.len() - 1];
            let a2 = g.reshape(a, &[rows, k])?;
            let d2 = g.reshape(dy, &[rows, nn])?;
            if tb {
                g.matmul_scaled(d2, a2, true, false, alpha)?
            } else {
                g.matmul_scaled(a2, d2, true, false, alpha)?
            }
        } else if tb {
            g.matmul_scaled(dy, a, true, ta, alpha)?
        } else {
            g.matmul_scaled(a, dy, !ta, false, alpha)?
        };
        out.push((b, db));
    }
    Ok(out)
}

#[cfg(feature = "cpu")]
pub(crate) mod cpu {
    //! Batched matmul with transposes through [`gemm`] (transposes are strides, never
    //! copies); a shared 2-D right operand folds the batch into rows so one big GEMM runs.
    use rayon::prelude::*;

    use crate::graph::cpu::gemm::{gemm, gemm_fused, MatRef, Side, Start};
    use crate::graph::cpu::{CpuKernel, Element, KernelArgs, KernelError};
    use crate::graph::{misrouted, Op};

    /// `MatMul` and `MatMulBias` (the bias is input 2).
    pub(crate) const MATMUL: CpuKernel = CpuKernel::new(matmul::<f32>, matmul::<f64>);

    /// `out = alpha · op(a) · op(b) (+ bias[N] on every row)` for the shapes checked by the
    /// graph builder. The GEMM starts from the bias rows and accumulates onto them.
    fn matmul<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let (ta, tb, alpha, bias) = match a.node.op {
            Op::MatMul {
                trans_a,
                trans_b,
                alpha,
            } => (trans_a, trans_b, alpha, None),
            Op::MatMulBias {
                trans_a,
                trans_b,
                alpha,
            } => (trans_a, trans_b, alpha, Some(a.ins[2])),
            ref op => misrouted(op),
        };
        let (sa, sb) = (a.in_shape(0), a.in_shape(1));
        let ([x, b, ..], [out, ..]) = (a.ins, a.outs);
        let alpha = E::from_f64(alpha);
        let (ra, rb) = (sa.len(), sb.len());
        let (a_r, a_c) = (sa[ra - 2], sa[ra - 1]);
        let (b_r, b_c) = (sb[rb - 2], sb[rb - 1]);
        let (m, k) = if ta { (a_c, a_r) } else { (a_r, a_c) };
        let n = if tb { b_r } else { b_c };
        if rb == 2 && !ta {
            let rows = x.len() / k.max(1);
            let av = MatRef::row_major(x, rows, k, false);
            let bv = MatRef::row_major(b, b_r, b_c, tb);
            match bias {
                Some(bias) => {
                    let start = Start::Bias {
                        bias,
                        residual: None,
                    };
                    gemm_fused(out, av, bv, alpha, start, Side::None, &|_| {})
                }
                None => gemm(out, n, av, bv, alpha, false),
            }
            return Ok(());
        }
        let acc = bias.is_some();
        if let Some(bias) = bias {
            out.par_chunks_mut(bias.len() * 64).for_each(|o| {
                o.chunks_mut(bias.len())
                    .for_each(|r| r.copy_from_slice(bias))
            });
        }
        let batch = out.len() / (m * n).max(1);
        let (a_sz, b_sz, o_sz) = (a_r * a_c, if rb == 2 { 0 } else { b_r * b_c }, m * n);
        let one = |i: usize, o: &mut [E]| {
            let av = MatRef::row_major(&x[i * a_sz..(i + 1) * a_sz], a_r, a_c, ta);
            let bs = if b_sz == 0 {
                b
            } else {
                &b[i * b_sz..(i + 1) * b_sz]
            };
            let bv = MatRef::row_major(bs, b_r, b_c, tb);
            gemm(o, n, av, bv, alpha, acc);
        };
        if batch > 1 && m * n * k < 128 * 128 * 128 {
            out.par_chunks_mut(o_sz)
                .enumerate()
                .for_each(|(i, o)| one(i, o));
        } else {
            for (i, o) in out.chunks_mut(o_sz).enumerate() {
                one(i, o);
            }
        }
        Ok(())
    }
}
