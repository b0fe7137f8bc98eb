//! Every block on the CPU backend in f64 against an independent computation written out with
//! plain loops from the official descriptions (timm's Linear/LayerNorm/Mlp/Attention/Block,
//! Conv2d/Conv3d patch embeddings, Swin's shifted-window attention with relative position
//! bias, patch merging, HiViT's MLP block), on random parameters and inputs.
use tessera_dsl::graph::{compile, GResult, NodeId, PlanOptions};
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::VitDims;
use tessera_runtime::cpu::CpuExecutor;

use super::*;
use crate::params::init_params;

/// Values of a built block: its parameters by name, and its output.
struct Run {
    params: Vec<(String, Vec<f64>)>,
    out: Vec<f64>,
    names: Vec<String>,
}

impl Run {
    fn p(&self, name: &str) -> &[f64] {
        &self
            .params
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no parameter {name}"))
            .1
    }
}

fn random(n: usize, rng: &mut Rng, scale: f64) -> Vec<f64> {
    (0..n).map(|_| rng.uniform(-scale, scale)).collect()
}

/// Builds `block` on an input `x` of `shape`, initialises its parameters officially and then
/// moves every value randomly (so ones, zeros and biases all matter), runs it in f64.
fn run(
    shape: &[usize],
    seed: u64,
    block: impl FnOnce(&mut Scope, NodeId) -> GResult<NodeId>,
) -> (Vec<f64>, Run) {
    let mut b = Builder::new();
    let mut s = b.root();
    let x = s.g().input("x", shape).unwrap();
    let y = block(&mut s, x).unwrap();
    let built = b.finish();
    let plan = compile(&built.graph, &[y], &PlanOptions::default()).unwrap();
    let mut ex = CpuExecutor::<f64>::new(&plan).unwrap();
    let mut rng = Rng::seed_from_u64(seed);
    let init = init_params(&built.params, seed);
    let mut params = Vec::new();
    for (spec, v) in built.params.iter().zip(&init.values) {
        let v: Vec<f64> = v
            .iter()
            .map(|&x| x as f64 + rng.uniform(-0.3, 0.3))
            .collect();
        if spec.trainable {
            ex.set_param(&spec.name, &v).unwrap();
        } else {
            ex.set_frozen(&spec.name, &v).unwrap();
        }
        params.push((spec.name.clone(), v));
    }
    for (name, c) in &built.constants {
        match c {
            Constant::F32(v) => {
                let v: Vec<f64> = v.iter().map(|&x| x as f64).collect();
                ex.set_frozen(name, &v).unwrap();
            }
            Constant::U32(v) => ex.set_index_input(name, v).unwrap(),
        }
    }
    let input = random(shape.iter().product(), &mut rng, 1.5);
    ex.set_input("x", &input).unwrap();
    ex.run().unwrap();
    let out = ex.read(y).unwrap();
    let names = built.params.iter().map(|p| p.name.clone()).collect();
    (input, Run { params, out, names })
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let num: f64 = got.iter().zip(want).map(|(a, b)| (a - b).powi(2)).sum();
    let den: f64 = want.iter().map(|b| b * b).sum();
    let e = (num / den).sqrt();
    assert!(e < 1e-10, "{what}: relative error {e:e}");
    assert!(den > 0.0, "{what}: the reference is zero");
}

// ---------------------------------------------------------------- reference computations

/// `x [rows, fan_in] · Wᵀ + b` with `W [fan_out, fan_in]`.
fn linear_ref(x: &[f64], w: &[f64], b: Option<&[f64]>, fan_in: usize, fan_out: usize) -> Vec<f64> {
    let rows = x.len() / fan_in;
    let mut out = vec![0.0; rows * fan_out];
    for r in 0..rows {
        for o in 0..fan_out {
            let mut acc = b.map_or(0.0, |b| b[o]);
            for i in 0..fan_in {
                acc += x[r * fan_in + i] * w[o * fan_in + i];
            }
            out[r * fan_out + o] = acc;
        }
    }
    out
}

