//! The run-time twin of `tests/compile_fail`: each broken spec there is rebuilt here as a plain
//! value, validated at run time, and must give the same rule and the very message that the
//! compiler printed (read from the checked-in `.stderr`). One rule, two moments.
mod common;

use tessera_dsl::presets::{
    HiVitBase, M3aeBase, MaeVitBasePatch16, MixMimBase, UmSwinTiny256, VideoMaeBase,
};
use tessera_dsl::spec::{
    HiVitSpec, ImageSpec, M3aeSpec, MaeArgs, MaeSpec, MaskSpec, MixMimSpec, ModelSpec, SizeList,
    Stage, Stages, UmSwinSpec, VideoMaeSpec, VitSpec,
};
use tessera_dsl::{Ratio, Rule};

const MAE: MaeSpec = MaeVitBasePatch16::SPEC;
const UMS: UmSwinSpec = UmSwinTiny256::SPEC;
const HIV: HiVitSpec = HiVitBase::SPEC;
const MIX: MixMimSpec = MixMimBase::SPEC;
const VID: VideoMaeSpec = VideoMaeBase::SPEC;
const M3: M3aeSpec = M3aeBase::SPEC;

const fn ratio(num: u32, den: u32) -> Ratio {
    Ratio { num, den }
}

const fn vit(dim: usize, depth: usize, heads: usize) -> VitSpec {
    VitSpec {
        dim,
        depth,
        heads,
        mlp_ratio: 4.0,
    }
}

const fn image(side: usize, channels: usize) -> ImageSpec {
    ImageSpec {
        height: side,
        width: side,
        channels,
    }
}

fn swin_stages(list: &[(usize, usize, usize)], window: usize) -> Stages {
    let stages: Vec<Stage> = list
        .iter()
        .map(|&(dim, depth, heads)| Stage {
            dim,
            depth,
            heads,
            window,
        })
        .collect();
    Stages::new(&stages)
}

fn mix_stages(list: &[(usize, usize, usize, usize)]) -> Stages {
    let stages: Vec<Stage> = list
        .iter()
        .map(|&(dim, depth, heads, window)| Stage {
            dim,
            depth,
            heads,
            window,
        })
        .collect();
    Stages::new(&stages)
}

