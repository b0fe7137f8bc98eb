//! A thin typed layer over the builder: ops on [`typed`](crate::typed) handles whose
//! per-sample shapes are const generics, so a matmul with mismatched inner dimensions or an
//! add of differently shaped tokens does not compile. The batch stays a run-time number; the
//! graph still checks the full shapes (a handle wrapped around the wrong node is a typed
//! `GraphError`, not a panic).
use alloc::format;

use super::shape::shape_err;
use super::{GResult, Graph, NodeId};
use crate::typed::Tensor2;

/// A 2-D parameter `[R, C]` (a `Linear` weight `[out, in]`), not batched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Param2<const R: usize, const C: usize> {
    node: NodeId,
}

impl<const R: usize, const C: usize> Param2<R, C> {
    /// The graph node this handle names.
    pub const fn node(self) -> NodeId {
        self.node
    }
}

impl Graph {
    fn check_t<const R: usize, const C: usize>(
        &self,
        op: &'static str,
        x: Tensor2<R, C>,
    ) -> GResult<()> {
        let s = self.data_shape(op, x.node())?;
        if s.len() != 3 || s[1..] != [R, C] {
            return Err(shape_err(
                op,
                &[&s],
                format!("a typed handle of [B, {R}, {C}]"),
            ));
        }
        Ok(())
    }

    /// A per-step input `[batch, R, C]` as a typed handle.
    pub fn input2<const R: usize, const C: usize>(
        &mut self,
        name: &str,
        batch: usize,
    ) -> GResult<Tensor2<R, C>> {
        Ok(Tensor2::from_node(self.input(name, &[batch, R, C])?))
    }

    /// A trainable `[R, C]` parameter as a typed handle.
    pub fn param2<const R: usize, const C: usize>(&mut self, name: &str) -> GResult<Param2<R, C>> {
        Ok(Param2 {
            node: self.param(name, &[R, C], true)?,
        })
    }

    /// Per-sample `[M, K] · [K, N]` → `[M, N]`.
    pub fn matmul_t<const M: usize, const K: usize, const N: usize>(
        &mut self,
        a: Tensor2<M, K>,
        b: Tensor2<K, N>,
    ) -> GResult<Tensor2<M, N>> {
        self.check_t("matmul", a)?;
        self.check_t("matmul", b)?;
        Ok(Tensor2::from_node(self.matmul(
            a.node(),
            b.node(),
            false,
            false,
        )?))
    }

    /// Per-sample `[M, K] · [N, K]ᵀ` → `[M, N]` (attention scores `q kᵀ`).
    pub fn matmul_nt<const M: usize, const K: usize, const N: usize>(
        &mut self,
        a: Tensor2<M, K>,
        b: Tensor2<N, K>,
    ) -> GResult<Tensor2<M, N>> {
        self.check_t("matmul", a)?;
        self.check_t("matmul", b)?;
        Ok(Tensor2::from_node(self.matmul(
            a.node(),
            b.node(),
            false,
            true,
        )?))
    }

    /// `Linear(I → O)` on `N` tokens: `x · Wᵀ (+ bias)` with `W: [O, I]`.
    pub fn linear_t<const N: usize, const I: usize, const O: usize>(
        &mut self,
        x: Tensor2<N, I>,
        w: Param2<O, I>,
        bias: Option<NodeId>,
    ) -> GResult<Tensor2<N, O>> {
        self.check_t("linear", x)?;
        Ok(Tensor2::from_node(self.linear(x.node(), w.node(), bias)?))
    }

    /// Elementwise sum of two equally shaped token tensors.
    pub fn add_t<const R: usize, const C: usize>(
        &mut self,
        a: Tensor2<R, C>,
        b: Tensor2<R, C>,
    ) -> GResult<Tensor2<R, C>> {
        self.check_t("add", a)?;
        self.check_t("add", b)?;
        Ok(Tensor2::from_node(self.add(a.node(), b.node())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_ops_build_the_same_nodes_and_check_wrapped_shapes() {
        let mut g = Graph::new();
        let x = g.input2::<4, 3>("x", 2).unwrap();
        let w = g.param2::<5, 3>("fc.weight").unwrap();
        let y = g.linear_t(x, w, None).unwrap();
        assert_eq!(g.shape(y.node()), &[2, 4, 5]);
        let k = g.input2::<6, 5>("k", 2).unwrap();
        let q = g.input2::<7, 5>("q", 2).unwrap();
        let s = g.matmul_nt(y, q).unwrap();
        assert_eq!(g.shape(s.node()), &[2, 4, 7]);
        let v = g.input2::<5, 6>("v", 2).unwrap();
        let p = g.matmul_t(y, v).unwrap();
        assert_eq!(g.shape(p.node()), &[2, 4, 6]);
        // A handle wrapped around a node of another shape is a typed error.
        let lie: Tensor2<4, 5> = Tensor2::from_node(k.node());
        assert!(g.add_t(y, lie).is_err());
    }
}
