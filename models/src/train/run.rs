//! The pre-training loop: batches from the resumable loader, a mask per step, the official
//! learning-rate schedule, one planned step each, a checkpoint every epoch, and the guards that
//! keep work safe (a non-finite loss stops the run before anything is saved; a stop request
//! or a data error saves the position first).
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tessera_dsl::graph::LrSchedule;
use tessera_dsl::rng::Rng;
use tessera_runtime::backend::Device;

use super::checkpoint::{load_run, save_run, Disk, RealDisk, RunCheckpointError, MODEL_FILE};
use super::config::{RunConfig, RunConfigError};
use super::log_txt::{self, LOG_FILE};
use super::metrics::{MetricsLog, Row};
use super::state::TrainState;
use crate::data::{
    default_workers, open_clips, prepare, DataError, Loader, LoaderConfig, Preparation, Source,
    Split, Subset,
};
use crate::model::{Model, ModelError};
use crate::params::{init_params, ParamSet};
use crate::sample::{SampleSpec, Samples};
use crate::step::{TrainError, TrainStep};
use crate::viz::loss_plot::LossMarks;

/// Stream tag of the per-step masks ("MASK").
pub const MASK_STREAM: u64 = 0x4d41_534b;

/// File name of the per-step metrics in a run folder.
pub const METRICS_FILE: &str = "metrics.csv";
/// File name of the loss plot in a run folder.
pub const LOSS_PLOT_FILE: &str = "loss.png";

/// Why a run stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] RunConfigError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(
        "--batch {batch} is more than the {images} training images; use --batch {fit} or \
         less (or leave --batch out: it is then chosen from the number of images)"
    )]
    BatchTooLarge {
        batch: usize,
        images: usize,
        fit: usize,
    },
    #[error("{0}")]
    Model(#[from] ModelError),
    #[error(transparent)]
    Checkpoint(#[from] RunCheckpointError),
    #[error("{0}")]
    Train(#[from] TrainError),
    #[error(
        "the loss is {loss} at step {step} (epoch {epoch}, batch {batch} of the epoch); the \
         run stops without saving, so {kept} is left as it was. Lower --lr or check the data"
    )]
    NonFinite {
        step: u64,
        epoch: u64,
        batch: usize,
        loss: f32,
        kept: String,
    },
    #[error(
        "parameter `{name}` is no longer finite after step {step}; the run stops without \
         saving, so {kept} is left as it was. Lower --lr"
    )]
    NonFiniteParam {
        step: u64,
        name: String,
        kept: String,
    },
    #[error(
        "{dir} already holds a run ({MODEL_FILE}); pass --resume to continue it or choose \
         another --out"
    )]
    Exists { dir: PathBuf },
    #[error("cannot resume {dir}: {why}")]
    Resume { dir: PathBuf, why: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl RunError {
    /// Errors caused by what the user asked for (arguments, data, files), as opposed to a
    /// failure of the run itself.
    pub fn is_user_input(&self) -> bool {
        match self {
            RunError::Config(_)
            | RunError::BatchTooLarge { .. }
            | RunError::Exists { .. }
            | RunError::Resume { .. } => true,
            RunError::Data(e) => !matches!(e, DataError::Worker(_)),
            RunError::Checkpoint(e) => !matches!(e, RunCheckpointError::Write { .. }),
            _ => false,
        }
    }
}

/// How a call to [`Trainer::run`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every epoch is done.
    Finished,
    /// A stop was requested (Ctrl-C or `stop_after`); the position is saved.
    Stopped,
}

/// What an observer hears after each step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport {
    pub global_step: u64,
    pub total_steps: u64,
    /// 0-based epoch of the step.
    pub epoch: u64,
    pub epochs: u64,
    /// 1-based index of the step within its epoch.
    pub step_in_epoch: usize,
    pub steps_per_epoch: usize,
    pub loss: f32,
    pub lr: f64,
    /// Images per second over this session's steps.
    pub images_per_s: f64,
    /// Seconds left at this session's pace.
    pub eta_s: f64,
}

/// Progress display (the CLI's bar; nothing in tests).
pub trait Observer {
    fn step(&mut self, _report: &StepReport) {}
    /// An epoch ended with this mean loss.
    fn epoch_done(&mut self, _epoch: u64, _mean_loss: f64, _state: &TrainState) {}
    /// A checkpoint was written.
    fn saved(&mut self, _dir: &Path, _state: &TrainState) {}
}

/// An observer that shows nothing.
pub struct Silent;
impl Observer for Silent {}

