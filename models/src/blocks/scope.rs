//! Declaring parameters where they are used. A [`Scope`] is a path in the state dict
//! (`decoder_blocks.3.attn`); a block declares each of its parameters through it, at the
//! official key and with its initialisation, and gets the graph node back. A name is written
//! once, so the parameter list, the graph, the checkpoint and the probe's feature graph cannot
//! disagree (the pattern of candle's `VarBuilder` with `pp("blocks")`).
use std::fmt::Display;

use tessera_dsl::graph::{GResult, Graph, NodeId};

use crate::params::{Init, ParamSpec};

/// A value a graph needs that is neither a parameter nor a per-step input: index tables
/// (relative positions) and additive attention masks (shifted windows). Not saved.
#[derive(Clone, Debug, PartialEq)]
pub enum Constant {
    F32(Vec<f32>),
    U32(Vec<u32>),
}

/// A graph under construction, with the parameters and constants declared into it.
#[derive(Debug, Default)]
pub struct Builder {
    graph: Graph,
    params: Vec<ParamSpec>,
    constants: Vec<(String, Constant)>,
}

/// What a finished [`Builder`] holds.
#[derive(Debug)]
pub struct Built {
    pub graph: Graph,
    /// Every declared parameter, in declaration order (state-dict order when a model declares
    /// its own parameters first, as PyTorch lists them).
    pub params: Vec<ParamSpec>,
    pub constants: Vec<(String, Constant)>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The root scope (no prefix).
    pub fn root(&mut self) -> Scope<'_> {
        Scope {
            b: self,
            prefix: String::new(),
        }
    }

    pub fn finish(self) -> Built {
        Built {
            graph: self.graph,
            params: self.params,
            constants: self.constants,
        }
    }
}

/// A path in the state dict over a [`Builder`].
pub struct Scope<'a> {
    b: &'a mut Builder,
    prefix: String,
}

impl Scope<'_> {
    /// The child scope `name` (`blocks` → `blocks.0` → `blocks.0.attn`).
    pub fn pp(&mut self, name: impl Display) -> Scope<'_> {
        let prefix = self.path(&name.to_string());
        Scope { b: self.b, prefix }
    }

    /// The full name of `leaf` in this scope.
    pub fn path(&self, leaf: &str) -> String {
        if self.prefix.is_empty() {
            leaf.to_string()
        } else {
            format!("{}.{leaf}", self.prefix)
        }
    }

    /// The graph being built.
    pub fn g(&mut self) -> &mut Graph {
        &mut self.b.graph
    }

    /// A trainable parameter `name` of this scope.
    pub fn param(&mut self, name: &str, shape: &[usize], init: Init) -> GResult<NodeId> {
        self.declare(name, shape, init, true)
    }

    /// A frozen table `name` of this scope (saved, never trained: MAE's sin-cos embeddings).
    pub fn frozen(&mut self, name: &str, shape: &[usize], init: Init) -> GResult<NodeId> {
        self.declare(name, shape, init, false)
    }

    fn declare(
        &mut self,
        name: &str,
        shape: &[usize],
        init: Init,
        trainable: bool,
    ) -> GResult<NodeId> {
        let name = self.path(name);
        let id = if trainable {
            self.b.graph.param(&name, shape, true)?
        } else {
            self.b.graph.frozen(&name, shape)?
        };
        self.b.params.push(ParamSpec {
            name,
            shape: shape.to_vec(),
            trainable,
            init,
        });
        Ok(id)
    }

    /// A constant float table `name` (not a parameter, not saved), set once before running.
    pub fn constant_f32(&mut self, name: &str, shape: &[usize], v: Vec<f32>) -> GResult<NodeId> {
        let name = self.path(name);
        let id = self.b.graph.frozen(&name, shape)?;
        self.b.constants.push((name, Constant::F32(v)));
        Ok(id)
    }

    /// A constant index table `name` (not a parameter, not saved), set once before running.
    pub fn constant_u32(&mut self, name: &str, shape: &[usize], v: Vec<u32>) -> GResult<NodeId> {
        let name = self.path(name);
        let id = self.b.graph.frozen_index(&name, shape)?;
        self.b.constants.push((name, Constant::U32(v)));
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_scope_path_and_are_declared_once() {
        let mut b = Builder::new();
        let mut root = b.root();
        root.param("cls_token", &[1, 1, 4], Init::Zeros).unwrap();
        let mut blocks = root.pp("blocks");
        let mut first = blocks.pp(0);
        let mut attn = first.pp("attn");
        attn.param("qkv.weight", &[12, 4], Init::Ones).unwrap();
        assert_eq!(attn.path("proj"), "blocks.0.attn.proj");
        // A second declaration of the same name is an error, not a silent alias.
        assert!(attn.param("qkv.weight", &[12, 4], Init::Ones).is_err());
        root.frozen("pos_embed", &[1, 2, 4], Init::Zeros).unwrap();
        root.constant_u32("index", &[3], vec![0, 1, 2]).unwrap();
        let built = b.finish();
        let names: Vec<&str> = built.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["cls_token", "blocks.0.attn.qkv.weight", "pos_embed"]
        );
        assert!(!built.params[2].trainable);
        assert_eq!(built.constants.len(), 1);
        assert!(built.graph.by_name("blocks.0.attn.qkv.weight").is_some());
    }
}
