//! Dead-node removal: keeps the ancestors of the requested outputs and of side-effecting
//! nodes (optimizer updates), every named leaf (so the host can always set them), and all
//! extra outputs of a kept producer (its kernel writes them anyway).
use alloc::vec;
use alloc::vec::Vec;

use super::IdMap;
use crate::graph::{Graph, Node, NodeId, Op};

/// Returns the pruned graph and the old → new id map.
pub fn dead_node_removal(g: &Graph, outputs: &[NodeId]) -> (Graph, IdMap) {
    let nodes = g.nodes();
    let mut live = vec![false; nodes.len()];
    for &o in outputs {
        live[o.0 as usize] = true;
    }
    for (i, n) in nodes.iter().enumerate() {
        if n.op.has_side_effects() || n.role.name().is_some() {
            live[i] = true;
        }
    }
    // Ids are topological, so one backward sweep marks all ancestors.
    for i in (0..nodes.len()).rev() {
        if live[i] {
            for &x in &nodes[i].inputs {
                live[x.0 as usize] = true;
            }
        }
    }
    for (i, n) in nodes.iter().enumerate() {
        if let Op::Extra { .. } = n.op {
            if live[n.inputs[0].0 as usize] {
                live[i] = true;
            }
        }
    }
    renumber(nodes, &live)
}

/// Keeps the nodes with `keep[i]`, remapping inputs (every kept node's inputs must be kept).
pub fn renumber(nodes: &[Node], keep: &[bool]) -> (Graph, IdMap) {
    let mut map: IdMap = vec![None; nodes.len()];
    let mut out: Vec<Node> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        let mut n = n.clone();
        for x in &mut n.inputs {
            *x = map[x.0 as usize].expect("input of a kept node was removed");
        }
        map[i] = Some(NodeId(out.len() as u32));
        out.push(n);
    }
    (Graph::from_nodes(out), map)
}
