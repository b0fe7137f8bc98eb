//! UM-MAE on Swin from the command line: pre-training on real data, and the benchmark against
//! SimMIM-style symmetric pre-training of the same Swin.

mod common;

use common::cli::{ok, pretrain_on_the_slice, scratch_dir, tessera, text};

#[test]
fn um_swin_pretrains_on_fashion_mnist_and_its_checkpoint_keeps_the_spec() {
    let out = scratch_dir("um-swin-cli", "pretrain");
    let config = "examples/specs/um_swin_fmnist_small.toml";
    pretrain_on_the_slice(config, "2", &out);
    let spec = tessera::spec_file::load(&common::repo_root().join(config)).unwrap();
    let ckpt = tessera::models::checkpoint::load(&out.join("last.safetensors"), None).unwrap();
    assert_eq!(ckpt.spec, spec);
    // The secondary mask token and the position MLPs are trained parameters of the checkpoint.
    let names: Vec<&str> = ckpt.params.specs.iter().map(|p| p.name.as_str()).collect();
    for name in [
        "vis_mask_token",
        "mask_token",
        "blocks.0.attn.posmlp.0.weight",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    // 64 images at batch 16 for two epochs: eight logged steps with finite losses.
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let losses: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    assert_eq!(losses.len(), 8, "{csv}");
    assert!(losses.iter().all(|l| l.is_finite() && *l > 0.0), "{csv}");

    // The checkpoint reconstructs (28-px test images brought to the model's 32 px) and probes
    // its mean-pooled features (a Swin has no class token).
    let ckpt = out.join("last.safetensors");
    let png = out.join("recon.png");
    let legend = ok(&tessera(&[
        "reconstruct",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--count",
        "2",
        "--out",
        png.to_str().unwrap(),
    ]));
    assert!(legend.contains("48 of 64"), "{legend}");
    assert!(image::open(&png).is_ok());
    let probe = ok(&tessera(&[
        "probe",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--limit",
        "100",
        "--limit-test",
        "50",
        "--max-iter",
        "30",
    ]));
    let report: serde_json::Value = serde_json::from_str(probe.lines().last().unwrap()).unwrap();
    assert_eq!(report["feature"], "mean", "{report}");
    // Ten classes: chance is 0.1; even a barely trained encoder separates them.
    assert!(report["top1"].as_f64().unwrap() > 0.25, "{report}");
}

#[test]
fn bench_times_um_swin_against_simmim_on_the_same_swin() {
    let o = tessera(&[
        "bench",
        "--model",
        "um_swin_tiny_32",
        "--baseline",
        "simmim",
        "--batch",
        "2",
        "--warmup",
        "1",
        "--iters",
        "2",
        "--rounds",
        "2",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(ok(&o).trim()).unwrap();
    let (model, base) = (&report["model"], &report["baseline"]);
    // SimMIM's encoder sees the whole 16x16 token map, UM-MAE's the compacted 8x8 one.
    assert_eq!(model["encoder_tokens_per_image"], 64);
    assert_eq!(base["encoder_tokens_per_image"], 256);
    assert_eq!(model["iters"], 4);
    assert_eq!(base["iters"], 4);
    let ratios: Vec<f64> = report["step_time_ratios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_f64().unwrap())
        .collect();
    assert_eq!(ratios.len(), 2);
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    let median = 0.5 * (ratios[0] + ratios[1]);
    assert!((f(&report["step_time_ratio"]) - median).abs() < 1e-12);
    let peak = f(&base["planned_peak_bytes"]) / f(&model["planned_peak_bytes"]);
    assert!((f(&report["planned_peak_ratio"]) - peak).abs() < 1e-12);
    assert!(f(&model["final_loss"]).is_finite() && f(&base["final_loss"]).is_finite());

    let o = tessera(&["bench", "--model", "mae_tiny_32", "--baseline", "simmim"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("um_swin_tiny_32") && err.lines().count() == 1,
        "{err}"
    );
}
