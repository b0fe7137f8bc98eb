// The composed form's pyramid encoders build the same specs as their family macros.
use tessera_dsl::spec::MaskSpec;

tessera_dsl::mim! {
    pub SwinUm32 {
        image: 32 x 32 x 3, patch: 2,
        encoder: swin { mask_cell: 4, stages: [(32, 2, 2), (64, 2, 4), (128, 2, 8)], mlp: 4, window: 4 },
        decoder: vit { dim: 64, depth: 1, heads: 2, mlp: 4 },
        mask: uniform(3 / 4) + secondary(1 / 4), target: norm_pix,
    }
}

tessera_dsl::um_swin! {
    pub SwinUm32Family {
        image: 32 x 32 x 3, patch: 2, mask_cell: 4,
        stages: [(32, 2, 2), (64, 2, 4), (128, 2, 8)], mlp: 4, window: 4,
        mask: uniform(3 / 4) + secondary(1 / 4),
        decoder: vit { dim: 64, depth: 1, heads: 2, mlp: 4 },
        target: norm_pix,
    }
}

tessera_dsl::mim! {
    pub HiVitUniform32 {
        image: 32 x 32 x 1, patch: 8,
        encoder: hivit {
            inner_patches: 4, mlp_stages: [1, 1], stem_mlp: 3,
            main: vit { dim: 64, depth: 2, heads: 2, mlp: 4 }, hifeat: true,
        },
        decoder: vit { dim: 32, depth: 1, heads: 2, mlp: 4 },
        mask: uniform(3 / 4), target: pix,
        layer_norm_eps: 1e-5,
    }
}

fn main() {
    assert_eq!(SwinUm32::SPEC, SwinUm32Family::SPEC);
    assert_eq!(SwinUm32::STAGE_GRIDS, [8, 4, 2]);
    assert_eq!((HiVitUniform32::GRID, HiVitUniform32::KEEP), (4, 4));
    assert!(matches!(HiVitUniform32::SPEC.mask, MaskSpec::Uniform { .. }));
    assert_eq!(HiVitUniform32::SPEC.layer_norm_eps, 1e-5);
}
