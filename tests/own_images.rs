//! A new user's own images, from the outside: a folder of PNGs of different sizes, grey, RGB
//! and RGBA, pre-trained on with the defaults (the batch chosen for a small folder, images
//! fitted and augmented), resumed from another directory, trained longer, followed after the
//! folder moved, and probed on its own held-out split; `--limit` keeps the classes balanced.
mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::cli::scratch_dir;

/// `tessera pretrain` of the tiny RGB MAE on `home/shapes` (a [`make_folder`]), run in `home`
/// with the data named relative to it, as a user types it; `extra` are the other options.
fn pretrain_tiny_on_shapes(home: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "pretrain",
        "--model",
        "mae_tiny_32",
        "--data",
        "folder:shapes",
    ];
    args.extend_from_slice(extra);
    tessera_in(home, &args)
}

/// `tessera ARGS` run in `cwd`.
fn tessera_in(cwd: &Path, args: &[&str]) -> Output {
    let mut cmd: Command = common::tessera();
    cmd.current_dir(cwd).args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "tessera failed: {text}");
    text
}

fn refused(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{text}");
    text
}

/// `root/{train,val}/{a,b,c}/N.png`: per class, `n` training and 2 validation images whose
/// size, colour type (grey, RGB, RGBA with a transparent background) and content vary.
fn make_folder(root: &Path, n: u32) {
    let sizes = [(32, 32), (64, 48), (100, 100), (40, 90)];
    for (split, count) in [("train", n), ("val", 2)] {
        for (label, class) in ["a", "b", "c"].iter().enumerate() {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..count {
                let (w, h) = sizes[(i as usize + label) % sizes.len()];
                let value =
                    |x: u32, y: u32| ((x * (label as u32 + 3) + y * 7 + i * 11) % 256) as u8;
                let path = dir.join(format!("{i}.png"));
                match (i + label as u32) % 3 {
                    0 => image::GrayImage::from_fn(w, h, |x, y| image::Luma([value(x, y)]))
                        .save(&path),
                    1 => image::RgbImage::from_fn(w, h, |x, y| {
                        image::Rgb([value(x, y), 255 - value(y, x), 40 * label as u8])
                    })
                    .save(&path),
                    _ => image::RgbaImage::from_fn(w, h, |x, y| {
                        let inside = (x + y) % 5 != 0;
                        image::Rgba([value(x, y), 90, 200, if inside { 255 } else { 0 }])
                    })
                    .save(&path),
                }
                .unwrap();
            }
        }
    }
}

/// The `train_state` step count of a run folder.
fn steps(run: &Path) -> u64 {
    let file = tessera::models::tensors::TensorFile::read(&run.join("last.safetensors")).unwrap();
    tessera::models::train::checkpoint::state_of(&file)
        .unwrap()
        .global_step
}

