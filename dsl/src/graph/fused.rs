//! Elementwise programs: what elementwise fusion turns a chain of unary/binary nodes into.
//! A program is SSA: instruction `i` defines register `i`; the last register is the result.
use alloc::vec::Vec;

use super::op::{BinaryOp, UnaryOp};

/// Most registers a fused program may use (kernels keep them in fixed-size arrays).
pub const MAX_FUSED_REGS: usize = 16;

/// One instruction of a [`FusedProgram`]; operands name earlier registers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FusedInstr {
    /// Register := the fused node's input number `n`, broadcast to the output shape.
    Load(u8),
    Unary(UnaryOp, u8),
    /// `dy * f'(x)` with operands (x, dy).
    UnaryGrad(UnaryOp, u8, u8),
    Binary(BinaryOp, u8, u8),
}

/// A straight-line elementwise program.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FusedProgram {
    pub instrs: Vec<FusedInstr>,
}

impl FusedProgram {
    /// Evaluates the program on one element given the loaded input values; the reference
    /// semantics every backend's fused kernel must match.
    pub fn eval_scalar(&self, inputs: &[f64]) -> f64 {
        let mut regs = [0.0f64; MAX_FUSED_REGS];
        for (i, ins) in self.instrs.iter().enumerate() {
            regs[i] = match *ins {
                FusedInstr::Load(n) => inputs[n as usize],
                FusedInstr::Unary(op, a) => super::scalar::unary(op, regs[a as usize]),
                FusedInstr::UnaryGrad(op, x, dy) => {
                    super::scalar::unary_grad(op, regs[x as usize], regs[dy as usize])
                }
                FusedInstr::Binary(op, a, b) => {
                    super::scalar::binary(op, regs[a as usize], regs[b as usize])
                }
            };
        }
        regs[self.instrs.len() - 1]
    }
}
