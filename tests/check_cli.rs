//! `tessera check` end to end: the built binary on the shipped example specs, a broken one,
//! bad keys, and presets; derived sizes are compared with the reference's numbers.
mod common;

use std::path::PathBuf;
use std::process::Output;

fn tessera(args: &[&str]) -> Output {
    common::tessera()
        .args(args)
        .current_dir(common::repo_root())
        .output()
        .expect("run tessera")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The value printed in the table row `name`.
fn row<'a>(table: &'a str, name: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.len() > 22 && l[..22].trim_end() == name)
        .map(|l| l[22..].trim())
        .unwrap_or_else(|| panic!("no row `{name}` in\n{table}"))
}

fn examples() -> Vec<PathBuf> {
    let dir = common::repo_root().join("examples/specs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("examples/specs")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_good_spec_prints_its_derived_sizes() {
    let out = tessera(&["check", "examples/specs/mae_vit_base_patch16.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert_eq!(row(&table, "grid"), "14x14");
    assert_eq!(row(&table, "tokens"), "196");
    assert_eq!(row(&table, "kept tokens"), "49");
    assert_eq!(row(&table, "decoder sequence"), "197");
    assert_eq!(row(&table, "prediction width"), "768");
}

#[test]
fn a_broken_spec_names_the_rule_and_exits_2() {
    let out = tessera(&["check", "examples/specs/broken_um_swin_224.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "UM-Swin: image 224 is not a multiple of 64, so the visible quarter cannot be \
             compacted through 4 stages (rule compaction_through_stages"
        ),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn every_example_matches_its_preset_or_is_marked_broken() {
    let files = examples();
    assert!(files.len() >= 8, "{files:?}");
    for file in files {
        let stem = file.file_stem().unwrap().to_str().unwrap().to_owned();
        let out = tessera(&["check", file.to_str().unwrap()]);
        if stem.starts_with("broken") {
            assert_eq!(out.status.code(), Some(2), "{stem}");
            assert!(stderr(&out).contains("(rule "), "{stem}: {}", stderr(&out));
            continue;
        }
        assert!(out.status.success(), "{stem}: {}", stderr(&out));
        let preset = tessera(&["check", "--preset", &stem]);
        assert!(preset.status.success(), "{stem}: {}", stderr(&preset));
        // Same table apart from the first line (file path vs preset name).
        let body = |o: &Output| stdout(o).lines().skip(1).collect::<Vec<_>>().join("\n");
        assert_eq!(body(&out), body(&preset), "{stem}");
    }
}

#[test]
fn presets_print_the_reference_sizes() {
    let cases: [(&str, &[(&str, &str)]); 6] = [
        (
            "mae_vit_huge_patch14",
            &[("kept tokens", "64"), ("prediction width", "588")],
        ),
        (
            "videomae_vit_base_16x224",
            &[
                ("tokens", "1568"),
                ("visible tokens", "160"),
                ("prediction width", "1536"),
            ],
        ),
        (
            "mixmim_base_224",
            &[
                ("stage grids", "56x56 / 28x28 / 14x14 / 7x7"),
                ("windows", "14 / 14 / 14 / 7"),
                ("prediction width", "3072"),
            ],
        ),
        (
            "hivit_base_224",
            &[("hifeat width", "3584"), ("kept tokens", "49")],
        ),
        (
            "um_vit_base_224",
            &[("kept tokens", "49"), ("secondary masked", "13")],
        ),
        (
            "um_swin_tiny_256",
            &[
                ("stage grids", "32x32 / 16x16 / 8x8 / 4x4"),
                ("windows", "8 / 8 / 8 / 4"),
            ],
        ),
    ];
    for (name, rows) in cases {
        let out = tessera(&["check", "--preset", name]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let table = stdout(&out);
        for (key, value) in rows {
            assert_eq!(row(&table, key), *value, "{name} {key}");
        }
    }
}

#[test]
fn bad_input_exits_2_and_names_the_problem() {
    let dir = common::Scratch::dir("check", "specs");
    let good = std::fs::read_to_string(
        common::repo_root().join("examples/specs/videomae_vit_base_16x224.toml"),
    )
    .unwrap();
    let cases = [
        (
            "unknown_key.toml",
            good.replace("tubelet = 2", "tubelet = 2\ntubelets = 2"),
            "`tubelets`",
        ),
        (
            "missing.toml",
            good.replace("frames = 16\n", ""),
            "missing field `frames`",
        ),
        (
            "rule.toml",
            good.replace("frames = 16", "frames = 15"),
            "tubelet_divides_frames",
        ),
        (
            "syntax.toml",
            "family = \"videomae\"\nframes = ".to_owned(),
            "syntax.toml",
        ),
    ];
    for (file, text, expected) in cases {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        let out = tessera(&["check", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{file}");
        assert!(stderr(&out).contains(expected), "{file}: {}", stderr(&out));
    }
    let out = tessera(&["check", dir.join("absent.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
    let out = tessera(&["check", "--preset", "mae_vit_gigantic"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("mae_vit_base_patch16"),
        "{}",
        stderr(&out)
    );
}

// The facade re-exports the spec macros: a spec declared here through `tessera::mae!` prints the
// same table as the CLI shows for the preset it copies.
tessera::mae! {
    /// `mae_fmnist_small`, declared through the facade.
    FmnistViaFacade {
        image: 28 x 28 x 1, patch: 4,
        encoder: vit { dim: 128, depth: 6, heads: 4, mlp: 4 },
        decoder: vit { dim: 64, depth: 2, heads: 4, mlp: 4 },
        mask: random(3 / 4), target: norm_pix,
    }
}

#[test]
fn macro_specs_print_the_same_table_as_the_cli() {
    let out = tessera(&["check", "--preset", "mae_fmnist_small"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cli: Vec<String> = stdout(&out).lines().skip(1).map(str::to_owned).collect();
    let table = FmnistViaFacade::DIMS.to_string();
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows, cli[..rows.len()]);
    assert_eq!((FmnistViaFacade::GRID, FmnistViaFacade::KEEP), (7, 12));
    // Then what the model costs: its parameters (docs/experiments.md: 1.30M trainable) and
    // FLOPs per image.
    let cost = cli[rows.len()..].join("\n");
    assert!(cost.contains("1.30M trainable"), "{cost}");
    assert!(cost.contains("FLOPs per image"), "{cost}");
}

#[test]
fn check_counts_the_official_vit_b_as_published() {
    let out = tessera(&["check", "--preset", "mae_vit_base_patch16"]);
    let text = stdout(&out);
    // MAE ViT-B/16: 111.9M parameters with the fixed position tables, an 85.8M encoder of
    // which 85.65M train, and 17.6 GMACs (35.1 GFLOPs) for a 224 px image over all tokens.
    assert!(text.contains("111.91M in all"), "{text}");
    assert!(text.contains("85.65M"), "{text}");
    assert!(text.contains("35.1"), "{text}");
}

/// Messages point to docs/shape-rules.md: every rule has its section there, and the doc names
/// no rule that does not exist.
#[test]
fn the_shape_rules_doc_explains_every_rule() {
    use tessera::dsl::Rule;
    let doc = std::fs::read_to_string(common::repo_root().join("docs/shape-rules.md")).unwrap();
    let headings: Vec<&str> = doc.lines().filter_map(|l| l.strip_prefix("### ")).collect();
    for rule in Rule::ALL {
        assert!(
            headings.contains(&rule.name()),
            "no section for {}",
            rule.name()
        );
    }
    assert_eq!(headings.len(), Rule::ALL.len(), "{headings:?}");
}
