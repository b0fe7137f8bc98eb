//! Parity of tessera's UM-MAE on a plain ViT with the official PyTorch code (implus/UM-MAE
//! `models_mae.py`) on the CPU backend: secondary masking with the official index quirk for
//! official checkpoints and the correct rule otherwise, the visible-then-masked `pred` layout
//! and its raster reordering for pictures, training masks, and the checkpoint contract.
//!
//! Fixtures: `tests/fixtures/um-mae-vit/` (the official reference) and
//! `tests/fixtures/um-mae-vit-extra/` (made by `scripts/make_um_vit_fixture.py`).

use tessera::dsl::rng::Rng;
use tessera::dsl::spec::{MaeSpec, ModelSpec, SecondaryRule};
use tessera::models::checkpoint;
use tessera::models::eval::evaluate;
use tessera::models::model::{InputValues, StepInputs};
use tessera::models::params::init_params;
use tessera::models::tensors::{write_atomic, TensorFile};
use tessera::runtime::backend::Device;

mod common;
use common::fixtures::{as_file, check, load, run, um_vit_fixtures, with_suffix, Fixture};

fn check_fixture(prefix: &std::path::Path) {
    let f = load(prefix);
    let out = run(&f, &mut Device::Cpu);
    check(&f.name, &as_file(&f.name, out), &f.expected);
}

#[test]
fn official_fixture_matches() {
    check_fixture(&um_vit_fixtures()[0]);
}

#[test]
fn extra_official_fixtures_match() {
    for prefix in &um_vit_fixtures()[1..] {
        check_fixture(prefix);
    }
}

fn mae_spec(f: &Fixture) -> MaeSpec {
    let ModelSpec::Mae(s) = f.ckpt.spec else {
        panic!("UM-MAE on ViT is the mae family")
    };
    s
}

fn u32s<'a>(inputs: &'a StepInputs, name: &str) -> &'a [u32] {
    inputs
        .u32_input(name)
        .unwrap_or_else(|| panic!("no index input {name}"))
}