#[test]
fn a_folder_of_mixed_images_trains_resumes_from_anywhere_follows_a_move_and_probes() {
    let home = scratch_dir("own-images", "walk");
    make_folder(&home.join("shapes"), 8);
    // Relative paths, as a user types them; the tiny RGB MAE and the grey Fashion-MNIST one.
    let text = ok(&pretrain_tiny_on_shapes(
        &home,
        &["--epochs", "1", "--out", "run"],
    ));
    // 24 images: the default batch is halved from 256 until an epoch has at least 8 steps
    // (batch 2, 12 steps), the images are decoded as RGB and augmented, and the user is told.
    assert!(
        text.contains("12 steps of 2 images (chosen for 24 images"),
        "{text}"
    );
    assert!(text.contains("decoded as RGB"), "{text}");
    assert!(text.contains("randomly cropped"), "{text}");
    let run = home.join("run");
    assert_eq!(steps(&run), 12);
    let log = std::fs::read_to_string(run.join("log.txt")).unwrap();
    let line: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(line["epoch"], 0);
    assert!(line["train_loss"].as_f64().unwrap() > 0.0 && line["train_lr"].is_f64());

    // From another directory: the saved data path is absolute, and --epochs trains it longer.
    let elsewhere = scratch_dir("own-images", "elsewhere");
    let r = run.to_str().unwrap();
    let text = ok(&tessera_in(
        &elsewhere,
        &["pretrain", "--out", r, "--resume", "--epochs", "2"],
    ));
    assert!(
        text.contains("--epochs 2 (the run was started with 1)"),
        "{text}"
    );
    assert_eq!(steps(&run), 24);
    assert_eq!(
        std::fs::read_to_string(run.join("log.txt"))
            .unwrap()
            .lines()
            .count(),
        2
    );

    // The folder moves: the resume says where to point it, then follows it.
    std::fs::rename(home.join("shapes"), home.join("moved")).unwrap();
    let err = refused(&tessera_in(
        &elsewhere,
        &["pretrain", "--out", r, "--resume", "--epochs", "3"],
    ));
    assert!(
        err.contains("shapes") && err.contains("If it moved, add --data"),
        "{err}"
    );
    let moved = format!("folder:{}", home.join("moved").display());
    let text = ok(&tessera_in(
        &elsewhere,
        &[
            "pretrain", "--out", r, "--resume", "--epochs", "3", "--data", &moved,
        ],
    ));
    assert!(text.contains("reading the data from"), "{text}");
    assert_eq!(steps(&run), 36);
    // A data set with other images is not taken for the moved one.
    make_folder(&home.join("other"), 5);
    let other = format!("folder:{}", home.join("other").display());
    let err = refused(&tessera_in(
        &elsewhere,
        &[
            "pretrain", "--out", r, "--resume", "--epochs", "4", "--data", &other,
        ],
    ));
    assert!(
        err.contains("15 training images") && err.contains("24"),
        "{err}"
    );
    // Other settings are refused with both values and the way out.
    let err = refused(&tessera_in(
        &elsewhere,
        &["pretrain", "--out", r, "--resume", "--seed", "9"],
    ));
    assert!(
        err.contains("--seed") && err.contains("saved 0, asked 9") && err.contains("another --out"),
        "{err}"
    );

    // The probe reads the folder the checkpoint was trained on (now moved), val as its test.
    let ckpt = run.join("last.safetensors");
    let out = tessera_in(
        &elsewhere,
        &[
            "probe",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--features",
            "both",
        ],
    );
    let text = ok(&out);
    let json: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(json["train_images"], 24, "{text}");
    assert_eq!(json["test_images"], 6, "{text}");
    assert!(json["data"].as_str().unwrap().contains("moved"), "{json}");

    // A grey model on the same colour files: converted to grey, not refused.
    let text = ok(&tessera_in(
        &home,
        &[
            "pretrain",
            "--model",
            "mae_fmnist_small",
            "--data",
            "folder:moved",
            "--stop-after",
            "1",
            "--out",
            "grey",
        ],
    ));
    assert!(text.contains("decoded as grey"), "{text}");
}

#[test]
fn limit_takes_every_class_in_turn_and_a_too_big_batch_says_what_fits() {
    let home = scratch_dir("own-images", "limit");
    make_folder(&home.join("shapes"), 6);
    let text = ok(&pretrain_tiny_on_shapes(
        &home,
        &[
            "--limit",
            "6",
            "--batch",
            "2",
            "--stop-after",
            "1",
            "--out",
            "run",
        ],
    ));
    assert!(
        text.contains("6 of 18 images, 2 of each of the 3 classes"),
        "{text}"
    );
    let err = refused(&pretrain_tiny_on_shapes(
        &home,
        &["--batch", "64", "--out", "big"],
    ));
    assert!(
        err.contains("--batch 64 is more than the 18 training images")
            && err.contains("--batch 18"),
        "{err}"
    );
    // A relative folder that is not there is named with the directory it was looked for in.
    let err = refused(&tessera_in(
        &home,
        &["pretrain", "--data", "folder:nope", "--out", "x"],
    ));
    let full = std::fs::canonicalize(&home).unwrap().join("nope");
    assert!(
        err.contains(&full.display().to_string()) && err.contains("no such folder"),
        "{err}"
    );
}
