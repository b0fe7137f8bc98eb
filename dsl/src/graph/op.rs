//! The operations of the IR. Each op lives in one file of `ops/`: its builder with the shape
//! rule, its vector-Jacobian rule and its CPU kernel; [`OpKind`] indexes the tables that
//! dispatch to them.
use alloc::vec::Vec;

use super::fused::FusedProgram;

/// Elementwise functions of one tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    /// `x * mul + add` (scale, negation, shift).
    Affine {
        mul: f64,
        add: f64,
    },
    /// GELU with the exact erf form (PyTorch `nn.GELU()`).
    GeluErf,
    /// GELU with the tanh approximation (Flax `nn.gelu`, M3AE).
    GeluTanh,
    Relu,
    Exp,
    Log,
    Sqrt,
    Recip,
    Square,
    Tanh,
}

/// Elementwise functions of two tensors with NumPy broadcasting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// One operation. The node's `inputs` are listed in the comment of each variant.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// A leaf: an input, parameter, frozen table or optimizer state (see [`Role`](super::Role)).
    Leaf,
    /// `[]` → a tensor filled with `value` (the seed of the backward pass, zeros).
    Fill { value: f64 },
    /// `[x]` → `f(x)`.
    Unary(UnaryOp),
    /// `[x, dy]` → `dy * f'(x)`: the backward of `Unary`.
    UnaryGrad(UnaryOp),
    /// `[a, b]` → `a ∘ b`, both broadcast to the node's shape.
    Binary(BinaryOp),
    /// `[a, b]` → `alpha · op(a) · op(b)`, batched over leading dims; `b` may be 2-D and then
    /// is shared by every batch (a `Linear` layer is `matmul(x, W, trans_b)`).
    MatMul {
        trans_a: bool,
        trans_b: bool,
        alpha: f64,
    },
    /// `[a, b, bias [N]]` → `alpha · op(a) · op(b) + bias` (made by fusion; no gradient).
    MatMulBias {
        trans_a: bool,
        trans_b: bool,
        alpha: f64,
    },
    /// `[x, w, b]` → layer norm over the last dim, affine.
    LayerNorm { eps: f64 },
    /// `[x, w, dy]` → dx of `LayerNorm` (recomputes the row statistics).
    LayerNormGradX { eps: f64 },
    /// `[x, dy]` → `Σ_rows dy · x̂`, the weight gradient of `LayerNorm`.
    LayerNormGradW { eps: f64 },
    /// `[x]` → softmax over the last dim.
    Softmax,
    /// `[y, dy]` → `y · (dy − Σ dy·y)`.
    SoftmaxGrad,
    /// `[q, k, v (, bias)]` → `softmax(scale · q kᵀ + bias) v` over `[.., Lq, d]` tensors with the
    /// same leading dims; `bias` broadcasts to `[.., Lq, Lk]`. Extra output 1: the row
    /// log-sum-exp `[.., Lq]` kept for the backward. The score matrix is never stored.
    Attention { scale: f64, has_bias: bool },
    /// `[q, k, v, (bias,) o, lse, do]` → dq; extra outputs 1: dk, 2: dv.
    AttentionGrad { scale: f64, has_bias: bool },
    /// `[q, k, v, bias, o, lse, do]` → d(bias), summed to the bias's own shape.
    AttentionGradBias { scale: f64 },
    /// `[qkv [B, L, 3·D] (, bias)]` → `[B, L, D]`: multi-head self-attention reading q, k, v
    /// straight from a fused qkv projection (timm channel order `s·D + h·d + i`) and writing
    /// the heads merged, so no permute copies run. `bias` broadcasts to `[B, H, L, L]`.
    /// Extra output 1: the row log-sum-exp `[B, H, L]`.
    SelfAttention {
        heads: usize,
        scale: f64,
        has_bias: bool,
    },
    /// `[qkv, (bias,) o, lse, do]` → d qkv.
    SelfAttentionGrad {
        heads: usize,
        scale: f64,
        has_bias: bool,
    },
    /// `[qkv, bias, o, lse, do]` → d bias, summed to the bias's own shape.
    SelfAttentionGradBias { heads: usize, scale: f64 },
    /// `[producer]`: the extra output number `slot` of a multi-output producer.
    Extra { slot: u8 },
    /// `[x [Bx, L, D], idx [Bi, K]]` → `[B, K, D]`, `out[b,k] = x[b, idx[b,k]]`; Bx and Bi are
    /// each 1 (shared) or B.
    GatherRows,
    /// `[src [B, K, D], idx [Bi, K]]` → `[B', len, D]` zero-filled, `out[b, idx[b,k]] += src[b,k]`;
    /// the adjoint of `GatherRows` (B' is the node's batch, 1 when summing a shared table's rows).
    ScatterRows { len: usize },
    /// `[x0, x1, ..]` → concatenation along `axis`.
    Concat { axis: usize },
    /// `[x]` → `x[.., start..start+len, ..]` along `axis`.
    Slice { axis: usize, start: usize },
    /// `[x]` → x zero-padded along `axis` with `before` leading entries (to the node's shape).
    Pad { axis: usize, before: usize },
    /// `[x]` → the same elements in a new shape (a view: no kernel runs).
    Reshape,
    /// `[x]` → `out[i_perm(0), ..] = x[i0, ..]`: axis `j` of the output is axis `axes[j]` of x.
    Permute { axes: Vec<usize> },
    /// `[x]` → cyclic shift, `out[.., (i + shift) mod n, ..] = x[.., i, ..]` per (axis, shift).
    Roll { shifts: Vec<(usize, isize)> },
    /// `[x]` → x broadcast (copied) to the node's shape.
    Expand,
    /// `[x]` → x summed over its broadcast dims down to the node's shape.
    SumTo,
    /// `[x]` → per row of the last dim: `(x − mean) / sqrt(var_unbiased + eps)` (MAE), or with
    /// `eps_on_std`: `(x − mean) / (sqrt(var_unbiased) + eps)` (VideoMAE). No gradient.
    NormPix { eps: f64, eps_on_std: bool },
    /// `[pred [B,L,P], target, mask [B,L]]` → `Σ mask · mean_P (pred − t)² / Σ mask`, shape `[]`.
    MaskedMse,
    /// `[pred, target, mask, dy]` → d pred.
    MaskedMseGrad,
    /// `[logits [N,V], labels idx [N], weights [N]]` → `Σ w·(−log softmax)[label] / Σ w`, `[]`.
    CrossEntropy,
    /// `[logits, labels, weights, dy]` → d logits.
    CrossEntropyGrad,
    /// `[param, grad, m, v, lr [1], step [1]]` → nothing (shape `[0]`); updates param, m, v
    /// in place exactly as `torch.optim.AdamW`.
    AdamW {
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        lr_scale: f64,
    },
    /// An elementwise program over inputs broadcast to the node's shape (made by fusion).
    Fused(FusedProgram),
    /// `[x, w [N, K] or [K, N], bias [N]]` → `act(alpha · x · op(w) + bias)`, the activation
    /// applied to each panel of rows as the GEMM finishes it. Extra output 1 (if `keep_pre`):
    /// the pre-activation, for the activation's gradient. CPU-only (made by CPU fusion).
    LinearAct {
        trans_b: bool,
        alpha: f64,
        act: UnaryOp,
        keep_pre: bool,
    },
    /// `[x, w, bias, residual]` → `residual + alpha · x · op(w) + bias`: the GEMM accumulates
    /// onto the residual plus bias. CPU-only (made by CPU fusion).
    LinearResidual { trans_b: bool, alpha: f64 },
    /// `[dy, w, pre]` → `(alpha · dy · op(w)) ∘ act'(pre)`, the activation's derivative
    /// applied to each panel of rows as the GEMM finishes it. Extra output 1 (if
    /// `bias_grad`): its column sums `[N]`, the bias gradient of the layer before the
    /// activation. CPU-only (made by CPU fusion).
    LinearActGrad {
        trans_b: bool,
        alpha: f64,
        act: UnaryOp,
        bias_grad: bool,
    },
    /// `[a, w]` → `alpha · a · op(w)` (a linear layer's backward product); extra output 1:
    /// the column sums of `a` `[K]` (the bias gradient of the layer that made `a`). CPU-only
    /// (made by CPU fusion).
    LinearInputSums { trans_b: bool, alpha: f64 },
    /// `[x, w, dy (, dres)]` → dx of `LayerNorm` (plus `dres`, the residual stream's
    /// gradient, if `residual`). Extra outputs 1: dw, 2: db (`Σ_rows dy`), 3 (if `sum_out`):
    /// the column sums of the output (the bias gradient of the linear layer that reads it).
    /// One pass over the rows, the weight gradients reduced once. CPU-only (made by CPU
    /// fusion).
    LayerNormGrad {
        eps: f64,
        residual: bool,
        sum_out: bool,
    },
}

