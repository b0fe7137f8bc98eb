//! The VideoMAE pieces that the official fixture does not isolate: the BEiT-style attention
//! against timm's attention with the equivalent packed bias, the state-dict order and
//! initialisation, the tube masks a training step draws, and the prediction spread back to
//! raster order.
use tessera_dsl::graph::{compile, PlanOptions};
use tessera_dsl::presets::VideoMaeBase;
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{ImageSpec, Target, VideoMaeSpec, VitSpec};
use tessera_dsl::Ratio;
use tessera_runtime::cpu::CpuExecutor;

use super::block::beit_attention;
use super::*;
use crate::blocks::{self_attention, Attention, Builder, LinearInit};
use crate::params::Init;

fn tiny() -> VideoMaeSpec {
    VideoMaeSpec {
        frames: 4,
        image: ImageSpec {
            height: 8,
            width: 8,
            channels: 3,
        },
        patch: 4,
        tubelet: 2,
        encoder: VitSpec {
            dim: 8,
            depth: 1,
            heads: 2,
            mlp_ratio: 2.0,
        },
        decoder: VitSpec {
            dim: 6,
            depth: 1,
            heads: 2,
            mlp_ratio: 2.0,
        },
        ratio: Ratio::of(1, 2),
        target: Target::NormPix,
        layer_norm_eps: 1e-6,
    }
}

/// Runs an attention layer built by `make` in f64 on `x [1, l, dim]`, setting each parameter
/// from `value(name, numel)`.
fn run_attention(
    make: impl FnOnce(
        &mut crate::blocks::Scope,
        tessera_dsl::graph::NodeId,
    ) -> GResult<tessera_dsl::graph::NodeId>,
    x: &[f64],
    l: usize,
    dim: usize,
    value: &dyn Fn(&str, usize) -> Vec<f64>,
) -> Vec<f64> {
    let mut b = Builder::new();
    let mut s = b.root();
    let xin = s.g().input("x", &[1, l, dim]).unwrap();
    let y = make(&mut s, xin).unwrap();
    let built = b.finish();
    let plan = compile(&built.graph, &[y], &PlanOptions::default()).unwrap();
    let mut ex = CpuExecutor::<f64>::new(&plan).unwrap();
    for p in &built.params {
        ex.set_param(&p.name, &value(&p.name, p.numel())).unwrap();
    }
    ex.set_input("x", x).unwrap();
    ex.run().unwrap();
    ex.read(y).unwrap()
}

#[test]
fn beit_attention_is_timm_attention_with_bias_q_zero_v() {
    let (l, dim, heads) = (5, 8, 2);
    let mut rng = Rng::seed_from_u64(11);
    let mut draw = |n: usize| -> Vec<f64> { (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect() };
    let (w_qkv, w_proj, b_proj) = (draw(3 * dim * dim), draw(dim * dim), draw(dim));
    let (q_bias, v_bias, x) = (draw(dim), draw(dim), draw(l * dim));
    let beit = run_attention(
        |s, x| beit_attention(&mut s.pp("attn"), x, dim, heads),
        &x,
        l,
        dim,
        &|name, _| match name {
            "attn.q_bias" => q_bias.clone(),
            "attn.v_bias" => v_bias.clone(),
            "attn.qkv.weight" => w_qkv.clone(),
            "attn.proj.weight" => w_proj.clone(),
            "attn.proj.bias" => b_proj.clone(),
            other => panic!("unexpected parameter {other}"),
        },
    );
    let packed: Vec<f64> = q_bias
        .iter()
        .copied()
        .chain(std::iter::repeat_n(0.0, dim))
        .chain(v_bias.iter().copied())
        .collect();
    let a = Attention {
        dim,
        heads,
        qkv_bias: true,
        init: LinearInit::Xavier,
    };
    let timm = run_attention(
        |s, x| self_attention(&mut s.pp("attn"), x, a, None),
        &x,
        l,
        dim,
        &|name, _| match name {
            "attn.qkv.bias" => packed.clone(),
            "attn.qkv.weight" => w_qkv.clone(),
            "attn.proj.weight" => w_proj.clone(),
            "attn.proj.bias" => b_proj.clone(),
            other => panic!("unexpected parameter {other}"),
        },
    );
    let err = beit
        .iter()
        .zip(&timm)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err < 1e-12, "{err:e}");
    // A nonzero k bias would not change anything; a nonzero v bias must.
    assert!(v_bias.iter().any(|&v| v.abs() > 0.1));
}

