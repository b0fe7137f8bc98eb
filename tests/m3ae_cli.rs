//! M3AE from the command line: pre-training on the committed image–caption set lowers the
//! held-out loss and leaves the checkpoint, the tokenizer its ids mean and the metrics;
//! reconstruct draws the held-out pairs with their masked words; bench runs the tiny preset;
//! eval reproduces the official fixture; data that is not captions is refused by name.
mod common;

use common::cli::{last_json, scratch_dir, tessera};

fn captions() -> String {
    let dir = common::repo_root().join("tests/fixtures/m3ae/captions");
    format!("captions:{}", dir.display())
}

#[test]
fn pretraining_on_captions_lowers_the_held_out_loss_and_reconstruct_shows_the_words() {
    let dir = scratch_dir("m3ae-cli", "run");
    let run = dir.join("run");
    let data = captions();
    let summary = last_json(&tessera(&[
        "pretrain",
        "--model",
        "m3ae_tiny_32",
        "--data",
        &data,
        "--epochs",
        "8",
        "--batch",
        "8",
        "--lr",
        "2e-3",
        "--out",
        run.to_str().unwrap(),
    ]));
    // 24 pairs: a tenth (2) held out, 22 to train on.
    assert_eq!(summary["held_out_pairs"], 2);
    assert_eq!(summary["train_pairs"], 22);
    let before = summary["held_out_loss_before"].as_f64().unwrap();
    let after = summary["held_out_loss_after"].as_f64().unwrap();
    assert!(after < 0.8 * before, "held-out loss {before} -> {after}");
    for f in [
        "model.safetensors",
        "tokenizer.json",
        "metrics.csv",
        "run.json",
    ] {
        assert!(run.join(f).exists(), "{f}");
    }
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 1 + 1 + 8, "{metrics}");
    // The WordPiece vocabulary was learned from these captions and fits the model's 1000.
    let vocab = summary["vocab_used"].as_u64().unwrap();
    assert!(vocab > 50 && vocab <= 1000, "{vocab}");

    let png = dir.join("recon.png");
    let r = last_json(&tessera(&[
        "reconstruct",
        "--checkpoint",
        run.join("model.safetensors").to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
    ]));
    assert_eq!(r["pairs"], 2);
    assert!(r["masked_words"].as_u64().unwrap() > 0);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");

    // A second run into the same folder is refused rather than overwriting it.
    let again = tessera(&[
        "pretrain",
        "--model",
        "m3ae_tiny_32",
        "--data",
        &data,
        "--out",
        run.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a run"));
}

/// `tessera pretrain` of the tiny M3AE on the committed pairs into `run` with `extra` flags.
fn pretrain_tiny(run: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let data = captions();
    let mut args = vec![
        "pretrain",
        "--model",
        "m3ae_tiny_32",
        "--data",
        &data,
        "--batch",
        "8",
        "--lr",
        "2e-3",
        "--out",
        run.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    tessera(&args)
}

/// A copy of the committed pairs (captions.jsonl and images/) at `to`.
fn copy_pairs(to: &std::path::Path) {
    let from = common::repo_root().join("tests/fixtures/m3ae/captions");
    std::fs::create_dir_all(to.join("images")).unwrap();
    std::fs::copy(from.join("captions.jsonl"), to.join("captions.jsonl")).unwrap();
    for entry in std::fs::read_dir(from.join("images")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join("images").join(path.file_name().unwrap())).unwrap();
    }
}

/// The tensors of a checkpoint file, by name.
fn tensors(path: &std::path::Path) -> Vec<(String, Vec<f32>)> {
    let file = tessera::models::tensors::TensorFile::read(path).unwrap();
    file.tensors
        .iter()
        .map(|(name, t)| (name.clone(), t.data.clone()))
        .collect()
}

/// metrics.csv without its last column (seconds).
fn metrics_without_times(run: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

#[test]
fn a_stopped_run_resumes_bit_for_bit_and_trains_longer() {
    let dir = scratch_dir("m3ae-cli", "resume");
    let (straight, stopped) = (dir.join("straight"), dir.join("stopped"));
    // 22 training pairs at batch 8: 2 steps an epoch, 6 in 3 epochs.
    let s = last_json(&pretrain_tiny(&straight, &["--epochs", "3"]));
    assert_eq!(
        (s["finished"].as_bool(), s["steps"].as_u64()),
        (Some(true), Some(6))
    );
    // Stopped mid-epoch (step 3 of 6) on a copy of the pairs, which then moves; resumed with
    // only --resume, --out and the pairs' new place.
    let copy = dir.join("pairs");
    copy_pairs(&copy);
    let s = last_json(&tessera(&[
        "pretrain",
        "--model",
        "m3ae_tiny_32",
        "--data",
        &format!("captions:{}", copy.display()),
        "--batch",
        "8",
        "--lr",
        "2e-3",
        "--epochs",
        "3",
        "--stop-after",
        "3",
        "--out",
        stopped.to_str().unwrap(),
    ]));
    assert_eq!(
        (s["finished"].as_bool(), s["steps"].as_u64()),
        (Some(false), Some(3))
    );
    // A different recipe is refused by name.
    let refused = tessera(&[
        "pretrain",
        "--resume",
        "--batch",
        "4",
        "--out",
        stopped.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--batch differs"), "{err}");
    let moved = dir.join("moved");
    std::fs::rename(&copy, &moved).unwrap();
    let s = last_json(&tessera(&[
        "pretrain",
        "--resume",
        "--data",
        &format!("captions:{}", moved.display()),
        "--out",
        stopped.to_str().unwrap(),
    ]));
    assert_eq!(
        (s["finished"].as_bool(), s["steps"].as_u64()),
        (Some(true), Some(6))
    );
    for file in ["model.safetensors", "model.optim.safetensors"] {
        assert!(
            tensors(&straight.join(file)) == tensors(&stopped.join(file)),
            "{file} differs between the straight and the resumed run"
        );
    }
    assert_eq!(
        metrics_without_times(&straight),
        metrics_without_times(&stopped)
    );

    // A finished run has nothing to do (a changed recipe is still refused); more epochs
    // continue it.
    let again = tessera(&["pretrain", "--resume", "--out", stopped.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("already finished"));
    let changed = tessera(&[
        "pretrain",
        "--resume",
        "--seed",
        "7",
        "--out",
        stopped.to_str().unwrap(),
    ]);
    assert_eq!(changed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&changed.stderr).contains("--seed differs"));
    let longer = last_json(&tessera(&[
        "pretrain",
        "--resume",
        "--epochs",
        "4",
        "--out",
        stopped.to_str().unwrap(),
    ]));
    assert_eq!(longer["steps"].as_u64(), Some(8));
    assert_eq!(metrics_without_times(&stopped).len(), 1 + 1 + 4);
}

#[test]
fn image_only_data_is_refused_by_name() {
    let dir = scratch_dir("m3ae-cli", "refused");
    let out = tessera(&[
        "pretrain",
        "--model",
        "m3ae_tiny_32",
        "--data",
        "fashion-mnist-embedded",
        "--out",
        dir.join("run").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("captions:DIR"), "{err}");
}

#[test]
fn bench_runs_the_tiny_preset() {
    let out = tessera(&[
        "bench",
        "--model",
        "m3ae_tiny_32",
        "--batch",
        "8",
        "--iters",
        "2",
        "--warmup",
        "1",
        "--json",
    ]);
    let v = last_json(&out);
    let text = v.to_string();
    assert!(
        text.contains("m3ae_tiny_32") || text.contains("M3AE"),
        "{text}"
    );
}

#[test]
fn eval_reproduces_the_official_fixture() {
    let dir = scratch_dir("m3ae-cli", "eval");
    let prefix = common::repo_root().join("tests/fixtures/m3ae/m3ae_public");
    let p = |s: &str| format!("{}{s}", prefix.display());
    let out_file = dir.join("out.safetensors");
    let v = last_json(&tessera(&[
        "eval",
        "--checkpoint",
        &p(".ckpt.safetensors"),
        "--batch",
        &p(".batch.safetensors"),
        "--out",
        out_file.to_str().unwrap(),
    ]));
    // The fixture README's numbers.
    let close = |k: &str, want: f64| {
        let got = v[k].as_f64().unwrap();
        assert!((got - want).abs() < 1e-4 * want, "{k}: {got} vs {want}");
    };
    close("loss", 1.789_393_7);
    close("image_loss", 1.288_489_3);
    close("text_loss", 5.009_042_7);
    let f = tessera::models::tensors::TensorFile::read(&out_file).unwrap();
    assert_eq!(f.get("text_output").unwrap().shape, [2, 12, 100]);
    assert_eq!(f.get("pred").unwrap().shape, [2, 16, 192]);
}
