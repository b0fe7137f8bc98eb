//! Elementwise kernels: every unary, binary, broadcast copy and fused program runs through one
//! block evaluator that loads each operand (with its broadcast pattern) into L1-sized blocks.
use rayon::prelude::*;
use tessera_dsl::graph::scalar::{
    binary as bin_s, c, gelu_erf, gelu_erf_grad, gelu_tanh, gelu_tanh_grad, unary_grad as ug_s,
};
use tessera_dsl::graph::{BinaryOp, FusedInstr, UnaryOp, MAX_FUSED_REGS};

use crate::cpu::Element;

/// Elements per register block.
const BLK: usize = 256;
/// Elements per parallel task.
const TASK: usize = 16 * BLK;
/// Most dims of a general broadcast.
const MAXR: usize = 8;

/// How an operand's elements map onto the output's flat index `i`.
#[derive(Clone, Copy, Debug)]
pub enum Access {
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
        dims: [usize; MAXR],
        strides: [usize; MAXR],
        rank: usize,
    },
}

impl Access {
    /// The access pattern of an operand of `shape` broadcast to `out`.
    pub fn new(shape: &[usize], out: &[usize]) -> Self {
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
        let mut dims = [1; MAXR];
        let mut strides = [0; MAXR];
        let rank = out.len();
        assert!(rank <= MAXR, "broadcast of more than {MAXR} dims");
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
pub type Operand<'a, E> = (&'a [E], Access);

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

fn unary_grad_block<E: Element>(op: UnaryOp, x: &[E], dy: &[E], dst: &mut [E]) {
    match op {
        UnaryOp::GeluErf => map2(x, dy, dst, gelu_erf_grad),
        UnaryOp::GeluTanh => map2(x, dy, dst, gelu_tanh_grad),
        UnaryOp::Relu => map2(x, dy, dst, |x, d| if x > E::zero() { d } else { E::zero() }),
        op => map2(x, dy, dst, |x, d| ug_s(op, x, d)),
    }
}

fn binary_block<E: Element>(op: BinaryOp, a: &[E], b: &[E], dst: &mut [E]) {
    match op {
        BinaryOp::Add => map2(a, b, dst, |x, y| x + y),
        BinaryOp::Sub => map2(a, b, dst, |x, y| x - y),
        BinaryOp::Mul => map2(a, b, dst, |x, y| x * y),
        BinaryOp::Div => map2(a, b, dst, |x, y| bin_s(BinaryOp::Div, x, y)),
    }
}

/// Runs an SSA program over output elements `start..start + out.len()` in blocks.
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

/// Evaluates `prog` (at most `MAX_FUSED_REGS` instructions) into `out`, in parallel.
pub fn eval<E: Element>(prog: &[FusedInstr], ins: &[Operand<'_, E>], out: &mut [E]) {
    if out.len() <= TASK {
        run_serial(prog, ins, 0, out);
    } else {
        out.par_chunks_mut(TASK)
            .enumerate()
            .for_each(|(t, o)| run_serial(prog, ins, t * TASK, o));
    }
}
