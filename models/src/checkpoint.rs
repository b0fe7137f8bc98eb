//! Checkpoints as safetensors with the official PyTorch names and shapes
//! (`patch_embed.proj.weight` [D, C, p, p], `blocks.N.attn.qkv.weight`, ..., `decoder_pred.bias`).
//!
//! The architecture travels in the metadata:
//! - `spec`: tessera's spec of the model (JSON, tagged by `family`), masking included;
//! - `config`: the official constructor's arguments as JSON, where the official code can build
//!   the model (`MaskedAutoencoderViT(**config)`, `HiViTMaskedAutoencoder(**config)` in
//!   PyTorch), with `layer_norm_eps` beside it.
//!
//! A file with only `config` (an official checkpoint converted to safetensors) is read as the
//! family whose constructor takes those arguments ([`crate::official_config`]), with the
//! constructor's LayerNorm epsilon (1e-5) unless `layer_norm_eps` says otherwise, masked as the
//! official forward pass does by default (random 3/4; UM-MAE: uniform, with the official
//! secondary-masking rule). A file with neither (an official PyTorch `.pth`, read directly, or
//! a bare state dict) is matched against the presets by its tensors' names and shapes. A
//! missing, extra or misshaped tensor is an error naming it; [`load_partial`] accepts a file
//! without the decoder (the released pre-trained MAE weights hold the encoder only). Swin's
//! integer `relative_position_index` buffers are checked against the index the model computes
//! and not loaded.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tessera_dsl::spec::{HiVitSpec, MaeSpec, ModelSpec};

use crate::blocks::relative_position_index;
use crate::infer::{infer_spec, Inferred};
use crate::model::{build, Model, ModelError};
use crate::official_config::{spec_from_config, with_official_quirks};
use crate::params::{Init, ParamSet, ParamSpec};
use crate::pth::{looks_like_pth, read_pth, PthError};
use crate::sincos::sincos_2d;
use crate::tensors::{write_atomic, TensorFile, TensorFileError};

/// Metadata key of tessera's spec JSON.
pub const SPEC_KEY: &str = "spec";
/// Metadata key of the official constructor-argument JSON.
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
    #[error(transparent)]
    Pth(#[from] PthError),
    #[error(
        "{path} has no `spec` or `config` metadata and {why}; name the architecture with \
         --model PRESET (e.g. mae_vit_base_patch16) or --config SPEC.toml"
    )]
    NoConfig { path: PathBuf, why: String },
    #[error("{path}: metadata `{key}` is not a valid {what}: {reason}")]
    Metadata {
        path: PathBuf,
        key: &'static str,
        what: &'static str,
        reason: String,
    },
    #[error("{path}: {error}")]
    Model { path: PathBuf, error: ModelError },
    #[error("{path}: tensor `{name}` is missing (expected shape {expected:?}){hint}")]
    Missing {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        hint: &'static str,
    },
    #[error("{path}: unexpected tensor `{name}` with shape {shape:?} (not part of this model)")]
    Extra {
        path: PathBuf,
        name: String,
        shape: Vec<usize>,
    },
    #[error("{path}: tensor `{name}` has shape {found:?}; the model needs {expected:?}")]
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
    #[error(
        "{path}: `{name}` is not Swin's relative position index of its window (the model \
         computes that buffer; a stored one must hold exactly it)"
    )]
    Buffer { path: PathBuf, name: String },
    #[error("{path}: the values for `{name}` hold {found} numbers; its shape needs {expected}")]
    Values {
        path: PathBuf,
        name: String,
        expected: usize,
        found: usize,
    },
}

/// A loaded checkpoint: the model's spec and every state-dict entry in official order.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub spec: ModelSpec,
    pub params: ParamSet,
}

impl Checkpoint {
    /// The model the checkpoint holds (its spec was checked when it was loaded).
    pub fn model(&self) -> Box<dyn Model> {
        build(&self.spec).expect("a loaded checkpoint's spec builds")
    }
}

/// The tensors and metadata of a checkpoint file: safetensors, or an official PyTorch
/// checkpoint (`.pth`), told apart by their first bytes.
pub fn read_file(path: &Path) -> Result<TensorFile, CheckpointError> {
    if looks_like_pth(path) {
        Ok(read_pth(path)?)
    } else {
        Ok(TensorFile::read(path)?)
    }
}

