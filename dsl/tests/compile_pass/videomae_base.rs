// Preset `videomae_base`, declared through the public macro path as a user would.
tessera_dsl::videomae! {
    /// VideoMAE ViT-B (MCG-NJU/VideoMAE), 16x224x224, tubelet 2, tube ratio 9/10.
    pub VideoMaeBase {
        video: 16 x 224 x 224 x 3, patch: 16, tubelet: 2,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 384, depth: 4, heads: 6, mlp: 4 },
        mask: tube(9 / 10), target: norm_pix,
    }
}

fn main() {
    // The same spec as the crate's preset, and its typed handles resolve to concrete shapes.
    assert_eq!(VideoMaeBase::SPEC, tessera_dsl::presets::VideoMaeBase::SPEC);
    assert_eq!(VideoMaeBase::DIMS, tessera_dsl::presets::VideoMaeBase::DIMS);
    let handle = video_mae_base::Visible::from_node(tessera_dsl::graph::NodeId(3));
    assert_eq!(handle.node(), tessera_dsl::graph::NodeId(3));
    assert!(video_mae_base::Visible::NUMEL > 0);
}