/// (compile_fail case, the same spec as a value, the rule it breaks)
fn cases() -> Vec<(&'static str, ModelSpec, Rule)> {
    const SWIN_T: [(usize, usize, usize); 4] =
        [(96, 2, 3), (192, 2, 6), (384, 6, 12), (768, 2, 24)];
    const MIX_B: [(usize, usize, usize, usize); 4] = [
        (128, 2, 4, 14),
        (256, 2, 8, 14),
        (512, 18, 16, 14),
        (1024, 2, 32, 7),
    ];
    vec![
        (
            "size_at_least_one",
            ModelSpec::Mae(MaeSpec {
                encoder: vit(768, 12, 0),
                ..MAE
            }),
            Rule::SizeAtLeastOne,
        ),
        (
            "size_limit",
            ModelSpec::Mae(MaeSpec {
                image: image(5_000_000_000, 3),
                ..MAE
            }),
            Rule::SizeLimit,
        ),
        (
            "stage_count",
            ModelSpec::UmSwin(UmSwinSpec {
                stages: swin_stages(
                    &[
                        (96, 2, 3),
                        (192, 2, 6),
                        (384, 6, 12),
                        (768, 2, 24),
                        (1536, 2, 48),
                        (3072, 2, 96),
                        (6144, 2, 192),
                    ],
                    8,
                ),
                ..UMS
            }),
            Rule::StageCount,
        ),
        (
            "ratio_in_open_unit_interval",
            ModelSpec::Mae(MaeSpec {
                mask: MaskSpec::Random { ratio: ratio(4, 4) },
                ..MAE
            }),
            Rule::RatioInOpenUnitInterval,
        ),
        (
            "square_image",
            ModelSpec::Mae(MaeSpec {
                image: ImageSpec {
                    width: 192,
                    ..MAE.image
                },
                ..MAE
            }),
            Rule::SquareImage,
        ),
        (
            "patch_divides_image",
            ModelSpec::Mae(MaeSpec {
                image: image(200, 3),
                ..MAE
            }),
            Rule::PatchDividesImage,
        ),
        (
            "heads_divide_width",
            ModelSpec::Mae(MaeSpec {
                encoder: vit(100, 12, 3),
                ..MAE
            }),
            Rule::HeadsDivideWidth,
        ),
        (
            "sincos_2d_width",
            ModelSpec::Mae(MaeSpec {
                decoder: vit(510, 8, 2),
                ..MAE
            }),
            Rule::SinCos2dWidth,
        ),
        (
            "sincos_1d_width",
            ModelSpec::VideoMae(VideoMaeSpec {
                encoder: vit(765, 12, 5),
                ..VID
            }),
            Rule::SinCos1dWidth,
        ),
        (
            "keep_at_least_one",
            ModelSpec::Mae(MaeSpec {
                image: image(8, 3),
                patch: 4,
                mask: MaskSpec::Random { ratio: ratio(4, 5) },
                ..MAE
            }),
            Rule::KeepAtLeastOne,
        ),
        (
            "keep_at_least_one_text",
            ModelSpec::M3ae(M3aeSpec {
                text_len: 1,
                text_ratio: ratio(1, 2),
                ..M3
            }),
            Rule::KeepAtLeastOne,
        ),
        (
            "m3ae_patch_divides_image",
            ModelSpec::M3ae(M3aeSpec {
                image: image(250, 3),
                ..M3
            }),
            Rule::PatchDividesImage,
        ),
        (
            "m3ae_square_image",
            ModelSpec::M3ae(M3aeSpec {
                image: ImageSpec {
                    height: 256,
                    width: 224,
                    channels: 3,
                },
                ..M3
            }),
            Rule::SquareImage,
        ),
        (
            "m3ae_heads_divide_width",
            ModelSpec::M3ae(M3aeSpec {
                decoder: vit(512, 8, 12),
                ..M3
            }),
            Rule::HeadsDivideWidth,
        ),
        (
            "m3ae_sincos_2d_width",
            ModelSpec::M3ae(M3aeSpec {
                decoder: vit(510, 8, 15),
                ..M3
            }),
            Rule::SinCos2dWidth,
        ),
        (
            "m3ae_keep_at_least_one_image",
            ModelSpec::M3ae(M3aeSpec {
                image: image(16, 3),
                image_ratio: ratio(1, 2),
                ..M3
            }),
            Rule::KeepAtLeastOne,
        ),
        (
            "m3ae_ratio_in_open_unit_interval",
            ModelSpec::M3ae(M3aeSpec {
                text_ratio: ratio(4, 4),
                ..M3
            }),
            Rule::RatioInOpenUnitInterval,
        ),
        (
            "m3ae_vocab_at_least_one",
            ModelSpec::M3ae(M3aeSpec { vocab: 0, ..M3 }),
            Rule::SizeAtLeastOne,
        ),
        (
            "m3ae_vocab_limit",
            ModelSpec::M3ae(M3aeSpec {
                vocab: 16_777_217,
                ..M3
            }),
            Rule::SizeLimit,
        ),
        (
            "mask_at_least_one",
            ModelSpec::VideoMae(VideoMaeSpec {
                image: image(32, 3),
                ratio: ratio(1, 10),
                ..VID
            }),
            Rule::MaskAtLeastOne,
        ),
        (
            "uniform_ratio_three_quarters",
            ModelSpec::UmSwin(UmSwinSpec {
                mask: MaskSpec::Uniform {
                    ratio: ratio(2, 3),
                    secondary: Some(ratio(1, 4)),
                },
                ..UMS
            }),
            Rule::UniformRatioThreeQuarters,
        ),
        (
            "uniform_even_grid",
            ModelSpec::Mae(MaeSpec {
                image: image(208, 3),
                mask: MaskSpec::Uniform {
                    ratio: ratio(3, 4),
                    secondary: Some(ratio(1, 4)),
                },
                ..MAE
            }),
            Rule::UniformEvenGrid,
        ),
        (
            "mask_cell_multiple_of_patch",
            ModelSpec::UmSwin(UmSwinSpec {
                mask_cell: 10,
                ..UMS
            }),
            Rule::MaskCellMultipleOfPatch,
        ),
        (
            "mask_cell_divides_image",
            ModelSpec::UmSwin(UmSwinSpec {
                image: image(264, 3),
                ..UMS
            }),
            Rule::MaskCellDividesImage,
        ),
        (
            "compaction_through_stages",
            ModelSpec::UmSwin(UmSwinSpec {
                image: image(224, 3),
                ..UMS
            }),
            Rule::CompactionThroughStages,
        ),
        (
            "window_divides_grid",
            ModelSpec::UmSwin(UmSwinSpec {
                stages: swin_stages(&SWIN_T, 7),
                ..UMS
            }),
            Rule::WindowDividesGrid,
        ),
        (
            "window_divides_grid_stage2",
            ModelSpec::MixMim(MixMimSpec {
                stages: mix_stages(&[MIX_B[0], (256, 2, 8, 8), MIX_B[2], MIX_B[3]]),
                ..MIX
            }),
            Rule::WindowDividesGrid,
        ),
        (
            "merge_doubles_width",
            ModelSpec::UmSwin(UmSwinSpec {
                stages: swin_stages(&[(96, 2, 3), (200, 2, 8), (400, 6, 16), (800, 2, 32)], 8),
                ..UMS
            }),
            Rule::MergeDoublesWidth,
        ),
        (
            "decoder_covers_visible_cells",
            ModelSpec::UmSwin(UmSwinSpec {
                mask_cell: 32,
                ..UMS
            }),
            Rule::DecoderCoversVisibleCells,
        ),
        (
            "stages_halve_to_mask_grid",
            ModelSpec::MixMim(MixMimSpec {
                image: image(200, 3),
                ..MIX
            }),
            Rule::StagesHalveToMaskGrid,
        ),
        (
            "inner_patches_divide_patch",
            ModelSpec::HiVit(HiVitSpec {
                inner_patches: 3,
                ..HIV
            }),
            Rule::InnerPatchesDividePatch,
        ),
        (
            "inner_patches_collapse",
            ModelSpec::HiVit(HiVitSpec {
                inner_patches: 8,
                ..HIV
            }),
            Rule::InnerPatchesCollapse,
        ),
        (
            "width_splits_across_stages",
            ModelSpec::HiVit(HiVitSpec {
                patch: 32,
                inner_patches: 8,
                mlp_depths: SizeList::new(&[1, 1, 1]),
                main: vit(516, 20, 12),
                ..HIV
            }),
            Rule::WidthSplitsAcrossStages,
        ),
        (
            "tubelet_divides_frames",
            ModelSpec::VideoMae(VideoMaeSpec { frames: 15, ..VID }),
            Rule::TubeletDividesFrames,
        ),
        (
            "three_channels",
            ModelSpec::VideoMae(VideoMaeSpec {
                image: image(224, 1),
                ..VID
            }),
            Rule::ThreeChannels,
        ),
        (
            "mlp_hidden",
            ModelSpec::Mae(MaeSpec {
                encoder: VitSpec {
                    mlp_ratio: 0.0,
                    ..MAE.encoder
                },
                ..MAE
            }),
            Rule::MlpHidden,
        ),
        (
            "layer_norm_eps",
            ModelSpec::Mae(MaeSpec {
                layer_norm_eps: 0.0,
                ..MAE
            }),
            Rule::LayerNormEps,
        ),
        (
            "block_cell_divides_grid",
            ModelSpec::Mae(MaeSpec {
                mask: MaskSpec::Block {
                    ratio: ratio(2, 5),
                    cell: 4,
                },
                ..MAE
            }),
            Rule::BlockCellDividesGrid,
        ),
        (
            "windowed_token_dropping",
            ModelSpec::UmSwin(UmSwinSpec {
                mask: MaskSpec::Random { ratio: ratio(3, 4) },
                ..UMS
            }),
            Rule::WindowedTokenDropping,
        ),
        (
            "hivit_uniform_even_grid",
            ModelSpec::HiVit(HiVitSpec {
                image: image(56, 1),
                patch: 8,
                mlp_depths: SizeList::new(&[1, 1]),
                main: vit(64, 4, 4),
                decoder: vit(32, 2, 4),
                mask: MaskSpec::Uniform {
                    ratio: ratio(3, 4),
                    secondary: None,
                },
                ..HIV
            }),
            Rule::UniformEvenGrid,
        ),
        (
            "stage_count_mixmim",
            ModelSpec::MixMim(MixMimSpec {
                stages: mix_stages(&MIX_B[..3]),
                ..MIX
            }),
            Rule::StageCount,
        ),
    ]
}

