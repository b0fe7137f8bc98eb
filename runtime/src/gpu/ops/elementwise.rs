//! Launcher of the `elementwise` interpreter (`shaders/wgsl/elementwise.wgsl`): a
//! [`FusedInstr`] program encoded into the launch's uniform, with each input's broadcast
//! pattern. Plain unary, unary-grad, binary and expand nodes are one-instruction programs.
use tessera_dsl::graph::shape::broadcast_strides;
use tessera_dsl::graph::{BinaryOp, FusedInstr, UnaryOp, MAX_FUSED_REGS};

use tessera_dsl::graph::{misrouted, Op};

use super::super::launch::{prepare, Dispatch, View, Word};
use super::super::lowering::{GpuLowering, Lowering};
use super::super::{BackendError, GpuContext, PipelineCache};
use super::support::{check_rank, groups_1d, push_u32s, u32s, MAX_RANK, WG};
use super::word;
use tessera_shaders as kernels;

/// Most inputs of one launch (bindings 1..=8; the output is binding 9).
pub const MAX_INPUTS: usize = 8;

// Instruction kinds and function numbers: the constants at the top of elementwise.wgsl.
const INS_LOAD: u32 = 0;
const INS_UNARY: u32 = 1;
const INS_UNARY_GRAD: u32 = 2;
const INS_BINARY: u32 = 3;
const SAME_INDEX: u32 = 0;
const SCALAR: u32 = 1;
const STRIDED: u32 = 2;

/// The WGSL function number of a unary op and its two constants.
fn unary_code(op: UnaryOp) -> (u32, [f32; 2]) {
    match op {
        UnaryOp::Affine { mul, add } => (0, [mul as f32, add as f32]),
        UnaryOp::GeluErf => (1, [0.0; 2]),
        UnaryOp::GeluTanh => (2, [0.0; 2]),
        UnaryOp::Relu => (3, [0.0; 2]),
        UnaryOp::Exp => (4, [0.0; 2]),
        UnaryOp::Log => (5, [0.0; 2]),
        UnaryOp::Sqrt => (6, [0.0; 2]),
        UnaryOp::Recip => (7, [0.0; 2]),
        UnaryOp::Square => (8, [0.0; 2]),
        UnaryOp::Tanh => (9, [0.0; 2]),
    }
}

fn binary_code(op: BinaryOp) -> u32 {
    match op {
        BinaryOp::Add => 0,
        BinaryOp::Sub => 1,
        BinaryOp::Mul => 2,
        BinaryOp::Div => 3,
    }
}

/// One instruction as the WGSL side reads it: `(kind, a, function, b)` and `(mul, add)`.
fn encode(ins: FusedInstr) -> ([u32; 4], [f32; 2]) {
    match ins {
        FusedInstr::Load(n) => ([INS_LOAD, n.into(), 0, 0], [0.0; 2]),
        FusedInstr::Unary(op, a) => {
            let (f, c) = unary_code(op);
            ([INS_UNARY, a.into(), f, 0], c)
        }
        FusedInstr::UnaryGrad(op, x, dy) => {
            let (f, c) = unary_code(op);
            ([INS_UNARY_GRAD, x.into(), f, dy.into()], c)
        }
        FusedInstr::Binary(op, a, b) => {
            ([INS_BINARY, a.into(), binary_code(op), b.into()], [0.0; 2])
        }
    }
}

/// Checks a program's shape: 1..=16 instructions, operands naming earlier registers, loads
/// naming one of `n_inputs` inputs.
fn check_program(prog: &[FusedInstr], n_inputs: usize) -> Result<(), BackendError> {
    let bad = |message: String| BackendError::Limit {
        what: format!("elementwise program: {message}"),
        needed: prog.len() as u64,
        allowed: MAX_FUSED_REGS as u64,
    };
    if prog.is_empty() || prog.len() > MAX_FUSED_REGS {
        return Err(bad(format!("{} instructions", prog.len())));
    }
    for (p, ins) in prog.iter().enumerate() {
        let regs: &[u8] = match ins {
            FusedInstr::Load(n) if usize::from(*n) >= n_inputs => {
                return Err(bad(format!("load of input {n} of {n_inputs}")))
            }
            FusedInstr::Load(_) => &[],
            FusedInstr::Unary(_, a) => &[*a],
            FusedInstr::UnaryGrad(_, a, b) | FusedInstr::Binary(_, a, b) => &[*a, *b],
        };
        if regs.iter().any(|&r| usize::from(r) >= p) {
            return Err(bad(format!("instruction {p} reads a later register")));
        }
    }
    Ok(())
}

