//! Where an M3AE run stands, saved in both checkpoint files (`train_state` metadata) after every
//! epoch and when the run stops, so `--resume` continues it bit for bit on the CPU backend.
//!
//! What makes that possible without saving random-generator states: the data order of an epoch
//! is drawn from `Rng::for_stream(seed, ['ORDR', epoch])` and each step's masks from
//! `Rng::for_stream(seed, ['MASK', global_step])`, so the position (epoch, step in it, global
//! step) is all a resume needs besides the parameters and AdamW's moments.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::pretrain::{EpochRow, HeldOut};

/// Version tag of the JSON; another one is refused rather than misread.
pub const FORMAT: &str = "tessera-m3ae-run/1";

/// The settings a resumed run must share with the saved one (all but the epoch count, which a
/// resume may raise to train longer, and the data folder's place, which may have moved).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// The data folder (absolute).
    pub data: PathBuf,
    /// Image–caption pairs in it (after `limit`): a moved folder must still hold as many.
    pub pairs: usize,
    pub limit: Option<usize>,
    pub held_out: usize,
    pub batch: usize,
    pub lr: f64,
    pub warmup_epochs: f64,
    pub weight_decay: f64,
    pub seed: u64,
}

impl Recipe {
    /// The first setting of `wanted` that differs from this saved recipe, named as the flag
    /// that sets it (the data folder's place is not compared).
    pub fn first_difference(&self, wanted: &Recipe) -> Option<&'static str> {
        [
            ("the number of pairs in --data", self.pairs != wanted.pairs),
            ("--limit", self.limit != wanted.limit),
            ("the held-out share", self.held_out != wanted.held_out),
            ("--batch", self.batch != wanted.batch),
            ("--lr", self.lr != wanted.lr),
            (
                "--warmup-epochs",
                self.warmup_epochs != wanted.warmup_epochs,
            ),
            ("--weight-decay", self.weight_decay != wanted.weight_decay),
            ("--seed", self.seed != wanted.seed),
        ]
        .into_iter()
        .find(|(_, differs)| *differs)
        .map(|(flag, _)| flag)
    }
}

/// The position and history of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunState {
    pub format: String,
    pub recipe: Recipe,
    pub epochs: usize,
    /// Optimizer steps done.
    pub global_step: u64,
    /// The epoch of the next step (equals `epochs` when finished).
    pub epoch: usize,
    /// The next step's index within `epoch`.
    pub step_in_epoch: usize,
    /// Sum of the losses of `epoch`'s steps done so far (for its mean in metrics.csv).
    pub epoch_loss_sum: f64,
    /// Held-out numbers before the first step.
    pub before: HeldOut,
    /// Every finished epoch.
    pub rows: Vec<EpochRow>,
}

impl RunState {
    pub fn finished(&self) -> bool {
        self.epoch >= self.epochs
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain struct serializes")
    }

    pub fn from_json(text: &str) -> Result<RunState, String> {
        let state: RunState = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if state.format != FORMAT {
            return Err(format!(
                "format `{}`, this tessera reads `{FORMAT}`",
                state.format
            ));
        }
        Ok(state)
    }
}