#[test]
fn run_time_errors_repeat_the_compile_errors() {
    let cases = cases();
    for (case, spec, rule) in &cases {
        common::assert_twin(case, spec, *rule);
    }
    // Every compile-time rule has a case (OfficialArgs only exists at run time).
    let covered: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.2.name()).collect();
    let compile_time_rules = 29;
    assert_eq!(covered.len(), compile_time_rules, "{covered:?}");
    assert!(!covered.contains(Rule::OfficialArgs.name()));
}

#[test]
fn messages_read_as_the_design_promises() {
    let e = MaeSpec {
        image: image(200, 3),
        ..MAE
    }
    .validate()
    .unwrap_err();
    assert_eq!(
        e.as_str(),
        "MAE: patch 16 does not divide image 200 (rule patch_divides_image, see \
         docs/shape-rules.md)"
    );
    let e = UmSwinSpec {
        image: image(224, 3),
        ..UMS
    }
    .validate()
    .unwrap_err();
    assert!(e.as_str().starts_with(
        "UM-Swin: image 224 is not a multiple of 64, so the visible quarter cannot be \
         compacted through 4 stages"
    ));
    let e = MaeSpec {
        encoder: vit(100, 12, 3),
        ..MAE
    }
    .validate()
    .unwrap_err();
    assert!(e
        .as_str()
        .starts_with("MAE: encoder width 100 is not divisible by 3 heads"));
    // Ratios are quoted as written, not reduced.
    let e = MaeSpec {
        mask: MaskSpec::Random {
            ratio: ratio(512, 512),
        },
        ..MAE
    }
    .validate()
    .unwrap_err();
    assert!(
        e.as_str().contains("mask ratio 512/512 does not lie"),
        "{e}"
    );
}

