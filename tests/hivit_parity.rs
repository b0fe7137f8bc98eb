//! Parity of tessera's HiViT MAE with the official PyTorch code (zhangxiaosong18/hivit) on the
//! CPU backend, and its checkpoint contract (the official names, the trainable position
//! embedding, the constructor's arguments in the metadata, what is refused).
//!
//! Fixtures: `tests/fixtures/hivit/` (the official reference) and `tests/fixtures/hivit-extra/`
//! (made by `scripts/make_hivit_fixture.py` from the official code).

use tessera::dsl::spec::{HiVitSpec, MaskSpec, ModelSpec};
use tessera::dsl::Ratio;
use tessera::models::checkpoint::{self, CheckpointError};
use tessera::models::params::init_params;
use tessera::models::tensors::{write_atomic, TensorFile};
use tessera::models::ModelError;
use tessera::runtime::backend::Device;

mod common;
use common::fixtures::{as_file, check, hivit_fixtures, load, run, with_suffix};

fn check_fixture(prefix: &std::path::Path) {
    let f = load(prefix);
    let out = run(&f, &mut Device::Cpu);
    check(&f.name, &as_file(&f.name, out), &f.expected);
}

#[test]
fn official_fixture_matches() {
    check_fixture(&hivit_fixtures()[0]);
}

#[test]
fn extra_official_fixtures_match() {
    for prefix in &hivit_fixtures()[1..] {
        check_fixture(prefix);
    }
}

fn spec_of(prefix: &std::path::Path) -> HiVitSpec {
    let c = checkpoint::load(&with_suffix(prefix, ".ckpt.safetensors"), None).unwrap();
    let ModelSpec::HiVit(s) = c.spec else {
        panic!("{}: not read as a HiViT", prefix.display())
    };
    s
}

#[test]
fn the_official_config_is_read_as_the_official_constructor_builds_it() {
    let f = hivit_fixtures();
    // `layer_norm_eps` and the forward pass's `mask_ratio` inside the JSON.
    let s = spec_of(&f[0]);
    assert_eq!(s.layer_norm_eps, 1e-6);
    assert_eq!(
        s.mask,
        MaskSpec::Random {
            ratio: Ratio::of(3, 4)
        }
    );
    assert_eq!((s.main.dim, s.main.depth, s.inner_patches), (64, 2, 4));
    assert!(s.hifeat && s.ape && !s.rpe && s.patch_norm && s.qkv_bias);
    // `layer_norm_eps` as its own metadata entry; the constructor's default 1e-5 without.
    assert_eq!(spec_of(&f[1]).layer_norm_eps, 1e-6);
    let plain = spec_of(&f[2]);
    assert_eq!(plain.layer_norm_eps, 1e-5);
    assert!(!plain.hifeat && !plain.qkv_bias && !plain.patch_norm);
}

fn scratch(name: &str) -> common::Scratch {
    common::Scratch::path("hivit", name)
}

#[test]
fn the_position_embedding_is_trainable_and_read_from_the_checkpoint() {
    let f = load(&hivit_fixtures()[0]);
    let spec = |name: &str| {
        f.ckpt
            .params
            .specs
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .clone()
    };
    assert!(spec("absolute_pos_embed").trainable);
    assert!(!spec("decoder_pos_embed").trainable);
    // The fixture's table is the sin-cos table moved by noise: loading keeps the moved values.
    let model = f.ckpt.model();
    let fresh = init_params(model.params(), 0);
    let (ours, theirs) = (
        fresh.get("absolute_pos_embed").unwrap(),
        f.ckpt.params.get("absolute_pos_embed").unwrap(),
    );
    let moved = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(moved > 1e-3 && moved < 0.2, "moved by {moved}");
    assert!(f.expected.get("grad.absolute_pos_embed").is_some());
    // The frozen decoder table must still be the official one.
    let src = with_suffix(&hivit_fixtures()[0], ".ckpt.safetensors");
    let file = TensorFile::read(&src).unwrap();
    let mut tensors = file.tensors.clone();
    let (_, t) = tensors
        .iter_mut()
        .find(|(n, _)| n == "decoder_pos_embed")
        .unwrap();
    t.data[40] += 0.01;
    let path = scratch("table.safetensors");
    write_atomic(&path, &tensors, &file.metadata).unwrap();
    let err = checkpoint::load(&path, None).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::Table { name, .. } if name == "decoder_pos_embed"),
        "{err}"
    );
}

#[test]
fn rpe_and_secondary_masking_are_refused_with_one_line() {
    let base = spec_of(&hivit_fixtures()[0]);
    let rpe = HiVitSpec { rpe: true, ..base };
    let Err(ModelError::Unsupported(msg)) = tessera::models::build(&ModelSpec::HiVit(rpe)) else {
        panic!("rpe builds")
    };
    assert!(msg.contains("rpe"), "{msg}");
    let secondary = HiVitSpec {
        mask: MaskSpec::Uniform {
            ratio: Ratio::of(3, 4),
            secondary: Some(Ratio::of(1, 4)),
        },
        ..base
    };
    assert!(matches!(
        tessera::models::build(&ModelSpec::HiVit(secondary)),
        Err(ModelError::Unsupported(_))
    ));
    // A config without `rpe` takes the constructor's default (true), so it is refused too.
    let src = with_suffix(&hivit_fixtures()[0], ".ckpt.safetensors");
    let mut file = TensorFile::read(&src).unwrap();
    let config = file.metadata["config"].replace("\"rpe\": false, ", "");
    assert!(!config.contains("rpe"));
    file.metadata.insert("config".into(), config);
    let path = scratch("rpe-default.safetensors");
    write_atomic(&path, &file.tensors, &file.metadata).unwrap();
    let err = checkpoint::load(&path, None).unwrap_err();
    assert!(err.to_string().contains("rpe = true"), "{err}");
}

#[test]
fn saved_checkpoints_carry_the_official_constructor_arguments() {
    let spec = tessera::dsl::presets::by_name("hivit_tiny_32").unwrap();
    let model = tessera::models::build(&spec).unwrap();
    let params = init_params(model.params(), 3);
    let path = scratch("roundtrip.safetensors");
    checkpoint::save(&path, model.as_ref(), &params).unwrap();
    let back = checkpoint::load(&path, None).unwrap();
    assert_eq!((back.spec, &back.params), (spec, &params));
    let f = TensorFile::read(&path).unwrap();
    let config: serde_json::Value = serde_json::from_str(&f.metadata["config"]).unwrap();
    assert_eq!(config["depths"], serde_json::json!([1, 1, 2]));
    assert_eq!(config["hifeat"], true);
    assert_eq!(config["rpe"], false);
    assert_eq!(f.metadata["layer_norm_eps"], "1e-6");
    // Names and shapes are the official fixture's (same configuration).
    let official =
        TensorFile::read(&with_suffix(&hivit_fixtures()[0], ".ckpt.safetensors")).unwrap();
    let shapes = |f: &TensorFile| {
        let mut v: Vec<(String, Vec<usize>)> = f
            .tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.shape.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(shapes(&f), shapes(&official));
    // Read from the official arguments alone (no `spec`), it is the same model.
    let mut meta = f.metadata.clone();
    meta.remove("spec");
    let path2 = scratch("config-only.safetensors");
    write_atomic(&path2, &f.tensors, &meta).unwrap();
    assert_eq!(checkpoint::load(&path2, None).unwrap().spec, spec);
}
