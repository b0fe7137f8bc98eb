//! Model specs: one type per family, the single source of a model's sizes. The family macros
//! (`mim!`/`mae!`, `um_swin!`, `hivit!`, `mixmim!`, `videomae!`, `m3ae!`) build these values and
//! check them at compile time; TOML and JSON deserialize into the same types (feature `serde`,
//! tagged by `family`); the rules run in one place, the `const fn validate` of each spec, so a
//! broken rule reads the same at compile time and at run time. Every rule is explained in
//! `docs/shape-rules.md`.
// `ShapeError` carries its message in a fixed buffer so const evaluation can build it without
// allocation; returning it by value costs a copy only on the (cold) error path.
#![allow(clippy::result_large_err)]
mod error;
mod hivit;
mod hivit_args;
mod image;
mod literal;
mod m3ae;
mod macros;
mod mae;
mod mae_args;
mod mask;
mod mixmim;
mod mixmim_args;
mod name;
mod rules;
mod stages;
mod table;
mod target;
mod um_mae_args;
mod um_swin;
mod um_swin_args;
mod videomae;
mod videomae_args;
mod vit;

pub use crate::mask::uniform::SecondaryRule;
pub use error::{Family, Rule, ShapeError};
pub use hivit::{HiVitDims, HiVitSpec};
pub use hivit_args::{HiVitArgs, OFFICIAL_INNER_PATCHES};
pub use image::ImageSpec;
pub use literal::{decimal_lit, fail, ratio_lit, size_lit, vocab_lit};
pub use m3ae::{M3aeDims, M3aeSpec};
pub use mae::{MaeDims, MaeSpec};
pub use mae_args::{MaeArgs, CONSTRUCTOR_LAYER_NORM_EPS, FACTORY_LAYER_NORM_EPS};
pub use mask::{MaskCounts, MaskSpec};
pub use mixmim::{MixMimDims, MixMimSpec, MIXMIM_RATIO, MIXMIM_STAGES};
pub use mixmim_args::MixMimArgs;
pub use rules::{PosEmbed, MAX_SIZE, MAX_VOCAB};
pub use stages::{take, SizeList, Stage, Stages, MAX_STAGES};
pub use target::Target;
pub use um_mae_args::UmMaeArgs;
pub use um_swin::{DecoderPositions, UmSwinDims, UmSwinSpec, UM_SWIN_POSMLP};
pub use um_swin_args::UmSwinArgs;
pub use videomae::{VideoMaeDims, VideoMaeSpec};
pub use videomae_args::{VideoMaeArgs, OFFICIAL_FRAMES, OFFICIAL_MASK_RATIO};
pub use vit::{VitDims, VitSpec};

/// A spec of any family (what a TOML file, a checkpoint or a preset name yields). In files it
/// is tagged by `family = "mae" | "um_swin" | "hivit" | "mixmim" | "videomae" | "m3ae"`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "family")
)]
pub enum ModelSpec {
    #[cfg_attr(feature = "serde", serde(rename = "mae"))]
    Mae(MaeSpec),
    #[cfg_attr(feature = "serde", serde(rename = "um_swin"))]
    UmSwin(UmSwinSpec),
    #[cfg_attr(feature = "serde", serde(rename = "hivit"))]
    HiVit(HiVitSpec),
    #[cfg_attr(feature = "serde", serde(rename = "mixmim"))]
    MixMim(MixMimSpec),
    #[cfg_attr(feature = "serde", serde(rename = "videomae"))]
    VideoMae(VideoMaeSpec),
    #[cfg_attr(feature = "serde", serde(rename = "m3ae"))]
    M3ae(M3aeSpec),
}

/// The derived sizes of a [`ModelSpec`]; `Display` prints them as a table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ModelDims {
    Mae(MaeDims),
    UmSwin(UmSwinDims),
    HiVit(HiVitDims),
    MixMim(MixMimDims),
    VideoMae(VideoMaeDims),
    M3ae(M3aeDims),
}

impl ModelSpec {
    pub const fn family(&self) -> Family {
        match self {
            ModelSpec::Mae(_) => Family::Mae,
            ModelSpec::UmSwin(_) => Family::UmSwin,
            ModelSpec::HiVit(_) => Family::HiVit,
            ModelSpec::MixMim(_) => Family::MixMim,
            ModelSpec::VideoMae(_) => Family::VideoMae,
            ModelSpec::M3ae(_) => Family::M3ae,
        }
    }

    /// The image a sample holds (each frame of a clip).
    pub const fn image(&self) -> ImageSpec {
        match self {
            ModelSpec::Mae(s) => s.image,
            ModelSpec::UmSwin(s) => s.image,
            ModelSpec::HiVit(s) => s.image,
            ModelSpec::MixMim(s) => s.image,
            ModelSpec::VideoMae(s) => s.image,
            ModelSpec::M3ae(s) => s.image,
        }
    }

    /// What the masked patches are reconstructed as (M3AE's image loss is on the pixels).
    pub const fn target(&self) -> Target {
        match self {
            ModelSpec::Mae(s) => s.target,
            ModelSpec::UmSwin(s) => s.target,
            ModelSpec::HiVit(s) => s.target,
            ModelSpec::MixMim(s) => s.target,
            ModelSpec::VideoMae(s) => s.target,
            ModelSpec::M3ae(_) => Target::Pix,
        }
    }

    /// Runs the family's rules.
    pub const fn validate(&self) -> Result<ModelDims, ShapeError> {
        Ok(match self {
            ModelSpec::Mae(s) => ModelDims::Mae(rules::tri!(s.validate())),
            ModelSpec::UmSwin(s) => ModelDims::UmSwin(rules::tri!(s.validate())),
            ModelSpec::HiVit(s) => ModelDims::HiVit(rules::tri!(s.validate())),
            ModelSpec::MixMim(s) => ModelDims::MixMim(rules::tri!(s.validate())),
            ModelSpec::VideoMae(s) => ModelDims::VideoMae(rules::tri!(s.validate())),
            ModelSpec::M3ae(s) => ModelDims::M3ae(rules::tri!(s.validate())),
        })
    }
}

impl core::fmt::Display for ModelDims {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ModelDims::Mae(d) => d.fmt(f),
            ModelDims::UmSwin(d) => d.fmt(f),
            ModelDims::HiVit(d) => d.fmt(f),
            ModelDims::MixMim(d) => d.fmt(f),
            ModelDims::VideoMae(d) => d.fmt(f),
            ModelDims::M3ae(d) => d.fmt(f),
        }
    }
}
