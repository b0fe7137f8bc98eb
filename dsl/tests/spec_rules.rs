//! The run-time twin of `tests/compile_fail`: each broken spec there is rebuilt here as a plain
//! value, validated at run time, and must give the same rule and the very message that the
//! compiler printed (read from the checked-in `.stderr`). One rule, two moments.
use tessera_dsl::presets::{
    HiVitBase, M3aeBase, MaeVitBasePatch16, MixMimBase, UmSwinTiny256, VideoMaeBase,
};
use tessera_dsl::spec::{
    HiVitSpec, M3aeSpec, MaeArgs, MaeMask, MaeSpec, MixMimSpec, ModelSpec, SizeList, Stage, Stages,
    UmSwinSpec, VideoMaeSpec, VitSpec,
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
        mlp_ratio: 4,
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
                height: 20000,
                width: 20000,
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
                mask: MaeMask::Random(ratio(4, 4)),
                ..MAE
            }),
            Rule::RatioInOpenUnitInterval,
        ),
        (
            "square_image",
            ModelSpec::Mae(MaeSpec { width: 192, ..MAE }),
            Rule::SquareImage,
        ),
        (
            "patch_divides_image",
            ModelSpec::Mae(MaeSpec {
                height: 200,
                width: 200,
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
                height: 8,
                width: 8,
                patch: 4,
                mask: MaeMask::Random(ratio(4, 5)),
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
            "mask_at_least_one",
            ModelSpec::VideoMae(VideoMaeSpec {
                height: 32,
                width: 32,
                ratio: ratio(1, 10),
                ..VID
            }),
            Rule::MaskAtLeastOne,
        ),
        (
            "uniform_ratio_three_quarters",
            ModelSpec::UmSwin(UmSwinSpec {
                ratio: ratio(2, 3),
                ..UMS
            }),
            Rule::UniformRatioThreeQuarters,
        ),
        (
            "uniform_even_grid",
            ModelSpec::Mae(MaeSpec {
                height: 208,
                width: 208,
                mask: MaeMask::Uniform {
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
                height: 264,
                width: 264,
                ..UMS
            }),
            Rule::MaskCellDividesImage,
        ),
        (
            "compaction_through_stages",
            ModelSpec::UmSwin(UmSwinSpec {
                height: 224,
                width: 224,
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
                height: 200,
                width: 200,
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
            "tubelet_is_two",
            ModelSpec::VideoMae(VideoMaeSpec { tubelet: 4, ..VID }),
            Rule::TubeletIsTwo,
        ),
        (
            "three_channels",
            ModelSpec::VideoMae(VideoMaeSpec { channels: 1, ..VID }),
            Rule::ThreeChannels,
        ),
    ]
}

#[test]
fn run_time_errors_repeat_the_compile_errors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile_fail");
    let cases = cases();
    for (case, spec, rule) in &cases {
        let err = spec.validate().expect_err(case);
        assert_eq!(err.rule(), *rule, "{case}: {err}");
        assert!(
            err.as_str().contains(&format!("(rule {}, ", rule.name())),
            "{case}: {err}"
        );
        assert!(
            err.as_str().starts_with(spec.family().name()),
            "{case}: {err}"
        );
        let stderr = std::fs::read_to_string(dir.join(format!("{case}.stderr")))
            .unwrap_or_else(|e| panic!("{case}.stderr: {e}"));
        let first = stderr.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!("error[E0080]: evaluation panicked: {err}"),
            "{case}"
        );
    }
    // Every compile-time rule has a case (OfficialArgs only exists at run time).
    let covered: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.2.name()).collect();
    let compile_time_rules = 26;
    assert_eq!(covered.len(), compile_time_rules, "{covered:?}");
    assert!(!covered.contains(Rule::OfficialArgs.name()));
}

#[test]
fn messages_read_as_the_design_promises() {
    let e = MaeSpec {
        height: 200,
        width: 200,
        ..MAE
    }
    .validate()
    .unwrap_err();
    assert_eq!(
        e.as_str(),
        "MAE: patch 16 does not divide image 200 (rule patch_divides_image, reference §8)"
    );
    let e = UmSwinSpec {
        height: 224,
        width: 224,
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
}

#[test]
fn official_constructor_arguments_round_trip() {
    let args = MAE.to_args().unwrap();
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
    assert_eq!(
        (args.mlp_ratio, args.norm_pix_loss, args.mask_ratio),
        (4.0, true, ratio(3, 4))
    );
    assert_eq!(MaeSpec::from_args(&args), Ok(MAE));

    let fractional = MaeArgs {
        mlp_ratio: 4.5,
        ..args
    };
    let e = MaeSpec::from_args(&fractional).unwrap_err();
    assert_eq!(e.rule(), Rule::OfficialArgs);
    assert!(
        e.as_str()
            .starts_with("MAE: mlp_ratio 4.5 is not a whole number"),
        "{e}"
    );
    // Arguments that break a shape rule give that rule's error.
    let bad = MaeArgs {
        img_size: 200,
        ..args
    };
    assert_eq!(
        MaeSpec::from_args(&bad).unwrap_err().rule(),
        Rule::PatchDividesImage
    );
    // What the official model cannot express is refused, not silently changed.
    let uniform = MaeSpec {
        mask: MaeMask::Uniform {
            ratio: ratio(3, 4),
            secondary: None,
        },
        ..MAE
    };
    assert_eq!(uniform.to_args().unwrap_err().rule(), Rule::OfficialArgs);
    let mixed_mlp = MaeSpec {
        decoder: VitSpec {
            mlp_ratio: 2,
            ..MAE.decoder
        },
        ..MAE
    };
    assert_eq!(mixed_mlp.to_args().unwrap_err().rule(), Rule::OfficialArgs);
}

#[test]
fn uniform_masking_on_vit_counts_like_um_mae() {
    // UM-MAE ViT-B: 49 visible, 13 replaced by the secondary token, 36 real (§2.2).
    let spec = MaeSpec {
        mask: MaeMask::Uniform {
            ratio: ratio(6, 8),
            secondary: Some(ratio(1, 4)),
        },
        ..MAE
    };
    let d = spec.validate().unwrap();
    assert_eq!((d.keep, d.secondary_masked, d.masked), (49, 13, 147));
    // Ratios come back reduced.
    assert_eq!(
        d.spec.mask,
        MaeMask::Uniform {
            ratio: ratio(3, 4),
            secondary: Some(ratio(1, 4))
        }
    );
}