/// The training data of a recipe, and what was done to it (lines for the user).
pub struct TrainingData {
    pub loader: Loader,
    pub notes: Vec<String>,
}

/// The training data of a recipe: source, `limit`, channels, augmentation or fit, and
/// normalization, prepared as every command prepares data.
pub fn open_training_data(config: &RunConfig, model: &dyn Model) -> Result<TrainingData, RunError> {
    let source: Source = config.data.parse()?;
    if let SampleSpec::Clip { frames, image } = model.sample() {
        return open_training_clips(config, &source, frames, image.height);
    }
    let prep = Preparation {
        split: Split::Train,
        image: model.image(),
        fit: config.fit,
        augment: config.augment,
        limit: config.limit,
    };
    let prepared = prepare(&source, &prep, default_workers())?;
    let images = prepared.dataset.len();
    if images < config.batch {
        return Err(RunError::BatchTooLarge {
            batch: config.batch,
            images,
            fit: images.max(1),
        });
    }
    let loader = Loader::new(
        prepared.dataset,
        prepared.transform,
        LoaderConfig::train(config.batch, config.seed),
    )?;
    Ok(TrainingData {
        loader,
        notes: prepared.notes,
    })
}

/// Clips for a clip model (VideoMAE): `folder:DIR` read as clip folders, not augmented.
fn open_training_clips(
    config: &RunConfig,
    source: &Source,
    frames: usize,
    size: usize,
) -> Result<TrainingData, RunError> {
    if config.augment {
        return Err(RunError::Data(DataError::BadConfig(
            "clips are not augmented (a crop or flip must be the same for every frame); leave \
             out --augment"
                .into(),
        )));
    }
    let (mut dataset, transform) = open_clips(source, Split::Train, frames, size)?;
    if let Some(n) = config.limit {
        dataset = Arc::new(Subset::balanced(dataset, n));
    }
    let notes = vec![format!(
        "{}: {} clips of {frames} frames",
        dataset.name(),
        dataset.len()
    )];
    let loader = Loader::new(
        dataset,
        transform,
        LoaderConfig::train(config.batch, config.seed),
    )?;
    Ok(TrainingData { loader, notes })
}

/// A run in progress: the planned step with its parameters and optimizer state, the data, the
/// position, the metrics, and where checkpoints go.
pub struct Trainer {
    model: Box<dyn Model>,
    loader: Loader,
    schedule: LrSchedule,
    step: TrainStep,
    state: TrainState,
    metrics: MetricsLog,
    dir: PathBuf,
    disk: Box<dyn Disk>,
    /// A checkpoint every this many epochs (and always at the end and when stopping).
    save_every: u64,
    /// What the data is and what changed on resume, for the user.
    notes: Vec<String>,
}

impl Trainer {
    /// A new run on the CPU backend writing to `dir` (created if needed; refused if it already
    /// holds a run).
    pub fn new(config: RunConfig, dir: &Path) -> Result<Self, RunError> {
        Self::new_on(config, dir, &mut Device::Cpu)
    }

    /// Like [`Trainer::new`], with the step planned on `device` (CPU or wgpu).
    pub fn new_on(config: RunConfig, dir: &Path, device: &mut Device) -> Result<Self, RunError> {
        if dir.join(MODEL_FILE).exists() {
            return Err(RunError::Exists {
                dir: dir.to_path_buf(),
            });
        }
        let model = config.resolve()?;
        let params = init_params(model.params(), config.seed);
        Self::start(config, model, params, dir, device)
    }

    /// A new run whose parameters start from `init` (a checkpoint's values, official names)
    /// instead of a fresh initialization; parameters `init` lacks (an encoder-only
    /// checkpoint's decoder) are initialized as usual. The optimizer starts fresh. Returns
    /// the trainer and the names that were initialized rather than taken from `init`.
    pub fn new_from(
        config: RunConfig,
        init: &ParamSet,
        dir: &Path,
        device: &mut Device,
    ) -> Result<(Self, Vec<String>), RunError> {
        if dir.join(MODEL_FILE).exists() {
            return Err(RunError::Exists {
                dir: dir.to_path_buf(),
            });
        }
        let model = config.resolve()?;
        let mut params = init_params(model.params(), config.seed);
        let mut fresh = Vec::new();
        for (spec, values) in params.specs.iter().zip(params.values.iter_mut()) {
            match init.get(&spec.name) {
                Some(v) if v.len() == values.len() => values.copy_from_slice(v),
                _ => fresh.push(spec.name.clone()),
            }
        }
        let trainer = Self::start(config, model, params, dir, device)?;
        Ok((trainer, fresh))
    }

