//! The model layer from the command line: a variant declared in Rust (`examples/block_mae.rs`)
//! is the same spec as its TOML twin and pre-trains from the CLI; `--model`/`--config` take any
//! family's presets and specs, and a family whose model is not built yet stops with one line.

use tessera::dsl::ModelSpec;

mod common;

use common::cli::{ok, scratch_dir, tessera, text};

#[path = "../examples/block_mae.rs"]
#[allow(dead_code)]
mod block_mae;

#[test]
fn the_rust_declared_variant_is_its_toml_twin_and_trains_from_the_cli() {
    let twin =
        tessera::spec_file::load(&common::repo_root().join("examples/block_mae.toml")).unwrap();
    assert_eq!(twin, ModelSpec::Mae(block_mae::BlockMaeFmnist::SPEC));
    assert_eq!(block_mae::BlockMaeFmnist::KEEP, 30);

    let out = scratch_dir("model-cli", "block-mae");
    let o = tessera(&[
        "pretrain",
        "--config",
        "examples/block_mae.toml",
        "--limit",
        "96",
        "--batch",
        "32",
        "--epochs",
        "2",
        "--lr",
        "1e-3",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = ok(&o);
    assert!(stdout.contains("mask block 2/5"), "{stdout}");
    // 96 images at batch 32 for 2 epochs; the checkpoint carries the composed spec.
    let ckpt = tessera::models::checkpoint::load(&out.join("last.safetensors"), None).unwrap();
    assert_eq!(ckpt.spec, twin);
    let last = stdout.lines().last().unwrap();
    let summary: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(summary["steps"], 6);
    assert!(summary["last_loss"].as_f64().unwrap().is_finite());
}

#[test]
fn an_unknown_preset_lists_the_known_ones() {
    let o = tessera(&["bench", "--model", "mae_vit_gigantic"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("mae_block_tiny_32"));
}
