// Preset `mae_tiny_32`, declared through the public macro path as a user would.
tessera_dsl::mae! {
    /// A tiny MAE for tests and the CPU: 32 px RGB (CIFAR-sized), patch 4.
    pub MaeTiny32 {
        image: 32 x 32 x 3, patch: 4,
        encoder: vit { dim: 192, depth: 12, heads: 3, mlp: 4 },
        decoder: vit { dim: 128, depth: 4, heads: 4, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

fn main() {
    // The same spec as the crate's preset, and its typed handles resolve to concrete shapes.
    assert_eq!(MaeTiny32::SPEC, tessera_dsl::presets::MaeTiny32::SPEC);
    assert_eq!(MaeTiny32::DIMS, tessera_dsl::presets::MaeTiny32::DIMS);
    let handle = mae_tiny32::Patches::from_node(tessera_dsl::graph::NodeId(3));
    assert_eq!(handle.node(), tessera_dsl::graph::NodeId(3));
    assert!(mae_tiny32::Patches::NUMEL > 0);
}