/// What a missing tensor's message adds: the released pre-trained weights have no decoder.
fn missing_hint(name: &str) -> &'static str {
    if is_decoder_side(name) {
        "; the file holds no decoder (like the released pre-trained MAE weights, which keep \
         the encoder only): it can be probed or pre-trained from (--init), not used to \
         reconstruct"
    } else {
        ""
    }
}

/// Whether `name` belongs to the part of a masked autoencoder that only pre-training uses
/// (the official names: the mask token and everything `decoder_`).
pub fn is_decoder_side(name: &str) -> bool {
    name == "mask_token" || name.starts_with("decoder")
}

/// Reads `path`. The architecture comes from `model` when given (`--model NAME`; a
/// `layer_norm_eps` in the file still applies, and so do the official code's quirks when the
/// file has no tessera `spec`), otherwise from the file's metadata, otherwise from the preset
/// its tensors match.
pub fn load(path: &Path, model: Option<&ModelSpec>) -> Result<Checkpoint, CheckpointError> {
    let (ckpt, missing) = load_partial(path, model)?;
    if let Some(name) = missing.first() {
        let spec = ckpt
            .model()
            .params()
            .iter()
            .find(|s| &s.name == name)
            .cloned();
        return Err(CheckpointError::Missing {
            path: path.to_path_buf(),
            name: name.clone(),
            expected: spec.map(|s| s.shape).unwrap_or_default(),
            hint: missing_hint(name),
        });
    }
    Ok(ckpt)
}

/// Like [`load`], but the pre-training-only tensors (mask token, decoder) may be absent: the
/// checkpoint then holds only the parameters the file has, and their names are returned.
/// Any other missing tensor is still an error.
pub fn load_partial(
    path: &Path,
    model: Option<&ModelSpec>,
) -> Result<(Checkpoint, Vec<String>), CheckpointError> {
    let file = read_file(path)?;
    let spec = spec_of(&file, model)?;
    let built = build(&spec).map_err(|error| CheckpointError::Model {
        path: path.to_path_buf(),
        error,
    })?;
    let mut specs = Vec::new();
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for spec in built.params() {
        let Some(t) = file.get(&spec.name) else {
            if !is_decoder_side(&spec.name) {
                return Err(CheckpointError::Missing {
                    path: path.to_path_buf(),
                    name: spec.name.clone(),
                    expected: spec.shape.clone(),
                    hint: "",
                });
            }
            missing.push(spec.name.clone());
            continue;
        };
        if t.shape != spec.shape {
            return Err(CheckpointError::Misshaped {
                path: path.to_path_buf(),
                name: spec.name.clone(),
                expected: spec.shape.clone(),
                found: t.shape.clone(),
            });
        }
        values.push(t.data.clone());
        specs.push(spec.clone());
    }
    let declared = built.params();
    let mut extras = Vec::new();
    for (name, t) in &file.tensors {
        if declared.iter().any(|s| &s.name == name) {
            continue;
        }
        match relative_position_index_of(name, declared) {
            // Swin's integer buffer, which the model computes: it must be that table.
            Some(window) if t.shape == [window * window; 2] => {
                let ours = relative_position_index(window);
                if ours.iter().zip(&t.data).any(|(&a, &b)| a as f32 != b) {
                    return Err(CheckpointError::Buffer {
                        path: path.to_path_buf(),
                        name: name.clone(),
                    });
                }
            }
            _ => extras.push((name, t)),
        }
    }
    extras.sort_by(|a, b| a.0.cmp(b.0));
    if let Some((name, t)) = extras.first() {
        return Err(CheckpointError::Extra {
            path: path.to_path_buf(),
            name: name.to_string(),
            shape: t.shape.clone(),
        });
    }
    let params = ParamSet { specs, values };
    check_tables(path, &params)?;
    Ok((Checkpoint { spec, params }, missing))
}

/// The window side of `name` if it is the `relative_position_index` buffer that belongs to a
/// `relative_position_bias_table` `[(2w - 1)², heads]` of the model (Swin and MixMIM save the
/// index in their state dict; tessera computes it, so it is checked and not loaded).
fn relative_position_index_of(name: &str, specs: &[ParamSpec]) -> Option<usize> {
    let scope = name.strip_suffix(".relative_position_index")?;
    let table = format!("{scope}.relative_position_bias_table");
    let rows = specs.iter().find(|s| s.name == table)?.shape[0];
    let side = (1..=rows)
        .find(|&k| k * k >= rows)
        .filter(|&k| k * k == rows)?;
    (side % 2 == 1).then_some(side.div_ceil(2))
}