/// The uniform words of a launch: see `Params` in elementwise.wgsl.
pub fn encode_params(
    prog: &[FusedInstr],
    input_shapes: &[&[usize]],
    out_shape: &[usize],
) -> Result<Vec<Word>, BackendError> {
    check_program(prog, input_shapes.len())?;
    if input_shapes.len() > MAX_INPUTS {
        return Err(BackendError::Limit {
            what: "inputs of one elementwise launch".into(),
            needed: input_shapes.len() as u64,
            allowed: MAX_INPUTS as u64,
        });
    }
    check_rank("an elementwise output", out_shape.len())?;
    let n: usize = out_shape.iter().product();
    let mut modes = Vec::with_capacity(input_shapes.len());
    let mut strides = vec![0u32; MAX_INPUTS * MAX_RANK];
    for (j, shape) in input_shapes.iter().enumerate() {
        let m: usize = shape.iter().product();
        if shape.len() > out_shape.len() {
            return Err(BackendError::Limit {
                what: format!("dims of elementwise input {j} (output has {out_shape:?})"),
                needed: shape.len() as u64,
                allowed: out_shape.len() as u64,
            });
        }
        modes.push(if m == n {
            SAME_INDEX
        } else if m == 1 {
            SCALAR
        } else {
            let st = u32s("a broadcast stride", &broadcast_strides(shape, out_shape))?;
            strides[j * MAX_RANK..j * MAX_RANK + st.len()].copy_from_slice(&st);
            STRIDED
        });
    }
    let strided = modes.contains(&STRIDED);
    let mut words = vec![
        Word::U(word("elementwise length", n)?),
        Word::U(out_shape.len() as u32),
        Word::U(prog.len() as u32),
        Word::U(strided.into()),
    ];
    push_u32s(&mut words, &modes, 8);
    push_u32s(&mut words, &u32s("an elementwise dim", out_shape)?, 8);
    push_u32s(&mut words, &strides, 64);
    let (mut code, mut consts) = (Vec::with_capacity(64), Vec::with_capacity(64));
    for &ins in prog {
        let (c, k) = encode(ins);
        code.extend(c);
        consts.extend([k[0], k[1], 0.0, 0.0]);
    }
    push_u32s(&mut words, &code, 64);
    words.extend(consts.iter().map(|&f| Word::F(f)));
    words.extend(std::iter::repeat_n(Word::F(0.0), 64 - consts.len()));
    Ok(words)
}

