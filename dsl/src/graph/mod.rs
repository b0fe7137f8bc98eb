//! The static graph IR: nodes with static shapes, built through the DSL's typed handles,
//! differentiated and planned before anything runs.
mod node_id;
pub use node_id::NodeId;
