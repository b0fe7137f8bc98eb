//! M3AE pre-training on image–caption pairs: the official recipe (AdamW β (0.9, 0.95), weight
//! decay 0.05 with M3AE's decay mask, linear warm-up then cosine) on a folder of pairs, with a
//! held-out part whose loss is measured with fixed masks before training and after every
//! epoch. The run folder gets the checkpoint (after every epoch and when stopped), the tokenizer
//! its ids mean, and `metrics.csv`.
//!
//! This loop is M3AE's own (the image-only trainer knows no captions). A stop (Ctrl-C or a step
//! budget) saves the position, and a resume continues bit for bit on the CPU backend
//! (see [`super::run_state`]).
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tessera_dsl::graph::{AdamWConfig, LrSchedule};
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::M3aeSpec;
use tessera_runtime::backend::Device;

use super::captions::{load_image, CaptionError, CaptionSet};
use super::eval::{evaluate, M3aeEval};
use super::run_state::{Recipe, RunState, FORMAT};
use super::tokenizer::{CaptionTokenizer, TokenizerError, TOKENIZER_FILE};
use super::M3aeModel;
use crate::checkpoint::CheckpointError;
use crate::eval::EvalError;
use crate::model::{Model, ModelError, StepInputs};
use crate::params::{init_params, ParamSet};
use crate::sample::Samples;
use crate::step::{TrainError, TrainStep};
use crate::train::checkpoint::{load_pair, save_pair, RealDisk, RunCheckpointError};

/// The checkpoint's file name in a run folder.
pub const CHECKPOINT_FILE: &str = "model.safetensors";
/// AdamW's moments beside it (what `--resume` needs besides the parameters).
pub const OPTIM_FILE: &str = "model.optim.safetensors";
/// Per-epoch metrics in a run folder.
pub const METRICS_FILE: &str = "metrics.csv";
/// Where the run's data and split are recorded, so pictures can show held-out pairs.
pub const RUN_FILE: &str = "run.json";

/// Stream tags of the random draws, so each is reproducible on its own.
const SPLIT_STREAM: u64 = 0x5350_4c54; // "SPLT"
const ORDER_STREAM: u64 = 0x4f52_4452; // "ORDR"
const MASK_STREAM: u64 = 0x4d41_534b; // "MASK"
const HELD_OUT_STREAM: u64 = 0x484f_4c44; // "HOLD"

/// What a run does.
#[derive(Clone, Debug, PartialEq)]
pub struct PretrainConfig {
    pub spec: M3aeSpec,
    /// Folder with `captions.jsonl`.
    pub data: PathBuf,
    /// Run folder (created).
    pub out: PathBuf,
    pub epochs: usize,
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    pub warmup_epochs: f64,
    pub weight_decay: f64,
    pub seed: u64,
    /// Pairs kept out of training to measure the loss on.
    pub held_out: usize,
    /// Use only the first N pairs.
    pub limit: Option<usize>,
    /// A `tokenizer.json` to use instead of training one on the training captions.
    pub tokenizer: Option<PathBuf>,
}

impl PretrainConfig {
    /// The settings a resume must share with this run, which has `pairs` pairs (after
    /// `limit`).
    pub fn recipe(&self, pairs: usize) -> Recipe {
        Recipe {
            data: std::path::absolute(&self.data).unwrap_or_else(|_| self.data.clone()),
            pairs,
            limit: self.limit,
            held_out: self.held_out,
            batch: self.batch,
            lr: self.lr,
            warmup_epochs: self.warmup_epochs,
            weight_decay: self.weight_decay,
            seed: self.seed,
        }
    }
}

/// What a run folder records about its data.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunInfo {
    /// The data folder (absolute).
    pub data: PathBuf,
    pub seed: u64,
    pub held_out: usize,
    pub limit: Option<usize>,
}

impl RunInfo {
    /// The held-out pairs' indices into the folder's list, in the run's order.
    pub fn held_out_indices(&self, set_len: usize) -> Vec<usize> {
        let n = self.limit.map_or(set_len, |l| l.min(set_len));
        split(n, self.seed, self.held_out).0
    }
}

/// `(held-out, training)` indices of `n` pairs.
fn split(n: usize, seed: u64, held_out: usize) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::for_stream(seed, &[SPLIT_STREAM]).shuffle(&mut order);
    let train = order.split_off(held_out.min(n));
    (order, train)
}

