//! The official fixtures of every family tessera builds (MAE, HiViT, UM-MAE on ViT) and how a
//! result is compared with them: loss, prediction and mask within 1e-4, every gradient within
//! 1e-3, relative to the official numbers.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tessera::models::checkpoint::{self, Checkpoint};
use tessera::models::eval::{evaluate, EvalOutput};
use tessera::models::model::StepInputs;
use tessera::models::tensors::{Tensor, TensorFile};
use tessera::runtime::backend::Device;
use tessera::runtime::gpu::{require_gpu, GpuBackend};

/// One family's fixture prefixes: the official one (`tests/fixtures/{official}`) first, then the
/// extra configurations its generator script made from the official code
/// (`tests/fixtures/{extra_dir}/{name}`).
fn family(official: &str, extra_dir: &str, extras: &[&str]) -> Vec<PathBuf> {
    let root = super::repo_root().join("tests/fixtures");
    let mut out = vec![root.join(official)];
    out.extend(extras.iter().map(|name| root.join(extra_dir).join(name)));
    out
}

/// MAE's (`scripts/make_mae_fixture.py` made the extra ones).
pub fn fixtures() -> Vec<PathBuf> {
    family(
        "mae-official/mae_public",
        "mae-extra",
        &[
            "mae_c3_p4_r06",
            "mae_c1_p7_normpix",
            "mae_c2_p6_eps6",
            "mae_r1_all_masked",
        ],
    )
}

/// HiViT's (`scripts/make_hivit_fixture.py` made the extra ones).
pub fn hivit_fixtures() -> Vec<PathBuf> {
    family(
        "hivit/hivit_public",
        "hivit-extra",
        &["hivit_c1_p4_r06", "hivit_nohifeat_noqkvbias"],
    )
}

/// UM-MAE on ViT's (`scripts/make_um_vit_fixture.py` made the extra ones).
pub fn um_vit_fixtures() -> Vec<PathBuf> {
    family(
        "um-mae-vit/um_mae_vit_public",
        "um-mae-vit-extra",
        &["um_vit_c1_p4_vmr05", "um_vit_novis_eps5"],
    )
}

/// Every family's fixtures.
pub fn all_fixtures() -> Vec<PathBuf> {
    let mut out = fixtures();
    out.extend(hivit_fixtures());
    out.extend(um_vit_fixtures());
    out
}

pub fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// `‖a − b‖ / ‖b‖` in f64; NaN anywhere gives infinity (NaN never passes); an exactly zero
/// reference gives the absolute `‖a‖`.
pub fn rel_err(a: &[f32], b: &[f32]) -> f64 {
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
        return num.sqrt();
    }
    (num / den).sqrt()
}

/// A fixture's checkpoint, its batch as the model's inputs, and the official results.
pub struct Fixture {
    pub name: String,
    pub ckpt: Checkpoint,
    pub inputs: StepInputs,
    pub expected: TensorFile,
}

pub fn load(prefix: &Path) -> Fixture {
    let name = prefix.file_name().unwrap().to_string_lossy().into_owned();
    let ckpt = checkpoint::load(&with_suffix(prefix, ".ckpt.safetensors"), None).unwrap();
    let batch = TensorFile::read(&with_suffix(prefix, ".batch.safetensors")).unwrap();
    let inputs = ckpt.model().eval_inputs(&batch).unwrap();
    let expected = TensorFile::read(&with_suffix(prefix, ".expected.safetensors")).unwrap();
    Fixture {
        name,
        ckpt,
        inputs,
        expected,
    }
}

/// The fixture through `evaluate` with gradients, on `device`.
pub fn run(f: &Fixture, device: &mut Device) -> EvalOutput {
    let model = f.ckpt.model();
    evaluate(model.as_ref(), &f.ckpt.params, &f.inputs, true, device)
        .unwrap_or_else(|e| panic!("{} on {}: {e}", f.name, device.name()))
}

/// The fixture evaluated on `device` and [`check`]ed against the official numbers.
pub fn matches_on(f: &Fixture, device: &mut Device) -> (f64, String) {
    let out = run(f, device);
    check(&f.name, &as_file(&f.name, out), &f.expected)
}

/// A wgpu device on the adapter the tests use, or `None` where there is none (and none is
/// required): the wgpu tests then pass as skipped.
pub fn wgpu_device() -> Option<Device> {
    require_gpu().map(|ctx| Device::Wgpu(GpuBackend::with_context(Arc::new(ctx))))
}

/// An evaluation's results in the file layout of `tessera eval`.
pub fn as_file(name: &str, out: EvalOutput) -> TensorFile {
    let mut tensors = vec![
        ("loss".to_string(), Tensor::scalar(out.loss)),
        ("pred".to_string(), out.pred),
        ("mask".to_string(), out.mask),
    ];
    for (n, g) in out.grads {
        tensors.push((format!("grad.{n}"), g));
    }
    TensorFile {
        path: PathBuf::from(name),
        tensors,
        metadata: Default::default(),
    }
}

/// loss, pred and mask within 1e-4 and every gradient within 1e-3 of the official numbers;
/// the gradients must be exactly the official set. Returns the worst gradient.
pub fn check(name: &str, got: &TensorFile, expected: &TensorFile) -> (f64, String) {
    let exp = |n: &str| expected.get(n).unwrap_or_else(|| panic!("{name}: no {n}"));
    let got_t = |n: &str| {
        got.get(n)
            .unwrap_or_else(|| panic!("{name}: no {n} in output"))
    };
    assert_eq!(got_t("mask").data, exp("mask").data, "{name}: mask");
    assert_eq!(got_t("mask").shape, exp("mask").shape, "{name}: mask shape");
    for t in ["loss", "pred"] {
        assert_eq!(got_t(t).shape, exp(t).shape, "{name}: {t} shape");
        let e = rel_err(&got_t(t).data, &exp(t).data);
        assert!(e < 1e-4, "{name}: {t} rel err {e:e}");
    }
    let names = |f: &TensorFile| -> Vec<String> {
        let mut v: Vec<String> = f
            .tensors
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| n.starts_with("grad."))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(got), names(expected), "{name}: set of gradients");
    // Some gradients vanish in exact arithmetic (a bias added to every score of a softmax row,
    // as UM-MAE's position MLP output bias; a softmax over one key): the reference then holds
    // float64 rounding noise (~1e-20) and ours float32 noise (~1e-11), and a relative error
    // means nothing. Those are held to an absolute bound relative to the largest gradient.
    let norm = |v: &[f32]| v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    let scale = names(expected)
        .iter()
        .map(|k| norm(&exp(k).data))
        .fold(0.0, f64::max);
    let mut worst = (0.0f64, String::new());
    for key in names(expected) {
        let (g, want) = (got_t(&key), exp(&key));
        assert_eq!(g.shape, want.shape, "{name}: {key} shape");
        if norm(&want.data) < 1e-7 * scale {
            let n = norm(&g.data);
            assert!(
                n < 1e-6 * scale,
                "{name}: {key} vanishes, but ours has norm {n:e}"
            );
            continue;
        }
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
    worst
}