#[test]
fn official_constructor_arguments_round_trip() {
    let args = MAE.to_official().unwrap();
    assert_eq!(
        (
            args.img_size,
            args.patch_size,
            args.in_chans,
            args.embed_dim,
            args.depth
        ),
        (224, 16, 3, 768, 12)
    );
    assert_eq!(
        (
            args.num_heads,
            args.decoder_embed_dim,
            args.decoder_depth,
            args.decoder_num_heads
        ),
        (12, 512, 8, 16)
    );
    assert_eq!((args.mlp_ratio, args.norm_pix_loss), (4.0, true));
    assert_eq!(MaeSpec::from_official(&args, 1e-6, MAE.mask), MAE);
    // A fractional ratio is the official arithmetic: int(dim * mlp_ratio).
    let fractional = MaeArgs {
        mlp_ratio: 4.5,
        ..args
    };
    let d = MaeSpec::from_official(&fractional, 1e-6, MAE.mask)
        .validate()
        .unwrap();
    assert_eq!(d.encoder.mlp_hidden, 3456);
    // Arguments that break a shape rule give that rule's error.
    let bad = MaeArgs {
        img_size: 200,
        ..args
    };
    assert_eq!(
        MaeSpec::from_official(&bad, 1e-6, MAE.mask)
            .validate()
            .unwrap_err()
            .rule(),
        Rule::PatchDividesImage
    );
    // What the official model cannot express is refused, not silently changed.
    let secondary = MaeSpec {
        mask: MaskSpec::Uniform {
            ratio: ratio(3, 4),
            secondary: Some(ratio(1, 4)),
        },
        ..MAE
    };
    assert_eq!(
        secondary.to_official().unwrap_err().rule(),
        Rule::OfficialArgs
    );
    let mixed_mlp = MaeSpec {
        decoder: VitSpec {
            mlp_ratio: 2.0,
            ..MAE.decoder
        },
        ..MAE
    };
    assert_eq!(
        mixed_mlp.to_official().unwrap_err().rule(),
        Rule::OfficialArgs
    );
}

#[test]
fn uniform_masking_on_vit_counts_like_um_mae() {
    // UM-MAE ViT-B: 49 visible, 13 replaced by the secondary token, 36 real (§2.2).
    let spec = MaeSpec {
        mask: MaskSpec::Uniform {
            ratio: ratio(6, 8),
            secondary: Some(ratio(1, 4)),
        },
        ..MAE
    };
    let d = spec.validate().unwrap();
    assert_eq!((d.keep, d.secondary_masked, d.masked), (49, 13, 147));
    // The spec keeps the ratio as written; it equals 3/4 in value.
    assert_eq!(d.spec.mask.ratio(), ratio(3, 4));
    assert_eq!(d.spec.mask.ratio().num, 6);
}
