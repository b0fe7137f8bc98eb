//! Elementwise ops: unary functions and their gradients, binary ops with NumPy
//! broadcasting, broadcast copies (`Expand`) and the programs elementwise fusion makes of
//! them (`Fused`).
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use crate::graph::autodiff::{every_input, first_input, Contributions, Vjp, VjpRule};
use crate::graph::shape::{broadcast, broadcasts_to, shape_err};
use crate::graph::{misrouted, BinaryOp, GResult, Graph, NodeId, Op, UnaryOp};

impl Graph {
    /// `a ∘ b` with NumPy broadcasting of both operands.
    pub fn binary(&mut self, op: BinaryOp, a: NodeId, b: NodeId) -> GResult<NodeId> {
        let name = Op::Binary(op).name();
        let sa = self.data_shape(name, a)?;
        let sb = self.data_shape(name, b)?;
        let out = broadcast(&sa, &sb).ok_or_else(|| {
            shape_err(
                name,
                &[&sa, &sb],
                format!("{op:?}: shapes must broadcast (NumPy rules)"),
            )
        })?;
        self.op(Op::Binary(op), alloc::vec![a, b], out)
    }

    pub fn add(&mut self, a: NodeId, b: NodeId) -> GResult<NodeId> {
        self.binary(BinaryOp::Add, a, b)
    }

    pub fn sub(&mut self, a: NodeId, b: NodeId) -> GResult<NodeId> {
        self.binary(BinaryOp::Sub, a, b)
    }

    pub fn mul(&mut self, a: NodeId, b: NodeId) -> GResult<NodeId> {
        self.binary(BinaryOp::Mul, a, b)
    }

    pub fn div(&mut self, a: NodeId, b: NodeId) -> GResult<NodeId> {
        self.binary(BinaryOp::Div, a, b)
    }

    /// `f(x)` elementwise.
    pub fn unary(&mut self, op: UnaryOp, x: NodeId) -> GResult<NodeId> {
        let s = self.data_shape("unary", x)?;
        self.op(Op::Unary(op), alloc::vec![x], s)
    }

    /// `x * c`.
    pub fn scale(&mut self, x: NodeId, c: f64) -> GResult<NodeId> {
        self.affine(x, c, 0.0)
    }

    /// `x * mul + add`.
    pub fn affine(&mut self, x: NodeId, mul: f64, add: f64) -> GResult<NodeId> {
        self.unary(UnaryOp::Affine { mul, add }, x)
    }

    pub fn neg(&mut self, x: NodeId) -> GResult<NodeId> {
        self.affine(x, -1.0, 0.0)
    }

    /// GELU, exact erf form (PyTorch `nn.GELU()`).
    pub fn gelu_erf(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::GeluErf, x)
    }

    /// GELU, tanh approximation (Flax `nn.gelu`).
    pub fn gelu_tanh(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::GeluTanh, x)
    }

    pub fn relu(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Relu, x)
    }

    pub fn exp(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Exp, x)
    }

    pub fn log(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Log, x)
    }

    pub fn sqrt(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Sqrt, x)
    }

    pub fn recip(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Recip, x)
    }

    pub fn square(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Square, x)
    }

    pub fn tanh(&mut self, x: NodeId) -> GResult<NodeId> {
        self.unary(UnaryOp::Tanh, x)
    }

    /// Broadcast copy of `x` to `shape` (MAE's `mask_token.repeat(N, L + 1 − T, 1)`).
    pub fn expand(&mut self, x: NodeId, shape: &[usize]) -> GResult<NodeId> {
        let sx = self.data_shape("expand", x)?;
        if !broadcasts_to(&sx, shape) {
            return Err(shape_err(
                "expand",
                &[&sx, shape],
                "x must broadcast to the target shape".into(),
            ));
        }
        self.op(Op::Expand, vec![x], shape.to_vec())
    }
}

/// `Unary`: an affine map scales `dy`; every other function multiplies by its derivative.
pub(crate) const UNARY_VJP: VjpRule = VjpRule {
    through: every_input,
    vjp: |g, v| {
        let Op::Unary(u) = v.node.op else {
            misrouted(&v.node.op)
        };
        let d = match u {
            UnaryOp::Affine { mul, .. } => g.scale(v.dy, mul)?,
            u => g.op(Op::UnaryGrad(u), vec![v.x(0), v.dy], v.node.shape.clone())?,
        };
        Ok(vec![(v.x(0), d)])
    },
};

