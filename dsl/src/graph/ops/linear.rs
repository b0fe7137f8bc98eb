//! The CPU backend's fused linear layers, made by CPU fusion (`passes/cpu_fusion.rs`) from a
//! matmul and its elementwise neighbour: `LinearAct` (bias + activation forward),
//! `LinearResidual` (bias + residual add), `LinearActGrad` (the activation's gradient and
//! the bias gradient backward) and `LinearInputSums` (a backward product with the column
//! sums of its input, the bias gradient of the layer before). Each is one GEMM whose
//! epilogue finishes a panel of rows while it is still in cache. They have no gradient rule
//! (fusion runs after `grad`) and no GPU kernel: plans for wgpu keep the unfused ops.
use crate::graph::autodiff::VjpRule;

/// Fused ops are made after differentiation: none has a rule.
pub(crate) const FUSED_VJP: VjpRule = VjpRule::MISSING;

#[cfg(feature = "cpu")]
pub(crate) mod cpu {
    use crate::graph::cpu::gemm::{gemm_fused, panel_rows, MatRef, Side, Start};
    use crate::graph::cpu::simd::{vectorized, SimdLoop};
    use crate::graph::cpu::{CpuKernel, Element, KernelArgs, KernelError};
    use crate::graph::ops::elementwise::cpu::{unary_grad_in_place, unary_in_place, unary_into};
    use crate::graph::{misrouted, Graph, Node, Op};

    pub(crate) const LINEAR_ACT: CpuKernel = CpuKernel::new(linear_act::<f32>, linear_act::<f64>);
    pub(crate) const LINEAR_RESIDUAL: CpuKernel =
        CpuKernel::new(linear_residual::<f32>, linear_residual::<f64>);
    /// Scratch: one row of column sums per panel.
    pub(crate) const LINEAR_ACT_GRAD: CpuKernel =
        CpuKernel::new(linear_act_grad::<f32>, linear_act_grad::<f64>).with_scratch(panel_sums);
    /// Scratch: one row of column sums of the input per panel.
    pub(crate) const LINEAR_INPUT_SUMS: CpuKernel =
        CpuKernel::new(linear_input_sums::<f32>, linear_input_sums::<f64>)
            .with_scratch(input_panel_sums);

