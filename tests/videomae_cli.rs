//! VideoMAE from the command line on clip folders made at test time (frames of a bright square
//! moving over a gradient, written as PNG files, 24x16 so every frame is centre-cropped):
//! pre-training, the held-out reconstruction with its loss, the benchmark, and the errors a
//! user can run into.
use std::path::{Path, PathBuf};

mod common;

use common::cli::{ok, scratch_dir, tessera, text};

/// `count` frames 24x16 of a square that moves `speed` px per frame, into `dir`.
fn write_clip(dir: &Path, count: u32, speed: u32, tint: u8) {
    std::fs::create_dir_all(dir).unwrap();
    for k in 0..count {
        let img = image::RgbImage::from_fn(24, 16, |x, y| {
            let left = 2 + (k * speed) % 14;
            if (left..left + 6).contains(&x) && (5..11).contains(&y) {
                image::Rgb([250, 240, tint])
            } else {
                image::Rgb([(x * 8) as u8, (y * 12) as u8, 90])
            }
        });
        img.save(dir.join(format!("{:05}.png", k + 1))).unwrap();
    }
}

/// A data folder with train/ (two clips, 12 and 9 frames) and val/ (one clip of 8).
fn data(root: &Path) -> PathBuf {
    write_clip(&root.join("train/walk"), 12, 1, 40);
    write_clip(&root.join("train/run"), 9, 2, 200);
    write_clip(&root.join("val/stroll"), 8, 1, 120);
    root.to_path_buf()
}

/// Without `--batch`, the batch is sized by the clips' samples, not their frame files: 5
/// samples give batch 1 (at least 8 steps an epoch where the data allows), 5 steps an epoch;
/// counting the 21 frame files gave batch 2 and 2 steps.
#[test]
fn the_default_batch_counts_clip_samples_not_frames() {
    let tmp = scratch_dir("videomae-cli", "default-batch");
    let root = data(&tmp.join("clips"));
    let run = tmp.join("run");
    let o = tessera(&[
        "pretrain",
        "--model",
        "videomae_tiny_4x32",
        "--data",
        &format!("folder:{}", root.display()),
        "--epochs",
        "1",
        "--out",
        run.to_str().unwrap(),
    ]);
    let stdout = ok(&o);
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["steps"], 5, "{stdout}");
    assert!(
        stdout.contains("steps of 1 clip (chosen for 5 clips"),
        "{stdout}"
    );
}

#[test]
fn videomae_pretrains_on_clip_folders_and_reconstructs_held_out_clips() {
    let tmp = scratch_dir("videomae-cli", "pretrain");
    let root = data(&tmp.join("clips"));
    let run = tmp.join("run");
    let source = format!("folder:{}", root.display());
    // 3 + 2 samples of 4 frames (the last frame of each clip unused), batch 2: 2 steps/epoch.
    let o = tessera(&[
        "pretrain",
        "--model",
        "videomae_tiny_4x32",
        "--data",
        &source,
        "--batch",
        "2",
        "--epochs",
        "2",
        "--lr",
        "1e-3",
        "--out",
        run.to_str().unwrap(),
    ]);
    let stdout = ok(&o);
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["steps"], 4, "{stdout}");
    assert!(summary["last_loss"].as_f64().unwrap().is_finite());
    let ckpt = tessera::models::checkpoint::load(&run.join("last.safetensors"), None).unwrap();
    assert_eq!(
        ckpt.spec,
        tessera::dsl::presets::by_name("videomae_tiny_4x32").unwrap()
    );
    // The official names, so the checkpoint loads in the official PyTorch model.
    assert!(ckpt.params.get("encoder.blocks.0.attn.q_bias").is_some());

    let png = tmp.join("recon.png");
    let o = tessera(&[
        "reconstruct",
        "--checkpoint",
        run.join("last.safetensors").to_str().unwrap(),
        "--count",
        "1",
        "--out",
        png.to_str().unwrap(),
    ]);
    let stdout = ok(&o);
    // The recipe's data is used; its val/ split holds 2 clips of 4 frames.
    assert!(
        stdout.contains("over 2 test clips of") && stdout.contains("stroll frames 0..4"),
        "{stdout}"
    );
    let loss: f64 = stdout
        .split("held-out loss (the training loss, masked tubes): ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(loss.is_finite() && loss > 0.0, "{loss}");
    let picture = image::open(&png).unwrap();
    // One clip: four strips of 4 frames, 96 px each, under the title.
    assert!(picture.height() > 4 * 96 && picture.width() > 4 * 96);
    // The same clips and masks give the same loss (held-out losses are comparable).
    let again = ok(&tessera(&[
        "reconstruct",
        "--checkpoint",
        run.join("last.safetensors").to_str().unwrap(),
        "--count",
        "1",
        "--out",
        png.to_str().unwrap(),
    ]));
    assert!(again.contains(&format!("{loss:.4} over 2")), "{again}");
}

#[test]
fn videomae_benchmarks_a_random_clip_batch() {
    let o = tessera(&[
        "bench",
        "--model",
        "videomae_tiny_4x32",
        "--batch",
        "2",
        "--warmup",
        "1",
        "--iters",
        "2",
        "--json",
    ]);
    let stdout = ok(&o);
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(v["final_loss"].as_f64().unwrap().is_finite(), "{stdout}");
    assert_eq!(v["encoder_tokens_per_image"], 14, "{stdout}");
}

#[test]
fn clip_data_errors_name_what_is_expected() {
    let tmp = scratch_dir("videomae-cli", "errors");
    // Clips of 3 frames cannot fill a 4-frame sample.
    write_clip(&tmp.join("short/a"), 3, 1, 0);
    let source = format!("folder:{}", tmp.join("short").display());
    let out = tmp.join("run");
    let o = tessera(&[
        "pretrain",
        "--model",
        "videomae_tiny_4x32",
        "--data",
        &source,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("no clip folder with at least 4 frames"),
        "{}",
        text(&o.stderr)
    );
    // Image augmentations would cut each frame differently.
    write_clip(&tmp.join("ok/a"), 4, 1, 0);
    let source = format!("folder:{}", tmp.join("ok").display());
    let o = tessera(&[
        "pretrain",
        "--model",
        "videomae_tiny_4x32",
        "--data",
        &source,
        "--augment",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("clips are not augmented"));
    assert!(!out.join("last.safetensors").exists());
}
