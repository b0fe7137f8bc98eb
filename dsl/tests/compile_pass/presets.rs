// One released preset of every family macro declared again through the public macro paths, as
// a user would write them, and compared with the crate's own (so the macros a user calls build
// exactly the released specs), plus variants no preset covers.
use tessera_dsl::presets;

tessera_dsl::m3ae! {
    pub M3aeBase {
        image: 256 x 256 x 3, patch: 16, text: 64, vocab: 30522,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: image(3 / 4) + text(3 / 4),
    }
}

tessera_dsl::videomae! {
    /// Tubelet 4 over 16 frames: sound geometry the official code does not offer.
    pub VideoTubelet4 {
        video: 16 x 32 x 32 x 3, patch: 16, tubelet: 4,
        encoder: vit { dim: 64, depth: 2, heads: 4, mlp: 4 },
        decoder: vit { dim: 32, depth: 1, heads: 4, mlp: 4 },
        mask: tube(3 / 4), target: norm_pix,
    }
}

tessera_dsl::um_swin! {
    pub UmSwinTiny256 {
        image: 256 x 256 x 3, patch: 4, mask_cell: 16,
        stages: [(96, 2, 3), (192, 2, 6), (384, 6, 12), (768, 2, 24)], mlp: 4, window: 8,
        mask: uniform(3 / 4) + secondary(1 / 4),
        decoder: vit { dim: 512, depth: 2, heads: 16, mlp: 4 },
        target: norm_pix,
    }
}

tessera_dsl::mim! {
    /// A fractional MLP ratio, no class token and PyTorch's default epsilon.
    pub Odd {
        image: 28 x 28 x 2, patch: 7, class_token: false,
        encoder: vit { dim: 24, depth: 2, heads: 2, mlp: 2.5 },
        decoder: vit { dim: 16, depth: 1, heads: 2, mlp: 2.5 },
        mask: uniform(3 / 4) + secondary(1 / 4), target: pix, layer_norm_eps: 1e-5,
    }
}

tessera_dsl::mixmim! {
    pub MixMimBase {
        image: 224 x 224 x 3, patch: 4,
        stages: [(128, 2, 4, 14), (256, 2, 8, 14), (512, 18, 16, 14), (1024, 2, 32, 7)],
        mlp: 4,
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        target: norm_pix,
    }
}

tessera_dsl::mixmim! {
    pub MixMimTiny32 {
        image: 32 x 32 x 3, patch: 2,
        stages: [(32, 1, 2, 4), (64, 1, 2, 4), (128, 2, 4, 4), (256, 1, 8, 2)],
        mlp: 4,
        decoder: vit { dim: 128, depth: 2, heads: 4, mlp: 4 },
        mask: mixed(1 / 2), target: norm_pix,
    }
}

tessera_dsl::mae! {
    pub MaeVitHugePatch14 {
        image: 224 x 224 x 3, patch: 14,
        encoder: vit { dim: 1280, depth: 32, heads: 16, mlp: 4.0 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4.0 },
        mask: random(3 / 4), target: norm_pix, layer_norm_eps: 1e-6,
    }
}

tessera_dsl::hivit! {
    pub HiVitBase {
        image: 224 x 224 x 3, patch: 16, inner_patches: 4,
        mlp_stages: [2, 2], stem_mlp: 3,
        main: vit { dim: 512, depth: 20, heads: 8, mlp: 4 },
        hifeat: true,
        decoder: vit { dim: 512, depth: 6, heads: 16, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

tessera_dsl::videomae! {
    pub VideoMaeBase {
        video: 16 x 224 x 224 x 3, patch: 16, tubelet: 2,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 384, depth: 4, heads: 6, mlp: 4 },
        mask: tube(9 / 10), target: norm_pix,
    }
}

// The README's command line: text loss weight 0.5; and a model without type embeddings.
tessera_dsl::m3ae! {
    pub M3aeReadmeLoss {
        image: 32 x 32 x 1, patch: 8, text: 12, vocab: 100,
        encoder: vit { dim: 48, depth: 2, heads: 3, mlp: 4 },
        decoder: vit { dim: 32, depth: 1, heads: 4, mlp: 4 },
        mask: image(1 / 2) + text(9 / 10),
        layer_norm_eps: 1e-5, loss: image(1.0) + text(0.5), type_embedding: false,
    }
}

fn main() {
    assert_eq!(MaeVitHugePatch14::SPEC, presets::MaeVitHugePatch14::SPEC);
    assert_eq!(UmSwinTiny256::DIMS, presets::UmSwinTiny256::DIMS);
    assert_eq!(HiVitBase::DIMS, presets::HiVitBase::DIMS);
    assert_eq!(MixMimBase::DIMS, presets::MixMimBase::DIMS);
    assert_eq!(MixMimTiny32::DIMS, presets::MixMimTiny32::DIMS);
    assert_eq!(VideoMaeBase::DIMS, presets::VideoMaeBase::DIMS);
    assert_eq!(M3aeBase::DIMS, presets::M3aeBase::DIMS);
    assert_eq!((M3aeReadmeLoss::IMAGE_KEEP, M3aeReadmeLoss::TEXT_KEEP), (8, 1));
    assert_eq!(M3aeReadmeLoss::PATCH_DIM, 64);
    assert_eq!(M3aeReadmeLoss::SPEC.text_loss_weight, 0.5);
    assert!(!M3aeReadmeLoss::SPEC.type_embedding);
    assert_eq!((Odd::ENC_MLP, Odd::KEEP, Odd::SECONDARY_MASKED), (60, 4, 1));
    assert_eq!(Odd::SPEC.layer_norm_eps, 1e-5);
    assert_eq!((VideoTubelet4::SLICES, VideoTubelet4::PRED_DIM), (4, 3072));
    assert_eq!(UmSwinTiny256::STAGE_GRIDS, [32, 16, 8, 4]);
}
