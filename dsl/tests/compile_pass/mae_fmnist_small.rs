// Preset `mae_fmnist_small`, declared through the public macro path as a user would.
tessera_dsl::mae! {
    /// A small MAE for Fashion-MNIST: 28 px, 1 channel, patch 4.
    pub MaeFmnistSmall {
        image: 28 x 28 x 1, patch: 4,
        encoder: vit { dim: 128, depth: 6, heads: 4, mlp: 4 },
        decoder: vit { dim: 64, depth: 2, heads: 4, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

fn main() {
    // The same spec as the crate's preset, and its typed handles resolve to concrete shapes.
    assert_eq!(
        MaeFmnistSmall::SPEC,
        tessera_dsl::presets::MaeFmnistSmall::SPEC
    );
    assert_eq!(
        MaeFmnistSmall::DIMS,
        tessera_dsl::presets::MaeFmnistSmall::DIMS
    );
    let handle = mae_fmnist_small::Patches::from_node(tessera_dsl::graph::NodeId(3));
    assert_eq!(handle.node(), tessera_dsl::graph::NodeId(3));
    assert!(mae_fmnist_small::Patches::NUMEL > 0);
}
