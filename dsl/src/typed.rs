//! Typed tensor handles: a graph node id whose per-sample shape is in the type as const
//! generics, so mismatched sizes fail to compile. The batch stays a run-time number. Thin on
//! purpose (DESIGN.md: const checks, not trait towers): the graph builds ops on top of these.
//! Const parameters need no `PhantomData` (unlike type parameters), so a handle is exactly
//! one `NodeId` at run time.
use crate::graph::NodeId;

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident, $rank:literal, [$($dim:ident),+]) => {
        $(#[$doc])*
        #[derive(Debug, PartialEq, Eq, Hash)]
        pub struct $name<$(const $dim: usize),+> {
            node: NodeId,
        }

        // Manual impls: derives would not add bounds, but keep the handle `Copy` regardless.
        impl<$(const $dim: usize),+> Clone for $name<$($dim),+> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<$(const $dim: usize),+> Copy for $name<$($dim),+> {}

        impl<$(const $dim: usize),+> $name<$($dim),+> {
            /// The per-sample shape, outermost first.
            pub const SHAPE: [usize; $rank] = [$($dim),+];
            /// Elements per sample.
            pub const NUMEL: usize = 1 $(* $dim)+;

            /// Wraps a node the graph built with this shape.
            pub const fn from_node(node: NodeId) -> Self {
                Self { node }
            }

            /// The graph node this handle names.
            pub const fn node(self) -> NodeId {
                self.node
            }
        }
    };
}

handle!(
    /// A per-sample vector `[A]` (a mask over tokens, `ids_keep`, a bias).
    Tensor1, 1, [A]
);
handle!(
    /// A per-sample matrix `[R, C]` (tokens x width).
    Tensor2, 2, [R, C]
);
handle!(
    /// A per-sample 3-D tensor `[A, B, C]` (an image `[C, H, W]`, heads x tokens x head dim).
    Tensor3, 3, [A, B, C]
);
handle!(
    /// A per-sample 4-D tensor `[A, B, C, D]` (a clip `[C, T, H, W]`).
    Tensor4, 4, [A, B, C, D]
);

/// `N` tokens of width `D`: the common currency of every encoder and decoder.
pub type Tokens<const N: usize, const D: usize> = Tensor2<N, D>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_carry_their_shape() {
        type Patches = Tokens<196, 768>;
        let p = Patches::from_node(NodeId(7));
        let q = p; // Copy
        assert_eq!(q.node(), NodeId(7));
        assert_eq!(Patches::SHAPE, [196, 768]);
        assert_eq!(Patches::NUMEL, 150_528);
        assert_eq!(Tensor4::<3, 16, 224, 224>::NUMEL, 3 * 16 * 224 * 224);
    }
}