/// The default held-out share: a tenth of the pairs, between 1 and 256.
pub fn default_held_out(pairs: usize) -> usize {
    (pairs / 10).clamp(1, 256)
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum PretrainError {
    #[error(transparent)]
    Data(#[from] CaptionError),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    #[error("{0}")]
    Model(#[from] ModelError),
    #[error("{0}")]
    Train(#[from] TrainError),
    #[error("{0}")]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{0}")]
    Setup(String),
    #[error("cannot write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the loss is {loss} at step {step}; the run stops without saving. Lower --lr")]
    NonFinite { step: u64, loss: f32 },
    #[error(transparent)]
    RunCheckpoint(#[from] RunCheckpointError),
    #[error("cannot resume {path}: {why}")]
    Resume { path: PathBuf, why: String },
}

/// The held-out numbers at one moment.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeldOut {
    pub loss: f32,
    pub image_loss: f32,
    pub text_loss: f32,
    pub text_accuracy: f32,
}

impl From<&M3aeEval> for HeldOut {
    fn from(e: &M3aeEval) -> Self {
        HeldOut {
            loss: e.common.loss,
            image_loss: e.image_loss,
            text_loss: e.text_loss,
            text_accuracy: e.text_accuracy,
        }
    }
}

/// One epoch's record.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRow {
    pub epoch: usize,
    pub steps: usize,
    pub lr: f64,
    pub train_loss: f64,
    pub held_out: HeldOut,
    pub seconds: f64,
}

/// A finished (or stopped) run.
#[derive(Clone, Debug, PartialEq)]
pub struct PretrainSummary {
    /// False when a stop came first; the position is saved for `--resume`.
    pub finished: bool,
    /// Optimizer steps done, over every call of the run.
    pub global_step: u64,
    pub train_pairs: usize,
    pub held_out_pairs: usize,
    pub vocab_used: usize,
    pub before: HeldOut,
    pub epochs: Vec<EpochRow>,
}

/// Pairs as tensors: `[n, C, H, W]` images and `[n, T]` ids.
struct Tensors {
    images: Vec<f32>,
    text: Vec<u32>,
    n: usize,
}

fn tensors(
    set: &CaptionSet,
    idx: &[usize],
    spec: &M3aeSpec,
    tok: &CaptionTokenizer,
) -> Result<Tensors, PretrainError> {
    let mut images = Vec::with_capacity(idx.len() * spec.image.numel());
    let mut text = Vec::with_capacity(idx.len() * spec.text_len);
    for &i in idx {
        let pair = &set.pairs[i];
        images.extend(load_image(&pair.image, spec.image)?);
        text.extend(tok.encode(&pair.caption, spec.text_len)?);
    }
    Ok(Tensors {
        images,
        text,
        n: idx.len(),
    })
}

fn held_out_eval(
    model: &M3aeModel,
    params: &ParamSet,
    inputs: &StepInputs,
    device: &mut Device,
) -> Result<HeldOut, PretrainError> {
    Ok(HeldOut::from(&evaluate(
        model, params, inputs, false, device,
    )?))
}

/// What stops a run before its last epoch: Ctrl-C's flag and a budget of global steps. The
/// position is then saved.
pub struct Control<'a> {
    pub stop: &'a AtomicBool,
    pub stop_after: Option<u64>,
}

/// The checkpoint pair of a run folder.
fn checkpoint_files(out: &Path) -> [PathBuf; 2] {
    [out.join(CHECKPOINT_FILE), out.join(OPTIM_FILE)]
}

/// Runs pre-training as `cfg` says, or with `resume` continues the run saved in `cfg.out`;
/// `progress` hears about every epoch.
pub fn pretrain(
    cfg: &PretrainConfig,
    resume: bool,
    control: &Control,
    device: &mut Device,
    progress: &mut dyn FnMut(&EpochRow),
) -> Result<PretrainSummary, PretrainError> {
    let model = M3aeModel::new(cfg.spec)?;
    let spec = &cfg.spec;
    let mut set = CaptionSet::open(&cfg.data)?;
    if let Some(n) = cfg.limit {
        set.pairs.truncate(n);
    }
    if cfg.held_out == 0 || cfg.held_out + cfg.batch > set.pairs.len() {
        return Err(PretrainError::Setup(format!(
            "{} pairs cannot give {} held-out pairs (at least 1) and a training batch of {}",
            set.pairs.len(),
            cfg.held_out,
            cfg.batch
        )));
    }
    let (held_idx, train_idx) = split(set.pairs.len(), cfg.seed, cfg.held_out);
    let (held_idx, train_idx) = (&held_idx[..], &train_idx[..]);
    let recipe = cfg.recipe(set.pairs.len());
    let files = checkpoint_files(&cfg.out);
    let saved = if resume {
        Some(saved_run(&files, spec, &recipe, cfg.epochs)?)
    } else {
        None
    };
    let tok = match (&saved, &cfg.tokenizer) {
        (Some(_), _) => CaptionTokenizer::load(&cfg.out.join(TOKENIZER_FILE))?,
        (None, Some(path)) => CaptionTokenizer::load(path)?,
        (None, None) => CaptionTokenizer::train(
            train_idx.iter().map(|&i| set.pairs[i].caption.as_str()),
            spec.vocab,
        )?,
    };
    tok.fits(spec.vocab)?;
    if saved.is_none() {
        std::fs::create_dir_all(&cfg.out).map_err(|error| PretrainError::Write {
            path: cfg.out.clone(),
            error,
        })?;
        tok.save(&cfg.out.join(TOKENIZER_FILE))?;
    }
    // Written again on a resume: the data folder may have moved.
    let info = RunInfo {
        data: recipe.data.clone(),
        seed: cfg.seed,
        held_out: cfg.held_out,
        limit: cfg.limit,
    };
    let run_path = cfg.out.join(RUN_FILE);
    let json = serde_json::to_string_pretty(&info).expect("plain struct serializes");
    std::fs::write(&run_path, json).map_err(|error| PretrainError::Write {
        path: run_path,
        error,
    })?;
    let train = tensors(&set, train_idx, spec, &tok)?;
    let held = tensors(&set, held_idx, spec, &tok)?;

    // Fixed masks for the held-out pairs, so every measurement sees the same problem.
    let mut rng = Rng::for_stream(cfg.seed, &[HELD_OUT_STREAM]);
    let held_samples = Samples {
        pixels: &held.images,
        text: &held.text,
    };
    let held_inputs = model.step_inputs(&held_samples, &mut rng)?;

    let adam = AdamWConfig::mae_pretrain(cfg.weight_decay);
    let (mut params, moments, mut state) = match saved {
        Some((params, moments, mut state)) => {
            state.epochs = cfg.epochs;
            state.recipe.data = recipe.data;
            (params, Some(moments), state)
        }
        None => {
            let params = init_params(model.params(), cfg.seed);
            let before = held_out_eval(&model, &params, &held_inputs, device)?;
            let state = RunState {
                format: FORMAT.into(),
                recipe,
                epochs: cfg.epochs,
                global_step: 0,
                epoch: 0,
                step_in_epoch: 0,
                epoch_loss_sum: 0.0,
                before,
                rows: Vec::new(),
            };
            (params, None, state)
        }
    };
    let mut step = TrainStep::new(&model, cfg.batch, &params, adam, device)?;
    if let Some(moments) = &moments {
        step.restore(moments, state.global_step as usize)?;
    }
    let steps_per_epoch = train.n / cfg.batch;
    let schedule = LrSchedule {
        base_lr: cfg.lr,
        min_lr: 0.0,
        warmup_epochs: cfg.warmup_epochs,
        epochs: cfg.epochs as f64,
    };
    let (per_image, t) = (spec.image.numel(), spec.text_len);
    let save = |step: &TrainStep, params: &ParamSet, state: &RunState| {
        save_pair(
            &files,
            &model,
            params,
            &step.moments()?,
            &state.to_json(),
            &RealDisk,
        )?;
        write_metrics(&cfg.out.join(METRICS_FILE), &state.before, &state.rows)
    };
    let mut epoch_started = Instant::now();
    while !state.finished() {
        let epoch = state.epoch;
        let mut idx: Vec<usize> = (0..train.n).collect();
        Rng::for_stream(cfg.seed, &[ORDER_STREAM, epoch as u64]).shuffle(&mut idx);
        let chunks: Vec<&[usize]> = idx.chunks_exact(cfg.batch).collect();
        let mut lr = 0.0;
        while state.step_in_epoch < steps_per_epoch {
            let stop = control.stop.load(Ordering::SeqCst)
                || control.stop_after.is_some_and(|n| state.global_step >= n);
            if stop {
                params = step.params()?;
                save(&step, &params, &state)?;
                return Ok(summary(false, &state, &train, &held, &tok));
            }
            let it = state.step_in_epoch;
            let mut pixels = Vec::with_capacity(cfg.batch * per_image);
            let mut text = Vec::with_capacity(cfg.batch * t);
            for &i in chunks[it] {
                pixels.extend_from_slice(&train.images[i * per_image..][..per_image]);
                text.extend_from_slice(&train.text[i * t..][..t]);
            }
            let samples = Samples {
                pixels: &pixels,
                text: &text,
            };
            let mut mask_rng = Rng::for_stream(cfg.seed, &[MASK_STREAM, state.global_step]);
            let inputs = model.step_inputs(&samples, &mut mask_rng)?;
            lr = schedule.lr_at_step(epoch, it, steps_per_epoch);
            let loss = step.step(&inputs, lr)?;
            state.global_step += 1;
            if !loss.is_finite() {
                return Err(PretrainError::NonFinite {
                    step: state.global_step,
                    loss,
                });
            }
            state.epoch_loss_sum += loss as f64;
            state.step_in_epoch += 1;
        }
        params = step.params()?;
        let row = EpochRow {
            epoch: epoch + 1,
            steps: state.global_step as usize,
            lr,
            train_loss: state.epoch_loss_sum / steps_per_epoch as f64,
            held_out: held_out_eval(&model, &params, &held_inputs, device)?,
            seconds: epoch_started.elapsed().as_secs_f64(),
        };
        progress(&row);
        state.rows.push(row);
        state.epoch += 1;
        state.step_in_epoch = 0;
        state.epoch_loss_sum = 0.0;
        save(&step, &params, &state)?;
        epoch_started = Instant::now();
    }
    Ok(summary(true, &state, &train, &held, &tok))
}

fn summary(
    finished: bool,
    state: &RunState,
    train: &Tensors,
    held: &Tensors,
    tok: &CaptionTokenizer,
) -> PretrainSummary {
    PretrainSummary {
        finished,
        global_step: state.global_step,
        train_pairs: train.n,
        held_out_pairs: held.n,
        vocab_used: tok.vocab_size(),
        before: state.before,
        epochs: state.rows.clone(),
    }
}

/// The parameters, moments and state saved in `files`, checked against what the resuming
/// call asks for: the same model, recipe and number of pairs (the folder may have moved), and
/// at least the epochs already done.
fn saved_run(
    files: &[PathBuf; 2],
    spec: &M3aeSpec,
    recipe: &Recipe,
    epochs: usize,
) -> Result<(ParamSet, Vec<crate::step::Moments>, RunState), PretrainError> {
    let refuse = |why: String| PretrainError::Resume {
        path: files[0].clone(),
        why,
    };
    let pair = load_pair(files)?;
    if pair.states[0] != pair.states[1] {
        return Err(refuse(format!(
            "it and {} are not from the same save (interrupted while renaming?)",
            files[1].display()
        )));
    }
    let state = RunState::from_json(&pair.states[0]).map_err(refuse)?;
    if pair.model.spec != tessera_dsl::spec::ModelSpec::M3ae(*spec) {
        return Err(refuse("the model differs from the saved run's".into()));
    }
    if let Some(flag) = state.recipe.first_difference(recipe) {
        return Err(refuse(format!(
            "{flag} differs from the saved run's; leave it out to continue the run as it was"
        )));
    }
    if epochs < state.epoch {
        return Err(refuse(format!(
            "--epochs {epochs} is fewer than the {} already done",
            state.epoch
        )));
    }
    Ok((pair.model.params, pair.moments, state))
}

fn write_metrics(path: &Path, before: &HeldOut, rows: &[EpochRow]) -> Result<(), PretrainError> {
    let mut text = String::from(
        "epoch,steps,lr,train_loss,held_out_loss,held_out_image_loss,held_out_text_loss,\
         held_out_text_accuracy,seconds\n",
    );
    let line = |e: usize, s: usize, lr: f64, tl: f64, h: &HeldOut, sec: f64| {
        format!(
            "{e},{s},{lr:e},{tl},{},{},{},{},{sec:.2}\n",
            h.loss, h.image_loss, h.text_loss, h.text_accuracy
        )
    };
    text.push_str(&line(0, 0, 0.0, f64::NAN, before, 0.0));
    for r in rows {
        text.push_str(&line(
            r.epoch,
            r.steps,
            r.lr,
            r.train_loss,
            &r.held_out,
            r.seconds,
        ));
    }
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(path)?;
        f.write_all(text.as_bytes())
    };
    write().map_err(|error| PretrainError::Write {
        path: path.to_path_buf(),
        error,
    })
}

/// The model and state of the M3AE run saved in `out`, or `None` when `out` holds no M3AE
/// run (no optimizer file beside the checkpoint).
pub fn saved_state(out: &Path) -> Result<Option<(M3aeSpec, RunState)>, PretrainError> {
    let files = checkpoint_files(out);
    if !files[1].exists() {
        return Ok(None);
    }
    let pair = load_pair(&files)?;
    let tessera_dsl::spec::ModelSpec::M3ae(spec) = pair.model.spec else {
        return Ok(None);
    };
    let state = RunState::from_json(&pair.states[0]).map_err(|why| PretrainError::Resume {
        path: files[0].clone(),
        why,
    })?;
    Ok(Some((spec, state)))
}