    /// `x [.., K]` as `[rows, K]` and `w` viewed as `[K, N]`.
    fn operands<'a, E>(
        a: &KernelArgs<'a, E>,
        trans_b: bool,
    ) -> (MatRef<'a, E>, MatRef<'a, E>, usize)
    where
        E: Element,
    {
        let (sx, sw) = (a.in_shape(0), a.in_shape(1));
        let k = *sx.last().expect("a linear input has dims");
        let n = if trans_b { sw[0] } else { sw[1] };
        let x = MatRef::row_major(a.ins[0], a.ins[0].len() / k.max(1), k, false);
        let w = MatRef::row_major(a.ins[1], sw[0], sw[1], trans_b);
        (x, w, n)
    }

    /// Panels of the node's product and its (m, k, n).
    fn panels(g: &Graph, node: &Node) -> (usize, usize, usize, usize) {
        let (sx, n) = (g.shape(node.inputs[0]), node.shape[node.shape.len() - 1]);
        let k = sx[sx.len() - 1];
        let m = node.numel() / n.max(1);
        (m.div_ceil(panel_rows(m, n, k)), m, k, n)
    }

    fn panel_sums(g: &Graph, node: &Node) -> usize {
        let (panels, _, _, n) = panels(g, node);
        panels * n
    }

    fn input_panel_sums(g: &Graph, node: &Node) -> usize {
        let (panels, _, k, _) = panels(g, node);
        panels * k
    }

    /// `sums += Σ_i rows[i]` over the rows of `sums.len()` in `rows`, vectorized.
    fn add_rows<E: Element>(rows: &[E], sums: &mut [E]) {
        struct Loop<'a, 'b, E>(&'a [E], &'b mut [E]);
        impl<E: Element> SimdLoop for Loop<'_, '_, E> {
            type Output = ();
            #[inline(always)]
            fn run(self) {
                for row in self.0.chunks_exact(self.1.len()) {
                    for (s, &v) in self.1.iter_mut().zip(row) {
                        *s = *s + v;
                    }
                }
            }
        }
        vectorized(Loop(rows, sums))
    }

    /// `total = Σ_p parts[p·len ..]`, the panels' partial sums added in panel order.
    fn add_panels<E: Element>(parts: &[E], total: &mut [E]) {
        total.fill(E::zero());
        for part in parts.chunks_exact(total.len()) {
            for (t, &s) in total.iter_mut().zip(part) {
                *t = *t + s;
            }
        }
    }

    fn linear_input_sums<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::LinearInputSums { trans_b, alpha } = a.node.op else {
            misrouted(&a.node.op)
        };
        let (x, w, n) = operands(&a, trans_b);
        let k = x.cols;
        let [out, sums_out, ..] = a.outs;
        let sums = &mut a.scratch[..input_panel_sums(a.graph, a.node)];
        sums.fill(E::zero());
        let side = Side::Panels {
            buf: &mut *sums,
            len: k,
        };
        let xs = x.data;
        gemm_fused(out, x, w, E::from_f64(alpha), Start::Zero, side, &|p| {
            let rows = p.rows.len() / n;
            add_rows(&xs[p.r0 * k..(p.r0 + rows) * k], p.side)
        });
        add_panels(sums, sums_out);
        Ok(())
    }

    fn linear_act<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::LinearAct {
            trans_b,
            alpha,
            act,
            keep_pre,
        } = a.node.op
        else {
            misrouted(&a.node.op)
        };
        let (x, w, n) = operands(&a, trans_b);
        let start = Start::Bias {
            bias: a.ins[2],
            residual: None,
        };
        let alpha = E::from_f64(alpha);
        let [out, pre, ..] = a.outs;
        if keep_pre {
            // The GEMM fills the pre-activation; the epilogue writes the activation beside it.
            let side = Side::Rows { buf: out, cols: n };
            gemm_fused(pre, x, w, alpha, start, side, &|p| {
                unary_into(act, p.rows, p.side)
            });
        } else {
            gemm_fused(out, x, w, alpha, start, Side::None, &|p| {
                unary_in_place(act, p.rows)
            });
        }
        Ok(())
    }

    fn linear_residual<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::LinearResidual { trans_b, alpha } = a.node.op else {
            misrouted(&a.node.op)
        };
        let (x, w, _) = operands(&a, trans_b);
        let start = Start::Bias {
            bias: a.ins[2],
            residual: Some(a.ins[3]),
        };
        let [out, ..] = a.outs;
        gemm_fused(out, x, w, E::from_f64(alpha), start, Side::None, &|_| {});
        Ok(())
    }

    fn linear_act_grad<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::LinearActGrad {
            trans_b,
            alpha,
            act,
            bias_grad,
        } = a.node.op
        else {
            misrouted(&a.node.op)
        };
        let (dy, w, n) = operands(&a, trans_b);
        let pre = a.ins[2];
        let alpha = E::from_f64(alpha);
        let [dpre, db, ..] = a.outs;
        let len = if bias_grad {
            panel_sums(a.graph, a.node)
        } else {
            0
        };
        let sums = &mut a.scratch[..len];
        sums.fill(E::zero());
        let side = if bias_grad {
            Side::Panels {
                buf: &mut *sums,
                len: n,
            }
        } else {
            Side::None
        };
        gemm_fused(dpre, dy, w, alpha, Start::Zero, side, &|p| {
            let at = p.r0 * n;
            unary_grad_in_place(act, &pre[at..at + p.rows.len()], p.rows, p.side)
        });
        if bias_grad {
            add_panels(sums, db);
        }
        Ok(())
    }
}
