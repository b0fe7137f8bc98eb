//! Bad input never loses work: a non-finite loss stops the run naming the step and leaves the
//! last good checkpoint as it was; a full disk while saving leaves the previous checkpoint
//! readable and intact; images of the wrong size are named when the user asked for no
//! resizing (`--fit exact`), with the settings that would resize them.
mod common;

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tessera::models::checkpoint;
use tessera::models::tensors::{write_atomic, TensorFile};
use tessera::models::train::checkpoint::{state_of, Disk, MODEL_FILE, OPTIM_FILE};
use tessera::models::train::{
    load_run, Outcome, RunCheckpointError, RunConfig, RunError, Silent, Trainer, Warmup,
};

fn scratch(name: &str) -> common::Scratch {
    common::Scratch::path("pretrain-guards", name)
}

/// 64 images of the embedded slice, batch 32: 2 steps an epoch, 3 epochs.
fn recipe() -> RunConfig {
    RunConfig {
        model: tessera::dsl::presets::by_name("mae_fmnist_small").unwrap(),
        data: "fashion-mnist-embedded".into(),
        limit: Some(64),
        augment: false,
        fit: Default::default(),
        epochs: 3,
        batch: 32,
        lr: 1e-3,
        min_lr: 0.0,
        warmup: Warmup::Steps(1),
        weight_decay: 0.05,
        seed: 3,
    }
}

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