fn layer_norm_ref(x: &[f64], w: &[f64], b: &[f64], eps: f64) -> Vec<f64> {
    let d = w.len();
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks(d) {
        let mean = row.iter().sum::<f64>() / d as f64;
        let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
        for (k, v) in row.iter().enumerate() {
            out.push((v - mean) / (var + eps).sqrt() * w[k] + b[k]);
        }
    }
    out
}

fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

fn mlp_ref(r: &Run, prefix: &str, x: &[f64], dim: usize, hidden: usize) -> Vec<f64> {
    let p = |n: &str| r.p(&format!("{prefix}{n}"));
    let h = linear_ref(x, p("fc1.weight"), Some(p("fc1.bias")), dim, hidden);
    let h: Vec<f64> = h.into_iter().map(gelu).collect();
    linear_ref(&h, p("fc2.weight"), Some(p("fc2.bias")), hidden, dim)
}

/// timm attention over `tokens` rows of width `dim`: qkv channel `s·D + h·d + i`; `bias(h, i,
/// j)` is added to the scores.
fn attention_ref(
    r: &Run,
    prefix: &str,
    x: &[f64],
    dim: usize,
    heads: usize,
    bias: &dyn Fn(usize, usize, usize) -> f64,
) -> Vec<f64> {
    let p = |n: &str| r.p(&format!("{prefix}{n}"));
    let l = x.len() / dim;
    let hd = dim / heads;
    let qkv = linear_ref(x, p("qkv.weight"), Some(p("qkv.bias")), dim, 3 * dim);
    let at = |t: usize, s: usize, h: usize, i: usize| qkv[t * 3 * dim + s * dim + h * hd + i];
    let scale = (hd as f64).powf(-0.5);
    let mut o = vec![0.0; l * dim];
    for h in 0..heads {
        for i in 0..l {
            let scores: Vec<f64> = (0..l)
                .map(|j| {
                    let dot: f64 = (0..hd).map(|k| at(i, 0, h, k) * at(j, 1, h, k)).sum();
                    dot * scale + bias(h, i, j)
                })
                .collect();
            let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
            let z: f64 = e.iter().sum();
            for k in 0..hd {
                o[i * dim + h * hd + k] = (0..l).map(|j| e[j] / z * at(j, 2, h, k)).sum();
            }
        }
    }
    linear_ref(&o, p("proj.weight"), Some(p("proj.bias")), dim, dim)
}

