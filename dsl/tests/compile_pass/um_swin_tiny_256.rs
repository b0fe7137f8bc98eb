// Preset `um_swin_tiny_256`, declared through the public macro path as a user would.
tessera_dsl::um_swin! {
    /// UM-MAE Swin-T at 256 px, pre-training window 8 on the compacted map (implus/UM-MAE).
    pub UmSwinTiny256 {
        image: 256 x 256 x 3, patch: 4, mask_cell: 16,
        stages: [(96, 2, 3), (192, 2, 6), (384, 6, 12), (768, 2, 24)], mlp: 4, window: 8,
        mask: uniform(3 / 4) + secondary(1 / 4),
        decoder: vit { dim: 512, depth: 2, heads: 16, mlp: 4 },
        target: norm_pix,
    }
}

fn main() {
    // The same spec as the crate's preset, and its typed handles resolve to concrete shapes.
    assert_eq!(
        UmSwinTiny256::SPEC,
        tessera_dsl::presets::UmSwinTiny256::SPEC
    );
    assert_eq!(
        UmSwinTiny256::DIMS,
        tessera_dsl::presets::UmSwinTiny256::DIMS
    );
    let handle = um_swin_tiny256::FinalMap::from_node(tessera_dsl::graph::NodeId(3));
    assert_eq!(handle.node(), tessera_dsl::graph::NodeId(3));
    assert!(um_swin_tiny256::FinalMap::NUMEL > 0);
}