/// `Binary`: the product and quotient rules, each contribution summed back to its operand's
/// (broadcast) shape.
pub(crate) const BINARY_VJP: VjpRule = VjpRule {
    through: every_input,
    vjp: binary_vjp,
};

fn binary_vjp(g: &mut Graph, v: &Vjp<'_>) -> GResult<Contributions> {
    let Op::Binary(b) = v.node.op else {
        misrouted(&v.node.op)
    };
    let (x, dy) = ([v.x(0), v.x(1)], v.dy);
    let (da, db) = match b {
        BinaryOp::Add => (Some(dy), Some(dy)),
        BinaryOp::Sub => (Some(dy), Some(g.neg(dy)?)),
        BinaryOp::Mul => (
            if v.need(0) {
                Some(g.mul(dy, x[1])?)
            } else {
                None
            },
            if v.need(1) {
                Some(g.mul(dy, x[0])?)
            } else {
                None
            },
        ),
        BinaryOp::Div => {
            let da = g.div(dy, x[1])?;
            let db = if v.need(1) {
                // d(a/b)/db = −(a/b)/b = −y/b.
                let t = g.mul(da, v.id)?;
                Some(g.neg(t)?)
            } else {
                None
            };
            (Some(da), db)
        }
    };
    let mut out = Vec::new();
    for (j, d) in [da, db].into_iter().enumerate() {
        if let (true, Some(d)) = (v.need(j), d) {
            let shape = v.shape(g, j);
            out.push((x[j], g.sum_to(d, &shape)?));
        }
    }
    Ok(out)
}

/// `Expand`: the copies' gradients summed back to the source shape.
pub(crate) const EXPAND_VJP: VjpRule = VjpRule {
    through: first_input,
    vjp: |g, v| {
        let shape = v.shape(g, 0);
        Ok(vec![(v.x(0), g.sum_to(v.dy, &shape)?)])
    },
};

#[cfg(feature = "cpu")]
pub(crate) mod cpu {
    //! Every unary, unary-gradient, binary, broadcast copy and fused program runs through one
    //! block evaluator that loads each operand (with its broadcast pattern) into L1-sized
    //! blocks.
    use rayon::prelude::*;

    use crate::graph::cpu::simd::{vectorized, SimdLoop};
    use crate::graph::cpu::{CpuKernel, Element, KernelArgs, KernelError};
    use crate::graph::scalar::{
        binary as bin_s, c, gelu_erf, gelu_erf_grad, gelu_tanh, gelu_tanh_grad, unary_grad as ug_s,
    };
    use crate::graph::{misrouted, BinaryOp, FusedInstr, Op, UnaryOp, MAX_FUSED_REGS, MAX_RANK};

    pub(crate) const UNARY: CpuKernel = CpuKernel::new(unary::<f32>, unary::<f64>);
    pub(crate) const UNARY_GRAD: CpuKernel = CpuKernel::new(unary_grad::<f32>, unary_grad::<f64>);
    pub(crate) const BINARY: CpuKernel = CpuKernel::new(binary::<f32>, binary::<f64>);
    pub(crate) const EXPAND: CpuKernel = CpuKernel::new(expand::<f32>, expand::<f64>);
    pub(crate) const FUSED: CpuKernel = CpuKernel::new(fused::<f32>, fused::<f64>);

