//! Official MAE initialisation (`initialize_weights`, `_init_weights`), seeded: xavier_uniform
//! for every Linear and for the patch-embed weight viewed as `[D, C·p·p]`, PyTorch's default
//! Conv2d bias for patch_embed, normal(0.02) class/mask tokens, LayerNorm 1/0, zero Linear
//! biases, and the frozen sin-cos tables.
use tessera_dsl::rng::Rng;

use super::params::{InitRule, ParamSet, ParamSpec};
use super::pos_embed::sincos_2d_f32;

/// Values for every entry of `specs`, drawn from `seed` in state-dict order.
pub fn init_params(specs: &[ParamSpec], grid: usize, seed: u64) -> ParamSet {
    let mut rng = Rng::seed_from_u64(seed);
    let values = specs.iter().map(|s| init_one(s, grid, &mut rng)).collect();
    ParamSet {
        specs: specs.to_vec(),
        values,
    }
}

fn init_one(spec: &ParamSpec, grid: usize, rng: &mut Rng) -> Vec<f32> {
    let n = spec.numel();
    let uniform = |rng: &mut Rng, bound: f64| -> Vec<f32> {
        (0..n).map(|_| rng.uniform(-bound, bound) as f32).collect()
    };
    match spec.init {
        InitRule::XavierUniform { fan_in, fan_out } => {
            uniform(rng, (6.0 / (fan_in + fan_out) as f64).sqrt())
        }
        InitRule::ConvBias { fan_in } => uniform(rng, 1.0 / (fan_in as f64).sqrt()),
        InitRule::Normal { std } => (0..n).map(|_| (std * normal(rng)) as f32).collect(),
        InitRule::Zeros => vec![0.0; n],
        InitRule::Ones => vec![1.0; n],
        InitRule::SinCos { dim } => sincos_2d_f32(dim, grid, true),
    }
}

/// A standard normal sample (Box-Muller; `1 - u` keeps the logarithm finite).
pub fn normal(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - rng.next_f64();
    let u2 = rng.next_f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * core::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mae::config::MaeConfig;
    use crate::mae::params::param_specs;

    fn stats(x: &[f32]) -> (f64, f64, f64) {
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        let max = x.iter().map(|v| v.abs() as f64).fold(0.0, f64::max);
        (mean, var.sqrt(), max)
    }

    #[test]
    fn distributions_follow_the_official_rules() {
        let cfg = MaeConfig::preset("mae_tiny_32").unwrap();
        let dims = cfg.validate().unwrap();
        let specs = param_specs(&cfg, &dims);
        let p = init_params(&specs, dims.grid, 7);
        // xavier_uniform on qkv [576, 192]: U(±sqrt(6/768)), std = bound/sqrt(3).
        let bound = (6.0f64 / (192.0 + 576.0)).sqrt();
        let (m, s, mx) = stats(p.get("blocks.0.attn.qkv.weight").unwrap());
        assert!(mx <= bound && mx > 0.99 * bound, "{mx} vs {bound}");
        assert!(m.abs() < 0.01 * bound && (s / (bound / 3f64.sqrt()) - 1.0).abs() < 0.02);
        // patch_embed viewed as [192, 48]; its bias U(±1/sqrt(48)).
        let (_, _, mx) = stats(p.get("patch_embed.proj.weight").unwrap());
        assert!(mx <= (6.0f64 / 240.0).sqrt() && mx > 0.95 * (6.0f64 / 240.0).sqrt());
        let (_, _, mx) = stats(p.get("patch_embed.proj.bias").unwrap());
        assert!(mx <= 1.0 / 48f64.sqrt() && mx > 0.8 / 48f64.sqrt());
        // Tokens: normal(0.02); 192 + 128 samples together.
        let mut tok = p.get("cls_token").unwrap().to_vec();
        tok.extend_from_slice(p.get("mask_token").unwrap());
        let (m, s, _) = stats(&tok);
        assert!(m.abs() < 0.004 && (s - 0.02).abs() < 0.003, "{m} {s}");
        assert!(p.get("norm.weight").unwrap().iter().all(|&v| v == 1.0));
        assert!(p
            .get("blocks.2.mlp.fc1.bias")
            .unwrap()
            .iter()
            .all(|&v| v == 0.0));
        assert_eq!(
            p.get("decoder_pos_embed").unwrap(),
            &sincos_2d_f32(128, 8, true)[..]
        );
        // Seeded: the same seed gives the same values, another seed others.
        assert_eq!(init_params(&specs, dims.grid, 7), p);
        assert_ne!(
            init_params(&specs, dims.grid, 8).get("cls_token"),
            p.get("cls_token")
        );
    }
}
