//! HiViT and UM-MAE on ViT from the command line: the pyramid variant declared in Rust
//! (`examples/uniform_hivit.rs`, HiViT with uniform sampling) is its TOML twin and pre-trains;
//! `pretrain`, `reconstruct`, `probe` and `bench` run on both families' Fashion-MNIST presets.
use std::path::{Path, PathBuf};

use tessera::dsl::ModelSpec;

mod common;

use common::cli::{last_json, ok, scratch_dir, tessera, text};

#[path = "../examples/uniform_hivit.rs"]
#[allow(dead_code)]
mod uniform_hivit;

#[test]
fn the_uniform_hivit_variant_is_its_toml_twin_and_trains_from_the_cli() {
    let path = common::repo_root().join("examples/uniform_hivit.toml");
    let twin = tessera::spec_file::load(&path).unwrap();
    assert_eq!(
        twin,
        ModelSpec::HiVit(uniform_hivit::UniformHiVitFmnist::SPEC)
    );
    assert_eq!(
        (
            uniform_hivit::UniformHiVitFmnist::KEEP,
            uniform_hivit::UniformHiVitFmnist::TOKENS
        ),
        (16, 64)
    );
    let out = scratch_dir("hivit-umvit-cli", "uniform");
    let o = tessera(&[
        "pretrain",
        "--config",
        "examples/uniform_hivit.toml",
        "--augment",
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
    assert!(
        stdout.contains("HiViT") && stdout.contains("uniform 3/4"),
        "{stdout}"
    );
    let ckpt = tessera::models::checkpoint::load(&out.join("last.safetensors"), None).unwrap();
    assert_eq!(ckpt.spec, twin);
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["steps"], 6);
    assert!(summary["last_loss"].as_f64().unwrap().is_finite());
}

/// Two training steps of `preset` on the embedded Fashion-MNIST slice.
fn pretrained(preset: &str, dir: &Path) -> PathBuf {
    let summary = last_json(&tessera(&[
        "pretrain",
        "--model",
        preset,
        "--limit",
        "64",
        "--batch",
        "32",
        "--epochs",
        "1",
        "--out",
        dir.to_str().unwrap(),
    ]));
    assert_eq!(summary["steps"], 2, "{summary}");
    dir.join("last.safetensors")
}

#[test]
fn pretrain_reconstruct_probe_and_bench_run_for_both_families() {
    // (preset, patches removed of the grid in the legend, probe features)
    for (preset, removed, features) in [
        ("hivit_fmnist_small", "37 of 49", "mean"),
        ("um_vit_fmnist_small", "147 of 196", "cls"),
    ] {
        let dir = scratch_dir("hivit-umvit-cli", preset);
        let ckpt = pretrained(preset, &dir);
        let ckpt = ckpt.to_str().unwrap();

        let png = dir.join("recon.png");
        let legend = ok(&tessera(&[
            "reconstruct",
            "--checkpoint",
            ckpt,
            "--count",
            "2",
            "--out",
            png.to_str().unwrap(),
        ]));
        assert!(legend.contains(removed), "{preset}: {legend}");
        let img = image::open(&png).unwrap();
        assert!(img.width() >= 4 * 112, "{preset}: {:?}", img.width());

        let probe = last_json(&tessera(&[
            "probe",
            "--checkpoint",
            ckpt,
            "--features",
            features,
            "--limit-train",
            "300",
            "--limit-test",
            "100",
            "--batch",
            "100",
            "--max-iter",
            "50",
        ]));
        // Ten classes: chance is 0.1; even barely trained encoders separate them.
        let top1 = probe["top1"].as_f64().unwrap();
        assert!(top1 > 0.25 && top1 <= 1.0, "{preset}: {probe}");

        let bench = last_json(&tessera(&[
            "bench", "--model", preset, "--batch", "4", "--iters", "2", "--warmup", "1", "--json",
        ]));
        assert_eq!(bench["model"], preset);
        assert!(bench["ms_per_step"].as_f64().unwrap() > 0.0, "{bench}");
        assert!(bench["final_loss"].as_f64().unwrap().is_finite(), "{bench}");
    }
}

#[test]
fn hivit_has_no_class_token_so_its_probe_pools_the_mean() {
    let probe = |extra: &[&str]| {
        let mut args = vec![
            "probe",
            "--random-init",
            "--model",
            "hivit_fmnist_small",
            "--limit-train",
            "50",
            "--limit-test",
            "20",
            "--max-iter",
            "20",
        ];
        args.extend(extra);
        tessera(&args)
    };
    // Without --features, the mean-pooled features.
    let report = last_json(&probe(&[]));
    assert_eq!(report["feature"], "mean", "{report}");
    // Asking for the class token is an error that says what to use.
    let o = probe(&["--features", "cls"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("--features mean"), "{err}");
}

#[test]
fn an_interrupted_run_resumes_exactly_for_both_families() {
    for preset in ["hivit_fmnist_small", "um_vit_fmnist_small"] {
        let run = |dir: &Path, extra: &[&str]| {
            let mut args = vec![
                "pretrain", "--model", preset, "--limit", "64", "--batch", "32", "--epochs", "2",
                "--out",
            ];
            args.push(dir.to_str().unwrap());
            args.extend(extra);
            last_json(&tessera(&args))
        };
        let straight = scratch_dir("hivit-umvit-cli", &format!("{preset}-straight"));
        let whole = run(&straight, &[]);
        let stopped = scratch_dir("hivit-umvit-cli", &format!("{preset}-stopped"));
        let first = run(&stopped, &["--stop-after", "1"]);
        assert_eq!(first["finished"], false, "{first}");
        let resumed = last_json(&tessera(&[
            "pretrain",
            "--out",
            stopped.to_str().unwrap(),
            "--resume",
        ]));
        assert_eq!(resumed["steps"], 4, "{resumed}");
        // Masks (secondary masking included) come from the step's stream: the same run.
        assert_eq!(resumed["last_loss"], whole["last_loss"], "{preset}");
    }
}
