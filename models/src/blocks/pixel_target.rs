//! The reconstruction target of every pixel-predicting family: the image cut into `p x p`
//! patches (MAE's `(p, q, c)` value order), each normalized over its own values when the spec
//! asks for `norm_pix` (mean and unbiased variance, eps 1e-6, as the official losses).
use tessera_dsl::graph::{GResult, Graph, NodeId, PatchOrder};
use tessera_dsl::spec::Target;

/// `[N, L, p·p·C]` targets of `imgs` `[N, C, H, W]`.
pub fn pixel_target(g: &mut Graph, imgs: NodeId, patch: usize, target: Target) -> GResult<NodeId> {
    let t = g.patchify(imgs, patch, PatchOrder::Pqc)?;
    if target.is_norm_pix() {
        g.norm_pix(t, 1e-6)
    } else {
        Ok(t)
    }
}
