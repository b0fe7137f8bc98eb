//! The static graph IR: nodes with static shapes, differentiated, fused and planned before
//! anything runs. One [`Graph`] holds the forward pass, its backward (appended by [`grad`])
//! and the optimizer (appended by [`adamw`]); [`compile`] turns it into a [`Plan`]: ordered
//! kernel launches over one planned arena, which every backend executes as is.
//!
//! # Usage
//!
//! ```
//! use tessera_dsl::graph::{adamw, compile, grad, AdamWConfig, Graph, PlanOptions};
//!
//! # fn main() -> Result<(), tessera_dsl::graph::GraphError> {
//! let mut g = Graph::new();
//! // Leaves: per-step inputs, parameters under their official names, frozen tables.
//! let x = g.input("x", &[8, 16, 32])?; // [B, L, D]
//! let mask = g.input("mask", &[8, 16])?; // 1 = removed
//! let ids = g.index_input("ids_keep", &[8, 4])?; // u32 indices
//! let w = g.param("fc.weight", &[24, 32], true)?; // torch layout [out, in]
//! let b = g.param("fc.bias", &[24], true)?;
//! let pos = g.frozen("pos_embed", &[1, 16, 32])?; // set once by the host, no gradient
//! // Ops return Result<NodeId, GraphError>: shape errors are typed, never panics.
//! let h = g.add(x, pos)?; // trailing-dim broadcasting
//! let kept = g.gather_rows(h, ids)?; // [8, 4, 32]
//! let y = g.linear(h, w, Some(b))?; // x·Wᵀ + b → [8, 16, 24]
//! let y = g.gelu_erf(y)?;
//! let t = g.norm_pix(y, 1e-6)?; // a target (no gradient)
//! let pred = g.scale(y, 0.5)?;
//! let loss = g.masked_mse(pred, t, mask)?; // shape []
//! # let _ = kept;
//! // Backward nodes are appended to the same graph.
//! let params = g.trainable_params();
//! let grads = grad(&mut g, loss, &params)?;
//! // AdamW as torch.optim.AdamW; 1-D params and `*.bias` are exempt from decay.
//! let opt = adamw(&mut g, &grads, &AdamWConfig::mae_pretrain(0.05))?;
//! // Lower: dead-node removal, elementwise fusion, liveness-based buffer plan.
//! let plan = compile(&g, &[loss], &PlanOptions::default())?;
//! assert!(plan.peak_bytes(4) > 0);
//! # let _ = opt;
//! # Ok(())
//! # }
//! ```
//!
//! Running the plan on the CPU (crate `tessera-runtime`):
//!
//! ```ignore
//! let mut ex = tessera_runtime::cpu::CpuExecutor::<f32>::new(&plan)?;
//! ex.set_param("fc.weight", &w_values)?;        // by official name
//! ex.set_frozen("pos_embed", &table)?;
//! ex.set_input("x", &batch)?;                   // per step
//! ex.set_index_input("ids_keep", &ids)?;
//! let lr = sched.lr_at_step(epoch, it, steps_per_epoch);         // LrSchedule, host side
//! ex.set_input(opt.lr_name(), &[lr as f32])?;
//! ex.set_input(opt.step_name(), &[(step + 1) as f32])?;           // 1-based AdamW step t
//! ex.run()?;                                     // one training step, no allocation
//! let l = ex.read(loss)?;                        // requested outputs by NodeId or name
//! let w_now = ex.param("fc.weight")?;
//! ```
//!
//! For transformer blocks prefer `g.self_attention(qkv, heads, bias, scale)` on the fused
//! qkv projection `[B, L, 3·D]`: it equals `split_qkv` → `attention` → `merge_heads` without
//! their permute/slice copies (and their backward pads).
//!
//! # Design notes
//!
//! - Ids are a topological order (builders only append) and a plan runs nodes in id order,
//!   so optimizer updates, appended last, run after every read of the parameters.
//! - Multi-output kernels (attention's log-sum-exp, attention backward's dk/dv) write extra
//!   nodes `Op::Extra { slot }` that directly follow their producer; every handle stays one
//!   `NodeId`.
//! - `Reshape` is a view (shares its input's buffer); every other op is one kernel launch.
//! - Index tensors (u32) are host-set leaves and live in a separate small arena.
//! - Fused ops (`Fused`, `MatMulBias`) exist only after [`compile`]; `grad` runs before.
mod autodiff;
mod builder;
#[cfg(feature = "cpu")]
pub mod cpu;
mod error;
mod fused;
mod node;
mod node_id;
mod op;
mod ops;
pub mod passes;
mod plan;
pub mod scalar;
mod schedule;
pub mod shape;

pub use autodiff::{grad, Gradients};
pub use builder::{Graph, MAX_RANK};
pub use error::{GResult, GraphError};
pub use fused::{FusedInstr, FusedProgram, MAX_FUSED_REGS};
pub use node::{DType, Node, Role};
pub use node_id::NodeId;
pub use op::{misrouted, BinaryOp, Op, OpKind, UnaryOp};
pub use ops::adamw::{adamw, adamw_grouped, adamw_reference, AdamWConfig, Optimizer, ParamGroup};
pub use ops::{attention, PatchOrder};
pub use plan::{compile, BufSlot, Plan, PlanOptions, Space, Step, Target};
pub use schedule::LrSchedule;
