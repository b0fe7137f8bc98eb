// Preset `mae_vit_huge_patch14`, declared through the public macro path as a user would.
tessera_dsl::mae! {
    /// `mae_vit_huge_patch14`, 224 px.
    pub MaeVitHugePatch14 {
        image: 224 x 224 x 3, patch: 14,
        encoder: vit { dim: 1280, depth: 32, heads: 16, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

fn main() {
    // The same spec as the crate's preset, and its typed handles resolve to concrete shapes.
    assert_eq!(
        MaeVitHugePatch14::SPEC,
        tessera_dsl::presets::MaeVitHugePatch14::SPEC
    );
    assert_eq!(
        MaeVitHugePatch14::DIMS,
        tessera_dsl::presets::MaeVitHugePatch14::DIMS
    );
    let handle = mae_vit_huge_patch14::Patches::from_node(tessera_dsl::graph::NodeId(3));
    assert_eq!(handle.node(), tessera_dsl::graph::NodeId(3));
    assert!(mae_vit_huge_patch14::Patches::NUMEL > 0);
}
