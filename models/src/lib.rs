//! tessera-models: the masked-image models (one folder per family behind the [`Model`]
//! interface), the block library they are built from, checkpoints with the official parameter
//! names, data loaders, training, probing and pictures.
#![forbid(unsafe_code)]
pub mod blocks;
pub mod checkpoint;
pub mod data;
pub mod eval;
pub mod features;
pub mod flops;
pub mod hivit;
pub mod infer;
pub mod m3ae;
pub mod mae;
pub mod mixmim;
pub mod model;
pub mod official_config;
pub mod params;
pub mod probe;
pub mod pth;
pub mod sample;
pub mod sincos;
pub mod step;
pub mod tensors;
pub mod train;
pub mod um_swin;
pub mod videomae;
pub mod viz;

pub use model::{build, Model, ModelError};
