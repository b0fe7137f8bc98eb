//! MixMIM against the official implementation (Sense-X/MixMIM `models_mixmim.py`): the
//! fixtures' loss, prediction (both decoder branches) and every gradient on the CPU backend
//! and on wgpu; the pairing rules (odd batches refused, no attention across the two images of
//! a mixed sample); the official checkpoint's integer buffers checked, not trusted.
//!
//! Fixtures: `tests/fixtures/mixmim/` (its README says how the shared mask and the pairing are
//! consumed) and `tests/fixtures/mixmim/extra/`.
use std::path::{Path, PathBuf};

use tessera::dsl::spec::{MixMimSpec, ModelSpec};
use tessera::dsl::Ratio;
use tessera::models::checkpoint::{self, CheckpointError};
use tessera::models::eval::evaluate;
use tessera::models::tensors::{write_atomic, Tensor, TensorFile};
use tessera::runtime::backend::Device;

mod common;
use common::fixtures::{as_file, check, load, run, wgpu_device, with_suffix, Fixture};

fn dir() -> PathBuf {
    common::repo_root().join("tests/fixtures/mixmim")
}

fn public() -> Fixture {
    load(&dir().join("mixmim_public"))
}

fn spec(f: &Fixture) -> MixMimSpec {
    match f.ckpt.spec {
        ModelSpec::MixMim(s) => s,
        other => panic!("an official MixMIM checkpoint reads as MixMIM, not {other:?}"),
    }
}

/// The official mask is one `[1, L4, 1]` row shared by the batch; ours lists it per sample
/// (`[N, L4]`). Checks the official shape and returns the expected file with the row repeated.
fn per_sample_mask(f: &Fixture) -> TensorFile {
    let mut expected = f.expected.clone();
    let n = f.inputs.shape.batch;
    for (name, t) in &mut expected.tensors {
        if name == "mask" {
            assert_eq!(t.shape.len(), 3, "{}: official mask shape", f.name);
            assert_eq!((t.shape[0], t.shape[2]), (1, 1), "{}: shared mask", f.name);
            let l = t.shape[1];
            *t = Tensor::new(vec![n, l], t.data.repeat(n)).unwrap();
        }
    }
    expected
}

fn matches_on(f: &Fixture, device: &mut Device) {
    let out = run(f, device);
    check(&f.name, &as_file(&f.name, out), &per_sample_mask(f));
}

#[test]
fn the_official_checkpoint_matches_on_the_cpu() {
    let f = public();
    // Read from the constructor's arguments, with the ratio given to forward and eps 1e-5.
    let s = spec(&f);
    assert_eq!(s.ratio, Ratio::of(1, 2));
    assert_eq!(s.layer_norm_eps, 1e-5);
    assert_eq!(s.stages.len, 4);
    matches_on(&f, &mut Device::Cpu);
}

#[test]
fn the_official_checkpoint_matches_on_wgpu() {
    let Some(mut gpu) = wgpu_device() else {
        return;
    };
    matches_on(&public(), &mut gpu);
}

/// Every stage one global window (the two images meet inside a window from the first stage
/// on, window 16), raw-pixel targets, 3 of 4 cells mixed, eps 1e-6.
#[test]
fn another_official_configuration_matches_on_both_backends() {
    let f = load(&dir().join("extra/w16_pix_r075"));
    let mut devices = vec![Device::Cpu];
    devices.extend(wgpu_device());
    for device in &mut devices {
        matches_on(&f, device);
    }
}

/// The official `x.flip(0)` pairs sample i with N-1-i; an odd batch would mix its middle image
/// with itself, which is refused in an evaluation batch and in training alike.
#[test]
fn an_odd_batch_is_refused() {
    let f = public();
    let model = f.ckpt.model();
    let mut batch = TensorFile::read(&with_suffix(
        &dir().join("mixmim_public"),
        ".batch.safetensors",
    ))
    .unwrap();
    for (name, t) in &mut batch.tensors {
        if name == "imgs" {
            let per = t.data.len() / t.shape[0];
            t.shape[0] = 3;
            t.data.truncate(3 * per);
        }
    }
    let err = model.eval_inputs(&batch).unwrap_err().to_string();
    assert!(
        err.contains("batch must be even") && err.contains("3"),
        "{err}"
    );
    let pixels = vec![0.5f32; 3 * model.sample().pixel_numel()];
    let mut rng = tessera::dsl::rng::Rng::seed_from_u64(1);
    let err = model
        .step_inputs(&tessera::models::sample::Samples::pixels(&pixels), &mut rng)
        .unwrap_err()
        .to_string();
    assert!(err.contains("batch must be even"), "{err}");
}

