//! A node of the graph: op, inputs, static shape, element type and role.
use alloc::string::String;
use alloc::vec::Vec;

use super::{NodeId, Op};

/// Element type of a tensor: float data (f32 on devices, f32 or f64 on the CPU) or u32 indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    Data,
    Index,
}

/// Weight-decay group of a parameter, chosen when AdamW is appended (see `adamw`).
#[derive(Clone, Debug, PartialEq)]
pub enum Role {
    /// Fed by the host every step (`set_input` / `set_index_input`).
    Input { name: String },
    /// A persistent parameter under its official name; `trainable: false` freezes it.
    Param { name: String, trainable: bool },
    /// A persistent tensor set once by the host and never differentiated (sin-cos tables,
    /// relative-position index tables).
    Frozen { name: String },
    /// Optimizer state (AdamW `exp_avg`, `exp_avg_sq`): persistent, zero at start.
    State { name: String },
    /// Computed by an op.
    Computed,
}

impl Role {
    /// The leaf's name, if it is a leaf.
    pub fn name(&self) -> Option<&str> {
        match self {
            Role::Input { name }
            | Role::Param { name, .. }
            | Role::Frozen { name }
            | Role::State { name } => Some(name),
            Role::Computed => None,
        }
    }

    /// Leaves whose buffers live across steps.
    pub fn is_persistent(&self) -> bool {
        matches!(
            self,
            Role::Param { .. } | Role::Frozen { .. } | Role::State { .. }
        )
    }
}

/// One node. `shape` is static; `[]` is a scalar.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub op: Op,
    pub inputs: Vec<NodeId>,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub role: Role,
}

impl Node {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}
