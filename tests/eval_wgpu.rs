//! The MAE on the wgpu backend: `evaluate` on every official fixture against the official
//! numbers (the CPU parity test's tolerances), `tessera eval --backend wgpu` from the outside,
//! and whole training steps (forward, backward, AdamW) against the CPU backend.
//!
//! Without an adapter these tests print SKIPPED and pass, unless `TESSERA_REQUIRE_GPU=1`
//! (CI, on lavapipe).
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tessera::dsl::graph::AdamWConfig;
use tessera::models::checkpoint;
use tessera::models::mae::eval::{evaluate_on, EvalBatch};
use tessera::models::mae::train::TrainStep;
use tessera::models::tensors::TensorFile;
use tessera::runtime::backend::Device;
use tessera::runtime::gpu::{require_gpu, GpuBackend};

/// Every fixture prefix: the shared official one and the extra configurations.
fn fixtures() -> Vec<PathBuf> {
    let root = common::repo_root().join("tests/fixtures");
    let mut out = vec![root.join("mae-official/mae_public")];
    for name in [
        "mae_c3_p4_r06",
        "mae_c1_p7_normpix",
        "mae_c2_p6_eps6",
        "mae_r1_all_masked",
    ] {
        out.push(root.join("mae-extra").join(name));
    }
    out
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// `‖a − b‖ / ‖b‖` in f64 (absolute when `b` is zero); NaN anywhere gives infinity.
fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    if a.iter().chain(b).any(|x| !x.is_finite()) {
        return f64::INFINITY;
    }
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    let den: f64 = b.iter().map(|&y| (y as f64).powi(2)).sum();
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

fn wgpu_device() -> Option<Device> {
    let ctx = require_gpu()?;
    Some(Device::Wgpu(GpuBackend::with_context(Arc::new(ctx))))
}

/// loss, pred and mask within 1e-4 and every gradient within 1e-3 of the official numbers.
fn check_expected(name: &str, got: &TensorFile, expected: &TensorFile, grads: bool) {
    let exp = |n: &str| expected.get(n).unwrap_or_else(|| panic!("{name}: no {n}"));
    let got_t = |n: &str| {
        got.get(n)
            .unwrap_or_else(|| panic!("{name}: no {n} in output"))
    };
    assert_eq!(got_t("mask").data, exp("mask").data, "{name}: mask");
    for t in ["loss", "pred"] {
        assert_eq!(got_t(t).shape, exp(t).shape, "{name}: {t} shape");
        let e = rel_err(&got_t(t).data, &exp(t).data);
        assert!(e < 1e-4, "{name}: {t} rel err {e:e}");
    }
    if !grads {
        return;
    }
    let mut worst = (0.0f64, "");
    let grads = expected
        .tensors
        .iter()
        .filter(|(k, _)| k.starts_with("grad."));
    for (key, want) in grads {
        let g = got_t(key);
        assert_eq!(g.shape, want.shape, "{name}: {key} shape");
        let e = rel_err(&g.data, &want.data);
        assert!(e < 1e-3, "{name}: {key} rel err {e:e}");
        if e >= worst.0 {
            worst = (e, key);
        }
    }
    assert!(!worst.1.is_empty(), "{name}: the fixture has no gradients");
    eprintln!(
        "{name}: loss, pred within 1e-4; worst gradient {} at {:e}",
        worst.1, worst.0
    );
}

#[test]
fn evaluate_on_wgpu_matches_every_official_fixture() {
    let Some(mut device) = wgpu_device() else {
        return;
    };
    for prefix in fixtures() {
        let name = prefix.file_name().unwrap().to_string_lossy().into_owned();
        let ckpt = checkpoint::load(&with_suffix(&prefix, ".ckpt.safetensors"), None).unwrap();
        let batch_file = TensorFile::read(&with_suffix(&prefix, ".batch.safetensors")).unwrap();
        let batch = EvalBatch::from_file(&batch_file, &ckpt.config, &ckpt.dims).unwrap();
        let expected = TensorFile::read(&with_suffix(&prefix, ".expected.safetensors")).unwrap();
        let out = evaluate_on(&ckpt, &batch, true, &mut device)
            .unwrap_or_else(|e| panic!("{name} on {}: {e}", device.name()));
        // The same checks as the CPU parity test, through the file format of `tessera eval`.
        let mut tensors = vec![
            (
                "loss".to_string(),
                tessera::models::tensors::Tensor::scalar(out.loss),
            ),
            ("pred".to_string(), out.pred),
            ("mask".to_string(), out.mask),
        ];
        for (n, g) in out.grads {
            tensors.push((format!("grad.{n}"), g));
        }
        let got = TensorFile {
            path: PathBuf::from(&name),
            tensors,
            metadata: Default::default(),
        };
        check_expected(&name, &got, &expected, true);
    }
}

#[test]
fn tessera_eval_backend_wgpu_reproduces_the_official_numbers() {
    // Checked here (not inside the child) so that a missing adapter skips like the others.
    if require_gpu().is_none() {
        return;
    }
    let prefix = &fixtures()[0];
    let out = std::env::temp_dir().join(format!(
        "tessera-eval-wgpu-{}.safetensors",
        std::process::id()
    ));
    let o = common::tessera()
        .arg("eval")
        .arg("--checkpoint")
        .arg(with_suffix(prefix, ".ckpt.safetensors"))
        .arg("--batch")
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
    let got = TensorFile::read(&out).unwrap();
    let expected = TensorFile::read(&with_suffix(prefix, ".expected.safetensors")).unwrap();
    check_expected("mae_public (CLI)", &got, &expected, true);
    let _ = std::fs::remove_file(&out);
}

#[test]
fn an_unknown_adapter_is_bad_input() {
    let prefix = &fixtures()[0];
    let o = common::tessera()
        .arg("eval")
        .arg("--checkpoint")
        .arg(with_suffix(prefix, ".ckpt.safetensors"))
        .arg("--batch")
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

/// Three AdamW training steps of the official fixture's model on both backends with the same
/// masks and learning rates: every loss (the later ones depend on the updates) and every
/// parameter afterwards agree within 1e-4 (key biases aside, see [`without_key_bias`]).
#[test]
fn training_steps_on_wgpu_match_the_cpu() {
    let Some(mut device) = wgpu_device() else {
        return;
    };
    let prefix = &fixtures()[0];
    let ckpt = checkpoint::load(&with_suffix(prefix, ".ckpt.safetensors"), None).unwrap();
    let batch_file = TensorFile::read(&with_suffix(prefix, ".batch.safetensors")).unwrap();
    let batch = EvalBatch::from_file(&batch_file, &ckpt.config, &ckpt.dims).unwrap();
    let mask = batch.mask(&ckpt.dims).unwrap();
    let (cfg, dims, n) = (&ckpt.config, &ckpt.dims, batch.batch());
    let adam = AdamWConfig::mae_pretrain(0.05);
    let mut cpu = TrainStep::new(cfg, dims, n, mask.len_keep, &ckpt.params, adam.clone()).unwrap();
    let mut gpu =
        TrainStep::new_on(cfg, dims, n, mask.len_keep, &ckpt.params, adam, &mut device).unwrap();
    for (t, lr) in [1e-3, 5e-4, 2e-3].into_iter().enumerate() {
        let a = cpu.step(&batch.imgs.data, &mask, lr).unwrap();
        let b = gpu.step(&batch.imgs.data, &mask, lr).unwrap();
        let e = ((b - a) / a).abs();
        assert!(
            e < 1e-4,
            "step {t}: loss {b} on wgpu vs {a} on cpu (rel {e:e})"
        );
    }
    let (pc, pg) = (cpu.params().unwrap(), gpu.params().unwrap());
    for ((spec, a), b) in pc.specs.iter().zip(&pc.values).zip(&pg.values) {
        let (a, b) = (
            without_key_bias(&spec.name, a),
            without_key_bias(&spec.name, b),
        );
        let e = rel_err(&b, &a);
        assert!(e < 1e-4, "{}: rel err {e:e} after 3 steps", spec.name);
    }
    let (mc, mg) = (cpu.moments().unwrap(), gpu.moments().unwrap());
    for (a, b) in mc.iter().zip(&mg) {
        let e = rel_err(&b.exp_avg, &a.exp_avg).max(rel_err(&b.exp_avg_sq, &a.exp_avg_sq));
        assert!(e < 1e-3, "{}: moments rel err {e:e}", a.name);
    }
}