impl Op {
    /// The op's kind: its row in the op tables.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Leaf => OpKind::Leaf,
            Op::Fill { .. } => OpKind::Fill,
            Op::Unary(_) => OpKind::Unary,
            Op::UnaryGrad(_) => OpKind::UnaryGrad,
            Op::Binary(_) => OpKind::Binary,
            Op::MatMul { .. } => OpKind::MatMul,
            Op::MatMulBias { .. } => OpKind::MatMulBias,
            Op::LayerNorm { .. } => OpKind::LayerNorm,
            Op::LayerNormGradX { .. } => OpKind::LayerNormGradX,
            Op::LayerNormGradW { .. } => OpKind::LayerNormGradW,
            Op::Softmax => OpKind::Softmax,
            Op::SoftmaxGrad => OpKind::SoftmaxGrad,
            Op::Attention { .. } => OpKind::Attention,
            Op::AttentionGrad { .. } => OpKind::AttentionGrad,
            Op::AttentionGradBias { .. } => OpKind::AttentionGradBias,
            Op::SelfAttention { .. } => OpKind::SelfAttention,
            Op::SelfAttentionGrad { .. } => OpKind::SelfAttentionGrad,
            Op::SelfAttentionGradBias { .. } => OpKind::SelfAttentionGradBias,
            Op::Extra { .. } => OpKind::Extra,
            Op::GatherRows => OpKind::GatherRows,
            Op::ScatterRows { .. } => OpKind::ScatterRows,
            Op::Concat { .. } => OpKind::Concat,
            Op::Slice { .. } => OpKind::Slice,
            Op::Pad { .. } => OpKind::Pad,
            Op::Reshape => OpKind::Reshape,
            Op::Permute { .. } => OpKind::Permute,
            Op::Roll { .. } => OpKind::Roll,
            Op::Expand => OpKind::Expand,
            Op::SumTo => OpKind::SumTo,
            Op::NormPix { .. } => OpKind::NormPix,
            Op::MaskedMse => OpKind::MaskedMse,
            Op::MaskedMseGrad => OpKind::MaskedMseGrad,
            Op::CrossEntropy => OpKind::CrossEntropy,
            Op::CrossEntropyGrad => OpKind::CrossEntropyGrad,
            Op::AdamW { .. } => OpKind::AdamW,
            Op::Fused(_) => OpKind::Fused,
            Op::LinearAct { .. } => OpKind::LinearAct,
            Op::LinearResidual { .. } => OpKind::LinearResidual,
            Op::LinearActGrad { .. } => OpKind::LinearActGrad,
            Op::LayerNormGrad { .. } => OpKind::LayerNormGrad,
            Op::LinearInputSums { .. } => OpKind::LinearInputSums,
        }
    }

    /// Short name for error messages and plan dumps.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Ops that write persistent buffers in place and so must stay even if nothing reads them.
    pub fn has_side_effects(&self) -> bool {
        matches!(self, Op::AdamW { .. })
    }

    /// Ops whose output is a view of their (first) input's buffer.
    pub fn is_view(&self) -> bool {
        matches!(self, Op::Reshape)
    }

    /// Pure elementwise ops (one output element from the same-index input elements, after
    /// broadcasting): the candidates of elementwise fusion.
    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            Op::Unary(_) | Op::UnaryGrad(_) | Op::Binary(_) | Op::Fused(_)
        )
    }

    /// Whether input `i` of the op holds u32 indices.
    pub fn takes_index_at(&self, i: usize) -> bool {
        matches!(
            (self, i),
            (Op::GatherRows, 1)
                | (Op::ScatterRows { .. }, 1)
                | (Op::CrossEntropy, 1)
                | (Op::CrossEntropyGrad, 1)
        )
    }

    /// Number of extra outputs (besides the node's own) the op's kernel writes.
    pub fn extra_outputs(&self) -> usize {
        match self {
            Op::Attention { .. } | Op::SelfAttention { .. } => 1,
            Op::AttentionGrad { .. } => 2,
            Op::LinearAct { keep_pre, .. } => usize::from(*keep_pre),
            Op::LinearActGrad { bias_grad, .. } => usize::from(*bias_grad),
            Op::LayerNormGrad { sum_out, .. } => 2 + usize::from(*sum_out),
            Op::LinearInputSums { .. } => 1,
            _ => 0,
        }
    }

    /// Ops that only the CPU backend runs: fused kernels that CPU fusion makes for plans
    /// compiled with [`Target::Cpu`](super::Target).
    pub fn is_cpu_only(&self) -> bool {
        matches!(
            self,
            Op::LinearAct { .. }
                | Op::LinearResidual { .. }
                | Op::LinearActGrad { .. }
                | Op::LayerNormGrad { .. }
                | Op::LinearInputSums { .. }
        )
    }
}

