//! MAE with a plain ViT (facebookresearch/mae): architecture, official parameter names and
//! initialisation, the fixed sin-cos tables, host-side masking and the training/eval graph.
pub mod config;
pub mod eval;
pub mod features;
pub mod init;
pub mod masking;
pub mod model;
pub mod params;
pub mod pos_embed;
pub mod train;
pub mod train_state;

pub use config::{MaeConfig, MaeDims};
pub use masking::{mask_from_noise, BatchMask};
pub use params::{param_specs, ParamSet, ParamSpec};
