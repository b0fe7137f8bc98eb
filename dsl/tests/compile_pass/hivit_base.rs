// Preset `hivit_base`, declared through the public macro path as a user would.
tessera_dsl::hivit! {
    /// `mae_hivit_base_dec512d6b` (zhangxiaosong18/hivit), 224 px, patch 16, hifeat.
    pub HiVitBase {
        image: 224 x 224 x 3, patch: 16, inner_patches: 4,
        mlp_stages: [2, 2], stem_mlp: 3,
        main: vit { dim: 512, depth: 20, heads: 8, mlp: 4 },
        hifeat: true,
        decoder: vit { dim: 512, depth: 6, heads: 16, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

fn main() {
    // The same spec as the crate's preset, and its typed handles resolve to concrete shapes.
    assert_eq!(HiVitBase::SPEC, tessera_dsl::presets::HiVitBase::SPEC);
    assert_eq!(HiVitBase::DIMS, tessera_dsl::presets::HiVitBase::DIMS);
    let handle = hi_vit_base::EncoderOut::from_node(tessera_dsl::graph::NodeId(3));
    assert_eq!(handle.node(), tessera_dsl::graph::NodeId(3));
    assert!(hi_vit_base::EncoderOut::NUMEL > 0);
}
