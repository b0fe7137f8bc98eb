//! The probe's features against an independent reference: the MAE encoder over all tokens
//! written out in f64 loops from the official description (patch embedding as a strided
//! convolution, sin-cos positions, timm blocks, final LayerNorm), on random parameters; and
//! the same features on the wgpu backend; HiViT's features against the official code.

use tessera::dsl::rng::Rng;
use tessera::dsl::spec::{MaeArgs, MaeSpec, MaskSpec, ModelSpec};
use tessera::dsl::Ratio;
use tessera::models::features::FeatureExtractor;
use tessera::models::params::{init_params, ParamSet};
use tessera::models::Model;
use tessera::runtime::backend::Device;

mod common;

use common::fixtures::wgpu_device;

/// What the reference encoder needs to know.
struct Cfg {
    in_chans: usize,
    img_size: usize,
    patch_size: usize,
    embed_dim: usize,
    depth: usize,
    num_heads: usize,
    layer_norm_eps: f64,
}

fn config() -> (Cfg, Box<dyn Model>) {
    let args: MaeArgs = serde_json::from_str(
        r#"{"img_size": 8, "patch_size": 4, "in_chans": 2, "embed_dim": 12, "depth": 2,
            "num_heads": 3, "decoder_embed_dim": 8, "decoder_depth": 1,
            "decoder_num_heads": 2, "mlp_ratio": 2.0, "norm_pix_loss": true}"#,
    )
    .unwrap();
    let mask = MaskSpec::Random {
        ratio: Ratio::of(3, 4),
    };
    let spec = MaeSpec::from_official(&args, 1e-6, mask);
    let cfg = Cfg {
        in_chans: 2,
        img_size: 8,
        patch_size: 4,
        embed_dim: 12,
        depth: 2,
        num_heads: 3,
        layer_norm_eps: 1e-6,
    };
    (cfg, tessera::models::build(&ModelSpec::Mae(spec)).unwrap())
}

/// Official init, then every trainable value moved randomly (so biases, LayerNorm weights and
/// the class token all matter).
fn params(model: &dyn Model, seed: u64) -> ParamSet {
    let mut p = init_params(model.params(), seed);
    let mut rng = Rng::seed_from_u64(seed + 100);
    for (spec, v) in p.specs.iter().zip(p.values.iter_mut()) {
        if spec.trainable {
            v.iter_mut()
                .for_each(|x| *x += (rng.next_f64() as f32 - 0.5) * 0.4);
        }
    }
    p
}

fn erf(x: f64) -> f64 {
    // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - t * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))))
            * (-x * x).exp();
    y.copysign(x)
}

struct Ref<'a> {
    p: &'a ParamSet,
}