/// Branch 1 of mixed sample i sees only the tokens of image i (the partner's cells hold the
/// mask token), and inside the encoder those tokens never attend to the partner's. So
/// changing the partner image must leave that branch's prediction exactly as it was, while
/// the branch that reads the partner changes. Without the cross-image attention mask the
/// global windows of the last stages would carry the change over.
#[test]
fn tokens_never_attend_across_images() {
    let f = public();
    let model = f.ckpt.model();
    let run_with = |inputs| {
        evaluate(
            model.as_ref(),
            &f.ckpt.params,
            inputs,
            false,
            &mut Device::Cpu,
        )
        .unwrap()
        .pred
    };
    let before = run_with(&f.inputs);
    let mut changed = f.inputs.clone();
    let n = changed.shape.batch;
    for (name, v) in &mut changed.tensors {
        if name == "imgs" {
            let tessera::models::model::InputValues::F32(px) = v else {
                panic!("imgs are f32");
            };
            // Image N-1 is the partner of sample 0.
            let per = px.len() / n;
            for (k, x) in px[(n - 1) * per..].iter_mut().enumerate() {
                *x = -*x + 0.3 * ((k % 7) as f32 - 3.0);
            }
        }
    }
    let after = run_with(&changed);
    let (l, p) = (before.shape[1], before.shape[2]);
    let rows = |t: &Tensor, sample: usize| t.data[sample * l * p..(sample + 1) * l * p].to_vec();
    let max_diff = |a: Vec<f32>, b: Vec<f32>| {
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    // Branch 1 of sample 0 (row 0): image 0's own cells only.
    assert_eq!(
        max_diff(rows(&before, 0), rows(&after, 0)),
        0.0,
        "branch 1 of sample 0 saw its partner"
    );
    // Branch 2 of sample 0 (row N) shows image N-1's cells, and branch 1 of sample N-1 too.
    assert!(max_diff(rows(&before, n), rows(&after, n)) > 1e-2);
    assert!(max_diff(rows(&before, n - 1), rows(&after, n - 1)) > 1e-2);
}

/// The pictures' reconstruction is the official un-mixing of the two branches:
/// `x1_rec·m + x2_rec.flip(0)·(1 − m)`.
#[test]
fn each_image_is_reconstructed_from_the_branch_that_predicted_it() {
    let f = public();
    let model = f.ckpt.model();
    let pred = f.expected.get("pred").unwrap();
    let (n2, l, p) = (pred.shape[0], pred.shape[1], pred.shape[2]);
    let n = n2 / 2;
    let rec = model.pred_in_raster_order(&f.inputs, &pred.data);
    assert_eq!(rec.len(), n * l * p);
    let m = &f.expected.get("mask").unwrap().data;
    for i in 0..n {
        for t in 0..l {
            let src = if m[t] == 1.0 { i } else { n + (n - 1 - i) };
            assert_eq!(
                rec[(i * l + t) * p..(i * l + t + 1) * p],
                pred.data[(src * l + t) * p..(src * l + t + 1) * p],
                "image {i} cell {t}"
            );
        }
    }
}

fn scratch(name: &str) -> common::Scratch {
    common::Scratch::path("mixmim", name)
}

fn rewrite(from: &Path, to: &Path, edit: impl Fn(&str, &mut Tensor)) {
    let mut file = TensorFile::read(from).unwrap();
    for (name, t) in &mut file.tensors {
        edit(name, t);
    }
    write_atomic(to, &file.tensors, &file.metadata).unwrap();
}

/// The official checkpoint stores Swin's `relative_position_index` (int64). tessera computes
/// it, so a stored one is checked: the official values load, anything else is refused.
#[test]
fn stored_relative_position_indices_are_checked() {
    let official = with_suffix(&dir().join("mixmim_public"), ".ckpt.safetensors");
    let name = "layers.2.blocks.1.attn.relative_position_index";
    assert!(TensorFile::read(&official).unwrap().get(name).is_some());
    let bad = scratch("bad_index.safetensors");
    rewrite(&official, &bad, |n, t| {
        if n == name {
            t.data.swap(1, 2);
        }
    });
    match checkpoint::load(&bad, None) {
        Err(CheckpointError::Buffer { name: found, .. }) => assert_eq!(found, name),
        other => panic!("a wrong index must be refused, got {other:?}"),
    }
    // The same file with the right values (here stored as f32) loads.
    let good = scratch("good_index.safetensors");
    rewrite(&official, &good, |_, _| {});
    checkpoint::load(&good, None).unwrap();
}