fn add(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

fn vit_block_ref(r: &Run, prefix: &str, x: &[f64], d: &VitDims, eps: f64) -> Vec<f64> {
    let p = |n: &str| r.p(&format!("{prefix}{n}"));
    let (dim, heads) = (d.dim, d.heads);
    let h = layer_norm_ref(x, p("norm1.weight"), p("norm1.bias"), eps);
    let h = attention_ref(r, &format!("{prefix}attn."), &h, dim, heads, &|_, _, _| 0.0);
    let x = add(x, &h);
    let h = layer_norm_ref(&x, p("norm2.weight"), p("norm2.bias"), eps);
    let h = mlp_ref(r, &format!("{prefix}mlp."), &h, dim, d.mlp_hidden);
    add(&x, &h)
}

const VIT: VitDims = VitDims {
    dim: 12,
    depth: 2,
    heads: 3,
    head_dim: 4,
    mlp_hidden: 30,
};

// ---------------------------------------------------------------- tests

#[test]
fn linear_and_layer_norm() {
    let (x, r) = run(&[2, 3, 5], 1, |s, x| {
        linear(&mut s.pp("fc"), x, Linear::new(5, 4, LinearInit::Xavier))
    });
    assert_eq!(r.names, ["fc.weight", "fc.bias"]);
    let want = linear_ref(&x, r.p("fc.weight"), Some(r.p("fc.bias")), 5, 4);
    assert_close(&r.out, &want, "linear");
    let (x, r) = run(&[6, 5], 2, |s, x| {
        linear(
            &mut s.pp("red"),
            x,
            Linear::new(5, 3, LinearInit::Torch).no_bias(),
        )
    });
    assert_eq!(r.names, ["red.weight"]);
    assert_close(
        &r.out,
        &linear_ref(&x, r.p("red.weight"), None, 5, 3),
        "no bias",
    );
    let (x, r) = run(&[4, 7], 3, |s, x| layer_norm(&mut s.pp("norm"), x, 7, 1e-6));
    let want = layer_norm_ref(&x, r.p("norm.weight"), r.p("norm.bias"), 1e-6);
    assert_close(&r.out, &want, "layer norm");
}

#[test]
fn mlp_attention_and_the_vit_block_follow_timm() {
    let m = Mlp {
        dim: 6,
        hidden: 10,
        act: Activation::GeluErf,
        init: LinearInit::Xavier,
    };
    let (x, r) = run(&[2, 3, 6], 4, |s, x| mlp(&mut s.pp("mlp"), x, m));
    assert_close(&r.out, &mlp_ref(&r, "mlp.", &x, 6, 10), "mlp");

    let a = Attention {
        dim: 12,
        heads: 3,
        qkv_bias: true,
        init: LinearInit::Xavier,
    };
    let (x, r) = run(&[1, 5, 12], 5, |s, x| {
        self_attention(&mut s.pp("attn"), x, a, None)
    });
    let want = attention_ref(&r, "attn.", &x, 12, 3, &|_, _, _| 0.0);
    assert_close(&r.out, &want, "attention");

    let block = VitBlock::of(&VIT, 1e-6, LinearInit::Xavier);
    let (x, r) = run(&[2, 5, 12], 6, |s, x| {
        vit_stack(&mut s.pp("blocks"), x, 2, &block)
    });
    let names: Vec<&str> = r.names.iter().take(12).map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "blocks.0.norm1.weight",
            "blocks.0.norm1.bias",
            "blocks.0.attn.qkv.weight",
            "blocks.0.attn.qkv.bias",
            "blocks.0.attn.proj.weight",
            "blocks.0.attn.proj.bias",
            "blocks.0.norm2.weight",
            "blocks.0.norm2.bias",
            "blocks.0.mlp.fc1.weight",
            "blocks.0.mlp.fc1.bias",
            "blocks.0.mlp.fc2.weight",
            "blocks.0.mlp.fc2.bias"
        ]
    );
    let mut want = Vec::new();
    for b in 0..2 {
        let xb = &x[b * 60..(b + 1) * 60];
        let y = vit_block_ref(&r, "blocks.0.", xb, &VIT, 1e-6);
        want.extend(vit_block_ref(&r, "blocks.1.", &y, &VIT, 1e-6));
    }
    assert_close(&r.out, &want, "vit stack");
}

#[test]
fn patch_embeddings_are_strided_convolutions() {
    let (c, side, p, d) = (2, 6, 3, 5);
    let (x, r) = run(&[2, c, side, side], 7, |s, x| {
        patch_embed_2d(&mut s.pp("patch_embed"), x, c, p, d, PatchInit::XavierFlat)
    });
    let (w, b) = (r.p("patch_embed.proj.weight"), r.p("patch_embed.proj.bias"));
    let g = side / p;
    let mut want = Vec::new();
    for n in 0..2 {
        for (ti, tj) in (0..g * g).map(|t| (t / g, t % g)) {
            for o in 0..d {
                let mut acc = b[o];
                for ch in 0..c {
                    for (u, v) in (0..p * p).map(|k| (k / p, k % p)) {
                        let pix = x[((n * c + ch) * side + ti * p + u) * side + tj * p + v];
                        acc += pix * w[((o * c + ch) * p + u) * p + v];
                    }
                }
                want.push(acc);
            }
        }
    }
    assert_close(&r.out, &want, "conv2d patch embedding");

    // Conv3d over [N, C, T, H, W] with kernel (t, p, p): token index t·H'W' + h·W' + w.
    let (c, t, side, tub, p, d) = (3, 4, 4, 2, 2, 5);
    let (x, r) = run(&[1, c, t, side, side], 8, |s, x| {
        patch_embed_3d(&mut s.pp("patch_embed"), x, tub, p, d, PatchInit::Torch)
    });
    let (w, b) = (r.p("patch_embed.proj.weight"), r.p("patch_embed.proj.bias"));
    let (tt, g) = (t / tub, side / p);
    let mut want = Vec::new();
    for ts in 0..tt {
        for (ti, tj) in (0..g * g).map(|k| (k / g, k % g)) {
            for o in 0..d {
                let mut acc = b[o];
                for ch in 0..c {
                    for dt in 0..tub {
                        for (u, v) in (0..p * p).map(|k| (k / p, k % p)) {
                            let frame = ts * tub + dt;
                            let pix = x[((ch * t + frame) * side + ti * p + u) * side + tj * p + v];
                            acc += pix * w[(((o * c + ch) * tub + dt) * p + u) * p + v];
                        }
                    }
                }
                want.push(acc);
            }
        }
    }
    assert_close(&r.out, &want, "conv3d tubelet embedding");
}

