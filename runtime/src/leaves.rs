//! What both executors do before they touch memory: find a named leaf's slot, check that it is
//! the kind of tensor the caller meant, of the right element type and length; find the slot of
//! a tensor the caller may read. Only the copies themselves differ between the backends.
use tessera_dsl::graph::{BufSlot, DType, NodeId, Plan, Role, Space};

use crate::BackendError;

/// The kind of leaf a caller means to set or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafKind {
    Input,
    Param,
    Frozen,
    /// Any leaf, optimizer state included.
    Any,
}

impl LeafKind {
    fn accepts(self, found: &'static str) -> bool {
        self == LeafKind::Any || self.word() == found
    }

    fn word(self) -> &'static str {
        match self {
            LeafKind::Input => "input",
            LeafKind::Param => "parameter",
            LeafKind::Frozen => "frozen tensor",
            LeafKind::Any => "any",
        }
    }
}

/// What a node is, in the words of the errors.
fn role_word(role: &Role) -> &'static str {
    match role {
        Role::Input { .. } => "input",
        Role::Param { .. } => "parameter",
        Role::Frozen { .. } => "frozen tensor",
        Role::State { .. } => "optimizer state",
        Role::Computed => "computed tensor",
    }
}

/// The node and slot of the leaf `name`, checked to be of kind `wanted`.
pub fn leaf(plan: &Plan, name: &str, wanted: LeafKind) -> Result<(NodeId, BufSlot), BackendError> {
    let (id, slot) = plan
        .slot_by_name(name)
        .ok_or_else(|| BackendError::UnknownName(name.into()))?;
    let found = role_word(&plan.graph.node(id).role);
    if !wanted.accepts(found) {
        return Err(BackendError::WrongKind {
            name: name.into(),
            found,
            wanted: wanted.word(),
        });
    }
    Ok((id, slot))
}

/// The slot `len` values of `dtype` are written to when the caller sets leaf `name`.
pub fn writable(
    plan: &Plan,
    name: &str,
    wanted: LeafKind,
    dtype: DType,
    len: usize,
) -> Result<(NodeId, BufSlot), BackendError> {
    let (id, slot) = leaf(plan, name, wanted)?;
    let words = |d: DType| match d {
        DType::Data => "float tensor",
        DType::Index => "index tensor",
    };
    let found = plan.graph.node(id).dtype;
    if found != dtype {
        return Err(BackendError::WrongKind {
            name: name.into(),
            found: words(found),
            wanted: words(dtype),
        });
    }
    if len != slot.len {
        return Err(BackendError::WrongLength {
            name: name.into(),
            expected: slot.len,
            got: len,
        });
    }
    Ok((id, slot))
}

/// The float slot of leaf `name` for reading.
pub fn readable_leaf(plan: &Plan, name: &str, wanted: LeafKind) -> Result<BufSlot, BackendError> {
    let (id, slot) = leaf(plan, name, wanted)?;
    if slot.space != Space::Data {
        return Err(BackendError::NotReadable(id.0));
    }
    Ok(slot)
}

/// The float slot of node `original` (an id of the graph handed to `compile`) for reading:
/// a requested output or a leaf. `None` when the tensor is empty and has no buffer.
pub fn readable(plan: &Plan, original: NodeId) -> Result<Option<BufSlot>, BackendError> {
    let id = plan
        .resolve(original)
        .ok_or(BackendError::NotReadable(original.0))?;
    let pinned = plan.outputs.contains(&id) || plan.graph.node(id).role != Role::Computed;
    match plan.slots[id.0 as usize] {
        _ if !pinned => Err(BackendError::NotReadable(original.0)),
        Some(s) if s.space != Space::Data => Err(BackendError::NotReadable(original.0)),
        s => Ok(s),
    }
}
