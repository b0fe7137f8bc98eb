//! VideoMAE against the official implementation (MCG-NJU/VideoMAE `modeling_pretrain.py` with
//! the loss of `engine_for_pretraining.py`): the fixture's loss, prediction and every gradient
//! on the CPU backend and on wgpu, and the engine's normalised target.
//!
//! Fixture: `tests/fixtures/videomae/` (its README says how the mask is used and how the target
//! is computed).

use tessera::dsl::spec::{ModelSpec, Target, VideoMaeSpec};
use tessera::models::eval::evaluate;
use tessera::models::tensors::TensorFile;
use tessera::runtime::backend::Device;

mod common;
use common::fixtures::{load, matches_on, rel_err, wgpu_device, Fixture};

fn prefix() -> std::path::PathBuf {
    common::repo_root().join("tests/fixtures/videomae/videomae_public")
}

fn fixture() -> Fixture {
    load(&prefix())
}

fn spec(f: &Fixture) -> VideoMaeSpec {
    match f.ckpt.spec {
        ModelSpec::VideoMae(s) => s,
        other => panic!("an official VideoMAE checkpoint reads as VideoMAE, not {other:?}"),
    }
}

#[test]
fn the_official_checkpoint_matches_on_the_cpu() {
    let f = fixture();
    // Read from the official constructor's arguments and the values written beside them.
    let s = spec(&f);
    assert_eq!((s.frames, s.tubelet, s.patch), (16, 2, 8));
    assert_eq!((s.encoder.dim, s.decoder.dim), (32, 24));
    assert_eq!(s.target, Target::NormPix);
    assert_eq!(s.layer_norm_eps, 1e-6);
    matches_on(&f, &mut Device::Cpu);
}

#[test]
fn the_official_checkpoint_matches_on_wgpu() {
    let Some(mut gpu) = wgpu_device() else {
        return;
    };
    let f = fixture();
    matches_on(&f, &mut gpu);
}

/// With a zero head the prediction is the head's bias alone, so the loss is the mean of
/// `(bias − target)²` over the masked rows: compared with the engine's `target` from the
/// fixture, it checks our normalised target (per tubelet and channel, eps on the std) apart
/// from the network.
#[test]
fn the_target_is_the_engines() {
    let f = fixture();
    let mut params = f.ckpt.params.clone();
    let zero = |name: &str, params: &mut tessera::models::params::ParamSet| {
        let i = params.specs.iter().position(|p| p.name == name).unwrap();
        params.values[i].iter_mut().for_each(|v| *v = 0.0);
    };
    zero("decoder.head.weight", &mut params);
    zero("decoder.head.bias", &mut params);
    let model = f.ckpt.model();
    let out = evaluate(model.as_ref(), &params, &f.inputs, false, &mut Device::Cpu).unwrap();
    let target = f.expected.get("target").unwrap();
    let want =
        target.data.iter().map(|&t| (t as f64).powi(2)).sum::<f64>() / target.data.len() as f64;
    let e = rel_err(&[out.loss], &[want as f32]);
    assert!(
        e < 1e-5,
        "loss with a zero head {} vs mean target² {want}",
        out.loss
    );
    // The normalised target has (about) zero mean and unit unbiased variance per tubelet and
    // channel, so its mean square is (n − 1) / n = 127/128 here: the check is not vacuous.
    assert!((want - 127.0 / 128.0).abs() < 1e-3, "{want}");
}

/// The official batch format is checked: a clip count that does not match, a mask that is not
/// 0/1, clips that keep different numbers of tokens.
#[test]
fn malformed_official_batches_are_refused_with_the_reason() {
    let f = fixture();
    let model = f.ckpt.model();
    let mut batch = TensorFile::read(&common::fixtures::with_suffix(
        &prefix(),
        ".batch.safetensors",
    ))
    .unwrap();
    let mask_at = batch.tensors.iter().position(|(n, _)| n == "mask").unwrap();
    let good = batch.tensors[mask_at].1.clone();

    batch.tensors[mask_at].1.data[3] = 0.5;
    let e = model.eval_inputs(&batch).unwrap_err().to_string();
    assert!(e.contains("must be 0 (visible) or 1 (masked)"), "{e}");

    batch.tensors[mask_at].1 = good.clone();
    let first_masked = good.data.iter().position(|&m| m == 1.0).unwrap();
    batch.tensors[mask_at].1.data[first_masked] = 0.0;
    let e = model.eval_inputs(&batch).unwrap_err().to_string();
    assert!(e.contains("every clip must keep the same number"), "{e}");

    batch.tensors[mask_at].1 = good.clone();
    batch.tensors[mask_at].1.shape = vec![1, good.data.len()];
    let e = model.eval_inputs(&batch).unwrap_err().to_string();
    assert!(e.contains("`mask`"), "{e}");
}
