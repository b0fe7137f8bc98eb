//! tessera-models: MAE-family models, initialization, checkpoints (safetensors with the official
//! PyTorch parameter names), data loaders.
#![forbid(unsafe_code)]
pub mod checkpoint;
pub mod data;
pub mod mae;
pub mod probe;
pub mod tensors;
pub mod train;
pub mod viz;
