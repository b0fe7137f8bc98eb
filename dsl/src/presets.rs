//! The released configurations (the official repositories' factories) and small ones
//! for tests and the CPU, each declared with its family's macro so all compile-checked.

crate::mae! {
    /// `mae_vit_base_patch16` (facebookresearch/mae), 224 px.
    pub MaeVitBasePatch16 {
        image: 224 x 224 x 3, patch: 16,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

crate::mae! {
    /// `mae_vit_large_patch16`, 224 px.
    pub MaeVitLargePatch16 {
        image: 224 x 224 x 3, patch: 16,
        encoder: vit { dim: 1024, depth: 24, heads: 16, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

crate::mae! {
    /// `mae_vit_huge_patch14`, 224 px.
    pub MaeVitHugePatch14 {
        image: 224 x 224 x 3, patch: 14,
        encoder: vit { dim: 1280, depth: 32, heads: 16, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

crate::mim! {
    /// UM-MAE on ViT-B/16 at 224 px (implus/UM-MAE `mae_vit_base_patch16_dec512d2b` with
    /// `--mask_regular --vis_mask_ratio 0.25`, the decoder its Makefile pre-trains with).
    pub UmVitBase224 {
        image: 224 x 224 x 3, patch: 16,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 2, heads: 16, mlp: 4 },
        mask: uniform(3 / 4) + secondary(1 / 4), target: norm_pix,
    }
}

crate::um_swin! {
    /// UM-MAE Swin-T at 256 px, pre-training window 8 on the compacted map (implus/UM-MAE).
    pub UmSwinTiny256 {
        image: 256 x 256 x 3, patch: 4, mask_cell: 16,
        stages: [(96, 2, 3), (192, 2, 6), (384, 6, 12), (768, 2, 24)], mlp: 4, window: 8,
        mask: uniform(3 / 4) + secondary(1 / 4),
        decoder: vit { dim: 512, depth: 2, heads: 16, mlp: 4 },
        target: norm_pix,
    }
}

crate::um_swin! {
    /// A tiny UM-Swin for tests and the CPU: 32 px RGB, patch 2, 4-px mask cells, three
    /// stages on the compacted 8x8 map with window 4.
    pub UmSwinTiny32 {
        image: 32 x 32 x 3, patch: 2, mask_cell: 4,
        stages: [(32, 2, 2), (64, 2, 4), (128, 2, 8)], mlp: 4, window: 4,
        mask: uniform(3 / 4) + secondary(1 / 4),
        decoder: vit { dim: 128, depth: 2, heads: 4, mlp: 4 },
        target: norm_pix,
    }
}

crate::um_swin! {
    /// A small UM-Swin for Fashion-MNIST resized to 32 px (train with `--augment`): the tiny
    /// UM-Swin's geometry on one channel.
    pub UmSwinFmnistSmall {
        image: 32 x 32 x 1, patch: 2, mask_cell: 4,
        stages: [(32, 2, 2), (64, 2, 4), (128, 2, 8)], mlp: 4, window: 4,
        mask: uniform(3 / 4) + secondary(1 / 4),
        decoder: vit { dim: 128, depth: 2, heads: 4, mlp: 4 },
        target: norm_pix,
    }
}

crate::hivit! {
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

crate::mixmim! {
    /// MixMIM-B (Sense-X/MixMIM), 224 px.
    pub MixMimBase {
        image: 224 x 224 x 3, patch: 4,
        stages: [(128, 2, 4, 14), (256, 2, 8, 14), (512, 18, 16, 14), (1024, 2, 32, 7)],
        mlp: 4,
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: mixed(1 / 2), target: norm_pix, layer_norm_eps: 1e-5,
    }
}

crate::mixmim! {
    /// A tiny MixMIM for tests and the CPU: 32 px RGB, patch 2, stage grids 16, 8, 4, 2 (a 2x2
    /// mixing grid of 16-px cells), the last two stages one global window each.
    pub MixMimTiny32 {
        image: 32 x 32 x 3, patch: 2,
        stages: [(32, 1, 2, 4), (64, 1, 2, 4), (128, 2, 4, 4), (256, 1, 8, 2)],
        mlp: 4,
        decoder: vit { dim: 128, depth: 2, heads: 4, mlp: 4 },
        mask: mixed(1 / 2), target: norm_pix,
    }
}

crate::mixmim! {
    /// A small MixMIM for Fashion-MNIST (train with --augment, which resizes the 28-px images
    /// to 32): 1-px patches, stage grids 32, 16, 8, 4, so two images are mixed in a 4x4 grid of
    /// 8-px cells, as MixMIM-B mixes a 7x7 grid of 32-px cells.
    pub MixMimFmnist32 {
        image: 32 x 32 x 1, patch: 1,
        stages: [(16, 1, 1, 8), (32, 1, 2, 8), (64, 2, 4, 8), (128, 1, 4, 4)],
        mlp: 4,
        decoder: vit { dim: 64, depth: 2, heads: 4, mlp: 4 },
        mask: mixed(1 / 2), target: norm_pix,
    }
}

crate::videomae! {
    /// VideoMAE ViT-B (MCG-NJU/VideoMAE), 16x224x224, tubelet 2, tube ratio 9/10.
    pub VideoMaeBase {
        video: 16 x 224 x 224 x 3, patch: 16, tubelet: 2,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 384, depth: 4, heads: 6, mlp: 4 },
        mask: tube(9 / 10), target: norm_pix,
    }
}

crate::videomae! {
    /// A tiny VideoMAE for tests and the CPU: 4 frames of 32 px RGB, tubelets of 2x4x4 (two
    /// slices of 8x8 tokens), tube ratio 9/10 (57 of 64 positions masked, 14 tokens visible).
    pub VideoMaeTiny4x32 {
        video: 4 x 32 x 32 x 3, patch: 4, tubelet: 2,
        encoder: vit { dim: 96, depth: 4, heads: 3, mlp: 4 },
        decoder: vit { dim: 64, depth: 2, heads: 4, mlp: 4 },
        mask: tube(9 / 10), target: norm_pix,
    }
}

crate::m3ae! {
    /// M3AE base (young-geng/m3ae_public): 256 px, patch 16, 64 bert-base-uncased tokens.
    pub M3aeBase {
        image: 256 x 256 x 3, patch: 16, text: 64, vocab: 30522,
        encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
        decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
        mask: image(3 / 4) + text(3 / 4),
    }
}

crate::m3ae! {
    /// A tiny M3AE for tests and the CPU: 32 px RGB in 4 px patches, captions of 16 word
    /// pieces from a vocabulary of 1000 (trained on the captions when no BERT vocabulary is
    /// at hand).
    pub M3aeTiny32 {
        image: 32 x 32 x 3, patch: 4, text: 16, vocab: 1000,
        encoder: vit { dim: 64, depth: 2, heads: 4, mlp: 4 },
        decoder: vit { dim: 32, depth: 1, heads: 4, mlp: 4 },
        mask: image(3 / 4) + text(3 / 4),
    }
}

crate::mae! {
    /// A tiny MAE for tests and the CPU: 32 px RGB (CIFAR-sized), patch 4.
    pub MaeTiny32 {
        image: 32 x 32 x 3, patch: 4,
        encoder: vit { dim: 192, depth: 12, heads: 3, mlp: 4 },
        decoder: vit { dim: 128, depth: 4, heads: 4, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

crate::mae! {
    /// A small MAE for Fashion-MNIST: 28 px, 1 channel, patch 4 (a 7x7 grid, 12 patches
    /// visible); the model of docs/experiments.md.
    pub MaeFmnistSmall {
        image: 28 x 28 x 1, patch: 4,
        encoder: vit { dim: 128, depth: 6, heads: 4, mlp: 4 },
        decoder: vit { dim: 64, depth: 2, heads: 4, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

crate::mim! {
    /// A composed variant no paper published: the tiny MAE with block-wise masking in 2x2-token
    /// cells (SimMIM's masking with MAE's asymmetric encoder).
    pub MaeBlockTiny32 {
        image: 32 x 32 x 3, patch: 4,
        encoder: vit { dim: 192, depth: 12, heads: 3, mlp: 4 },
        decoder: vit { dim: 128, depth: 4, heads: 4, mlp: 4 },
        mask: block(1 / 2, cell: 2), target: norm_pix,
    }
}

crate::mim! {
    /// A tiny UM-MAE on ViT for tests and the CPU: 32 px RGB, patch 4, 16 of 64 tokens visible,
    /// 4 of them replaced by the secondary mask token.
    pub UmVitTiny32 {
        image: 32 x 32 x 3, patch: 4,
        encoder: vit { dim: 96, depth: 4, heads: 3, mlp: 4 },
        decoder: vit { dim: 64, depth: 2, heads: 4, mlp: 4 },
        mask: uniform(3 / 4) + secondary(1 / 4), target: norm_pix,
    }
}

crate::mim! {
    /// A small UM-MAE on ViT for Fashion-MNIST: 28 px, 1 channel, patch 2 — ViT-B's 14x14
    /// grid, so 49 visible tokens of which 13 are replaced, as in the paper's setting.
    pub UmVitFmnistSmall {
        image: 28 x 28 x 1, patch: 2,
        encoder: vit { dim: 64, depth: 4, heads: 4, mlp: 4 },
        decoder: vit { dim: 32, depth: 1, heads: 4, mlp: 4 },
        mask: uniform(3 / 4) + secondary(1 / 4), target: norm_pix,
    }
}

crate::hivit! {
    /// A tiny HiViT MAE for tests and the CPU: 32 px RGB, patch 8 split 4x4 (2-px sub-tokens),
    /// stages 16 → 32 → 64 wide.
    pub HiVitTiny32 {
        image: 32 x 32 x 3, patch: 8, inner_patches: 4,
        mlp_stages: [1, 1], stem_mlp: 3,
        main: vit { dim: 64, depth: 2, heads: 4, mlp: 4 },
        hifeat: true,
        decoder: vit { dim: 32, depth: 1, heads: 4, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

crate::hivit! {
    /// A small HiViT MAE for Fashion-MNIST: 28 px, 1 channel, patch 4 split into 4x4 pixels,
    /// 12 of 49 patches kept.
    pub HiVitFmnistSmall {
        image: 28 x 28 x 1, patch: 4, inner_patches: 4,
        mlp_stages: [1, 1], stem_mlp: 3,
        main: vit { dim: 64, depth: 4, heads: 4, mlp: 4 },
        hifeat: true,
        decoder: vit { dim: 32, depth: 2, heads: 4, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

use crate::spec::ModelSpec;

/// Every preset by its official (or tessera) factory name: `--model NAME` of every command.
pub const ALL: &[(&str, ModelSpec)] = &[
    (
        "mae_vit_base_patch16",
        ModelSpec::Mae(MaeVitBasePatch16::SPEC),
    ),
    (
        "mae_vit_large_patch16",
        ModelSpec::Mae(MaeVitLargePatch16::SPEC),
    ),
    (
        "mae_vit_huge_patch14",
        ModelSpec::Mae(MaeVitHugePatch14::SPEC),
    ),
    ("um_vit_base_224", ModelSpec::Mae(UmVitBase224::SPEC)),
    ("um_swin_tiny_256", ModelSpec::UmSwin(UmSwinTiny256::SPEC)),
    ("um_swin_tiny_32", ModelSpec::UmSwin(UmSwinTiny32::SPEC)),
    (
        "um_swin_fmnist_small",
        ModelSpec::UmSwin(UmSwinFmnistSmall::SPEC),
    ),
    ("hivit_base_224", ModelSpec::HiVit(HiVitBase::SPEC)),
    ("mixmim_base_224", ModelSpec::MixMim(MixMimBase::SPEC)),
    ("mixmim_tiny_32", ModelSpec::MixMim(MixMimTiny32::SPEC)),
    ("mixmim_fmnist_32", ModelSpec::MixMim(MixMimFmnist32::SPEC)),
    (
        "videomae_vit_base_16x224",
        ModelSpec::VideoMae(VideoMaeBase::SPEC),
    ),
    (
        "videomae_tiny_4x32",
        ModelSpec::VideoMae(VideoMaeTiny4x32::SPEC),
    ),
    ("m3ae_base", ModelSpec::M3ae(M3aeBase::SPEC)),
    ("m3ae_tiny_32", ModelSpec::M3ae(M3aeTiny32::SPEC)),
    ("mae_tiny_32", ModelSpec::Mae(MaeTiny32::SPEC)),
    ("mae_fmnist_small", ModelSpec::Mae(MaeFmnistSmall::SPEC)),
    ("mae_block_tiny_32", ModelSpec::Mae(MaeBlockTiny32::SPEC)),
    ("um_vit_tiny_32", ModelSpec::Mae(UmVitTiny32::SPEC)),
    (
        "um_vit_fmnist_small",
        ModelSpec::Mae(UmVitFmnistSmall::SPEC),
    ),
    ("hivit_tiny_32", ModelSpec::HiVit(HiVitTiny32::SPEC)),
    (
        "hivit_fmnist_small",
        ModelSpec::HiVit(HiVitFmnistSmall::SPEC),
    ),
];

/// The preset called `name`. The official factories' names with their decoder suffix
/// (`mae_vit_base_patch16_dec512d8b`) name the same presets.
pub fn by_name(name: &str) -> Option<ModelSpec> {
    let base = name.strip_suffix("_dec512d8b").unwrap_or(name);
    ALL.iter().find(|(n, _)| *n == base).map(|(_, s)| *s)
}

/// Every preset name, comma-separated (for messages).
pub fn names() -> alloc::string::String {
    let names: alloc::vec::Vec<&str> = ALL.iter().map(|(n, _)| *n).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    //! Derived sizes against the numbers of the papers and the official code (MAE, UM-MAE,
    //! MixMIM, HiViT, VideoMAE, M3AE), read off the official code, not computed by this crate.
    use super::*;

    #[test]
    fn mae_keep_counts_and_pred_dims() {
        assert_eq!(
            (MaeVitBasePatch16::TOKENS, MaeVitBasePatch16::KEEP),
            (196, 49)
        );
        assert_eq!(
            (MaeVitHugePatch14::TOKENS, MaeVitHugePatch14::KEEP),
            (256, 64)
        );
        assert_eq!(MaeVitBasePatch16::PRED_DIM, 768);
        assert_eq!(MaeVitLargePatch16::PRED_DIM, 768);
        assert_eq!(MaeVitHugePatch14::PRED_DIM, 588);
        // pos_embed / decoder_pos_embed have 197 rows (§1.7).
        assert_eq!(MaeVitBasePatch16::DEC_SEQ, 197);
        assert_eq!(MaeVitBasePatch16::ENC_SEQ, 50);
        assert_eq!(MaeVitBasePatch16::ENC_MLP, 3072);
        assert_eq!(MaeVitBasePatch16::DEC_MLP, 2048);
        assert_eq!(MaeVitBasePatch16::DIMS.encoder.head_dim, 64);
        // Small presets: 8x8 grid keeps 16; 7x7 grid keeps int(49 / 4) = 12.
        assert_eq!(
            (MaeTiny32::GRID, MaeTiny32::KEEP, MaeTiny32::PRED_DIM),
            (8, 16, 48)
        );
        assert_eq!(
            (
                MaeFmnistSmall::GRID,
                MaeFmnistSmall::KEEP,
                MaeFmnistSmall::PRED_DIM
            ),
            (7, 12, 16)
        );
    }

    #[test]
    fn um_vit_counts() {
        // ViT-B/16 at 224: 49 visible, 13 replaced by the secondary token (§2.2).
        assert_eq!(
            (UmVitBase224::KEEP, UmVitBase224::SECONDARY_MASKED),
            (49, 13)
        );
        assert_eq!(UmVitBase224::DIMS.decoder.depth, 2);
        assert_eq!((UmVitTiny32::KEEP, UmVitTiny32::SECONDARY_MASKED), (16, 4));
        assert_eq!((UmVitFmnistSmall::GRID, UmVitFmnistSmall::KEEP), (14, 49));
    }

    #[test]
    fn um_swin_tiny_stages_and_windows() {
        assert_eq!(UmSwinTiny256::STAGE_GRIDS, [32, 16, 8, 4]);
        assert_eq!(UmSwinTiny256::WINDOWS, [8, 8, 8, 4]);
        assert_eq!(UmSwinTiny256::WINDOW_COUNTS, [16, 4, 1, 1]);
        assert_eq!(UmSwinTiny256::SHIFTS, [4, 4, 0, 0]);
        assert_eq!(UmSwinTiny256::FINETUNE_GRIDS, [64, 32, 16, 8]);
        assert_eq!(UmSwinTiny256::FINETUNE_WINDOWS, [16, 16, 16, 8]);
        assert_eq!(UmSwinTiny256::MASK_GRID, 16);
        // 64 visible cells, 48 real after secondary masking (§2.2).
        assert_eq!(UmSwinTiny256::KEEP, 64);
        assert_eq!(UmSwinTiny256::SECONDARY_MASKED, 16);
        assert_eq!(UmSwinTiny256::PRED_DIM, 768);
        assert_eq!(UmSwinTiny256::DEC_SEQ, 256);
    }

    #[test]
    fn mixmim_base_stages() {
        assert_eq!(MixMimBase::STAGE_GRIDS, [56, 28, 14, 7]);
        assert_eq!(MixMimBase::WINDOWS, [14, 14, 14, 7]);
        assert_eq!(MixMimBase::MASK_TOKENS, 49);
        assert_eq!(MixMimBase::MASKED, 24); // int(49 * 0.5)
        assert_eq!(MixMimBase::MASK_UPSAMPLE, [8, 4, 2, 1]);
        assert_eq!(MixMimBase::PRED_DIM, 3072);
    }

    #[test]
    fn mixmim_tiny_mixes_quadrants() {
        assert_eq!(MixMimTiny32::STAGE_GRIDS, [16, 8, 4, 2]);
        assert_eq!(MixMimTiny32::WINDOWS, [4, 4, 4, 2]);
        assert_eq!(MixMimTiny32::WINDOW_COUNTS, [16, 4, 1, 1]);
        assert_eq!((MixMimTiny32::MASK_TOKENS, MixMimTiny32::MASKED), (4, 2));
        // One last-stage token covers 2 · 2^3 = 16 pixels: 16 · 16 · 3 values.
        assert_eq!(MixMimTiny32::PRED_DIM, 768);
    }

    #[test]
    fn mixmim_fmnist_mixes_a_four_by_four_grid() {
        assert_eq!(MixMimFmnist32::STAGE_GRIDS, [32, 16, 8, 4]);
        assert_eq!(MixMimFmnist32::WINDOW_COUNTS, [16, 4, 1, 1]);
        assert_eq!(
            (MixMimFmnist32::MASK_TOKENS, MixMimFmnist32::MASKED),
            (16, 8)
        );
        assert_eq!(MixMimFmnist32::PRED_DIM, 64);
    }

    #[test]
    fn hivit_base_features() {
        assert_eq!(HiVitBase::HIFEAT_DIM, 3584);
        assert_eq!(HiVitBase::ENC_OUT_DIM, 3584);
        assert_eq!(HiVitBase::INNER_GRIDS, [4, 2]);
        assert_eq!(HiVitBase::STAGE_DIMS, [128, 256]);
        assert_eq!(HiVitBase::KEEP, 49);
        assert_eq!(HiVitBase::DIMS.embed_kernel, 4);
        assert_eq!(HiVitBase::DIMS.stage_blocks, [4, 4, 0, 0, 0, 0]);
        assert_eq!(HiVitBase::PRED_DIM, 768);
        // The official fixture's sizes: 7 x 64 = 448 hifeat, 16 patches keep 4.
        assert_eq!(
            (
                HiVitTiny32::HIFEAT_DIM,
                HiVitTiny32::TOKENS,
                HiVitTiny32::KEEP
            ),
            (448, 16, 4)
        );
        assert_eq!(HiVitTiny32::STAGE_DIMS, [16, 32]);
        assert_eq!((HiVitFmnistSmall::GRID, HiVitFmnistSmall::KEEP), (7, 12));
    }

    #[test]
    fn videomae_base_tubes() {
        assert_eq!(VideoMaeBase::TOKENS, 1568);
        assert_eq!(VideoMaeBase::KEEP, 160);
        assert_eq!(VideoMaeBase::KEEP_PER_SLICE, 20);
        assert_eq!(VideoMaeBase::PRED_DIM, 1536);
        // int(0.9 * 64) = 57 masked per slice, 7 visible, over 2 slices.
        assert_eq!(VideoMaeTiny4x32::TOKENS, 128);
        assert_eq!(VideoMaeTiny4x32::KEEP, 14);
        assert_eq!(VideoMaeTiny4x32::PRED_DIM, 96);
    }

    #[test]
    fn m3ae_base_sequences() {
        assert_eq!(M3aeBase::IMAGE_TOKENS, 256);
        assert_eq!((M3aeBase::IMAGE_KEEP, M3aeBase::TEXT_KEEP), (64, 16));
        assert_eq!(M3aeBase::DEC_SEQ, 1 + 256 + 64);
        assert_eq!(M3aeBase::PRED_DIM, 768);
        assert_eq!(M3aeBase::SPEC.text_loss_weight, 0.1);
        const { assert!(M3aeBase::SPEC.type_embedding) };
        // Tiny: 8x8 patches keep 16, 16 text tokens keep 4.
        assert_eq!((M3aeTiny32::IMAGE_KEEP, M3aeTiny32::TEXT_KEEP), (16, 4));
        assert_eq!(M3aeTiny32::ENC_SEQ, 1 + 16 + 4);
    }

    #[test]
    fn every_preset_validates_at_run_time_to_its_const_dims() {
        assert_eq!(ALL.len(), 22);
        for (name, spec) in ALL {
            let dims = spec.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(by_name(name), Some(*spec));
            if let (ModelSpec::Mae(s), crate::spec::ModelDims::Mae(d)) = (spec, dims) {
                assert_eq!(d.patch_dim, s.patch * s.patch * s.image.channels);
            }
        }
        assert_eq!(
            ModelSpec::Mae(MaeVitBasePatch16::SPEC).validate(),
            Ok(crate::spec::ModelDims::Mae(MaeVitBasePatch16::DIMS))
        );
        assert_eq!(by_name("mae_vit_giant"), None);
        assert_eq!(
            by_name("mae_vit_base_patch16_dec512d8b"),
            by_name("mae_vit_base_patch16")
        );
        assert_eq!((MaeBlockTiny32::MASKED, MaeBlockTiny32::KEEP), (32, 32));
    }
}