/// The kind of an [`Op`] without its settings: the index of the op's row in the tables that
/// dispatch to its gradient rule, CPU kernel and GPU lowering (see `ops/mod.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    Leaf,
    Fill,
    Unary,
    UnaryGrad,
    Binary,
    MatMul,
    MatMulBias,
    LayerNorm,
    LayerNormGradX,
    LayerNormGradW,
    Softmax,
    SoftmaxGrad,
    Attention,
    AttentionGrad,
    AttentionGradBias,
    SelfAttention,
    SelfAttentionGrad,
    SelfAttentionGradBias,
    Extra,
    GatherRows,
    ScatterRows,
    Concat,
    Slice,
    Pad,
    Reshape,
    Permute,
    Roll,
    Expand,
    SumTo,
    NormPix,
    MaskedMse,
    MaskedMseGrad,
    CrossEntropy,
    CrossEntropyGrad,
    AdamW,
    Fused,
    LinearAct,
    LinearResidual,
    LinearActGrad,
    LayerNormGrad,
    LinearInputSums,
}

impl OpKind {
    /// Number of kinds: the length of every op table.
    pub const COUNT: usize = OpKind::LinearInputSums as usize + 1;

    /// Short name for error messages and plan dumps.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Leaf => "leaf",
            OpKind::Fill => "fill",
            OpKind::Unary => "unary",
            OpKind::UnaryGrad => "unary_grad",
            OpKind::Binary => "binary",
            OpKind::MatMul => "matmul",
            OpKind::MatMulBias => "matmul_bias",
            OpKind::LayerNorm => "layer_norm",
            OpKind::LayerNormGradX => "layer_norm_grad_x",
            OpKind::LayerNormGradW => "layer_norm_grad_w",
            OpKind::Softmax => "softmax",
            OpKind::SoftmaxGrad => "softmax_grad",
            OpKind::Attention => "attention",
            OpKind::AttentionGrad => "attention_grad",
            OpKind::AttentionGradBias => "attention_grad_bias",
            OpKind::SelfAttention => "self_attention",
            OpKind::SelfAttentionGrad => "self_attention_grad",
            OpKind::SelfAttentionGradBias => "self_attention_grad_bias",
            OpKind::Extra => "extra",
            OpKind::GatherRows => "gather_rows",
            OpKind::ScatterRows => "scatter_rows",
            OpKind::Concat => "concat",
            OpKind::Slice => "slice",
            OpKind::Pad => "pad",
            OpKind::Reshape => "reshape",
            OpKind::Permute => "permute",
            OpKind::Roll => "roll",
            OpKind::Expand => "expand",
            OpKind::SumTo => "sum_to",
            OpKind::NormPix => "norm_pix",
            OpKind::MaskedMse => "masked_mse",
            OpKind::MaskedMseGrad => "masked_mse_grad",
            OpKind::CrossEntropy => "cross_entropy",
            OpKind::CrossEntropyGrad => "cross_entropy_grad",
            OpKind::AdamW => "adamw",
            OpKind::Fused => "fused",
            OpKind::LinearAct => "linear_act",
            OpKind::LinearResidual => "linear_residual",
            OpKind::LinearActGrad => "linear_act_grad",
            OpKind::LayerNormGrad => "layer_norm_grad",
            OpKind::LinearInputSums => "linear_input_sums",
        }
    }

    /// An op table: one row per kind, listed in any order. A kind listed twice or left out
    /// fails the build (the table is a constant), so no op can be missing from a dispatch.
    pub const fn table<T: Copy, const N: usize>(rows: [(OpKind, T); N]) -> [T; OpKind::COUNT] {
        let mut filled: [Option<T>; OpKind::COUNT] = [None; OpKind::COUNT];
        let mut i = 0;
        while i < N {
            let k = rows[i].0 as usize;
            if filled[k].is_some() {
                panic!("an op kind has two rows in one op table");
            }
            filled[k] = Some(rows[i].1);
            i += 1;
        }
        let mut out = [rows[0].1; OpKind::COUNT];
        let mut k = 0;
        while k < OpKind::COUNT {
            match filled[k] {
                Some(row) => out[k] = row,
                None => panic!("an op kind has no row in an op table"),
            }
            k += 1;
        }
        out
    }
}

/// What a table row does when handed an op of another kind: a table lists a row under the
/// wrong kind, a bug of this crate rather than a condition a caller can meet.
pub fn misrouted(op: &Op) -> ! {
    unreachable!("a `{}` op reached another kind's table row", op.name())
}
