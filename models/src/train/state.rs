//! Where a run stands: how many steps are done, the position of the next batch in the epoch's
//! data order, and how the random streams are derived. Saved as JSON in the `train_state`
//! metadata of both checkpoint files; with the recipe it is all `--resume` needs to continue
//! bit for bit.
use serde::{Deserialize, Serialize};

use super::config::RunConfig;

/// Version tag of the JSON below; a different one is refused rather than misread.
pub const FORMAT: &str = "tessera-train-state/2";

/// How the data order of an epoch is drawn (documentation travelling with the file).
pub const DATA_ORDER: &str =
    "per epoch: Fisher-Yates shuffle of 0..data_len from Rng::for_stream(seed, ['SHUF', epoch]) \
     (xoshiro256**); step s takes positions s*batch .. (s+1)*batch, the last incomplete batch \
     is dropped";

/// How each step's masks are drawn.
pub const MASK_NOISE: &str =
    "per step: the model's masking strategy (its spec's `mask`) draws the batch's masks, sample \
     after sample, from Rng::for_stream(seed, ['MASK', global_step]); random masking takes \
     ids_shuffle = stable argsort(noise) as official random_masking";

/// The position and history of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainState {
    pub format: String,
    pub config: RunConfig,
    /// Optimizer steps done (AdamW's t of the last step).
    pub global_step: u64,
    /// The epoch the next batch belongs to (0-based; equals `epochs` when finished).
    pub epoch: u64,
    /// The index of the next batch within `epoch`.
    pub step_in_epoch: usize,
    pub steps_per_epoch: usize,
    /// Training images in the data set (after `limit`), checked again on resume.
    pub data_len: usize,
    pub data_order: String,
    pub mask_noise: String,
    /// Loss of the last step done.
    pub last_loss: Option<f32>,
    /// Seconds spent training (not loading or saving), summed over resumes.
    pub train_seconds: f64,
    /// A value drawn when the checkpoint is written: both files of one save carry the same.
    pub save_id: u64,
    /// The global steps at which the run was resumed, for the loss plot's marks.
    #[serde(default)]
    pub resumed_at: Vec<u64>,
}

impl TrainState {
    /// A run about to take its first step.
    pub fn fresh(config: RunConfig, steps_per_epoch: usize, data_len: usize) -> Self {
        TrainState {
            format: FORMAT.into(),
            config,
            global_step: 0,
            epoch: 0,
            step_in_epoch: 0,
            steps_per_epoch,
            data_len,
            data_order: DATA_ORDER.into(),
            mask_noise: MASK_NOISE.into(),
            last_loss: None,
            train_seconds: 0.0,
            save_id: 0,
            resumed_at: Vec::new(),
        }
    }

    pub fn total_steps(&self) -> u64 {
        self.config.epochs * self.steps_per_epoch as u64
    }

    pub fn finished(&self) -> bool {
        self.epoch >= self.config.epochs
    }

    /// Records a step done; moves to the next epoch after its last batch.
    pub fn advance(&mut self, loss: f32) {
        self.global_step += 1;
        self.last_loss = Some(loss);
        self.step_in_epoch += 1;
        if self.step_in_epoch == self.steps_per_epoch {
            self.epoch += 1;
            self.step_in_epoch = 0;
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain struct serializes")
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        let state: TrainState = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if state.format != FORMAT {
            return Err(format!(
                "train_state format `{}`; this tessera reads `{FORMAT}`",
                state.format
            ));
        }
        Ok(state)
    }
}
