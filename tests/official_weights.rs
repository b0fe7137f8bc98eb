//! Official PyTorch checkpoints from the outside, without torch: `.pth` files written by
//! `torch.save` in the official layouts (`scripts/make_pth_fixture.py` made them from the
//! official-code fixture `mae_c3_p4_r06`): the pre-training checkpoint with optimizer, scaler
//! and args beside `model`, and an encoder-only file like the released pre-trained weights.
//! `convert` writes safetensors equal to the fixture bit for bit, with the architecture in the
//! metadata; `eval` on the `.pth` reproduces the official numbers; `probe` and `pretrain --init`
//! take the encoder-only file, `reconstruct` refuses it saying why; a bare state dict of a
//! preset is recognised by its tensors.
mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use tessera::models::checkpoint;
use tessera::models::params::init_params;
use tessera::models::tensors::{write_atomic, TensorFile};

fn fixtures() -> PathBuf {
    common::repo_root().join("tests/fixtures")
}

fn pth(name: &str) -> String {
    fixtures().join("pth").join(name).display().to_string()
}

fn spec() -> String {
    pth("mae_c3_p4_r06.toml")
}

fn official(kind: &str) -> PathBuf {
    fixtures().join(format!("mae-extra/mae_c3_p4_r06.{kind}.safetensors"))
}

fn scratch(name: &str) -> common::Scratch {
    common::Scratch::path("official-weights", name)
}

fn tessera(args: &[&str]) -> Output {
    common::tessera().args(args).output().unwrap()
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

/// Every tensor as (name, shape, bit patterns), sorted by name.
fn bits(path: &Path) -> Vec<(String, Vec<usize>, Vec<u32>)> {
    let f = TensorFile::read(path).unwrap();
    let mut v: Vec<_> = f
        .tensors
        .into_iter()
        .map(|(n, t)| (n, t.shape, t.data.iter().map(|x| x.to_bits()).collect()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn convert_writes_the_official_tensors_and_the_architecture() {
    let out = scratch("converted.safetensors");
    let text = ok(&tessera(&[
        "convert",
        &pth("mae_c3_p4_r06.pth"),
        "--config",
        &spec(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(text.contains("62 tensors"), "{text}");
    assert_eq!(bits(&out), bits(&official("ckpt")));
    // The official constructor's arguments, as the official fixture records them.
    let config = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&TensorFile::read(p).unwrap().metadata["config"]).unwrap()
    };
    assert_eq!(config(&out), config(&official("ckpt")));
    // The converted file needs no --config any more.
    let ckpt = checkpoint::load(&out, None).unwrap();
    assert_eq!(ckpt.params.specs.len(), 62);

    // Without an architecture the tensors are still written, and the user is told.
    let raw = scratch("raw.safetensors");
    let text = ok(&tessera(&[
        "convert",
        &pth("mae_c3_p4_r06.pth"),
        "--out",
        raw.to_str().unwrap(),
    ]));
    assert!(text.contains("WITHOUT architecture metadata"), "{text}");
    assert_eq!(bits(&raw), bits(&official("ckpt")));
}

#[test]
fn eval_on_the_pth_reproduces_the_official_numbers() {
    let out = scratch("eval.safetensors");
    let text = ok(&tessera(&[
        "eval",
        "--checkpoint",
        &pth("mae_c3_p4_r06.pth"),
        "--config",
        &spec(),
        "--input",
        official("batch").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--grads",
    ]));
    let got = TensorFile::read(&out).unwrap();
    let expected = TensorFile::read(&official("expected")).unwrap();
    common::fixtures::check("mae_c3_p4_r06 from .pth", &got, &expected);
    assert!(text.contains("1.55527"), "{text}");
}

#[test]
fn the_encoder_only_file_probes_and_initializes_but_cannot_reconstruct() {
    let encoder = pth("mae_c3_p4_r06.encoder.pth");
    let out = tessera(&[
        "probe",
        "--checkpoint",
        &encoder,
        "--config",
        &spec(),
        "--limit",
        "100",
        "--limit-test",
        "50",
    ]);
    let text = ok(&out);
    let json: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    // Ten classes; a 24-wide random-ish encoder still beats chance.
    assert!(json["top1"].as_f64().unwrap() > 0.15, "{text}");

    let png = scratch("r.png");
    let out = tessera(&[
        "reconstruct",
        "--checkpoint",
        &encoder,
        "--config",
        &spec(),
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mask_token") && err.contains("no decoder"),
        "{err}"
    );

    // Pre-training from it: the encoder starts from the file, the decoder fresh, and with a
    // learning rate of 1e-12 one step leaves the encoder where the file put it.
    let run = scratch("init-run");
    let text = ok(&tessera(&[
        "pretrain",
        "--init",
        &encoder,
        "--config",
        &spec(),
        "--limit",
        "32",
        "--batch",
        "16",
        "--lr",
        "1e-12",
        "--warmup-steps",
        "0",
        "--stop-after",
        "1",
        "--out",
        run.to_str().unwrap(),
    ]));
    assert!(
        text.contains("initialized from") && text.contains("32 initialized as a new run's"),
        "{text}"
    );
    let trained = TensorFile::read(&run.join("last.safetensors")).unwrap();
    let source = TensorFile::read(&official("ckpt")).unwrap();
    for name in [
        "patch_embed.proj.weight",
        "blocks.1.mlp.fc2.weight",
        "norm.bias",
    ] {
        let (a, b) = (
            &trained.get(name).unwrap().data,
            &source.get(name).unwrap().data,
        );
        let worst = a
            .iter()
            .zip(b.iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "{name} moved by {worst}");
    }
    // The decoder is not the file's (it has none) but a fresh initialization.
    assert!(trained.get("decoder_pred.weight").is_some());
}

#[test]
fn a_bare_state_dict_of_a_preset_is_recognised() {
    let model =
        tessera::models::build(&tessera::dsl::presets::by_name("mae_fmnist_small").unwrap())
            .unwrap();
    let params = init_params(model.params(), 3);
    let bare = scratch("bare.safetensors");
    write_atomic(&bare, &params.to_tensors(), &Default::default()).unwrap();
    let out = scratch("named.safetensors");
    let text = ok(&tessera(&[
        "convert",
        bare.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(text.contains("recognised mae_fmnist_small"), "{text}");
    let ckpt = checkpoint::load(&out, None).unwrap();
    assert_eq!(ckpt.spec, model.spec());
}
