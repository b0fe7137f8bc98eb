// Preset `mae_vit_large_patch16`, declared through the public macro path as a user would.
tessera_dsl::mae! {
    /// `mae_vit_large_patch16`, 224 px.
    pub MaeVitLargePatch16 {
        image: 224 x 224 x 3, patch: 16,
        encoder: vit { dim: 1024, depth: 24, heads: 16, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

fn main() {
    // The same spec as the crate's preset, and its typed handles resolve to concrete shapes.
    assert_eq!(
        MaeVitLargePatch16::SPEC,
        tessera_dsl::presets::MaeVitLargePatch16::SPEC
    );
    assert_eq!(
        MaeVitLargePatch16::DIMS,
        tessera_dsl::presets::MaeVitLargePatch16::DIMS
    );
    let handle = mae_vit_large_patch16::Patches::from_node(tessera_dsl::graph::NodeId(3));
    assert_eq!(handle.node(), tessera_dsl::graph::NodeId(3));
    assert!(mae_vit_large_patch16::Patches::NUMEL > 0);
}