impl Ref<'_> {
    fn get(&self, name: &str) -> Vec<f64> {
        self.p
            .get(name)
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect()
    }

    /// `x [T, fan_in] -> [T, fan_out]` with `weight [fan_out, fan_in]`.
    fn linear(&self, name: &str, x: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let w = self.get(&format!("{name}.weight"));
        let b = self.get(&format!("{name}.bias"));
        let fan_in = x[0].len();
        x.iter()
            .map(|row| {
                (0..b.len())
                    .map(|o| b[o] + (0..fan_in).map(|i| w[o * fan_in + i] * row[i]).sum::<f64>())
                    .collect()
            })
            .collect()
    }

    fn norm(&self, name: &str, x: &[Vec<f64>], eps: f64) -> Vec<Vec<f64>> {
        let w = self.get(&format!("{name}.weight"));
        let b = self.get(&format!("{name}.bias"));
        x.iter()
            .map(|row| {
                let n = row.len() as f64;
                let m = row.iter().sum::<f64>() / n;
                let v = row.iter().map(|a| (a - m).powi(2)).sum::<f64>() / n;
                row.iter()
                    .enumerate()
                    .map(|(i, a)| (a - m) / (v + eps).sqrt() * w[i] + b[i])
                    .collect()
            })
            .collect()
    }

    fn block(&self, i: usize, x: Vec<Vec<f64>>, heads: usize, eps: f64) -> Vec<Vec<f64>> {
        let pre = format!("blocks.{i}");
        let d = x[0].len();
        let hd = d / heads;
        let qkv = self.linear(
            &format!("{pre}.attn.qkv"),
            &self.norm(&format!("{pre}.norm1"), &x, eps),
        );
        let t = x.len();
        let mut att = vec![vec![0.0; d]; t];
        for h in 0..heads {
            for (a, out) in att.iter_mut().enumerate() {
                let q = |r: usize, j: usize| qkv[r][h * hd + j];
                let k = |r: usize, j: usize| qkv[r][d + h * hd + j];
                let v = |r: usize, j: usize| qkv[r][2 * d + h * hd + j];
                let s: Vec<f64> = (0..t)
                    .map(|b| (0..hd).map(|j| q(a, j) * k(b, j)).sum::<f64>() / (hd as f64).sqrt())
                    .collect();
                let mx = s.iter().cloned().fold(f64::MIN, f64::max);
                let e: Vec<f64> = s.iter().map(|z| (z - mx).exp()).collect();
                let z: f64 = e.iter().sum();
                for j in 0..hd {
                    out[h * hd + j] = (0..t).map(|b| e[b] / z * v(b, j)).sum();
                }
            }
        }
        let o = self.linear(&format!("{pre}.attn.proj"), &att);
        let x: Vec<Vec<f64>> = x
            .iter()
            .zip(&o)
            .map(|(a, b)| a.iter().zip(b).map(|(p, q)| p + q).collect())
            .collect();
        let h = self.linear(
            &format!("{pre}.mlp.fc1"),
            &self.norm(&format!("{pre}.norm2"), &x, eps),
        );
        let h: Vec<Vec<f64>> = h
            .iter()
            .map(|r| {
                r.iter()
                    .map(|&u| 0.5 * u * (1.0 + erf(u / 2f64.sqrt())))
                    .collect()
            })
            .collect();
        let h = self.linear(&format!("{pre}.mlp.fc2"), &h);
        x.iter()
            .zip(&h)
            .map(|(a, b)| a.iter().zip(b).map(|(p, q)| p + q).collect())
            .collect()
    }

    /// ([CLS], mean of patch tokens) of one `[C, H, W]` image.
    fn encode(&self, cfg: &Cfg, img: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let (c, s, p, d) = (cfg.in_chans, cfg.img_size, cfg.patch_size, cfg.embed_dim);
        let g = s / p;
        let w = self.get("patch_embed.proj.weight"); // [D, C, p, p]
        let b = self.get("patch_embed.proj.bias");
        let pos = self.get("pos_embed"); // [1, 1 + L, D]
        let cls = self.get("cls_token");
        let mut x = vec![(0..d).map(|j| cls[j] + pos[j]).collect::<Vec<f64>>()];
        for t in 0..g * g {
            let (gi, gj) = (t / g, t % g);
            let row = (0..d)
                .map(|o| {
                    let mut acc = b[o] + pos[(1 + t) * d + o];
                    for ch in 0..c {
                        for pi in 0..p {
                            for qj in 0..p {
                                let px = img[(ch * s + gi * p + pi) * s + gj * p + qj] as f64;
                                acc += w[((o * c + ch) * p + pi) * p + qj] * px;
                            }
                        }
                    }
                    acc
                })
                .collect();
            x.push(row);
        }
        for i in 0..cfg.depth {
            x = self.block(i, x, cfg.num_heads, cfg.layer_norm_eps);
        }
        let x = self.norm("norm", &x, cfg.layer_norm_eps);
        let l = (x.len() - 1) as f64;
        let mean = (0..d)
            .map(|j| x[1..].iter().map(|r| r[j]).sum::<f64>() / l)
            .collect();
        (x[0].clone(), mean)
    }
}

fn rel_err(a: &[f32], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y).powi(2)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

#[test]
fn features_match_an_f64_reference_encoder_and_padding_changes_nothing() {
    let (cfg, model) = config();
    let model = model.as_ref();
    let p = params(model, 5);
    let per = 2 * 8 * 8;
    let mut rng = Rng::seed_from_u64(9);
    let imgs: Vec<f32> = (0..3 * per)
        .map(|_| rng.next_f64() as f32 * 4.0 - 2.0)
        .collect();
    // Planned for 5 images, given 3: two padded rows are computed and dropped.
    let mut ex = FeatureExtractor::new(model, &p, 5, &mut Device::Cpu).unwrap();
    let f = ex.run(&imgs).unwrap();
    assert_eq!((f.len(), f.dim), (3, 12));
    let reference = Ref { p: &p };
    for i in 0..3 {
        let (cls, mean) = reference.encode(&cfg, &imgs[i * per..(i + 1) * per]);
        let e_cls = rel_err(&f.cls[i * 12..(i + 1) * 12], &cls);
        let e_mean = rel_err(&f.mean[i * 12..(i + 1) * 12], &mean);
        assert!(
            e_cls < 1e-5 && e_mean < 1e-5,
            "image {i}: {e_cls:e} {e_mean:e}"
        );
    }
    // The same images one at a time agree with the padded batch.
    let mut one = FeatureExtractor::new(model, &p, 1, &mut Device::Cpu).unwrap();
    for i in 0..3 {
        let g = one.run(&imgs[i * per..(i + 1) * per]).unwrap();
        assert!(
            rel_err(
                &g.cls,
                &f.cls[i * 12..(i + 1) * 12]
                    .iter()
                    .map(|&v| v as f64)
                    .collect::<Vec<_>>()
            ) < 1e-6
        );
    }
    // Different images give different features (the encoder is not constant).
    assert!(
        rel_err(
            &f.cls[..12],
            &f.cls[12..24].iter().map(|&v| v as f64).collect::<Vec<_>>()
        ) > 1e-3
    );
    // Too many images, or a ragged buffer, are refused.
    assert!(one.run(&imgs[..2 * per]).is_err());
    assert!(ex.run(&imgs[..per + 3]).is_err());
}

