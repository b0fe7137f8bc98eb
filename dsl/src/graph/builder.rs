//! The [`Graph`]: an append-only list of nodes, so node ids are a topological order.
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::{DType, GResult, GraphError, Node, NodeId, Op, Role};

/// Most dims a tensor may have (kernels index with fixed-size arrays).
pub const MAX_RANK: usize = 8;

/// A static computation graph. Builders append nodes and return their ids; an input id is
/// always smaller than its consumer's, and execution follows id order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    nodes: Vec<Node>,
    names: BTreeMap<String, NodeId>,
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    /// All nodes, in id order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node behind `id`. Panics on a foreign id (use [`Graph::try_node`] to check).
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }

    pub fn try_node(&self, op: &'static str, id: NodeId) -> GResult<&Node> {
        self.nodes
            .get(id.0 as usize)
            .ok_or(GraphError::UnknownNode { op, id })
    }

    /// Static shape of a node.
    pub fn shape(&self, id: NodeId) -> &[usize] {
        &self.node(id).shape
    }

    /// The leaf declared under `name`.
    pub fn by_name(&self, name: &str) -> Option<NodeId> {
        self.names.get(name).copied()
    }

    /// Names and ids of all named leaves, sorted by name.
    pub fn leaves(&self) -> impl Iterator<Item = (&str, NodeId)> {
        self.names.iter().map(|(n, id)| (n.as_str(), *id))
    }

    /// Trainable parameters in declaration order.
    pub fn trainable_params(&self) -> Vec<NodeId> {
        (0..self.nodes.len())
            .filter(|&i| {
                matches!(
                    self.nodes[i].role,
                    Role::Param {
                        trainable: true,
                        ..
                    }
                )
            })
            .map(|i| NodeId(i as u32))
            .collect()
    }

    fn leaf(&mut self, name: &str, shape: &[usize], dtype: DType, role: Role) -> GResult<NodeId> {
        if self.names.contains_key(name) {
            return Err(GraphError::DuplicateName(name.to_string()));
        }
        if shape.len() > MAX_RANK {
            return Err(GraphError::Argument {
                op: "leaf",
                message: alloc::format!("{name} has rank {} > {MAX_RANK}", shape.len()),
            });
        }
        let id = self.push(Op::Leaf, vec![], shape.to_vec(), dtype, role);
        self.names.insert(name.to_string(), id);
        Ok(id)
    }

    /// A float tensor fed by the host each step (images, masks, per-step scalars).
    pub fn input(&mut self, name: &str, shape: &[usize]) -> GResult<NodeId> {
        let role = Role::Input {
            name: name.to_string(),
        };
        self.leaf(name, shape, DType::Data, role)
    }

    /// A u32 index tensor fed by the host each step (`ids_keep`, `ids_restore`, labels).
    pub fn index_input(&mut self, name: &str, shape: &[usize]) -> GResult<NodeId> {
        let role = Role::Input {
            name: name.to_string(),
        };
        self.leaf(name, shape, DType::Index, role)
    }

    /// A persistent parameter under its official checkpoint name.
    pub fn param(&mut self, name: &str, shape: &[usize], trainable: bool) -> GResult<NodeId> {
        let role = Role::Param {
            name: name.to_string(),
            trainable,
        };
        self.leaf(name, shape, DType::Data, role)
    }

    /// A persistent float tensor set once by the host, never differentiated (sin-cos tables).
    pub fn frozen(&mut self, name: &str, shape: &[usize]) -> GResult<NodeId> {
        let role = Role::Frozen {
            name: name.to_string(),
        };
        self.leaf(name, shape, DType::Data, role)
    }

    /// A persistent u32 table set once by the host (relative-position indices).
    pub fn frozen_index(&mut self, name: &str, shape: &[usize]) -> GResult<NodeId> {
        let role = Role::Frozen {
            name: name.to_string(),
        };
        self.leaf(name, shape, DType::Index, role)
    }

    /// Optimizer state (zero at start), used by `adamw`.
    pub(crate) fn state(&mut self, name: &str, shape: &[usize]) -> GResult<NodeId> {
        let role = Role::State {
            name: name.to_string(),
        };
        self.leaf(name, shape, DType::Data, role)
    }

    /// Appends a computed node; callers have checked shapes.
    pub(crate) fn push(
        &mut self,
        op: Op,
        inputs: Vec<NodeId>,
        shape: Vec<usize>,
        dtype: DType,
        role: Role,
    ) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(Node {
            op,
            inputs,
            shape,
            dtype,
            role,
        });
        id
    }

    /// Appends a computed float node after checking that every input exists and is float data.
    pub(crate) fn op(&mut self, op: Op, inputs: Vec<NodeId>, shape: Vec<usize>) -> GResult<NodeId> {
        let name = op.name();
        if shape.len() > MAX_RANK {
            return Err(GraphError::Argument {
                op: name,
                message: alloc::format!("result of rank {} exceeds {MAX_RANK}", shape.len()),
            });
        }
        for (i, &x) in inputs.iter().enumerate() {
            if self.try_node(name, x)?.dtype != DType::Data && !op.takes_index_at(i) {
                return Err(GraphError::DType { op: name, input: i });
            }
        }
        Ok(self.push(op, inputs, shape, DType::Data, Role::Computed))
    }

    /// Checks that `id` exists and holds float data; returns its shape.
    pub(crate) fn data_shape(&self, op: &'static str, id: NodeId) -> GResult<Vec<usize>> {
        let n = self.try_node(op, id)?;
        if n.dtype != DType::Data {
            return Err(GraphError::DType { op, input: 0 });
        }
        Ok(n.shape.clone())
    }

    /// Checks that `id` exists and holds indices; returns its shape.
    pub(crate) fn index_shape(&self, op: &'static str, id: NodeId) -> GResult<Vec<usize>> {
        let n = self.try_node(op, id)?;
        if n.dtype != DType::Index {
            return Err(GraphError::DType { op, input: 1 });
        }
        Ok(n.shape.clone())
    }

    /// Replaces the node list (used by passes that rewrite the graph); names are rebuilt.
    pub(crate) fn from_nodes(nodes: Vec<Node>) -> Self {
        let mut names = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            if let Some(name) = n.role.name() {
                names.insert(name.to_string(), NodeId(i as u32));
            }
        }
        Self { nodes, names }
    }
}
