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