    fn unary<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::Unary(u) = a.node.op else {
            misrouted(&a.node.op)
        };
        let prog = [FusedInstr::Load(0), FusedInstr::Unary(u, 0)];
        let ([x, ..], [out, ..]) = (a.ins, a.outs);
        eval(&prog, &[(x, Access::Full)], out);
        Ok(())
    }

    fn unary_grad<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::UnaryGrad(u) = a.node.op else {
            misrouted(&a.node.op)
        };
        let prog = [
            FusedInstr::Load(0),
            FusedInstr::Load(1),
            FusedInstr::UnaryGrad(u, 0, 1),
        ];
        let ([x, dy, ..], [out, ..]) = (a.ins, a.outs);
        eval(&prog, &[(x, Access::Full), (dy, Access::Full)], out);
        Ok(())
    }

    fn binary<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::Binary(b) = a.node.op else {
            misrouted(&a.node.op)
        };
        let prog = [
            FusedInstr::Load(0),
            FusedInstr::Load(1),
            FusedInstr::Binary(b, 0, 1),
        ];
        run_program(&prog, a)
    }

    fn expand<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        run_program(&[FusedInstr::Load(0)], a)
    }

    fn fused<E: Element>(a: KernelArgs<'_, E>) -> Result<(), KernelError> {
        let Op::Fused(p) = &a.node.op else {
            misrouted(&a.node.op)
        };
        run_program(&p.instrs, a)
    }

    /// `prog` over the node's inputs, each broadcast to the output.
    fn run_program<E: Element>(
        prog: &[FusedInstr],
        a: KernelArgs<'_, E>,
    ) -> Result<(), KernelError> {
        let n = a.node.inputs.len();
        let mut ops: [Operand<'_, E>; MAX_FUSED_REGS] = [(&[], Access::Full); MAX_FUSED_REGS];
        for (j, op) in ops.iter_mut().enumerate().take(n) {
            *op = (a.ins[j], Access::new(a.in_shape(j), a.out_shape()));
        }
        let [out, ..] = a.outs;
        eval(prog, &ops[..n], out);
        Ok(())
    }

    /// Elements per register block.
    const BLK: usize = 256;
    /// Elements per parallel task.
    const TASK: usize = 16 * BLK;

    /// How an operand's elements map onto the output's flat index `i`.
    #[derive(Clone, Copy, Debug)]
    enum Access {
        /// Same shape as the output.
        Full,
        /// One value.
        Scalar,
        /// The output's trailing dims: `i % n` (a bias, a position table).
        Periodic(usize),
        /// The output's leading dims: `i / m` (a per-row scale).
        Repeat(usize),
        /// Anything else NumPy allows: per-dim strides (0 on broadcast dims).
        General {
            dims: [usize; MAX_RANK],
            strides: [usize; MAX_RANK],
            rank: usize,
        },
    }

    impl Access {
        /// The access pattern of an operand of `shape` broadcast to `out`.
        fn new(shape: &[usize], out: &[usize]) -> Self {
            let n: usize = shape.iter().product();
            let total: usize = out.iter().product();
            if n == total {
                return Access::Full;
            }
            if n == 1 {
                return Access::Scalar;
            }
            let off = out.len() - shape.len();
            let mut s = shape;
            while s.first() == Some(&1) {
                s = &s[1..];
            }
            if out.ends_with(s) {
                return Access::Periodic(n);
            }
            let mut k = shape.len();
            while k > 0 && shape[k - 1] == 1 {
                k -= 1;
            }
            if out[..off].iter().all(|&d| d == 1) && shape[..k] == out[off..off + k] {
                return Access::Repeat(total / n);
            }
            // General: strides of `shape` inside `out` (0 on broadcast dims), no allocation.
            let mut dims = [1; MAX_RANK];
            let mut strides = [0; MAX_RANK];
            let rank = out.len();
            assert!(rank <= MAX_RANK, "broadcast of more than {MAX_RANK} dims");
            dims[..rank].copy_from_slice(out);
            let mut st = 1;
            for i in (0..shape.len()).rev() {
                if !(shape[i] == 1 && out[i + off] != 1) {
                    strides[i + off] = st;
                }
                st *= shape[i];
            }
            Access::General {
                dims,
                strides,
                rank,
            }
        }

        #[inline]
        fn index(&self, i: usize) -> usize {
            match *self {
                Access::Full => i,
                Access::Scalar => 0,
                Access::Periodic(n) => i % n,
                Access::Repeat(m) => i / m,
                Access::General {
                    dims,
                    strides,
                    rank,
                } => {
                    let (mut rem, mut idx) = (i, 0);
                    for d in (0..rank).rev() {
                        idx += (rem % dims[d]) * strides[d];
                        rem /= dims[d];
                    }
                    idx
                }
            }
        }

        /// Copies the operand values of output elements `start..start + dst.len()` into `dst`.
        #[inline(always)]
        fn load<E: Element>(&self, src: &[E], start: usize, dst: &mut [E]) {
            match *self {
                Access::Full => dst.copy_from_slice(&src[start..start + dst.len()]),
                Access::Scalar => dst.fill(src[0]),
                Access::Periodic(n) => {
                    let mut j = 0;
                    while j < dst.len() {
                        let p = (start + j) % n;
                        let take = (n - p).min(dst.len() - j);
                        dst[j..j + take].copy_from_slice(&src[p..p + take]);
                        j += take;
                    }
                }
                _ => {
                    for (j, d) in dst.iter_mut().enumerate() {
                        *d = src[self.index(start + j)];
                    }
                }
            }
        }
    }

    /// One elementwise operand: its data and how it broadcasts.
    type Operand<'a, E> = (&'a [E], Access);

    /// Lanes processed together: fixed-size inner loops let LLVM keep several independent
    /// vector dependency chains in flight (a polynomial like erf is latency-bound otherwise).
    const LANES: usize = 16;

    #[inline(always)]
    fn map1<E: Element>(src: &[E], dst: &mut [E], f: impl Fn(E) -> E) {
        let mut d = dst.chunks_exact_mut(LANES);
        let mut s = src.chunks_exact(LANES);
        for (dc, sc) in (&mut d).zip(&mut s) {
            for j in 0..LANES {
                dc[j] = f(sc[j]);
            }
        }
        for (o, &x) in d.into_remainder().iter_mut().zip(s.remainder()) {
            *o = f(x);
        }
    }

    #[inline(always)]
    fn map2<E: Element>(a: &[E], b: &[E], dst: &mut [E], f: impl Fn(E, E) -> E) {
        let mut d = dst.chunks_exact_mut(LANES);
        let mut ac = a.chunks_exact(LANES);
        let mut bc = b.chunks_exact(LANES);
        for ((dc, x), y) in (&mut d).zip(&mut ac).zip(&mut bc) {
            for j in 0..LANES {
                dc[j] = f(x[j], y[j]);
            }
        }
        let rest = d.into_remainder();
        for ((o, &x), &y) in rest.iter_mut().zip(ac.remainder()).zip(bc.remainder()) {
            *o = f(x, y);
        }
    }

    #[inline(always)]
    fn unary_block<E: Element>(op: UnaryOp, src: &[E], dst: &mut [E]) {
        match op {
            UnaryOp::Affine { mul, add } => {
                let (m, a) = (c::<E>(mul), c::<E>(add));
                map1(src, dst, |x| x * m + a)
            }
            UnaryOp::GeluErf => map1(src, dst, gelu_erf),
            UnaryOp::GeluTanh => map1(src, dst, gelu_tanh),
            UnaryOp::Relu => map1(src, dst, |x| x.max(E::zero())),
            UnaryOp::Exp => map1(src, dst, |x| x.exp()),
            UnaryOp::Log => map1(src, dst, |x| x.ln()),
            UnaryOp::Sqrt => map1(src, dst, |x| x.sqrt()),
            UnaryOp::Recip => map1(src, dst, |x| x.recip()),
            UnaryOp::Square => map1(src, dst, |x| x * x),
            UnaryOp::Tanh => map1(src, dst, |x| x.tanh()),
        }
    }

    #[inline(always)]
    fn unary_grad_block<E: Element>(op: UnaryOp, x: &[E], dy: &[E], dst: &mut [E]) {
        match op {
            UnaryOp::GeluErf => map2(x, dy, dst, gelu_erf_grad),
            UnaryOp::GeluTanh => map2(x, dy, dst, gelu_tanh_grad),
            UnaryOp::Relu => map2(x, dy, dst, |x, d| if x > E::zero() { d } else { E::zero() }),
            op => map2(x, dy, dst, |x, d| ug_s(op, x, d)),
        }
    }

    #[inline(always)]
    fn binary_block<E: Element>(op: BinaryOp, a: &[E], b: &[E], dst: &mut [E]) {
        match op {
            BinaryOp::Add => map2(a, b, dst, |x, y| x + y),
            BinaryOp::Sub => map2(a, b, dst, |x, y| x - y),
            BinaryOp::Mul => map2(a, b, dst, |x, y| x * y),
            BinaryOp::Div => map2(a, b, dst, |x, y| bin_s(BinaryOp::Div, x, y)),
        }
    }

    /// Runs an SSA program over output elements `start..start + out.len()` in blocks.
    #[inline(always)]
    fn run_serial<E: Element>(
        prog: &[FusedInstr],
        ins: &[Operand<'_, E>],
        start: usize,
        out: &mut [E],
    ) {
        let mut regs = [[E::zero(); BLK]; MAX_FUSED_REGS];
        let last = prog.len() - 1;
        for (bi, ob) in out.chunks_mut(BLK).enumerate() {
            let s = start + bi * BLK;
            let len = ob.len();
            for (r, ins_r) in prog.iter().enumerate() {
                let (lo, hi) = regs.split_at_mut(r);
                let dst = &mut hi[0][..len];
                match *ins_r {
                    FusedInstr::Load(n) => {
                        let (src, acc) = ins[n as usize];
                        acc.load(src, s, dst)
                    }
                    FusedInstr::Unary(op, a) => unary_block(op, &lo[a as usize][..len], dst),
                    FusedInstr::UnaryGrad(op, x, dy) => {
                        unary_grad_block(op, &lo[x as usize][..len], &lo[dy as usize][..len], dst)
                    }
                    FusedInstr::Binary(op, a, b) => {
                        binary_block(op, &lo[a as usize][..len], &lo[b as usize][..len], dst)
                    }
                }
            }
            ob.copy_from_slice(&regs[last][..len]);
        }
    }

    /// `rows = op(rows)` in place, as one vectorized loop (a fused linear layer's epilogue).
    pub(crate) fn unary_in_place<E: Element>(op: UnaryOp, rows: &mut [E]) {
        struct Loop<'a, E>(UnaryOp, &'a mut [E]);
        impl<E: Element> SimdLoop for Loop<'_, E> {
            type Output = ();
            #[inline(always)]
            fn run(self) {
                for chunk in self.1.chunks_mut(BLK) {
                    let mut src = [E::zero(); BLK];
                    src[..chunk.len()].copy_from_slice(chunk);
                    unary_block(self.0, &src[..chunk.len()], chunk);
                }
            }
        }
        vectorized(Loop(op, rows))
    }

    /// `dst = op(src)`, as one vectorized loop.
    pub(crate) fn unary_into<E: Element>(op: UnaryOp, src: &[E], dst: &mut [E]) {
        struct Loop<'a, 'b, E>(UnaryOp, &'a [E], &'b mut [E]);
        impl<E: Element> SimdLoop for Loop<'_, '_, E> {
            type Output = ();
            #[inline(always)]
            fn run(self) {
                unary_block(self.0, self.1, self.2)
            }
        }
        vectorized(Loop(op, src, dst))
    }

    /// `dy = dy · op'(x)` in place, and (if `sums` is not empty) the column sums of the
    /// result over rows of `sums.len()` added to `sums`: a fused activation gradient's
    /// epilogue with its bias gradient.
    pub(crate) fn unary_grad_in_place<E: Element>(
        op: UnaryOp,
        x: &[E],
        dy: &mut [E],
        sums: &mut [E],
    ) {
        struct Loop<'a, 'b, 'c, E>(UnaryOp, &'a [E], &'b mut [E], &'c mut [E]);
        impl<E: Element> SimdLoop for Loop<'_, '_, '_, E> {
            type Output = ();
            #[inline(always)]
            fn run(self) {
                let Loop(op, x, dy, sums) = self;
                for (xc, dc) in x.chunks(BLK).zip(dy.chunks_mut(BLK)) {
                    let mut d = [E::zero(); BLK];
                    d[..dc.len()].copy_from_slice(dc);
                    unary_grad_block(op, xc, &d[..dc.len()], dc);
                }
                if !sums.is_empty() {
                    for row in dy.chunks_exact(sums.len()) {
                        for (s, &v) in sums.iter_mut().zip(row) {
                            *s = *s + v;
                        }
                    }
                }
            }
        }
        vectorized(Loop(op, x, dy, sums))
    }

    /// Output elements `start..start + out.len()` of a program, as one vectorized loop.
    struct Chunk<'a, 'o, E> {
        prog: &'a [FusedInstr],
        ins: &'a [Operand<'a, E>],
        start: usize,
        out: &'o mut [E],
    }

    impl<E: Element> SimdLoop for Chunk<'_, '_, E> {
        type Output = ();

        #[inline(always)]
        fn run(self) {
            run_serial(self.prog, self.ins, self.start, self.out)
        }
    }

    /// Evaluates `prog` (at most `MAX_FUSED_REGS` instructions) into `out`, in parallel.
    fn eval<E: Element>(prog: &[FusedInstr], ins: &[Operand<'_, E>], out: &mut [E]) {
        let chunk = |start, out| Chunk {
            prog,
            ins,
            start,
            out,
        };
        if out.len() <= TASK {
            vectorized(chunk(0, out));
        } else {
            out.par_chunks_mut(TASK)
                .enumerate()
                .for_each(|(t, o)| vectorized(chunk(t * TASK, o)));
        }
    }
}
