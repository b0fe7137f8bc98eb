//! `tessera probe` from the outside: a JSON line with `top1`, far above chance for a random
//! encoder on Fashion-MNIST (random ViT features are informative), reproducible, and the
//! same features read from a checkpoint of that encoder.
mod common;

use common::cli::{last_json, ok, scratch_dir, tessera};

const SMALL: &[&str] = &[
    "--limit-train",
    "600",
    "--limit-test",
    "200",
    "--batch",
    "200",
    "--max-iter",
    "100",
];

#[test]
fn random_init_probe_is_far_above_chance_and_reproducible() {
    let mut args = vec!["probe", "--random-init", "--features", "both"];
    args.extend(SMALL);
    let a = last_json(&tessera(&args));
    let top1 = a["top1"].as_f64().unwrap();
    let mean = a["top1_meanpool"].as_f64().unwrap();
    // Ten classes: chance is 0.1. Random-init features reach about 0.8 on the full data.
    assert!(top1 > 0.45 && top1 <= 1.0, "{a}");
    assert!(mean > 0.45 && mean <= 1.0, "{a}");
    assert_eq!(a["train_images"], 600);
    assert_eq!(a["test_images"], 200);
    let b = last_json(&tessera(&args));
    assert_eq!(a["top1"], b["top1"]);
    assert_eq!(a["top1_meanpool"], b["top1_meanpool"]);
}

#[test]
fn a_checkpoint_probe_runs_and_bad_input_exits_2() {
    let dir = scratch_dir("probe-cli", "run");
    // A run stopped after its first step (learning rate 0 there): the encoder is the random
    // init of seed 4, so the checkpoint probe must equal --random-init --seed 4.
    ok(&tessera(&[
        "pretrain",
        "--limit",
        "64",
        "--batch",
        "32",
        "--seed",
        "4",
        "--stop-after",
        "1",
        "--out",
        dir.to_str().unwrap(),
    ]));
    let ckpt = dir.join("last.safetensors");
    let mut args = vec!["probe", "--checkpoint", ckpt.to_str().unwrap()];
    args.extend(SMALL);
    let from_ckpt = last_json(&tessera(&args));
    let mut args = vec!["probe", "--random-init", "--seed", "4"];
    args.extend(SMALL);
    let random = last_json(&tessera(&args));
    assert_eq!(from_ckpt["top1"], random["top1"], "{from_ckpt} vs {random}");
    let out = tessera(&[
        "probe",
        "--random-init",
        "--data",
        "fashion-mnist:/nonexistent",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent"), "{err}");
}
