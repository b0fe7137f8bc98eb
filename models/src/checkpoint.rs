//! MAE checkpoints as safetensors with the official PyTorch names and shapes
//! (`patch_embed.proj.weight` [D, C, p, p], `blocks.N.attn.qkv.weight`, ..., `decoder_pred.bias`).
//! The architecture travels in the metadata: `config` holds the official constructor's
//! arguments as JSON and `layer_norm_eps` the LayerNorm epsilon (absent: the constructor's
//! default `nn.LayerNorm`, 1e-5). A missing, extra or misshaped tensor is an error naming it.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::mae::config::{ConfigError, MaeConfig, MaeDims};
use crate::mae::params::{param_specs, ParamSet};
use crate::mae::pos_embed::sincos_2d;
use crate::tensors::{write_atomic, TensorFile, TensorFileError};

/// Metadata key of the constructor-argument JSON.
pub const CONFIG_KEY: &str = "config";
/// Metadata key of the LayerNorm epsilon (a decimal number).
pub const EPS_KEY: &str = "layer_norm_eps";
/// Largest difference tolerated between a stored sin-cos table and the one computed here (the
/// f64 tables can round to neighbouring f32 values across libm implementations).
pub const TABLE_TOLERANCE: f64 = 1e-6;

/// Why a checkpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    File(#[from] TensorFileError),
    #[error(
        "{path} has no `config` metadata; name the architecture with --model \
         (e.g. mae_vit_base_patch16)"
    )]
    NoConfig { path: PathBuf },
    #[error("{path}: {error}")]
    Config { path: PathBuf, error: ConfigError },
    #[error("{path}: metadata `layer_norm_eps` = {value:?} is not a positive number")]
    Eps { path: PathBuf, value: String },
    #[error("{path}: tensor `{name}` is missing (expected shape {expected:?})")]
    Missing {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
    },
    #[error("{path}: unexpected tensor `{name}` with shape {shape:?} (not part of this MAE)")]
    Extra {
        path: PathBuf,
        name: String,
        shape: Vec<usize>,
    },
    #[error("{path}: tensor `{name}` has shape {found:?}; the config needs {expected:?}")]
    Misshaped {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error(
        "{path}: `{name}` differs from the fixed 2-D sin-cos table by up to {max_diff:e} \
         (tolerance {TABLE_TOLERANCE:e}); it must be the official frozen table"
    )]
    Table {
        path: PathBuf,
        name: String,
        max_diff: f64,
    },
    #[error("{path}: the values for `{name}` hold {found} numbers; its shape needs {expected}")]
    Values {
        path: PathBuf,
        name: String,
        expected: usize,
        found: usize,
    },
}

/// A loaded checkpoint: the architecture and every state-dict entry in official order.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub config: MaeConfig,
    pub dims: MaeDims,
    pub params: ParamSet,
}

/// Reads `path`. The architecture comes from `model` when given (`--model NAME`), otherwise
/// from the file's `config` metadata.
pub fn load(path: &Path, model: Option<&MaeConfig>) -> Result<Checkpoint, CheckpointError> {
    let file = TensorFile::read(path)?;
    let config = config_of(&file, model)?;
    let dims = config.validate().map_err(|error| CheckpointError::Config {
        path: path.to_path_buf(),
        error,
    })?;
    let specs = param_specs(&config, &dims);
    let mut values = Vec::with_capacity(specs.len());
    for spec in &specs {
        let t = file
            .get(&spec.name)
            .ok_or_else(|| CheckpointError::Missing {
                path: path.to_path_buf(),
                name: spec.name.clone(),
                expected: spec.shape.clone(),
            })?;
        if t.shape != spec.shape {
            return Err(CheckpointError::Misshaped {
                path: path.to_path_buf(),
                name: spec.name.clone(),
                expected: spec.shape.clone(),
                found: t.shape.clone(),
            });
        }
        values.push(t.data.clone());
    }
    let mut extras: Vec<_> = file
        .tensors
        .iter()
        .filter(|(n, _)| !specs.iter().any(|s| &s.name == n))
        .collect();
    extras.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some((name, t)) = extras.first() {
        return Err(CheckpointError::Extra {
            path: path.to_path_buf(),
            name: name.clone(),
            shape: t.shape.clone(),
        });
    }
    let params = ParamSet { specs, values };
    for (name, dim) in [
        ("pos_embed", config.embed_dim),
        ("decoder_pos_embed", config.decoder_embed_dim),
    ] {
        let ours = sincos_2d(dim, dims.grid, true);
        let stored = params.get(name).expect("listed above");
        let max_diff = ours
            .iter()
            .zip(stored)
            .map(|(&a, &b)| (a - b as f64).abs())
            .fold(0.0, f64::max);
        if max_diff > TABLE_TOLERANCE || stored.iter().any(|x| x.is_nan()) {
            return Err(CheckpointError::Table {
                path: path.to_path_buf(),
                name: name.to_string(),
                max_diff,
            });
        }
    }
    Ok(Checkpoint {
        config,
        dims,
        params,
    })
}

fn config_of(file: &TensorFile, model: Option<&MaeConfig>) -> Result<MaeConfig, CheckpointError> {
    let path = || file.path.clone();
    let mut config = match (model, file.metadata.get(CONFIG_KEY)) {
        (Some(m), _) => m.clone(),
        (None, Some(json)) => {
            MaeConfig::from_json(json).map_err(|error| CheckpointError::Config {
                path: path(),
                error,
            })?
        }
        (None, None) => return Err(CheckpointError::NoConfig { path: path() }),
    };
    if let Some(text) = file.metadata.get(EPS_KEY) {
        config.layer_norm_eps = text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|e| e.is_finite() && *e > 0.0)
            .ok_or_else(|| CheckpointError::Eps {
                path: path(),
                value: text.clone(),
            })?;
    }
    Ok(config)
}

/// Writes `params` under the official names with `config` and `layer_norm_eps` metadata,
/// atomically (temp file in the same folder, fsync, rename).
pub fn save(path: &Path, config: &MaeConfig, params: &ParamSet) -> Result<(), CheckpointError> {
    for (spec, v) in params.specs.iter().zip(&params.values) {
        if v.len() != spec.numel() {
            return Err(CheckpointError::Values {
                path: path.to_path_buf(),
                name: spec.name.clone(),
                expected: spec.numel(),
                found: v.len(),
            });
        }
    }
    let metadata = HashMap::from([
        (CONFIG_KEY.to_string(), config.to_json()),
        (EPS_KEY.to_string(), format!("{:e}", config.layer_norm_eps)),
    ]);
    write_atomic(path, &params.to_tensors(), &metadata)?;
    Ok(())
}
