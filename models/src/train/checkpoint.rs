//! The checkpoint of a run: two safetensors files written as one.
//!
//! - `last.safetensors`: the model under its official names with its `spec` (and, where the
//!   official code can build it, `config` and `layer_norm_eps`) metadata, exactly what
//!   `checkpoint::save` writes (so `tessera eval`, `probe`, `reconstruct` and PyTorch read it as
//!   is), plus `train_state` metadata.
//! - `last.optim.safetensors`: AdamW's moments, `optim.exp_avg.<name>` and
//!   `optim.exp_avg_sq.<name>` for every trainable parameter, and the same `train_state`.
//!
//! The optimizer state lives in a sibling file because the model loader refuses unknown
//! tensors (a misnamed tensor is an error there, not something to skip silently).
//!
//! Both files are first written completely under staging names and flushed; only then are they
//! renamed over the previous pair. A failed write (full disk, read-only folder) therefore
//! leaves the previous pair untouched, and `train_state.save_id` lets a resume detect the one
//! unlikely mix (a crash between the two renames).
use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};

use super::state::TrainState;
use crate::checkpoint::{self as model_ckpt, Checkpoint, CheckpointError};
use crate::model::Model;
use crate::params::ParamSet;
use crate::step::Moments;
use crate::tensors::TensorFile;

/// File name of the model checkpoint in a run folder.
pub const MODEL_FILE: &str = "last.safetensors";
/// File name of the optimizer state in a run folder.
pub const OPTIM_FILE: &str = "last.optim.safetensors";
/// Metadata key of the [`TrainState`] JSON.
pub const STATE_KEY: &str = "train_state";
/// Tensor name prefixes of the moments.
pub const EXP_AVG: &str = "optim.exp_avg.";
pub const EXP_AVG_SQ: &str = "optim.exp_avg_sq.";

/// Where checkpoint bytes go. The real one is [`RealDisk`]; tests put a failing one in its
/// place to check that a full disk loses nothing.
pub trait Disk: Send {
    /// Creates (or truncates) `path`, writes `bytes` and flushes them to stable storage.
    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Renames `from` over `to` (atomic on one file system).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
}

/// The file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealDisk;

impl Disk for RealDisk {
    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut f = fs::File::create(path)?;
        f.write_all(bytes)?;
        f.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
}

/// Why a run's checkpoint could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum RunCheckpointError {
    #[error(
        "cannot write the checkpoint {path}: {source}; the previous checkpoint in that folder \
         is unchanged"
    )]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot serialize {path}: {reason}")]
    Serialize { path: PathBuf, reason: String },
    #[error(transparent)]
    Model(#[from] CheckpointError),
    #[error("{path}: {reason}")]
    Optim { path: PathBuf, reason: String },
    #[error("{path} has no `train_state` metadata: it is a model checkpoint, not a run to resume")]
    NoState { path: PathBuf },
    #[error("{path}: bad `train_state` metadata: {reason}")]
    BadState { path: PathBuf, reason: String },
    #[error(
        "{model} (step {model_step}) and {optim} (step {optim_step}) are not from the same \
         save (interrupted while renaming?); cannot resume exactly"
    )]
    Mismatch {
        model: PathBuf,
        optim: PathBuf,
        model_step: u64,
        optim_step: u64,
    },
}

/// A run's checkpoint as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct RunCheckpoint {
    pub model: Checkpoint,
    pub moments: Vec<Moments>,
    pub state: TrainState,
}

fn staging(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial"))
}

fn serialize(
    path: &Path,
    tensors: Vec<(String, Vec<usize>, &[f32])>,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>, RunCheckpointError> {
    let err = |reason: String| RunCheckpointError::Serialize {
        path: path.to_path_buf(),
        reason,
    };
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for ((name, shape, _), b) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(Dtype::F32, shape.clone(), b)
            .map_err(|e| err(format!("tensor `{name}`: {e}")))?;
        views.push((name.clone(), view));
    }
    safetensors::tensor::serialize(views, Some(metadata)).map_err(|e| err(e.to_string()))
}

/// Writes the run's checkpoint into `dir` through `disk` (see the module doc for the order).
pub fn save_run(
    dir: &Path,
    model: &dyn Model,
    params: &ParamSet,
    moments: &[Moments],
    state: &TrainState,
    disk: &dyn Disk,
) -> Result<(), RunCheckpointError> {
    let files = [dir.join(MODEL_FILE), dir.join(OPTIM_FILE)];
    save_pair(&files, model, params, moments, &state.to_json(), disk)
}

