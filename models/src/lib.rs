//! tessera-models: MAE-family models, initialization, checkpoints (safetensors with the official
//! PyTorch parameter names), data loaders.
pub mod data;
