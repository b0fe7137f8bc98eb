//! Model specs with shape rules checked by `const fn`: at compile time through the `mae!`-style
//! macros, at run time on specs read from files. One rule, two moments (DESIGN.md
//! "Compile-time shapes, on stable Rust"; the rules are reference §8).
// `ShapeError` carries its message in a fixed buffer so const evaluation can build it without
// allocation; returning it by value costs a copy only on the (cold) error path.
#![allow(clippy::result_large_err)]
mod common;
mod error;
mod hivit;
mod m3ae;
mod macros;
mod mae;
mod mixmim;
mod table;
mod um_swin;
mod videomae;

pub use common::{
    take, PosEmbed, SizeList, Stage, Stages, VitDims, VitSpec, MAX_SIZE, MAX_STAGES, MAX_VOCAB,
};
pub use error::{Family, Rule, ShapeError};
pub use hivit::{HiVitDims, HiVitSpec};
pub use m3ae::{M3aeDims, M3aeSpec};
pub use mae::{MaeArgs, MaeDims, MaeMask, MaeSpec};
pub use mixmim::{MixMimDims, MixMimSpec};
pub use um_swin::{UmSwinDims, UmSwinSpec};
pub use videomae::{VideoMaeDims, VideoMaeSpec};

/// A spec of any family (what a TOML file or a preset name yields).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelSpec {
    Mae(MaeSpec),
    UmSwin(UmSwinSpec),
    HiVit(HiVitSpec),
    MixMim(MixMimSpec),
    VideoMae(VideoMaeSpec),
    M3ae(M3aeSpec),
}

/// The derived sizes of a [`ModelSpec`]; `Display` prints them as a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

    /// Runs the family's rules.
    pub const fn validate(&self) -> Result<ModelDims, ShapeError> {
        Ok(match self {
            ModelSpec::Mae(s) => ModelDims::Mae(common::tri!(s.validate())),
            ModelSpec::UmSwin(s) => ModelDims::UmSwin(common::tri!(s.validate())),
            ModelSpec::HiVit(s) => ModelDims::HiVit(common::tri!(s.validate())),
            ModelSpec::MixMim(s) => ModelDims::MixMim(common::tri!(s.validate())),
            ModelSpec::VideoMae(s) => ModelDims::VideoMae(common::tri!(s.validate())),
            ModelSpec::M3ae(s) => ModelDims::M3ae(common::tri!(s.validate())),
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