/// Swin's shifted-window attention written per token: roll the map by `-shift`, split it into
/// windows, attend inside each window with the relative position bias and the -100 mask
/// between the regions the roll brought together, roll back.
#[allow(clippy::too_many_arguments)]
fn window_attention_ref(
    r: &Run,
    x: &[f64],
    n: usize,
    grid: usize,
    c: usize,
    heads: usize,
    w: usize,
    shift: usize,
    extra: &dyn Fn(usize, usize, usize) -> f64,
) -> Vec<f64> {
    let table = r.p("relative_position_bias_table");
    let region = |i: usize| {
        if i < grid - w {
            0
        } else if i < grid - shift {
            1
        } else {
            2
        }
    };
    let mut out = vec![0.0; x.len()];
    let per_side = grid / w;
    for b in 0..n {
        for win in 0..per_side * per_side {
            let (wr, wc) = (win / per_side, win % per_side);
            // Tokens of this window in the shifted map, and where they come from.
            let pos: Vec<(usize, usize)> = (0..w * w)
                .map(|t| (wr * w + t / w, wc * w + t % w))
                .collect();
            let src = |(r, c): (usize, usize)| ((r + shift) % grid, (c + shift) % grid);
            let rows: Vec<f64> = pos
                .iter()
                .flat_map(|&rc| {
                    let (sr, sc) = src(rc);
                    x[((b * grid + sr) * grid + sc) * c..][..c].to_vec()
                })
                .collect();
            let bias = |h: usize, i: usize, j: usize| {
                let (dr, dc) = (
                    (i / w) as isize - (j / w) as isize + w as isize - 1,
                    (i % w) as isize - (j % w) as isize + w as isize - 1,
                );
                let idx = dr as usize * (2 * w - 1) + dc as usize;
                let label = |(r, c): (usize, usize)| region(r) * 3 + region(c);
                let mask = if shift > 0 && label(pos[i]) != label(pos[j]) {
                    -100.0
                } else {
                    0.0
                };
                table[idx * heads + h] + mask + extra(win, i, j)
            };
            let y = attention_ref(r, "", &rows, c, heads, &bias);
            for (t, &rc) in pos.iter().enumerate() {
                let (sr, sc) = src(rc);
                out[((b * grid + sr) * grid + sc) * c..][..c]
                    .copy_from_slice(&y[t * c..(t + 1) * c]);
            }
        }
    }
    out
}

