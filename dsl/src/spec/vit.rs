//! A plain ViT stack (the encoder of MAE and VideoMAE, the main stage of HiViT, every
//! decoder): `depth` pre-norm blocks of width `dim` with `heads` heads and an MLP of
//! `int(dim * mlp_ratio)`.
use super::error::{Family, ShapeError};
use super::name::role_what;
use super::rules::{head_dim, mlp_hidden, pos_embed_width, size, tri, PosEmbed};
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// A ViT stack as written. `mlp_ratio` is a float as in the official constructors (4, or 2.5):
/// the hidden width is `int(dim * mlp_ratio)`, computed exactly as Python does.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct VitSpec {
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    pub mlp_ratio: f64,
}

/// Sizes derived from a [`VitSpec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VitDims {
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub mlp_hidden: usize,
}

impl VitSpec {
    /// Checks the stack's sizes, heads, MLP width and position-embedding width.
    pub const fn validate(
        &self,
        family: Family,
        role: &str,
        pos: PosEmbed,
    ) -> Result<VitDims, ShapeError> {
        tri!(size(family, role_what(role, " width").as_str(), self.dim));
        tri!(size(family, role_what(role, " depth").as_str(), self.depth));
        tri!(size(family, role_what(role, " heads").as_str(), self.heads));
        let head_dim = tri!(head_dim(family, role, self.dim, self.heads));
        let mlp_hidden = tri!(mlp_hidden(family, role, self.dim, self.mlp_ratio));
        tri!(pos_embed_width(family, role, self.dim, pos));
        Ok(VitDims {
            dim: self.dim,
            depth: self.depth,
            heads: self.heads,
            head_dim,
            mlp_hidden,
        })
    }
}

impl core::fmt::Display for VitDims {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "width {}, {} blocks, {} heads of {}, mlp {}",
            self.dim, self.depth, self.heads, self.head_dim, self.mlp_hidden
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Rule;

    #[test]
    fn vit_stack_rules() {
        let bad = VitSpec {
            dim: 100,
            depth: 2,
            heads: 3,
            mlp_ratio: 4.0,
        };
        let e = bad
            .validate(Family::Mae, "encoder", PosEmbed::Free)
            .unwrap_err();
        assert_eq!(e.rule(), Rule::HeadsDivideWidth);
        assert!(e
            .as_str()
            .starts_with("MAE: encoder width 100 is not divisible by 3 heads"));
        let ok = VitSpec {
            dim: 768,
            depth: 12,
            heads: 12,
            mlp_ratio: 4.0,
        };
        let d = ok
            .validate(Family::Mae, "encoder", PosEmbed::SinCos2d)
            .unwrap();
        assert_eq!((d.head_dim, d.mlp_hidden), (64, 3072));
        let zero = VitSpec { depth: 0, ..ok };
        let e = zero
            .validate(Family::Mae, "decoder", PosEmbed::Free)
            .unwrap_err();
        assert!(e.as_str().starts_with("MAE: decoder depth is 0"), "{e}");
        let frac = VitSpec {
            dim: 24,
            heads: 2,
            mlp_ratio: 2.5,
            ..ok
        };
        let d = frac
            .validate(Family::Mae, "encoder", PosEmbed::Free)
            .unwrap();
        assert_eq!(d.mlp_hidden, 60);
    }
}
