// Preset `mixmim_base`, declared through the public macro path as a user would.
tessera_dsl::mixmim! {
    /// MixMIM-B (Sense-X/MixMIM), 224 px.
    pub MixMimBase {
        image: 224 x 224 x 3, patch: 4,
        stages: [(128, 2, 4, 14), (256, 2, 8, 14), (512, 18, 16, 14), (1024, 2, 32, 7)],
        mlp: 4,
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: mixed(1 / 2), target: norm_pix,
    }
}

fn main() {
    // The same spec as the crate's preset, and its typed handles resolve to concrete shapes.
    assert_eq!(MixMimBase::SPEC, tessera_dsl::presets::MixMimBase::SPEC);
    assert_eq!(MixMimBase::DIMS, tessera_dsl::presets::MixMimBase::DIMS);
    let handle = mix_mim_base::Final::from_node(tessera_dsl::graph::NodeId(3));
    assert_eq!(handle.node(), tessera_dsl::graph::NodeId(3));
    assert!(mix_mim_base::Final::NUMEL > 0);
}
