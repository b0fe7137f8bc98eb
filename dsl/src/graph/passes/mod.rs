//! Graph passes run by [`compile`](super::compile): dead-node removal, elementwise fusion,
//! the CPU backend's own fusions and the liveness-based buffer plan. Each rewriting pass
//! returns a new graph and a map from old to new node ids.
pub mod cpu_fusion;
pub mod dce;
pub mod fusion;
pub mod memplan;

use alloc::vec::Vec;

use super::NodeId;

/// `map[old] = Some(new)` for every node that survived a pass.
pub type IdMap = Vec<Option<NodeId>>;

/// Composes two id maps: first `a`, then `b`.
pub fn compose(a: &IdMap, b: &IdMap) -> IdMap {
    a.iter()
        .map(|x| x.and_then(|m| b.get(m.0 as usize).copied().flatten()))
        .collect()
}