#[test]
fn shifted_window_attention_with_relative_bias_and_a_mask_follows_swin() {
    let (n, grid, c, heads, w) = (2, 4, 6, 2, 2);
    for shift in [0, 1] {
        let a = WindowAttention {
            dim: c,
            heads,
            window: w,
            shift,
            rel_pos: RelPos::Table,
            init: LinearInit::Xavier,
        };
        let (x, r) = run(&[n, grid, grid, c], 9 + shift as u64, |s, x| {
            window_attention(s, x, a, None)
        });
        let want = window_attention_ref(&r, &x, n, grid, c, heads, w, shift, &|_, _, _| 0.0);
        assert_close(&r.out, &want, &format!("window attention, shift {shift}"));
    }
    // An extra per-window mask (MixMIM's): tokens 0 and 3 of every window never see 1 and 2.
    let split = |i: usize| usize::from(i == 1 || i == 2);
    let windows = 4;
    let m: Vec<f32> = (0..windows * 16)
        .map(|k| {
            let (i, j) = ((k % 16) / 4, k % 4);
            if split(i) != split(j) {
                -1e4
            } else {
                0.0
            }
        })
        .collect();
    let a = WindowAttention {
        dim: c,
        heads,
        window: w,
        shift: 0,
        rel_pos: RelPos::Table,
        init: LinearInit::Xavier,
    };
    let (x, r) = run(&[n, grid, grid, c], 12, |s, x| {
        let mask = s.constant_f32("mix_mask", &[windows, 1, 4, 4], m.clone())?;
        window_attention(s, x, a, Some(mask))
    });
    let extra = |_: usize, i: usize, j: usize| if split(i) != split(j) { -1e4 } else { 0.0 };
    let want = window_attention_ref(&r, &x, n, grid, c, heads, w, 0, &extra);
    assert_close(&r.out, &want, "window attention with a mask");
}

#[test]
fn relative_position_index_reads_one_row_per_offset() {
    let w = 3;
    let idx = relative_position_index(w);
    let n = w * w;
    let center = ((w - 1) * (2 * w - 1) + w - 1) as u32;
    for i in 0..n {
        assert_eq!(idx[i * n + i], center);
        for j in 0..n {
            // Opposite offsets sit symmetrically around the centre row.
            assert_eq!(idx[i * n + j] + idx[j * n + i], 2 * center);
            // The same offset between other tokens reads the same row.
            let (dr, dc) = (i / w + w - j / w, i % w + w - j % w);
            for k in 0..n {
                for l in 0..n {
                    if k / w + w - l / w == dr && k % w + w - l % w == dc {
                        assert_eq!(idx[k * n + l], idx[i * n + j]);
                    }
                }
            }
        }
    }
    assert_eq!(
        *idx.iter().max().unwrap() as usize,
        (2 * w - 1) * (2 * w - 1) - 1
    );
}

#[test]
fn patch_merging_and_the_mlp_block() {
    let (n, g, c) = (1, 4, 3);
    let (x, r) = run(&[n, g, g, c], 13, |s, x| {
        patch_merging(&mut s.pp("downsample"), x, 1e-5, LinearInit::Xavier)
    });
    assert_eq!(
        r.names,
        [
            "downsample.norm.weight",
            "downsample.norm.bias",
            "downsample.reduction.weight"
        ]
    );
    // cat(x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]) per 2x2 neighbourhood.
    let mut cat = Vec::new();
    for (i, j) in (0..(g / 2) * (g / 2)).map(|t| (t / (g / 2), t % (g / 2))) {
        for (di, dj) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let at = ((2 * i + di) * g + 2 * j + dj) * c;
            cat.extend_from_slice(&x[at..at + c]);
        }
    }
    let h = layer_norm_ref(
        &cat,
        r.p("downsample.norm.weight"),
        r.p("downsample.norm.bias"),
        1e-5,
    );
    let want = linear_ref(&h, r.p("downsample.reduction.weight"), None, 4 * c, 2 * c);
    assert_close(&r.out, &want, "patch merging");

    let m = Mlp {
        dim: 4,
        hidden: 12,
        act: Activation::GeluErf,
        init: LinearInit::TruncNormal(0.02),
    };
    let (x, r) = run(&[2, 3, 2, 2, 4], 14, |s, x| {
        mlp_block(&mut s.pp("blocks").pp(0), x, m, 1e-6)
    });
    let h = layer_norm_ref(
        &x,
        r.p("blocks.0.norm2.weight"),
        r.p("blocks.0.norm2.bias"),
        1e-6,
    );
    let want = add(&x, &mlp_ref(&r, "blocks.0.mlp.", &h, 4, 12));
    assert_close(&r.out, &want, "mlp block");
}

