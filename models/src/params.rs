//! Parameters: every state-dict entry a model declares (official name, shape, trainable or
//! frozen, how it is initialised), their values, and the seeded official initialisations.
use tessera_dsl::rng::Rng;

use crate::sincos::sincos_2d_f32;
use crate::tensors::Tensor;

/// How a parameter starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// `xavier_uniform_` over a `[fan_out, fan_in]` view (timm/MAE Linear weights; MAE's
    /// patch-embed weight viewed as `[D, C·p·p]`).
    XavierUniform {
        fan_in: usize,
        fan_out: usize,
    },
    /// `U(-bound, bound)` (PyTorch's default Linear/Conv init: bound `1/sqrt(fan_in)`).
    Uniform {
        bound: f64,
    },
    /// `normal_(0, std)` (MAE's class and mask tokens).
    Normal {
        std: f64,
    },
    /// `trunc_normal_(std)`, cut at `±bound` (HiViT, relative position tables).
    TruncNormal {
        std: f64,
        bound: f64,
    },
    Zeros,
    Ones,
    /// The fixed 2-D sin-cos table of MAE (`get_2d_sincos_pos_embed`), with a zero class row.
    SinCos2d {
        dim: usize,
        grid: usize,
        cls: bool,
    },
}

/// One entry of the state dict.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// Official name (`blocks.0.attn.qkv.weight`).
    pub name: String,
    pub shape: Vec<usize>,
    /// False for frozen tables (`requires_grad=False`), which are saved but never updated.
    pub trainable: bool,
    pub init: Init,
}

impl ParamSpec {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Values for a list of state-dict entries (one `Vec` per spec, same order).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSet {
    pub specs: Vec<ParamSpec>,
    pub values: Vec<Vec<f32>>,
}

impl ParamSet {
    /// The values of the entry called `name`.
    pub fn get(&self, name: &str) -> Option<&[f32]> {
        let i = self.specs.iter().position(|s| s.name == name)?;
        Some(&self.values[i])
    }

    /// Every entry as a named tensor, in state-dict order.
    pub fn to_tensors(&self) -> Vec<(String, Tensor)> {
        self.specs
            .iter()
            .zip(&self.values)
            .map(|(s, v)| {
                let t = Tensor {
                    shape: s.shape.clone(),
                    data: v.clone(),
                };
                (s.name.clone(), t)
            })
            .collect()
    }

    /// Parameters counted as a model summary: `(trainable, frozen)` values.
    pub fn counts(specs: &[ParamSpec]) -> (usize, usize) {
        let trainable = specs.iter().filter(|s| s.trainable).map(ParamSpec::numel);
        let frozen = specs.iter().filter(|s| !s.trainable).map(ParamSpec::numel);
        (trainable.sum(), frozen.sum())
    }
}

/// Values for every entry of `specs`, drawn from `seed` in state-dict order.
pub fn init_params(specs: &[ParamSpec], seed: u64) -> ParamSet {
    let mut rng = Rng::seed_from_u64(seed);
    let values = specs.iter().map(|s| init_one(s, &mut rng)).collect();
    ParamSet {
        specs: specs.to_vec(),
        values,
    }
}

fn init_one(spec: &ParamSpec, rng: &mut Rng) -> Vec<f32> {
    let n = spec.numel();
    let uniform = |rng: &mut Rng, bound: f64| -> Vec<f32> {
        (0..n).map(|_| rng.uniform(-bound, bound) as f32).collect()
    };
    match spec.init {
        Init::XavierUniform { fan_in, fan_out } => {
            uniform(rng, (6.0 / (fan_in + fan_out) as f64).sqrt())
        }
        Init::Uniform { bound } => uniform(rng, bound),
        Init::Normal { std } => (0..n).map(|_| (std * normal(rng)) as f32).collect(),
        Init::TruncNormal { std, bound } => (0..n)
            .map(|_| loop {
                let v = std * normal(rng);
                if v.abs() <= bound {
                    break v as f32;
                }
            })
            .collect(),
        Init::Zeros => vec![0.0; n],
        Init::Ones => vec![1.0; n],
        Init::SinCos2d { dim, grid, cls } => sincos_2d_f32(dim, grid, cls),
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

    fn stats(x: &[f32]) -> (f64, f64, f64) {
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        let max = x.iter().map(|v| v.abs() as f64).fold(0.0, f64::max);
        (mean, var.sqrt(), max)
    }

    fn spec(name: &str, shape: Vec<usize>, init: Init) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            shape,
            trainable: true,
            init,
        }
    }

    #[test]
    fn distributions_follow_their_rules() {
        let specs = [
            spec(
                "w",
                vec![576, 192],
                Init::XavierUniform {
                    fan_in: 192,
                    fan_out: 576,
                },
            ),
            spec("b", vec![48], Init::Uniform { bound: 0.25 }),
            spec("tok", vec![4000], Init::Normal { std: 0.02 }),
            spec(
                "rel",
                vec![4000],
                Init::TruncNormal {
                    std: 0.02,
                    bound: 0.02,
                },
            ),
            spec("one", vec![3], Init::Ones),
        ];
        let p = init_params(&specs, 7);
        // xavier_uniform on [576, 192]: U(±sqrt(6/768)), std = bound/sqrt(3).
        let bound = (6.0f64 / (192.0 + 576.0)).sqrt();
        let (m, s, mx) = stats(p.get("w").unwrap());
        assert!(mx <= bound && mx > 0.99 * bound, "{mx} vs {bound}");
        assert!(m.abs() < 0.01 * bound && (s / (bound / 3f64.sqrt()) - 1.0).abs() < 0.02);
        let (_, _, mx) = stats(p.get("b").unwrap());
        assert!(mx <= 0.25 && mx > 0.2);
        let (m, s, _) = stats(p.get("tok").unwrap());
        assert!(m.abs() < 0.002 && (s - 0.02).abs() < 0.002, "{m} {s}");
        // Cut at one std: std of the truncated normal is about 0.54 std.
        let (_, s, mx) = stats(p.get("rel").unwrap());
        assert!(mx <= 0.02 && (s / 0.02 - 0.54).abs() < 0.05, "{s}");
        assert_eq!(p.get("one").unwrap(), &[1.0, 1.0, 1.0]);
        // Seeded: the same seed gives the same values, another seed others.
        assert_eq!(init_params(&specs, 7), p);
        assert_ne!(init_params(&specs, 8).get("tok"), p.get("tok"));
        assert_eq!(ParamSet::counts(&specs), (576 * 192 + 48 + 8000 + 3, 0));
    }
}