fn f32s<'a>(inputs: &'a StepInputs, name: &str) -> &'a [f32] {
    inputs
        .tensors
        .iter()
        .find_map(|(n, v)| match v {
            InputValues::F32(v) if n == name => Some(&v[..]),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no input {name}"))
}

/// `[N, L]`: 1 where a visible token is replaced by `vis_mask_token`.
fn replaced_on_grid(inputs: &StepInputs, l: usize) -> Vec<f32> {
    let (n, v) = (inputs.shape.batch, inputs.shape.keep);
    let (ids, vis) = (u32s(inputs, "ids_keep"), f32s(inputs, "vis_mask"));
    let mut out = vec![0.0; n * l];
    for b in 0..n {
        for j in 0..v {
            out[b * l + ids[b * v + j] as usize] = vis[b * v + j];
        }
    }
    out
}

#[test]
fn official_checkpoints_use_the_official_quirk_and_new_specs_the_correct_rule() {
    let f = load(&um_vit_fixtures()[0]);
    let spec = mae_spec(&f);
    assert_eq!(spec.secondary_rule, SecondaryRule::OfficialVit);
    let l = f.inputs.mask.len() / f.inputs.shape.batch;
    // The replaced tokens are the fixture's `secondary_mask` (made by the official code).
    let official = replaced_on_grid(&f.inputs, l);
    assert_eq!(official, f.expected.require("secondary_mask").unwrap().data);

    // The correct rule on the same batch: replace the visible tokens with the largest noise,
    // computed here from the noise directly.
    let batch =
        TensorFile::read(&with_suffix(&um_vit_fixtures()[0], ".batch.safetensors")).unwrap();
    let noise = &batch.require("secondary_noise").unwrap().data;
    let (n, v) = (f.inputs.shape.batch, f.inputs.shape.keep);
    let real = (v as f64 * 0.75) as usize;
    let correct_spec = MaeSpec {
        secondary_rule: SecondaryRule::Smallest,
        ..spec
    };
    let model = tessera::models::build(&ModelSpec::Mae(correct_spec)).unwrap();
    let inputs = model.eval_inputs(&batch).unwrap();
    let correct = replaced_on_grid(&inputs, l);
    let ids = u32s(&inputs, "ids_keep");
    for b in 0..n {
        let row = &noise[b * v..(b + 1) * v];
        let mut order: Vec<usize> = (0..v).collect();
        order.sort_by(|&i, &j| row[i].total_cmp(&row[j]));
        for (rank, &j) in order.iter().enumerate() {
            let patch = ids[b * v + j] as usize;
            let want = if rank >= real { 1.0 } else { 0.0 };
            assert_eq!(
                correct[b * l + patch],
                want,
                "sample {b}, visible token {j}"
            );
        }
        // The two rules replace as many tokens, but not the same ones (in this fixture, in
        // every sample).
        let count = |m: &[f32]| m[b * l..(b + 1) * l].iter().sum::<f32>();
        assert_eq!(count(&correct), (v - real) as f32);
        assert_eq!(count(&official), (v - real) as f32);
        assert_ne!(
            &correct[b * l..(b + 1) * l],
            &official[b * l..(b + 1) * l],
            "sample {b}"
        );
    }
    // Different tokens replaced, a different loss.
    let out = evaluate(
        model.as_ref(),
        &f.ckpt.params,
        &inputs,
        false,
        &mut Device::Cpu,
    )
    .unwrap();
    let want = f.expected.require("loss").unwrap().data[0];
    assert!(
        ((out.loss - want) / want).abs() > 1e-3,
        "{} vs {want}",
        out.loss
    );
}

#[test]
fn an_official_checkpoint_under_a_named_architecture_keeps_the_official_rule() {
    let prefix = &um_vit_fixtures()[0];
    let f = load(prefix);
    let named = ModelSpec::Mae(MaeSpec {
        secondary_rule: SecondaryRule::Smallest,
        ..mae_spec(&f)
    });
    // The file has no tessera `spec`: it comes from the official code.
    let ckpt = with_suffix(prefix, ".ckpt.safetensors");
    let loaded = checkpoint::load(&ckpt, Some(&named)).unwrap();
    assert_eq!(loaded.spec, f.ckpt.spec);
    // A tessera checkpoint (with `spec`) keeps the rule it was trained with.
    let model = tessera::models::build(&named).unwrap();
    let path = scratch("named.safetensors");
    checkpoint::save(&path, model.as_ref(), &f.ckpt.params).unwrap();
    assert_eq!(checkpoint::load(&path, Some(&named)).unwrap().spec, named);
    assert_eq!(checkpoint::load(&path, None).unwrap().spec, named);
}

#[test]
fn pred_lists_visible_patches_first_and_pictures_get_it_in_raster_order() {
    let f = load(&um_vit_fixtures()[0]);
    let model = f.ckpt.model();
    let pred = &f.expected.require("pred").unwrap().data;
    let (n, v) = (f.inputs.shape.batch, f.inputs.shape.keep);
    let l = f.inputs.mask.len() / n;
    let p = pred.len() / (n * l);
    let raster = model.pred_in_raster_order(&f.inputs, pred);
    for b in 0..n {
        let mask = &f.inputs.mask[b * l..(b + 1) * l];
        // Official layout: visible patches in raster order, then masked ones in raster order.
        let visible = (0..l).filter(|&i| mask[i] == 0.0);
        let masked = (0..l).filter(|&i| mask[i] == 1.0);
        for (row, patch) in visible.chain(masked).enumerate() {
            let official = &pred[(b * l + row) * p..(b * l + row + 1) * p];
            let moved = &raster[(b * l + patch) * p..(b * l + patch + 1) * p];
            assert_eq!(moved, official, "sample {b}, patch {patch}");
        }
        assert_eq!(mask.iter().filter(|&&m| m == 0.0).count(), v);
    }
    // MAE's pred is raster already.
    let mae =
        tessera::models::build(&tessera::dsl::presets::by_name("mae_tiny_32").unwrap()).unwrap();
    assert_eq!(mae.pred_in_raster_order(&f.inputs, pred), *pred);
}

#[test]
fn training_masks_are_uniform_with_the_spec_s_secondary_count() {
    let spec = tessera::dsl::presets::by_name("um_vit_tiny_32").unwrap();
    let model = tessera::models::build(&spec).unwrap();
    let (n, side, grid) = (3, 32, 8);
    let images: Vec<f32> = (0..n * 3 * side * side)
        .map(|i| (i % 97) as f32 / 97.0)
        .collect();
    let a = model
        .step_inputs(
            &tessera::models::sample::Samples::pixels(&images),
            &mut Rng::seed_from_u64(5),
        )
        .unwrap();
    let b = model
        .step_inputs(
            &tessera::models::sample::Samples::pixels(&images),
            &mut Rng::seed_from_u64(5),
        )
        .unwrap();
    assert_eq!(a, b, "the same stream draws the same masks");
    let c = model
        .step_inputs(
            &tessera::models::sample::Samples::pixels(&images),
            &mut Rng::seed_from_u64(6),
        )
        .unwrap();
    assert_ne!(a.mask, c.mask);
    assert_eq!(a.shape.keep, 16);
    let l = grid * grid;
    let ids = u32s(&a, "ids_keep");
    let vis = f32s(&a, "vis_mask");
    for s in 0..n {
        let mask = &a.mask[s * l..(s + 1) * l];
        for (bh, bw) in (0..16).map(|k| (k / 4, k % 4)) {
            let visible = [(0, 0), (0, 1), (1, 0), (1, 1)]
                .iter()
                .filter(|(dr, dc)| mask[(2 * bh + dr) * grid + 2 * bw + dc] == 0.0)
                .count();
            assert_eq!(visible, 1, "sample {s}, block ({bh}, {bw})");
        }
        // The encoder reads the visible tokens in raster order (`x[~mask]`).
        let kept = &ids[s * 16..(s + 1) * 16];
        assert!(kept.windows(2).all(|w| w[0] < w[1]));
        assert!(kept.iter().all(|&i| mask[i as usize] == 0.0));
        // 16 visible, floor(16 * 3/4) = 12 real, 4 replaced.
        assert_eq!(vis[s * 16..(s + 1) * 16].iter().sum::<f32>(), 4.0);
    }
}

fn scratch(name: &str) -> common::Scratch {
    common::Scratch::path("um-vit", name)
}

#[test]
fn checkpoints_carry_um_mae_s_constructor_arguments() {
    let spec = tessera::dsl::presets::by_name("um_vit_tiny_32").unwrap();
    let model = tessera::models::build(&spec).unwrap();
    let params = init_params(model.params(), 7);
    assert_eq!(params.specs[0].name, "vis_mask_token");
    let path = scratch("roundtrip.safetensors");
    checkpoint::save(&path, model.as_ref(), &params).unwrap();
    let back = checkpoint::load(&path, None).unwrap();
    assert_eq!((back.spec, &back.params), (spec, &params));
    let f = TensorFile::read(&path).unwrap();
    let config: serde_json::Value = serde_json::from_str(&f.metadata["config"]).unwrap();
    assert_eq!(config["vis_mask_ratio"], 0.25);
    assert_eq!(config["mask_ratio"], 0.75);
    assert_eq!(config["decoder_depth"], 2);
    // Read from the official arguments alone it is the official code's model: same
    // architecture and masks, the official secondary rule.
    let mut meta = f.metadata.clone();
    meta.remove("spec");
    let path2 = scratch("config-only.safetensors");
    write_atomic(&path2, &f.tensors, &meta).unwrap();
    let ModelSpec::Mae(official) = checkpoint::load(&path2, None).unwrap().spec else {
        panic!("an MAE-family spec")
    };
    assert_eq!(official.secondary_rule, SecondaryRule::OfficialVit);
    assert_eq!(
        ModelSpec::Mae(MaeSpec {
            secondary_rule: SecondaryRule::Smallest,
            ..official
        }),
        spec
    );
}

#[test]
fn the_rule_is_a_spec_field_in_toml() {
    let spec = tessera::dsl::presets::by_name("um_vit_tiny_32").unwrap();
    let text = tessera::spec_file::to_toml(&spec);
    assert!(
        !text.contains("secondary_rule"),
        "the default is not written:\n{text}"
    );
    let ModelSpec::Mae(s) = spec else { panic!() };
    let quirk = ModelSpec::Mae(MaeSpec {
        secondary_rule: SecondaryRule::OfficialVit,
        ..s
    });
    let text = tessera::spec_file::to_toml(&quirk);
    assert!(text.contains("secondary_rule = \"official_vit\""), "{text}");
    assert_eq!(tessera::spec_file::parse(&text).unwrap(), quirk);
    let bad = text.replace("official_vit", "official");
    assert!(tessera::spec_file::parse(&bad)
        .unwrap_err()
        .to_string()
        .contains("official"));
}
