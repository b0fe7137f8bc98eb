//! MAE pre-training as a library: the recipe, the loop (official per-step learning-rate
//! schedule, a mask per step from a seeded stream, a checkpoint every epoch), exact resume
//! (optimizer moments, step count and data position saved with the model), `metrics.csv`,
//! and the guards that keep work safe (non-finite loss, stop requests, failed writes).
pub mod checkpoint;
pub mod config;
pub mod log_txt;
pub mod metrics;
pub mod run;
pub mod state;

pub use checkpoint::{load_run, save_run, Disk, RealDisk, RunCheckpoint, RunCheckpointError};
pub use config::{Difference, RunConfig, RunConfigError, Warmup};
pub use run::{
    open_training_data, Observer, Outcome, RunError, Silent, StepReport, Trainer, TrainingData,
    MASK_STREAM,
};
pub use state::TrainState;