#[test]
fn sincos_tables_are_frozen_parameters_with_the_official_values() {
    let mut b = Builder::new();
    let mut s = b.root();
    sincos_table(&mut s, "pos_embed", 8, 2, true).unwrap();
    let built = b.finish();
    let p = &built.params[0];
    assert_eq!(
        (p.name.as_str(), p.shape.as_slice(), p.trainable),
        ("pos_embed", &[1, 5, 8][..], false)
    );
    let v = init_params(&built.params, 0).values.remove(0);
    // Row 0 (class token) is zero; patch (0, 1) encodes its column in the first half.
    assert!(v[..8].iter().all(|&x| x == 0.0));
    assert_eq!(v[16] as f64, (1f64).sin() as f32 as f64);
}

#[test]
fn inner_patch_embedding_keeps_each_patch_s_sub_token_grid() {
    // 2 images of 3 channels, 12 px, patch 6 split 3x3 (2-px convolution), width 4.
    let (n, c, side, patch, inner, d) = (2, 3, 12, 6, 3, 4);
    let e = InnerPatchEmbed {
        channels: c,
        patch,
        inner,
        dim: d,
        norm_eps: Some(1e-6),
    };
    let (x, r) = run(&[n, c, side, side], 15, |s, x| {
        inner_patch_embed(&mut s.pp("patch_embed"), x, e)
    });
    assert_eq!(
        r.names,
        [
            "patch_embed.proj.weight",
            "patch_embed.proj.bias",
            "patch_embed.norm.weight",
            "patch_embed.norm.bias"
        ]
    );
    let (w, b) = (r.p("patch_embed.proj.weight"), r.p("patch_embed.proj.bias"));
    let (k, grid) = (patch / inner, side / patch);
    // The official layout: conv output [B, D, Hp, inner, Wp, inner] permuted to
    // [B, Hp, Wp, inner, inner, D], one sub-token grid per patch in raster order.
    let mut conv = Vec::new();
    for img in 0..n {
        for (pi, pj) in (0..grid * grid).map(|t| (t / grid, t % grid)) {
            for (ii, ij) in (0..inner * inner).map(|t| (t / inner, t % inner)) {
                let (row, col) = ((pi * inner + ii) * k, (pj * inner + ij) * k);
                for o in 0..d {
                    let mut acc = b[o];
                    for ch in 0..c {
                        for (u, v) in (0..k * k).map(|t| (t / k, t % k)) {
                            let pix = x[((img * c + ch) * side + row + u) * side + col + v];
                            acc += pix * w[((o * c + ch) * k + u) * k + v];
                        }
                    }
                    conv.push(acc);
                }
            }
        }
    }
    let want = layer_norm_ref(
        &conv,
        r.p("patch_embed.norm.weight"),
        r.p("patch_embed.norm.bias"),
        1e-6,
    );
    assert_close(&r.out, &want, "inner patch embedding");

    // Without patch_norm the convolution comes out as it is.
    let plain = InnerPatchEmbed {
        norm_eps: None,
        ..e
    };
    let (x2, r2) = run(&[n, c, side, side], 15, |s, x| {
        inner_patch_embed(&mut s.pp("patch_embed"), x, plain)
    });
    assert_eq!(r2.names.len(), 2);
    let w2 = r2.p("patch_embed.proj.weight");
    let first: f64 = r2.p("patch_embed.proj.bias")[0]
        + (0..c)
            .flat_map(|ch| (0..k * k).map(move |t| (ch, t / k, t % k)))
            .map(|(ch, u, v)| x2[(ch * side + u) * side + v] * w2[(ch * k + u) * k + v])
            .sum::<f64>();
    assert!((r2.out[0] - first).abs() < 1e-12);
    assert_eq!(r2.out.len(), n * grid * grid * inner * inner * d);
}
