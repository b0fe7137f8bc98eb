//! The parameters of official MAE: names, shapes and roles in `state_dict()` order (own
//! parameters first, then the children in registration order), and how each is initialised.
use super::config::{MaeConfig, MaeDims};
use crate::tensors::Tensor;

/// How `initialize_weights` sets a parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InitRule {
    /// xavier_uniform over a `[fan_out, fan_in]` view (Linear weights; patch_embed viewed as
    /// `[D, C·p·p]`).
    XavierUniform {
        fan_in: usize,
        fan_out: usize,
    },
    /// PyTorch's default Conv2d bias: `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` (left as is by MAE).
    ConvBias {
        fan_in: usize,
    },
    /// `normal_(std)` (class and mask tokens).
    Normal {
        std: f64,
    },
    Zeros,
    Ones,
    /// The fixed 2-D sin-cos table of this width (frozen).
    SinCos {
        dim: usize,
    },
}

/// One entry of the state dict.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
    /// false for the frozen position tables (`requires_grad=False`).
    pub trainable: bool,
    pub init: InitRule,
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
}

/// Every state-dict entry of `cfg` in `state_dict()` order.
pub fn param_specs(cfg: &MaeConfig, dims: &MaeDims) -> Vec<ParamSpec> {
    let (d, dd, l) = (cfg.embed_dim, cfg.decoder_embed_dim, dims.num_patches);
    let (p, c) = (cfg.patch_size, cfg.in_chans);
    let tokens = InitRule::Normal { std: 0.02 };
    let mut s = Specs(Vec::new());
    s.push("cls_token", vec![1, 1, d], tokens);
    s.push("pos_embed", vec![1, l + 1, d], InitRule::SinCos { dim: d });
    s.push("mask_token", vec![1, 1, dd], tokens);
    s.push(
        "decoder_pos_embed",
        vec![1, l + 1, dd],
        InitRule::SinCos { dim: dd },
    );
    let fan_in = dims.patch_dim;
    s.push(
        "patch_embed.proj.weight",
        vec![d, c, p, p],
        InitRule::XavierUniform { fan_in, fan_out: d },
    );
    s.push(
        "patch_embed.proj.bias",
        vec![d],
        InitRule::ConvBias { fan_in },
    );
    for i in 0..cfg.depth {
        s.block(&format!("blocks.{i}"), d, dims.mlp_hidden);
    }
    s.norm("norm", d);
    s.linear("decoder_embed", d, dd);
    for i in 0..cfg.decoder_depth {
        s.block(&format!("decoder_blocks.{i}"), dd, dims.decoder_mlp_hidden);
    }
    s.norm("decoder_norm", dd);
    s.linear("decoder_pred", dd, dims.patch_dim);
    s.0
}

struct Specs(Vec<ParamSpec>);

impl Specs {
    fn push(&mut self, name: &str, shape: Vec<usize>, init: InitRule) {
        self.0.push(ParamSpec {
            name: name.to_string(),
            shape,
            trainable: !matches!(init, InitRule::SinCos { .. }),
            init,
        });
    }

    /// `nn.Linear(fan_in, fan_out)`: weight `[fan_out, fan_in]`, bias `[fan_out]`.
    fn linear(&mut self, name: &str, fan_in: usize, fan_out: usize) {
        let w = InitRule::XavierUniform { fan_in, fan_out };
        self.push(&format!("{name}.weight"), vec![fan_out, fan_in], w);
        self.push(&format!("{name}.bias"), vec![fan_out], InitRule::Zeros);
    }

    fn norm(&mut self, name: &str, dim: usize) {
        self.push(&format!("{name}.weight"), vec![dim], InitRule::Ones);
        self.push(&format!("{name}.bias"), vec![dim], InitRule::Zeros);
    }

    /// A timm `Block`: norm1, attn (qkv, proj), norm2, mlp (fc1, fc2).
    fn block(&mut self, prefix: &str, dim: usize, hidden: usize) {
        self.norm(&format!("{prefix}.norm1"), dim);
        self.linear(&format!("{prefix}.attn.qkv"), dim, 3 * dim);
        self.linear(&format!("{prefix}.attn.proj"), dim, dim);
        self.norm(&format!("{prefix}.norm2"), dim);
        self.linear(&format!("{prefix}.mlp.fc1"), dim, hidden);
        self.linear(&format!("{prefix}.mlp.fc2"), hidden, dim);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vit_base_has_the_official_keys_shapes_and_counts() {
        let cfg = MaeConfig::preset("mae_vit_base_patch16").unwrap();
        let specs = param_specs(&cfg, &cfg.validate().unwrap());
        // mae-family.md §1.7: 150 encoder-side + 104 decoder-side entries.
        assert_eq!(specs.len(), 254);
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names[..8],
            [
                "cls_token",
                "pos_embed",
                "mask_token",
                "decoder_pos_embed",
                "patch_embed.proj.weight",
                "patch_embed.proj.bias",
                "blocks.0.norm1.weight",
                "blocks.0.norm1.bias"
            ]
        );
        assert_eq!(names.last(), Some(&"decoder_pred.bias"));
        let shape = |n: &str| specs.iter().find(|s| s.name == n).unwrap().shape.clone();
        assert_eq!(shape("patch_embed.proj.weight"), [768, 3, 16, 16]);
        assert_eq!(shape("blocks.11.attn.qkv.weight"), [2304, 768]);
        assert_eq!(shape("blocks.3.mlp.fc2.weight"), [768, 3072]);
        assert_eq!(shape("decoder_blocks.7.mlp.fc1.bias"), [2048]);
        assert_eq!(shape("decoder_pos_embed"), [1, 197, 512]);
        assert_eq!(shape("decoder_pred.weight"), [768, 512]);
        // Trainable parameter counts quoted in §1.6.
        let count = |enc: bool| -> usize {
            specs
                .iter()
                .filter(|s| s.trainable)
                .filter(|s| enc != (s.name.starts_with("decoder") || s.name == "mask_token"))
                .map(ParamSpec::numel)
                .sum()
        };
        assert_eq!(count(true), 85_647_360);
        assert_eq!(count(false), 26_008_320);
        let frozen: Vec<&str> = specs
            .iter()
            .filter(|s| !s.trainable)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(frozen, ["pos_embed", "decoder_pos_embed"]);
    }
}
