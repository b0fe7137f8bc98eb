//! Every shape rule a MixMIM spec can break has a MixMIM compile-fail case
//! (`tests/compile_fail/`), and each case rebuilt here as a plain value gives, at run time, the
//! rule and the very message the compiler printed (read from the checked-in `.stderr`).
use std::collections::BTreeSet;

mod common;

use tessera_dsl::presets::MixMimBase;
use tessera_dsl::spec::{ImageSpec, MixMimSpec, ModelSpec, Stage, Stages, VitSpec};
use tessera_dsl::{Ratio, Rule};

const MIX: MixMimSpec = MixMimBase::SPEC;

/// The rules `MixMimSpec::validate` checks (MixMIM's own and the common ones, docs/shape-rules.md).
const MIXMIM_RULES: [Rule; 14] = [
    Rule::SizeAtLeastOne,
    Rule::SizeLimit,
    Rule::SquareImage,
    Rule::PatchDividesImage,
    Rule::LayerNormEps,
    Rule::StageCount,
    Rule::HeadsDivideWidth,
    Rule::MergeDoublesWidth,
    Rule::SinCos2dWidth,
    Rule::StagesHalveToMaskGrid,
    Rule::WindowDividesGrid,
    Rule::MlpHidden,
    Rule::RatioInOpenUnitInterval,
    Rule::MaskAtLeastOne,
];

fn stages(list: &[(usize, usize, usize, usize)]) -> Stages {
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

fn image(height: usize, width: usize) -> ImageSpec {
    ImageSpec {
        height,
        width,
        channels: 3,
    }
}

/// `MixMIM-B` with stage `s` replaced.
fn base_with(s: usize, stage: (usize, usize, usize, usize)) -> Stages {
    let mut list = vec![
        (128, 2, 4, 14),
        (256, 2, 8, 14),
        (512, 18, 16, 14),
        (1024, 2, 32, 7),
    ];
    list[s] = stage;
    stages(&list)
}

/// (compile_fail case, the same spec as a value, the rule it breaks)
fn cases() -> Vec<(&'static str, MixMimSpec, Rule)> {
    vec![
        (
            "mixmim_size_at_least_one",
            MixMimSpec {
                stages: base_with(1, (256, 0, 8, 14)),
                ..MIX
            },
            Rule::SizeAtLeastOne,
        ),
        (
            "mixmim_size_limit",
            MixMimSpec {
                image: image(65536, 65536),
                ..MIX
            },
            Rule::SizeLimit,
        ),
        (
            "mixmim_square_image",
            MixMimSpec {
                image: image(224, 256),
                ..MIX
            },
            Rule::SquareImage,
        ),
        (
            "mixmim_patch_divides_image",
            MixMimSpec { patch: 3, ..MIX },
            Rule::PatchDividesImage,
        ),
        (
            "mixmim_layer_norm_eps",
            MixMimSpec {
                layer_norm_eps: 0.0,
                ..MIX
            },
            Rule::LayerNormEps,
        ),
        (
            "stage_count_mixmim",
            MixMimSpec {
                stages: stages(&[(128, 2, 4, 14), (256, 2, 8, 14), (512, 18, 16, 14)]),
                ..MIX
            },
            Rule::StageCount,
        ),
        (
            "mixmim_heads_divide_width",
            MixMimSpec {
                stages: base_with(2, (512, 18, 24, 14)),
                ..MIX
            },
            Rule::HeadsDivideWidth,
        ),
        (
            "mixmim_merge_doubles_width",
            MixMimSpec {
                stages: base_with(2, (384, 18, 16, 14)),
                ..MIX
            },
            Rule::MergeDoublesWidth,
        ),
        (
            "mixmim_sincos_2d_width",
            MixMimSpec {
                stages: stages(&[
                    (130, 2, 2, 14),
                    (260, 2, 4, 14),
                    (520, 18, 4, 14),
                    (1040, 2, 8, 7),
                ]),
                ..MIX
            },
            Rule::SinCos2dWidth,
        ),
        (
            "stages_halve_to_mask_grid",
            MixMimSpec {
                image: image(200, 200),
                ..MIX
            },
            Rule::StagesHalveToMaskGrid,
        ),
        (
            "window_divides_grid_stage2",
            MixMimSpec {
                stages: base_with(1, (256, 2, 8, 8)),
                ..MIX
            },
            Rule::WindowDividesGrid,
        ),
        (
            "mixmim_mlp_hidden",
            MixMimSpec {
                mlp_ratio: 0.0,
                ..MIX
            },
            Rule::MlpHidden,
        ),
        (
            "mixmim_ratio_in_open_unit_interval",
            MixMimSpec {
                ratio: Ratio { num: 2, den: 2 },
                ..MIX
            },
            Rule::RatioInOpenUnitInterval,
        ),
        (
            "mixmim_mask_at_least_one",
            MixMimSpec {
                image: image(64, 64),
                stages: stages(&[(32, 1, 2, 4), (64, 1, 2, 4), (128, 1, 4, 4), (256, 1, 8, 2)]),
                decoder: VitSpec {
                    dim: 64,
                    depth: 1,
                    heads: 4,
                    mlp_ratio: 4.0,
                },
                ratio: Ratio { num: 1, den: 8 },
                ..MIX
            },
            Rule::MaskAtLeastOne,
        ),
    ]
}

#[test]
fn every_mixmim_rule_fails_the_build_with_the_run_time_message() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile_fail");
    let cases = cases();
    for (case, spec, rule) in &cases {
        let message = common::assert_twin(case, &ModelSpec::MixMim(*spec), *rule);
        assert!(message.starts_with("MixMIM: "), "{case}: {message}");
        let source = std::fs::read_to_string(dir.join(format!("{case}.rs"))).unwrap();
        assert!(source.contains("tessera_dsl::mixmim!"), "{case}");
    }
    let covered: BTreeSet<&str> = cases.iter().map(|c| c.2.name()).collect();
    let all: BTreeSet<&str> = MIXMIM_RULES.iter().map(|r| r.name()).collect();
    assert_eq!(covered, all);
}

/// Mixing no cell is refused for what it breaks in MixMIM (nothing to un-mix), not with the
/// masked-loss reason of the other families.
#[test]
fn a_ratio_that_mixes_nothing_says_why() {
    let e = MixMimSpec {
        ratio: Ratio { num: 1, den: 64 },
        ..MIX
    }
    .validate()
    .unwrap_err();
    assert_eq!(e.rule(), Rule::MaskAtLeastOne);
    assert!(
        e.as_str()
            .contains("takes 0 of the 49 last-stage cells from the partner image"),
        "{e}"
    );
}