/// Runs `prog` over `inputs` (views with their shapes, broadcast to `out_shape`) into `out`.
pub fn prepare_elementwise(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    prog: &[FusedInstr],
    inputs: &[(View<'_>, &[usize])],
    out: View<'_>,
    out_shape: &[usize],
) -> Result<Dispatch, BackendError> {
    let shapes: Vec<&[usize]> = inputs.iter().map(|(_, s)| *s).collect();
    let params = encode_params(prog, &shapes, out_shape)?;
    // Unused input bindings still need a buffer: they alias the output and are never read.
    let mut views: Vec<View<'_>> = inputs.iter().map(|(v, _)| *v).collect();
    views.resize(MAX_INPUTS, out);
    views.push(out);
    let n: usize = out_shape.iter().product();
    let groups = groups_1d(ctx, "an elementwise op", n, WG)?;
    prepare(
        ctx,
        cache,
        &kernels::ELEMENTWISE,
        &[],
        &params,
        &views,
        groups,
    )
}

/// The one-instruction program of a unary op.
pub fn unary_program(op: UnaryOp) -> Vec<FusedInstr> {
    vec![FusedInstr::Load(0), FusedInstr::Unary(op, 0)]
}

/// The program of `dy · f'(x)` over inputs (x, dy).
pub fn unary_grad_program(op: UnaryOp) -> Vec<FusedInstr> {
    vec![
        FusedInstr::Load(0),
        FusedInstr::Load(1),
        FusedInstr::UnaryGrad(op, 0, 1),
    ]
}

/// The program of `a ∘ b`.
pub fn binary_program(op: BinaryOp) -> Vec<FusedInstr> {
    vec![
        FusedInstr::Load(0),
        FusedInstr::Load(1),
        FusedInstr::Binary(op, 0, 1),
    ]
}

/// `prog` over the node's inputs, each broadcast to the output.
fn program(
    l: &Lowering<'_>,
    cache: &mut PipelineCache,
    prog: &[FusedInstr],
) -> Result<Vec<Dispatch>, BackendError> {
    let launch = prepare_elementwise(l.ctx, cache, prog, &l.inputs(), l.output(0), l.out_shape())?;
    Ok(vec![launch])
}

/// `Unary`.
pub(crate) const UNARY: GpuLowering = GpuLowering::new(|l, cache| match l.node.op {
    Op::Unary(u) => program(l, cache, &unary_program(u)),
    ref op => misrouted(op),
});

/// `UnaryGrad` (inputs x, dy).
pub(crate) const UNARY_GRAD: GpuLowering = GpuLowering::new(|l, cache| match l.node.op {
    Op::UnaryGrad(u) => program(l, cache, &unary_grad_program(u)),
    ref op => misrouted(op),
});

/// `Binary`, with NumPy broadcasting.
pub(crate) const BINARY: GpuLowering = GpuLowering::new(|l, cache| match l.node.op {
    Op::Binary(b) => program(l, cache, &binary_program(b)),
    ref op => misrouted(op),
});

/// `Expand`: a broadcast load.
pub(crate) const EXPAND: GpuLowering =
    GpuLowering::new(|l, cache| program(l, cache, &[FusedInstr::Load(0)]));

/// `Fused`: the program fusion made.
pub(crate) const FUSED: GpuLowering = GpuLowering::new(|l, cache| match &l.node.op {
    Op::Fused(p) => program(l, cache, &p.instrs),
    op => misrouted(op),
});

#[cfg(test)]
mod tests {
    use super::*;

    fn u(w: &Word) -> u32 {
        match *w {
            Word::U(u) => u,
            Word::F(f) => f.to_bits(),
        }
    }

    #[test]
    fn params_match_the_wgsl_layout() {
        let prog = [
            FusedInstr::Load(0),
            FusedInstr::Load(1),
            FusedInstr::Binary(BinaryOp::Mul, 0, 1),
            FusedInstr::Unary(
                UnaryOp::Affine {
                    mul: 2.0,
                    add: -1.0,
                },
                2,
            ),
        ];
        let w = encode_params(&prog, &[&[2, 3, 4], &[3, 1]], &[2, 3, 4]).unwrap();
        // 4 scalars + modes 8 + dims 8 + strides 64 + code 64 + consts 64.
        assert_eq!(w.len(), 212);
        assert_eq!(w[..4].iter().map(u).collect::<Vec<_>>(), [24, 3, 4, 1]);
        assert_eq!(u(&w[4]), SAME_INDEX);
        assert_eq!(u(&w[5]), STRIDED);
        assert_eq!(w[12..15].iter().map(u).collect::<Vec<_>>(), [2, 3, 4]);
        // Input 1 ([3, 1] in [2, 3, 4]): strides (0, 1, 0).
        assert_eq!(
            w[20 + 8..20 + 11].iter().map(u).collect::<Vec<_>>(),
            [0, 1, 0]
        );
        // Instruction 3: unary affine of register 2, constants (2, −1).
        assert_eq!(
            w[84 + 12..84 + 16].iter().map(u).collect::<Vec<_>>(),
            [INS_UNARY, 2, 0, 0]
        );
        assert_eq!(u(&w[148 + 12]), 2f32.to_bits());
        assert_eq!(u(&w[148 + 13]), (-1f32).to_bits());
    }

    #[test]
    fn malformed_programs_are_errors() {
        let fwd = [FusedInstr::Unary(UnaryOp::Exp, 1), FusedInstr::Load(0)];
        assert!(encode_params(&fwd, &[&[4]], &[4]).is_err());
        let missing = [FusedInstr::Load(2)];
        assert!(encode_params(&missing, &[&[4]], &[4]).is_err());
        assert!(encode_params(&[], &[&[4]], &[4]).is_err());
    }
}