#[test]
fn an_encoder_only_checkpoint_is_enough_and_a_missing_tensor_is_named() {
    let (_, model) = config();
    let model = model.as_ref();
    let full = params(model, 6);
    let keep = |n: &str| !(n.starts_with("decoder") || n == "mask_token");
    let idx: Vec<usize> = (0..full.specs.len())
        .filter(|&i| keep(&full.specs[i].name))
        .collect();
    let enc = ParamSet {
        specs: idx.iter().map(|&i| full.specs[i].clone()).collect(),
        values: idx.iter().map(|&i| full.values[i].clone()).collect(),
    };
    let img: Vec<f32> = (0..128).map(|i| (i as f32 * 0.37).sin()).collect();
    let a = FeatureExtractor::new(model, &full, 1, &mut Device::Cpu)
        .unwrap()
        .run(&img)
        .unwrap();
    let b = FeatureExtractor::new(model, &enc, 1, &mut Device::Cpu)
        .unwrap()
        .run(&img)
        .unwrap();
    assert_eq!(a, b);
    let mut broken = enc.clone();
    let at = broken
        .specs
        .iter()
        .position(|s| s.name == "norm.weight")
        .unwrap();
    broken.specs.remove(at);
    broken.values.remove(at);
    let err = FeatureExtractor::new(model, &broken, 1, &mut Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("norm.weight"), "{err}");
}

/// The probe's features on wgpu are the same encoder: they agree with the CPU's.
#[test]
fn features_on_wgpu_match_the_cpu() {
    let Some(mut gpu) = wgpu_device() else {
        return;
    };
    let (_, model) = config();
    let model = model.as_ref();
    let p = params(model, 7);
    let imgs: Vec<f32> = (0..2 * 128).map(|i| (i as f32 * 0.29).cos()).collect();
    let a = FeatureExtractor::new(model, &p, 2, &mut Device::Cpu)
        .unwrap()
        .run(&imgs)
        .unwrap();
    let b = FeatureExtractor::new(model, &p, 2, &mut gpu)
        .unwrap()
        .run(&imgs)
        .unwrap();
    let wide = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    assert!(rel_err(&b.cls, &wide(&a.cls)) < 1e-5);
    assert!(rel_err(&b.mean, &wide(&a.mean)) < 1e-5);
}

/// HiViT's probe features (the main stage's tokens over every patch, averaged; HiViT has no
/// class token) against the official code's `forward_features(imgs).mean(1)`, stored in the
/// extra HiViT fixtures by `scripts/make_hivit_fixture.py`, on the CPU and on wgpu.
#[test]
fn hivit_features_match_the_official_code() {
    use common::fixtures::{hivit_fixtures, with_suffix};
    use tessera::models::checkpoint;
    use tessera::models::tensors::TensorFile;

    let mut devices = vec![Device::Cpu];
    devices.extend(wgpu_device());
    for prefix in &hivit_fixtures()[1..] {
        let ckpt = checkpoint::load(&with_suffix(prefix, ".ckpt.safetensors"), None).unwrap();
        let batch = TensorFile::read(&with_suffix(prefix, ".batch.safetensors")).unwrap();
        let expected = TensorFile::read(&with_suffix(prefix, ".expected.safetensors")).unwrap();
        let imgs = &batch.require("imgs").unwrap().data;
        let want = expected.require("features_mean").unwrap();
        let want: Vec<f64> = want.data.iter().map(|&v| v as f64).collect();
        let n = batch.require("imgs").unwrap().shape[0];
        let model = ckpt.model();
        for device in &mut devices {
            let f = FeatureExtractor::new(model.as_ref(), &ckpt.params, n, device)
                .unwrap()
                .run(imgs)
                .unwrap();
            assert!(f.cls.is_empty(), "HiViT has no class token");
            assert_eq!(f.len(), n);
            let e = rel_err(&f.mean, &want);
            assert!(e < 1e-4, "{} on {}: {e:e}", prefix.display(), device.name());
        }
    }
}