#[test]
fn a_nan_loss_names_the_step_and_keeps_the_last_good_checkpoint() {
    let dir = scratch("nan");
    let mut t = Trainer::new(recipe(), &dir).unwrap();
    assert_eq!(
        t.run(&mut Silent, &never(), Some(2)).unwrap(),
        Outcome::Stopped
    );
    let saved = std::fs::read(dir.join(MODEL_FILE)).unwrap();
    let saved_optim = std::fs::read(dir.join(OPTIM_FILE)).unwrap();
    // Poison one weight, as a diverging run would.
    let mut params = t.params().unwrap();
    let i = params
        .specs
        .iter()
        .position(|s| s.name == "blocks.2.mlp.fc1.weight")
        .unwrap();
    params.values[i][17] = f32::NAN;
    t.train_step_mut().set_params(&params).unwrap();
    let err = t.run(&mut Silent, &never(), None).unwrap_err();
    assert!(matches!(err, RunError::NonFinite { step: 3, .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("at step 3") && msg.contains("left as it was"),
        "{msg}"
    );
    assert!(msg.contains(MODEL_FILE), "{msg}");
    assert_eq!(std::fs::read(dir.join(MODEL_FILE)).unwrap(), saved);
    assert_eq!(std::fs::read(dir.join(OPTIM_FILE)).unwrap(), saved_optim);
    let back = load_run(&dir).unwrap();
    assert_eq!(back.state.global_step, 2);
    assert!(back
        .model
        .params
        .values
        .iter()
        .flatten()
        .all(|v| v.is_finite()));
}

#[test]
fn parameters_that_overflow_are_never_saved() {
    let dir = scratch("overflow");
    let mut t = Trainer::new(recipe(), &dir).unwrap();
    t.run(&mut Silent, &never(), Some(1)).unwrap();
    let saved = std::fs::read(dir.join(MODEL_FILE)).unwrap();
    let mut params = t.params().unwrap();
    params.values[0][0] = f32::INFINITY; // cls_token
    t.train_step_mut().set_params(&params).unwrap();
    let err = t.save(&mut Silent).unwrap_err();
    assert!(
        matches!(&err, RunError::NonFiniteParam { name, step: 1, .. } if name == "cls_token"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.join(MODEL_FILE)).unwrap(), saved);
}

/// A disk with `free` bytes left, shared by every file written to it.
struct FullDisk {
    free: AtomicUsize,
}

impl Disk for FullDisk {
    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let free = self.free.load(Ordering::SeqCst);
        let fits = bytes.len().min(free);
        self.free.store(free - fits, Ordering::SeqCst);
        // A real partial write happens first, then ENOSPC, as on a full file system.
        std::fs::write(path, &bytes[..fits])?;
        if fits < bytes.len() {
            return Err(io::Error::from_raw_os_error(28));
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
}

#[test]
fn a_full_disk_while_saving_leaves_the_previous_checkpoint_intact() {
    let dir = scratch("full");
    let mut t = Trainer::new(recipe(), &dir).unwrap();
    t.run(&mut Silent, &never(), Some(2)).unwrap();
    let saved = std::fs::read(dir.join(MODEL_FILE)).unwrap();
    let saved_optim = std::fs::read(dir.join(OPTIM_FILE)).unwrap();
    // Full at once; or room for the optimizer file (written first) but not the model file:
    // then the optimizer file must not replace the old one either.
    for free in [1000, saved_optim.len() + 1000] {
        let free = AtomicUsize::new(free);
        let mut t = Trainer::resume(&dir, None)
            .unwrap()
            .with_disk(Box::new(FullDisk { free }));
        let err = t.run(&mut Silent, &never(), Some(4)).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, RunError::Checkpoint(RunCheckpointError::Write { .. })),
            "{msg}"
        );
        assert!(
            msg.contains("No space left") && msg.contains("previous checkpoint"),
            "{msg}"
        );
        assert_eq!(std::fs::read(dir.join(MODEL_FILE)).unwrap(), saved);
        assert_eq!(std::fs::read(dir.join(OPTIM_FILE)).unwrap(), saved_optim);
        let back = load_run(&dir).unwrap();
        assert_eq!(back.state.global_step, 2);
        checkpoint::load(&dir.join(MODEL_FILE), None).unwrap();
        // No half-written file is left behind.
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
    }
    // With room again the run continues from the intact checkpoint.
    let mut t = Trainer::resume(&dir, None).unwrap();
    assert_eq!(
        t.run(&mut Silent, &never(), None).unwrap(),
        Outcome::Finished
    );
    assert_eq!(load_run(&dir).unwrap().state.global_step, 6);
}

fn tessera(args: &[&str]) -> Output {
    common::tessera()
        .args(args)
        .output()
        .expect("the tessera binary runs")
}

#[test]
fn resuming_a_checkpoint_holding_nan_stops_at_the_first_step_and_keeps_the_file() {
    let dir = scratch("nan-cli");
    let d = dir.to_str().unwrap();
    let base = [
        "pretrain", "--limit", "64", "--batch", "32", "--epochs", "2", "--out", d,
    ];
    let mut args = base.to_vec();
    args.extend(["--stop-after", "1"]);
    let out = tessera(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Damage the saved model the way a corrupted or diverged file would be.
    let path = dir.join(MODEL_FILE);
    let mut file = TensorFile::read(&path).unwrap();
    let metadata: HashMap<String, String> = file.metadata.clone();
    for (name, t) in file.tensors.iter_mut() {
        if name == "decoder_pred.weight" {
            t.data[5] = f32::NAN;
        }
    }
    write_atomic(&path, &file.tensors, &metadata).unwrap();
    let before = std::fs::read(&path).unwrap();
    let out = tessera(&["pretrain", "--out", d, "--resume"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the loss is NaN at step 2"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        state_of(&TensorFile::read(&path).unwrap())
            .unwrap()
            .global_step,
        1
    );
}

#[test]
fn images_of_the_wrong_size_are_named_when_resizing_is_turned_off() {
    // A class folder of 3-channel 20x20 PNGs for a 32x32 model, with --fit exact and no
    // augmentation.
    let dir = scratch("sizes");
    let class = dir.join("data/shirts");
    std::fs::create_dir_all(&class).unwrap();
    for i in 0..4u8 {
        let img = image::RgbImage::from_fn(20, 20, |x, y| {
            image::Rgb([x as u8 * 10, y as u8 * 10, i * 50])
        });
        img.save(class.join(format!("img{i}.png"))).unwrap();
    }
    let data = format!("folder:{}", dir.join("data").display());
    let out_dir = dir.join("run");
    let out = tessera(&[
        "pretrain",
        "--model",
        "mae_tiny_32",
        "--data",
        &data,
        "--batch",
        "2",
        "--epochs",
        "1",
        "--fit",
        "exact",
        "--no-augment",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("img")
            && err.contains("20x20")
            && err.contains("expected 32x32")
            && err.contains("--fit center-crop"),
        "{err}"
    );
    // Nothing was trained, so nothing was written that would block a corrected rerun.
    assert!(!out_dir.join(MODEL_FILE).exists());
}
