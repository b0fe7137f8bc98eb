//! `tessera eval` from the outside: the binary on official fixtures (outputs against the official
//! numbers), its stdout JSON, and exit status 2 with a message naming the problem for bad input.
mod common;

use std::path::PathBuf;
use std::process::Output;

use tessera::models::tensors::{write_atomic, Tensor, TensorFile};

fn fixture(prefix: &str, kind: &str) -> PathBuf {
    common::repo_root()
        .join("tests/fixtures")
        .join(format!("{prefix}.{kind}.safetensors"))
}

fn scratch(name: &str) -> common::Scratch {
    common::Scratch::path("eval-cli", name)
}

fn eval(args: &[&str]) -> Output {
    common::tessera()
        .arg("eval")
        .args(args)
        .output()
        .expect("the tessera binary runs")
}

fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    let den: f64 = b.iter().map(|&y| (y as f64).powi(2)).sum();
    if a.iter().any(|x| !x.is_finite()) {
        return f64::INFINITY;
    }
    (num / den).sqrt()
}

fn run_fixture(prefix: &str, grads: bool) -> (TensorFile, TensorFile, String) {
    let out = scratch(&format!(
        "{}-{grads}.out.safetensors",
        prefix.replace('/', "_")
    ));
    let ckpt = fixture(prefix, "ckpt");
    let batch = fixture(prefix, "batch");
    let mut args = vec![
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--input",
        batch.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
    ];
    if grads {
        args.push("--grads");
    }
    let o = eval(&args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "tessera eval failed: {stderr}");
    let got = TensorFile::read(&out).unwrap();
    let expected = TensorFile::read(&fixture(prefix, "expected")).unwrap();
    (got, expected, String::from_utf8(o.stdout).unwrap())
}

#[test]
fn eval_with_grads_reproduces_the_official_numbers() {
    for prefix in ["mae-official/mae_public", "mae-extra/mae_c1_p7_normpix"] {
        let (got, exp, stdout) = run_fixture(prefix, true);
        let loss = got.require("loss").unwrap();
        assert_eq!(loss.shape, [1]);
        assert!(rel_err(&loss.data, &exp.require("loss").unwrap().data) < 1e-4);
        // stdout is one JSON object with the same loss.
        let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(json["loss"].as_f64().unwrap() as f32, loss.data[0]);
        assert_eq!(got.require("mask").unwrap(), exp.require("mask").unwrap());
        let pred = got.require("pred").unwrap();
        assert_eq!(pred.shape, exp.require("pred").unwrap().shape);
        assert!(rel_err(&pred.data, &exp.require("pred").unwrap().data) < 1e-4);
        let mut names: Vec<&str> = got.tensors.iter().map(|(n, _)| n.as_str()).collect();
        let mut want: Vec<&str> = exp.tensors.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        want.sort_unstable();
        assert_eq!(names, want, "{prefix}: output tensors");
        for (name, t) in exp.tensors.iter().filter(|(n, _)| n.starts_with("grad.")) {
            let g = got.require(name).unwrap();
            assert_eq!(g.shape, t.shape, "{name}");
            assert!(rel_err(&g.data, &t.data) < 1e-3, "{prefix}: {name}");
        }
    }
}

#[test]
fn eval_without_grads_writes_loss_pred_and_mask_only() {
    let (got, exp, _) = run_fixture("mae-extra/mae_c3_p4_r06", false);
    let mut names: Vec<&str> = got.tensors.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["loss", "mask", "pred"]);
    assert!(
        rel_err(
            &got.require("loss").unwrap().data,
            &exp.require("loss").unwrap().data
        ) < 1e-4
    );
}

fn assert_bad_input(o: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "stderr lacks {n:?}: {stderr}");
    }
}

#[test]
fn bad_input_exits_2_and_names_the_problem() {
    let ckpt = fixture("mae-official/mae_public", "ckpt");
    let batch = fixture("mae-official/mae_public", "batch");
    let out = scratch("bad.out.safetensors");
    let (c, b, o) = (
        ckpt.to_str().unwrap(),
        batch.to_str().unwrap(),
        out.to_str().unwrap(),
    );

    // A batch without noise.
    let f = TensorFile::read(&batch).unwrap();
    let no_noise: Vec<(String, Tensor)> = f
        .tensors
        .iter()
        .filter(|(n, _)| n != "noise")
        .cloned()
        .collect();
    let nb = scratch("no-noise.safetensors");
    write_atomic(&nb, &no_noise, &Default::default()).unwrap();
    let r = eval(&[
        "--checkpoint",
        c,
        "--input",
        nb.to_str().unwrap(),
        "--out",
        o,
    ]);
    assert_bad_input(&r, &["noise", "missing"]);

    // Images of the wrong size for this model (32 px, 3 channels).
    let mut wrong = f.tensors.clone();
    for (n, t) in &mut wrong {
        if n == "imgs" {
            *t = Tensor::new(vec![2, 3, 16, 16], t.data[..2 * 3 * 256].to_vec()).unwrap();
        }
    }
    let wb = scratch("wrong-size.safetensors");
    write_atomic(&wb, &wrong, &Default::default()).unwrap();
    let r = eval(&[
        "--checkpoint",
        c,
        "--input",
        wb.to_str().unwrap(),
        "--out",
        o,
    ]);
    assert_bad_input(&r, &["imgs", "[2, 3, 16, 16]", "[N, 3, 32, 32]"]);

    // A checkpoint without `config` metadata and no --model; then a wrong --model.
    let cf = TensorFile::read(&ckpt).unwrap();
    let bare = scratch("bare.safetensors");
    write_atomic(&bare, &cf.tensors, &Default::default()).unwrap();
    let bare = bare.to_str().unwrap();
    let r = eval(&["--checkpoint", bare, "--input", b, "--out", o]);
    assert_bad_input(&r, &["config", "--model"]);
    let r = eval(&[
        "--checkpoint",
        bare,
        "--input",
        b,
        "--out",
        o,
        "--model",
        "mae_tiny_32",
    ]);
    assert_bad_input(&r, &["cls_token", "[1, 1, 192]", "[1, 1, 48]"]);
    let r = eval(&[
        "--checkpoint",
        bare,
        "--input",
        b,
        "--out",
        o,
        "--model",
        "vit_b",
    ]);
    assert_bad_input(&r, &["vit_b", "mae_vit_base_patch16"]);

    // A mask ratio outside [0, 1].
    let mut ratio = f.tensors.clone();
    for (n, t) in &mut ratio {
        if n == "mask_ratio" {
            t.data[0] = 1.5;
        }
    }
    let rb = scratch("ratio.safetensors");
    write_atomic(&rb, &ratio, &Default::default()).unwrap();
    let r = eval(&[
        "--checkpoint",
        c,
        "--input",
        rb.to_str().unwrap(),
        "--out",
        o,
    ]);
    assert_bad_input(&r, &["mask_ratio", "1.5"]);

    assert!(!out.exists(), "no output is written for bad input");
}