    fn start(
        config: RunConfig,
        model: Box<dyn Model>,
        params: ParamSet,
        dir: &Path,
        device: &mut Device,
    ) -> Result<Self, RunError> {
        let data = open_training_data(&config, model.as_ref())?;
        std::fs::create_dir_all(dir).map_err(|source| RunError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let loader = data.loader;
        let state = TrainState::fresh(config, loader.steps_per_epoch(), loader.dataset().len());
        let metrics = MetricsLog::new(&dir.join(METRICS_FILE));
        let mut trainer = Self::assemble(model, loader, params, state, metrics, dir, device)?;
        trainer.notes = data.notes;
        Ok(trainer)
    }

    /// Continues the run saved in `dir` on the CPU backend. `expected`, when given, is the
    /// recipe the caller asked for (see [`Trainer::resume_on`]).
    pub fn resume(dir: &Path, expected: Option<&RunConfig>) -> Result<Self, RunError> {
        Self::resume_on(dir, expected, &mut Device::Cpu)
    }

    /// Continues the run saved in `dir` with the step planned on `device` (CPU or wgpu; only
    /// the CPU backend promises a bit-exact continuation). `expected`, when given, is the
    /// recipe the caller asked for. Two settings may differ from the saved run's: `epochs`
    /// (a longer or shorter run: the learning-rate schedule is recomputed for the new length
    /// from the current step on, as the official `--resume` does) and `data` (a data set that
    /// moved: it must hold as many images). Any other difference is refused, since the
    /// continuation would not be the same run.
    pub fn resume_on(
        dir: &Path,
        expected: Option<&RunConfig>,
        device: &mut Device,
    ) -> Result<Self, RunError> {
        let resume_err = |why: String| RunError::Resume {
            dir: dir.to_path_buf(),
            why,
        };
        if !dir.join(MODEL_FILE).exists() {
            return Err(resume_err(format!("there is no {MODEL_FILE} in it")));
        }
        let saved = load_run(dir)?;
        let mut state = saved.state;
        let mut notes = Vec::new();
        let mut data_moved = None;
        if let Some(want) = expected {
            let mut refused = Vec::new();
            for d in state.config.differences(want) {
                match d.flag {
                    "--epochs" => {
                        let total = want.epochs * state.steps_per_epoch as u64;
                        if total <= state.global_step {
                            return Err(resume_err(format!(
                                "--epochs {}: the run has already done {} steps ({} epochs \
                                 of {}); ask for more epochs than that",
                                want.epochs, state.global_step, state.epoch, state.steps_per_epoch
                            )));
                        }
                        let was_finished = state.finished();
                        let before = state.config.schedule(state.steps_per_epoch).lr_at_step(
                            state.epoch as usize,
                            state.step_in_epoch,
                            state.steps_per_epoch,
                        );
                        state.config.epochs = want.epochs;
                        let after = state.config.schedule(state.steps_per_epoch).lr_at_step(
                            state.epoch as usize,
                            state.step_in_epoch,
                            state.steps_per_epoch,
                        );
                        let had = if was_finished {
                            format!("the finished run's schedule had come down to {before:.3e}")
                        } else {
                            format!("it would have been {before:.3e}")
                        };
                        notes.push(format!(
                            "--epochs {} (the run was started with {}): the cosine schedule now \
                             ends at epoch {}; the next step's learning rate is {after:.3e} \
                             ({had})",
                            want.epochs, d.saved, want.epochs
                        ));
                    }
                    "--data" => {
                        data_moved = Some(d.saved.clone());
                        state.config.data = want.data.clone();
                    }
                    _ => refused.push(d.to_string()),
                }
            }
            if !refused.is_empty() {
                return Err(resume_err(format!(
                    "{}. Resume with the saved settings (leave those flags out), or start a \
                     new run with another --out",
                    refused.join("; ")
                )));
            }
        }
        let model = state.config.resolve()?;
        if saved.model.spec != state.config.model {
            return Err(resume_err(
                "the model in last.safetensors differs from the recipe in its train_state".into(),
            ));
        }
        let data = open_training_data(&state.config, model.as_ref()).map_err(|e| match e {
            RunError::Data(e) if data_moved.is_none() => resume_err(format!(
                "the run's data {} cannot be read ({e}). If it moved, add --data with its new \
                 place (it must hold the same images)",
                state.config.data
            )),
            other => other,
        })?;
        let loader = data.loader;
        if loader.dataset().len() != state.data_len {
            return Err(resume_err(format!(
                "{} now has {} training images; the run was started with {}",
                state.config.data,
                loader.dataset().len(),
                state.data_len
            )));
        }
        if let Some(old) = data_moved {
            notes.push(format!(
                "reading the data from {} (the run was started on {old}; same number of images)",
                state.config.data
            ));
        }
        notes.extend(data.notes);
        let metrics = MetricsLog::resume(&dir.join(METRICS_FILE), state.global_step);
        let global_step = state.global_step;
        state.resumed_at.push(global_step);
        let mut trainer = Self::assemble(
            model,
            loader,
            saved.model.params,
            state,
            metrics,
            dir,
            device,
        )?;
        trainer.step.restore(&saved.moments, global_step as usize)?;
        trainer.notes = notes;
        Ok(trainer)
    }

    fn assemble(
        model: Box<dyn Model>,
        loader: Loader,
        params: ParamSet,
        state: TrainState,
        metrics: MetricsLog,
        dir: &Path,
        device: &mut Device,
    ) -> Result<Self, RunError> {
        let cfg = &state.config;
        let step = TrainStep::new(model.as_ref(), cfg.batch, &params, cfg.adamw(), device)?;
        let schedule = cfg.schedule(state.steps_per_epoch);
        Ok(Trainer {
            model,
            loader,
            schedule,
            step,
            state,
            metrics,
            dir: dir.to_path_buf(),
            disk: Box::new(RealDisk),
            save_every: 1,
            notes: Vec::new(),
        })
    }

    /// Writes a checkpoint every `epochs` epochs instead of every epoch (the last epoch and a
    /// stop always save; the reports are written every epoch).
    pub fn with_save_every(mut self, epochs: u64) -> Self {
        self.save_every = epochs.max(1);
        self
    }

    /// What the data is, how it is prepared, and what a resume changed: lines for the user.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Writes checkpoints through `disk` instead of the file system (tests of failures).
    pub fn with_disk(mut self, disk: Box<dyn Disk>) -> Self {
        self.disk = disk;
        self
    }

    pub fn state(&self) -> &TrainState {
        &self.state
    }

    pub fn model(&self) -> &dyn Model {
        self.model.as_ref()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn metrics(&self) -> &MetricsLog {
        &self.metrics
    }

    /// The current parameters under their official names.
    pub fn params(&self) -> Result<ParamSet, RunError> {
        Ok(self.step.params()?)
    }

    /// The planned step itself (to inspect or alter its state, e.g. in tests).
    pub fn train_step_mut(&mut self) -> &mut TrainStep {
        &mut self.step
    }

    /// The learning rate of the next step.
    pub fn next_lr(&self) -> f64 {
        self.schedule.lr_at_step(
            self.state.epoch as usize,
            self.state.step_in_epoch,
            self.state.steps_per_epoch,
        )
    }

    /// Trains until the last epoch ends, `stop` becomes true, or `stop_after` global steps
    /// are done; saves a checkpoint at every epoch end and when stopping.
    pub fn run(
        &mut self,
        observer: &mut dyn Observer,
        stop: &AtomicBool,
        stop_after: Option<u64>,
    ) -> Result<Outcome, RunError> {
        let session_start = Instant::now();
        let session_first_step = self.state.global_step;
        let batch = self.state.config.batch;
        let seed = self.state.config.seed;
        let mut epoch_losses: Vec<f32> = Vec::new();
        while !self.state.finished() {
            let epoch = self.state.epoch;
            let iter = self.loader.resume(epoch, self.state.step_in_epoch)?;
            for item in iter {
                let data = match item {
                    Ok(b) => b,
                    Err(e) => {
                        // The position is consistent: keep what this session trained.
                        if self.state.global_step > session_first_step {
                            self.save(observer)?;
                        }
                        return Err(e.into());
                    }
                };
                let lr = self.next_lr();
                let mut rng = Rng::for_stream(seed, &[MASK_STREAM, self.state.global_step]);
                let inputs = self
                    .model
                    .step_inputs(&Samples::pixels(&data.images), &mut rng)?;
                let t0 = Instant::now();
                let loss = self.step.step(&inputs, lr)?;
                let step_s = t0.elapsed().as_secs_f64();
                let step_no = self.state.global_step + 1;
                if !loss.is_finite() {
                    return Err(RunError::NonFinite {
                        step: step_no,
                        epoch: epoch + 1,
                        batch: self.state.step_in_epoch + 1,
                        loss,
                        kept: self.kept_description(),
                    });
                }
                let in_epoch = self.state.step_in_epoch + 1;
                self.state.advance(loss);
                self.state.train_seconds += step_s;
                epoch_losses.push(loss);
                let done_here = (self.state.global_step - session_first_step) as f64;
                let wall = session_start.elapsed().as_secs_f64();
                let images_per_s = done_here * batch as f64 / wall.max(1e-9);
                let left = (self.state.total_steps() - self.state.global_step) as f64;
                self.metrics.push(Row {
                    step: self.state.global_step,
                    epoch: epoch as f64 + in_epoch as f64 / self.state.steps_per_epoch as f64,
                    loss,
                    lr,
                    images_per_s,
                    elapsed_s: self.state.train_seconds,
                });
                observer.step(&StepReport {
                    global_step: self.state.global_step,
                    total_steps: self.state.total_steps(),
                    epoch,
                    epochs: self.state.config.epochs,
                    step_in_epoch: in_epoch,
                    steps_per_epoch: self.state.steps_per_epoch,
                    loss,
                    lr,
                    images_per_s,
                    eta_s: left * wall / done_here.max(1.0),
                });
                let stop_now = stop.load(Ordering::SeqCst)
                    || stop_after.is_some_and(|n| self.state.global_step >= n);
                if self.state.epoch != epoch {
                    let mean = epoch_losses.iter().map(|&l| l as f64).sum::<f64>()
                        / epoch_losses.len().max(1) as f64;
                    epoch_losses.clear();
                    let due = stop_now
                        || self.state.finished()
                        || self.state.epoch.is_multiple_of(self.save_every);
                    if due {
                        self.save(observer)?;
                    } else {
                        self.write_reports()?;
                    }
                    observer.epoch_done(epoch, mean, &self.state);
                } else if stop_now {
                    self.save(observer)?;
                }
                if stop_now {
                    return Ok(if self.state.finished() {
                        Outcome::Finished
                    } else {
                        Outcome::Stopped
                    });
                }
            }
        }
        Ok(Outcome::Finished)
    }

    /// What a failure leaves on disk, for its message.
    fn kept_description(&self) -> String {
        let path = self.dir.join(MODEL_FILE);
        if path.exists() {
            path.display().to_string()
        } else {
            format!("{} (no checkpoint was written yet)", self.dir.display())
        }
    }

    /// Writes the checkpoint pair, `metrics.csv` and `loss.png` for the current position.
    /// Refuses (and leaves the previous checkpoint) if a parameter is not finite.
    pub fn save(&mut self, observer: &mut dyn Observer) -> Result<(), RunError> {
        let params = self.step.params()?;
        for (spec, values) in params.specs.iter().zip(&params.values) {
            if values.iter().any(|v| !v.is_finite()) {
                return Err(RunError::NonFiniteParam {
                    step: self.state.global_step,
                    name: spec.name.clone(),
                    kept: self.kept_description(),
                });
            }
        }
        let moments = self.step.moments()?;
        self.state.save_id = save_id(self.state.global_step);
        save_run(
            &self.dir,
            self.model.as_ref(),
            &params,
            &moments,
            &self.state,
            self.disk.as_ref(),
        )?;
        self.write_reports()?;
        observer.saved(&self.dir, &self.state);
        Ok(())
    }

    /// Writes `metrics.csv`, `log.txt` and `loss.png` for the steps done so far (a resume
    /// drops rows past its checkpoint, so they never disagree with it for long).
    pub fn write_reports(&self) -> Result<(), RunError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Io { path, source }
        };
        self.metrics.write().map_err(io(self.metrics.path()))?;
        let log = self.dir.join(LOG_FILE);
        log_txt::write(self.metrics.rows(), self.state.steps_per_epoch, &log).map_err(io(&log))?;
        let plot = self.dir.join(LOSS_PLOT_FILE);
        let marks = LossMarks {
            steps_per_epoch: self.state.steps_per_epoch,
            resumed_at: self.state.resumed_at.clone(),
        };
        crate::viz::loss_plot::write_loss_plot(self.metrics.rows(), &marks, &plot)
            .map_err(io(&plot))?;
        Ok(())
    }
}

/// A value that differs between saves (time and step mixed), tying the two files together.
fn save_id(step: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    Rng::for_stream(nanos, &[step, std::process::id() as u64]).next_u64()
}