/// Writes a model file and its optimizer file (`files`), both carrying `state_json` as their
/// `train_state` metadata, staged and renamed as the module doc says. A training loop with a
/// state of its own (M3AE's) saves through this too.
pub fn save_pair(
    files: &[PathBuf; 2],
    model: &dyn Model,
    params: &ParamSet,
    moments: &[Moments],
    state_json: &str,
    disk: &dyn Disk,
) -> Result<(), RunCheckpointError> {
    let [model_path, optim_path] = files.clone();
    let dir = model_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let state_json = state_json.to_string();
    let model_tensors = params
        .specs
        .iter()
        .zip(&params.values)
        .map(|(s, v)| (s.name.clone(), s.shape.clone(), v.as_slice()))
        .collect();
    let mut model_meta = model_ckpt::metadata(model);
    model_meta.insert(STATE_KEY.to_string(), state_json.clone());
    let model_bytes = serialize(&model_path, model_tensors, model_meta)?;
    let mut optim_tensors = Vec::with_capacity(2 * moments.len());
    for m in moments {
        optim_tensors.push((
            format!("{EXP_AVG}{}", m.name),
            m.shape.clone(),
            m.exp_avg.as_slice(),
        ));
        optim_tensors.push((
            format!("{EXP_AVG_SQ}{}", m.name),
            m.shape.clone(),
            m.exp_avg_sq.as_slice(),
        ));
    }
    let optim_meta = HashMap::from([(STATE_KEY.to_string(), state_json)]);
    let optim_bytes = serialize(&optim_path, optim_tensors, optim_meta)?;

    let staged = [
        (staging(&optim_path), optim_path, optim_bytes),
        (staging(&model_path), model_path, model_bytes),
    ];
    for (tmp, final_path, bytes) in &staged {
        if let Err(source) = disk.write_file(tmp, bytes) {
            for (t, _, _) in &staged {
                let _ = fs::remove_file(t);
            }
            return Err(RunCheckpointError::Write {
                path: final_path.clone(),
                source,
            });
        }
    }
    for (tmp, final_path, _) in &staged {
        disk.rename(tmp, final_path)
            .map_err(|source| RunCheckpointError::Write {
                path: final_path.clone(),
                source,
            })?;
    }
    // Persist the renames; a folder that cannot be opened (some platforms) is fine.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The [`TrainState`] in a file's metadata.
pub fn state_of(file: &TensorFile) -> Result<TrainState, RunCheckpointError> {
    let text = file
        .metadata
        .get(STATE_KEY)
        .ok_or_else(|| RunCheckpointError::NoState {
            path: file.path.clone(),
        })?;
    TrainState::from_json(text).map_err(|reason| RunCheckpointError::BadState {
        path: file.path.clone(),
        reason,
    })
}

/// Reads the checkpoint of the run in `dir`.
pub fn load_run(dir: &Path) -> Result<RunCheckpoint, RunCheckpointError> {
    let files = [dir.join(MODEL_FILE), dir.join(OPTIM_FILE)];
    let pair = load_pair(&files)?;
    let parse = |path: &Path, text: &str| {
        TrainState::from_json(text).map_err(|reason| RunCheckpointError::BadState {
            path: path.to_path_buf(),
            reason,
        })
    };
    let model_state = parse(&files[0], &pair.states[0])?;
    let optim_state = parse(&files[1], &pair.states[1])?;
    if optim_state.save_id != model_state.save_id
        || optim_state.global_step != model_state.global_step
    {
        let [model, optim] = files;
        return Err(RunCheckpointError::Mismatch {
            model,
            optim,
            model_step: model_state.global_step,
            optim_step: optim_state.global_step,
        });
    }
    Ok(RunCheckpoint {
        model: pair.model,
        moments: pair.moments,
        state: model_state,
    })
}

/// A model file and its optimizer file as read back, with the `train_state` text of each
/// (equal when both come from one save).
pub struct SavedPair {
    pub model: Checkpoint,
    pub moments: Vec<Moments>,
    pub states: [String; 2],
}

/// Reads what [`save_pair`] wrote to `files`.
pub fn load_pair(files: &[PathBuf; 2]) -> Result<SavedPair, RunCheckpointError> {
    let [model_path, optim_path] = files;
    let model = model_ckpt::load(model_path, None)?;
    let text_of = |file: &TensorFile| {
        file.metadata
            .get(STATE_KEY)
            .cloned()
            .ok_or_else(|| RunCheckpointError::NoState {
                path: file.path.clone(),
            })
    };
    let model_state = text_of(&TensorFile::read(model_path).map_err(CheckpointError::from)?)?;
    let optim = TensorFile::read(optim_path).map_err(CheckpointError::from)?;
    let optim_state = text_of(&optim)?;
    let bad = |reason: String| RunCheckpointError::Optim {
        path: optim_path.clone(),
        reason,
    };
    let mut moments = Vec::new();
    for spec in model.params.specs.iter().filter(|s| s.trainable) {
        let get = |prefix: &str| {
            let name = format!("{prefix}{}", spec.name);
            let t = optim
                .get(&name)
                .ok_or_else(|| bad(format!("tensor `{name}` is missing")))?;
            if t.shape != spec.shape {
                return Err(bad(format!(
                    "tensor `{name}` has shape {:?}; the model needs {:?}",
                    t.shape, spec.shape
                )));
            }
            Ok(t.data.clone())
        };
        let exp_avg = get(EXP_AVG)?;
        let exp_avg_sq = get(EXP_AVG_SQ)?;
        moments.push(Moments {
            name: spec.name.clone(),
            shape: spec.shape.clone(),
            exp_avg,
            exp_avg_sq,
        });
    }
    if optim.tensors.len() != 2 * moments.len() {
        let extra = optim
            .tensors
            .iter()
            .map(|(n, _)| n)
            .find(|n| {
                !moments.iter().any(|m| {
                    **n == format!("{EXP_AVG}{}", m.name)
                        || **n == format!("{EXP_AVG_SQ}{}", m.name)
                })
            })
            .cloned()
            .unwrap_or_default();
        return Err(bad(format!(
            "unexpected tensor `{extra}` (not a moment of this model)"
        )));
    }
    Ok(SavedPair {
        model,
        moments,
        states: [model_state, optim_state],
    })
}
