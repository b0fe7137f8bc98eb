//! Fusion after autodiff (fused ops have no gradient rule):
//! - elementwise: a unary/binary node whose only consumer is another elementwise node of the
//!   same shape is inlined into that consumer's [`FusedProgram`], so the chain runs as one
//!   pass over memory (bias + GELU, gradient accumulation chains, `dy·w` products);
//! - scale into matmul: `affine(matmul(a, b), mul, 0)` becomes `matmul` with `alpha · mul`;
//! - bias into matmul: `matmul(x, W) + bias[N]` becomes `MatMulBias`, whose kernel starts
//!   the GEMM from the broadcast bias instead of adding it in a second pass.
use alloc::vec;
use alloc::vec::Vec;

use super::dce::renumber;
use super::IdMap;
use crate::graph::{
    BinaryOp, FusedInstr, FusedProgram, Graph, Node, NodeId, Op, UnaryOp, MAX_FUSED_REGS,
};

/// An elementwise node's program over its external inputs.
#[derive(Clone, Default)]
struct Prog {
    instrs: Vec<FusedInstr>,
    ext: Vec<NodeId>,
}

impl Prog {
    fn load(&mut self, id: NodeId) -> u8 {
        if let Some(n) = self.ext.iter().position(|&e| e == id) {
            let reg = self
                .instrs
                .iter()
                .position(|i| *i == FusedInstr::Load(n as u8))
                .expect("every external has a load");
            return reg as u8;
        }
        self.ext.push(id);
        self.push(FusedInstr::Load((self.ext.len() - 1) as u8))
    }

    fn push(&mut self, i: FusedInstr) -> u8 {
        self.instrs.push(i);
        (self.instrs.len() - 1) as u8
    }

    /// Appends `other` (a producer's program), returning the register of its result.
    fn inline(&mut self, other: &Prog) -> u8 {
        let mut map = vec![0u8; other.instrs.len()];
        for (r, ins) in other.instrs.iter().enumerate() {
            map[r] = match *ins {
                FusedInstr::Load(n) => self.load(other.ext[n as usize]),
                FusedInstr::Unary(op, a) => self.push(FusedInstr::Unary(op, map[a as usize])),
                FusedInstr::UnaryGrad(op, x, d) => {
                    self.push(FusedInstr::UnaryGrad(op, map[x as usize], map[d as usize]))
                }
                FusedInstr::Binary(op, a, b) => {
                    self.push(FusedInstr::Binary(op, map[a as usize], map[b as usize]))
                }
            };
        }
        map[other.instrs.len() - 1]
    }
}

fn elementwise(op: &Op) -> bool {
    matches!(op, Op::Unary(_) | Op::UnaryGrad(_) | Op::Binary(_))
}

/// Returns the fused graph and the old → new id map. `keep` lists nodes that must stay
/// addressable (requested outputs).
pub fn fuse(g: &Graph, keep: &[NodeId]) -> (Graph, IdMap) {
    let src = g.nodes();
    let n = src.len();
    let mut users = vec![0usize; n];
    for node in src {
        let mut seen: Vec<NodeId> = Vec::new();
        for &x in &node.inputs {
            if !seen.contains(&x) {
                seen.push(x);
                users[x.0 as usize] += 1;
            }
        }
    }
    for &k in keep {
        users[k.0 as usize] += 1;
    }
    let mut nodes: Vec<Node> = src.to_vec();
    let mut progs: Vec<Option<Prog>> = vec![None; n];
    let mut absorbed = vec![false; n];
    // `alias[i] = j`: node i was folded into the earlier node j (its consumers read j).
    let mut alias: Vec<usize> = (0..n).collect();
    for i in 0..n {
        for x in nodes[i].inputs.iter_mut() {
            *x = NodeId(alias[x.0 as usize] as u32);
        }
        let node = nodes[i].clone();
        let single = |j: NodeId| users[j.0 as usize] == 1;
        // Scale into the producing matmul.
        if let Op::Unary(UnaryOp::Affine { mul, add }) = node.op {
            let p = node.inputs[0].0 as usize;
            if add == 0.0 && single(node.inputs[0]) {
                if let Op::MatMul { alpha, .. } | Op::MatMulBias { alpha, .. } = &mut nodes[p].op {
                    *alpha *= mul;
                    alias[i] = p;
                    absorbed[i] = true;
                    continue;
                }
            }
        }
        // Bias into the producing matmul: out = matmul(..) + b with b [N] (either order).
        if let Op::Binary(BinaryOp::Add) = node.op {
            let (a, b) = (node.inputs[0], node.inputs[1]);
            let nn = node.shape.last().copied().unwrap_or(0);
            for (mm, bias) in [(a, b), (b, a)] {
                let mi = mm.0 as usize;
                let is_bias = nodes[bias.0 as usize].shape == [nn] && node.shape != [nn];
                if let Op::MatMul {
                    trans_a,
                    trans_b,
                    alpha,
                } = nodes[mi].op
                {
                    if is_bias && single(mm) && nodes[mi].shape == node.shape {
                        let mut fused = nodes[mi].clone();
                        fused.op = Op::MatMulBias {
                            trans_a,
                            trans_b,
                            alpha,
                        };
                        fused.inputs.push(bias);
                        nodes[i] = fused;
                        absorbed[mi] = true;
                        break;
                    }
                }
            }
            if absorbed[node.inputs[0].0 as usize] || absorbed[node.inputs[1].0 as usize] {
                continue;
            }
        }
        if !elementwise(&node.op) {
            continue;
        }
        let mut prog = Prog::default();
        let mut regs = [0u8; 2];
        let mut inlined_any = false;
        for (j, &x) in node.inputs.iter().enumerate() {
            let xi = x.0 as usize;
            let fits = progs[xi]
                .as_ref()
                .is_some_and(|p| prog.instrs.len() + p.instrs.len() + 3 <= MAX_FUSED_REGS);
            let same_input = j == 1 && node.inputs[0] == x;
            if same_input {
                regs[1] = regs[0];
            } else if fits && single(x) && nodes[xi].shape == node.shape && !absorbed[xi] {
                let p = progs[xi].take().expect("checked above");
                regs[j] = prog.inline(&p);
                absorbed[xi] = true;
                inlined_any = true;
            } else {
                regs[j] = prog.load(x);
            }
        }
        prog.push(match node.op {
            Op::Unary(op) => FusedInstr::Unary(op, regs[0]),
            Op::UnaryGrad(op) => FusedInstr::UnaryGrad(op, regs[0], regs[1]),
            Op::Binary(op) => FusedInstr::Binary(op, regs[0], regs[1]),
            _ => unreachable!("checked elementwise"),
        });
        if inlined_any {
            nodes[i].op = Op::Fused(FusedProgram {
                instrs: prog.instrs.clone(),
            });
            nodes[i].inputs = prog.ext.clone();
        }
        progs[i] = Some(prog);
    }
    let keep_mask: Vec<bool> = absorbed.iter().map(|a| !a).collect();
    let (out, mut map) = renumber(&nodes, &keep_mask);
    for i in 0..n {
        if alias[i] != i {
            map[i] = map[alias[i]];
        }
    }
    // A matmul folded into its bias add: consumers of the add read the fused node, which
    // kept the add's id; the matmul itself has no readers left.
    (out, map)
}