#[test]
fn parameters_follow_the_official_state_dict() {
    let model = VideoMaeModel::new(VideoMaeBase::SPEC).unwrap();
    let names: Vec<&str> = model.params().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names[0], "mask_token");
    assert_eq!(
        &names[1..8],
        [
            "encoder.patch_embed.proj.weight",
            "encoder.patch_embed.proj.bias",
            "encoder.blocks.0.norm1.weight",
            "encoder.blocks.0.norm1.bias",
            "encoder.blocks.0.attn.q_bias",
            "encoder.blocks.0.attn.v_bias",
            "encoder.blocks.0.attn.qkv.weight",
        ]
    );
    assert_eq!(*names.last().unwrap(), "encoder_to_decoder.weight");
    // 12 encoder blocks and 4 decoder blocks of 13 tensors, patch embed 2, two final norms 4,
    // the head 2, mask_token and encoder_to_decoder: no position table (it is not a parameter).
    assert_eq!(names.len(), 16 * 13 + 2 + 4 + 2 + 2);
    assert!(!names.iter().any(|n| n.contains("pos_embed")));
    let find = |n: &str| model.params().iter().find(|p| p.name == n).unwrap();
    assert_eq!(
        find("encoder.patch_embed.proj.weight").shape,
        [768, 3, 2, 16, 16]
    );
    assert_eq!(find("decoder.head.weight").shape, [1536, 384]);
    assert_eq!(find("encoder_to_decoder.weight").shape, [384, 768]);
    assert_eq!(
        find("mask_token").init,
        Init::TruncNormal {
            std: 0.02,
            bound: 0.02
        }
    );
    assert_eq!(find("encoder.blocks.3.attn.q_bias").init, Init::Zeros);
    // PyTorch's default Conv3d / Linear init where VideoMAE leaves them so.
    let conv_bound = 1.0 / (3.0f64 * 2.0 * 256.0).sqrt();
    assert_eq!(
        find("encoder.patch_embed.proj.weight").init,
        Init::Uniform { bound: conv_bound }
    );
    assert_eq!(
        find("encoder_to_decoder.weight").init,
        Init::Uniform {
            bound: 1.0 / 768f64.sqrt()
        }
    );
}

#[test]
fn a_training_step_masks_the_same_positions_in_every_slice() {
    let model = VideoMaeModel::new(tiny()).unwrap();
    let d = *model.dims();
    assert_eq!((d.slices, d.slice_tokens, d.visible), (2, 4, 4));
    let n = 3;
    let clips = vec![0.5f32; n * model.sample().pixel_numel()];
    let mut rng = Rng::seed_from_u64(5);
    let inputs = model
        .step_inputs(&Samples::pixels(&clips), &mut rng)
        .unwrap();
    assert_eq!(inputs.shape, model.step_shape(n));
    for clip in inputs.mask.chunks(d.tokens) {
        let (first, second) = clip.split_at(d.slice_tokens);
        assert_eq!(first, second, "a tube runs through every slice");
        assert_eq!(first.iter().filter(|&&m| m == 1.0).count(), 2);
    }
    let ids = |name: &str| -> Vec<u32> { inputs.u32_input(name).unwrap().to_vec() };
    // Visible and masked tokens each in raster order, as x[~mask] and x[mask] take them.
    for (keep, masked) in ids(inputs::IDS_KEEP)
        .chunks(d.visible)
        .zip(ids(inputs::IDS_MASKED).chunks(d.masked))
    {
        assert!(keep.windows(2).all(|w| w[0] < w[1]));
        assert!(masked.windows(2).all(|w| w[0] < w[1]));
    }
    // A batch that is not a whole number of clips is refused.
    let e = model.step_inputs(&Samples::pixels(&clips[1..]), &mut rng);
    assert!(matches!(e, Err(ModelError::Batch(_))));
}

#[test]
fn predictions_spread_to_their_raster_rows() {
    let model = VideoMaeModel::new(tiny()).unwrap();
    let d = *model.dims();
    let clips = vec![0.0f32; 2 * model.sample().pixel_numel()];
    let inputs = model
        .step_inputs(&Samples::pixels(&clips), &mut Rng::seed_from_u64(2))
        .unwrap();
    let p = d.pred_dim;
    // Row r of clip i holds the value 1000·i + r everywhere.
    let pred: Vec<f32> = (0..2 * d.masked)
        .flat_map(|r| std::iter::repeat_n((1000 * (r / d.masked) + r % d.masked) as f32, p))
        .collect();
    let full = model.pred_in_raster_order(&inputs, &pred);
    assert_eq!(full.len(), 2 * d.tokens * p);
    for i in 0..2 {
        let mask = &inputs.mask[i * d.tokens..(i + 1) * d.tokens];
        let mut next = 0;
        for (tok, &m) in mask.iter().enumerate() {
            let row = &full[(i * d.tokens + tok) * p..(i * d.tokens + tok + 1) * p];
            if m == 1.0 {
                assert!(row.iter().all(|&v| v == (1000 * i + next) as f32));
                next += 1;
            } else {
                assert!(row.iter().all(|&v| v == 0.0));
            }
        }
        assert_eq!(next, d.masked);
    }
}

#[test]
fn the_mask_token_gets_no_weight_decay_as_in_videomae() {
    use tessera_dsl::graph::{AdamWConfig, Op, Role};
    let model = VideoMaeModel::new(tiny()).unwrap();
    let cfg = AdamWConfig::mae_pretrain(0.05);
    let step = model
        .step_graph(model.step_shape(2), &Extras::TrainStep(cfg))
        .unwrap();
    let decay_of = |param: &str| -> f64 {
        let g = &step.graph;
        g.nodes()
            .iter()
            .find_map(|n| match n.op {
                Op::AdamW { weight_decay, .. } => {
                    let p = g.node(n.inputs[0]);
                    matches!(&p.role, Role::Param { name, .. } if name == param)
                        .then_some(weight_decay)
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("no AdamW update of {param}"))
    };
    assert_eq!(decay_of("mask_token"), 0.0);
    assert_eq!(decay_of("encoder.blocks.0.attn.q_bias"), 0.0);
    assert_eq!(decay_of("decoder.head.bias"), 0.0);
    assert_eq!(decay_of("encoder_to_decoder.weight"), 0.05);
    assert_eq!(decay_of("encoder.patch_embed.proj.weight"), 0.05);
}
