//! Every built family (MAE, HiViT, UM-MAE on ViT) on the wgpu backend: `evaluate` on every
//! official fixture against the official numbers (the CPU parity test's tolerances),
//! `tessera eval --backend wgpu` from the outside, and whole training steps (forward, backward,
//! AdamW) against the CPU backend.
//!
//! Without an adapter these tests print SKIPPED and pass, unless `TESSERA_REQUIRE_GPU=1`
//! (CI, on lavapipe).

use tessera::dsl::graph::AdamWConfig;
use tessera::models::step::TrainStep;
use tessera::models::tensors::TensorFile;
use tessera::runtime::backend::Device;
use tessera::runtime::gpu::require_gpu;

mod common;
use common::fixtures::{
    all_fixtures, check, fixtures, hivit_fixtures, load, matches_on, rel_err, um_vit_fixtures,
    wgpu_device, with_suffix,
};

#[test]
fn evaluate_on_wgpu_matches_every_official_fixture() {
    let Some(mut device) = wgpu_device() else {
        return;
    };
    for prefix in all_fixtures() {
        // The same checks as the CPU parity test, through the file format of `tessera eval`.
        let f = load(&prefix);
        matches_on(&f, &mut device);
    }
}

#[test]
fn tessera_eval_backend_wgpu_reproduces_the_official_numbers() {
    // Checked here (not inside the child) so that a missing adapter skips like the others.
    if require_gpu().is_none() {
        return;
    }
    let um_swin = common::repo_root().join("tests/fixtures/um-mae-swin/um_mae_swin_public");
    for prefix in [
        &fixtures()[0],
        &hivit_fixtures()[0],
        &um_vit_fixtures()[0],
        &um_swin,
    ] {
        eval_on_wgpu_from_the_cli(prefix);
    }
}

fn eval_on_wgpu_from_the_cli(prefix: &std::path::Path) {
    let name = prefix.file_name().unwrap().to_string_lossy().into_owned();
    let out = common::Scratch::path("eval-wgpu", &format!("{name}.safetensors"));
    let o = common::tessera()
        .arg("eval")
        .arg("--checkpoint")
        .arg(with_suffix(prefix, ".ckpt.safetensors"))
        .arg("--input")
        .arg(with_suffix(prefix, ".batch.safetensors"))
        .arg("--out")
        .arg(&out)
        .args(["--grads", "--backend", "wgpu"])
        .output()
        .expect("the tessera binary runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "tessera eval --backend wgpu failed: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("\"loss\""), "{stdout}");
    // The UM-MAE checkpoints reproduce the official quirks (ViT: the secondary-masking
    // index; Swin: the decoder positions) and say so.
    let (vit, swin) = (
        name.starts_with("um_mae_vit"),
        name.starts_with("um_mae_swin"),
    );
    assert_eq!(stdout.contains("official_vit"), vit, "{stdout}");
    assert_eq!(stdout.contains("official_raster"), swin, "{stdout}");
    assert_eq!(stderr.contains("official quirk"), vit || swin, "{stderr}");
    let got = TensorFile::read(&out).unwrap();
    let expected = TensorFile::read(&with_suffix(prefix, ".expected.safetensors")).unwrap();
    check(&format!("{name} (CLI)"), &got, &expected);
}

#[test]
fn an_unknown_adapter_is_bad_input() {
    let prefix = &fixtures()[0];
    let o = common::tessera()
        .arg("eval")
        .arg("--checkpoint")
        .arg(with_suffix(prefix, ".ckpt.safetensors"))
        .arg("--input")
        .arg(with_suffix(prefix, ".batch.safetensors"))
        .args(["--out", "/nonexistent/never-written.safetensors"])
        .args(["--backend", "wgpu", "--adapter", "no-such-adapter-xyz"])
        .output()
        .expect("the tessera binary runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    // Exit 2 naming the adapter when adapters exist; without any adapter wgpu cannot be
    // opened at all (exit 1), which the message says.
    assert!(!o.status.success(), "{stderr}");
    assert!(
        stderr.contains("no-such-adapter-xyz") || stderr.contains("no GPU adapter"),
        "{stderr}"
    );
}

/// `values` with the key third of an attention's qkv bias left out. Its gradient is zero in
/// exact arithmetic (softmax ignores a shift shared by all keys), so what each backend computes
/// is rounding noise, which AdamW's g / (|g| + eps) turns into full-size steps of either sign.
fn without_key_bias(name: &str, values: &[f32]) -> Vec<f32> {
    if !name.ends_with("attn.qkv.bias") {
        return values.to_vec();
    }
    let d = values.len() / 3;
    [&values[..d], &values[2 * d..]].concat()
}

/// Three AdamW training steps of each family's official fixture model on both backends with
/// the same masks and learning rates: every loss (the later ones depend on the updates) and
/// every parameter afterwards agree within 1e-4 (key biases aside, see [`without_key_bias`]).
#[test]
fn training_steps_on_wgpu_match_the_cpu() {
    let Some(mut device) = wgpu_device() else {
        return;
    };
    for prefix in [&fixtures()[0], &hivit_fixtures()[0], &um_vit_fixtures()[0]] {
        training_steps_match(prefix, &mut device);
    }
}

fn training_steps_match(prefix: &std::path::Path, device: &mut Device) {
    let f = load(prefix);
    let (model, params, n) = (f.ckpt.model(), &f.ckpt.params, f.inputs.shape.batch);
    let adam = AdamWConfig::mae_pretrain(0.05);
    let mut cpu =
        TrainStep::new(model.as_ref(), n, params, adam.clone(), &mut Device::Cpu).unwrap();
    let mut gpu = TrainStep::new(model.as_ref(), n, params, adam, device).unwrap();
    for (t, lr) in [1e-3, 5e-4, 2e-3].into_iter().enumerate() {
        let a = cpu.step(&f.inputs, lr).unwrap();
        let b = gpu.step(&f.inputs, lr).unwrap();
        let e = ((b - a) / a).abs();
        assert!(
            e < 1e-4,
            "{}: step {t}: loss {b} on wgpu vs {a} on cpu (rel {e:e})",
            f.name
        );
    }
    let (pc, pg) = (cpu.params().unwrap(), gpu.params().unwrap());
    for ((spec, a), b) in pc.specs.iter().zip(&pc.values).zip(&pg.values) {
        let (a, b) = (
            without_key_bias(&spec.name, a),
            without_key_bias(&spec.name, b),
        );
        let e = rel_err(&b, &a);
        assert!(
            e < 1e-4,
            "{}: {}: rel err {e:e} after 3 steps",
            f.name,
            spec.name
        );
    }
    let (mc, mg) = (cpu.moments().unwrap(), gpu.moments().unwrap());
    for (a, b) in mc.iter().zip(&mg) {
        let e = rel_err(&b.exp_avg, &a.exp_avg).max(rel_err(&b.exp_avg_sq, &a.exp_avg_sq));
        assert!(e < 1e-3, "{}: {}: moments rel err {e:e}", f.name, a.name);
    }
}