/// Frozen tables must hold what their initialisation computes (they are never trained; a
/// trainable one that starts as a table, HiViT's `absolute_pos_embed`, may hold anything).
fn check_tables(path: &Path, params: &ParamSet) -> Result<(), CheckpointError> {
    for (spec, stored) in params.specs.iter().zip(&params.values) {
        let Init::SinCos2d { dim, grid, cls } = spec.init else {
            continue;
        };
        if spec.trainable {
            continue;
        }
        let ours = sincos_2d(dim, grid, cls);
        let max_diff = ours
            .iter()
            .zip(stored)
            .map(|(&a, &b)| (a - b as f64).abs())
            .fold(0.0, f64::max);
        if max_diff > TABLE_TOLERANCE || stored.iter().any(|x| x.is_nan()) {
            return Err(CheckpointError::Table {
                path: path.to_path_buf(),
                name: spec.name.clone(),
                max_diff,
            });
        }
    }
    Ok(())
}

/// The spec of a checkpoint file: `model` if given, else the `spec` metadata, else the
/// official `config` metadata.
pub fn spec_of(file: &TensorFile, model: Option<&ModelSpec>) -> Result<ModelSpec, CheckpointError> {
    let path = || file.path.clone();
    let meta = |key: &'static str, what: &'static str, reason: String| CheckpointError::Metadata {
        path: path(),
        key,
        what,
        reason,
    };
    let eps = match file.metadata.get(EPS_KEY) {
        None => None,
        Some(text) => Some(
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|e| e.is_finite() && *e > 0.0)
                .ok_or_else(|| meta(EPS_KEY, "positive number", format!("{text:?}")))?,
        ),
    };
    let spec = match (
        model,
        file.metadata.get(SPEC_KEY),
        file.metadata.get(CONFIG_KEY),
    ) {
        // tessera always writes `spec`: a file without one comes from the official code, whose
        // quirks a named architecture then reproduces too.
        (Some(m), None, _) => with_official_quirks(with_eps(*m, eps)),
        (Some(m), Some(_), _) => with_eps(*m, eps),
        (None, Some(json), _) => serde_json::from_str::<ModelSpec>(json)
            .map_err(|e| meta(SPEC_KEY, "model spec", e.to_string()))?,
        (None, None, Some(json)) => {
            spec_from_config(json, eps).map_err(|e| meta(CONFIG_KEY, e.what, e.reason))?
        }
        (None, None, None) => match infer_spec(file) {
            Inferred::One(_, spec) => *spec,
            Inferred::Several(names) => {
                return Err(CheckpointError::NoConfig {
                    path: path(),
                    why: format!("its tensors fit several presets ({})", names.join(", ")),
                })
            }
            Inferred::None => {
                return Err(CheckpointError::NoConfig {
                    path: path(),
                    why: "its tensors match no preset".into(),
                })
            }
        },
    };
    Ok(spec)
}

fn with_eps(spec: ModelSpec, eps: Option<f64>) -> ModelSpec {
    match (spec, eps) {
        (ModelSpec::Mae(s), Some(layer_norm_eps)) => ModelSpec::Mae(MaeSpec {
            layer_norm_eps,
            ..s
        }),
        (ModelSpec::HiVit(s), Some(layer_norm_eps)) => ModelSpec::HiVit(HiVitSpec {
            layer_norm_eps,
            ..s
        }),
        (spec, _) => spec,
    }
}

/// The metadata that describes `model` in a checkpoint.
pub fn metadata(model: &dyn Model) -> HashMap<String, String> {
    let spec = model.spec();
    let mut meta = HashMap::from([(
        SPEC_KEY.to_string(),
        serde_json::to_string(&spec).expect("specs serialize"),
    )]);
    if let Some(config) = model.official_config() {
        meta.insert(CONFIG_KEY.to_string(), config);
        let eps = match spec {
            ModelSpec::Mae(s) => Some(s.layer_norm_eps),
            ModelSpec::HiVit(s) => Some(s.layer_norm_eps),
            _ => None,
        };
        if let Some(eps) = eps {
            meta.insert(EPS_KEY.to_string(), format!("{eps:e}"));
        }
    }
    meta
}

/// Writes `params` of `model` under the official names with their metadata, atomically (temp
/// file in the same folder, fsync, rename).
pub fn save(path: &Path, model: &dyn Model, params: &ParamSet) -> Result<(), CheckpointError> {
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
    write_atomic(path, &params.to_tensors(), &metadata(model))?;
    Ok(())
}
