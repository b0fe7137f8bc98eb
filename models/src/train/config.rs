//! What a pre-training run is: the model (its spec, masking included), the data, the recipe
//! (epochs, batch, AdamW, learning-rate schedule) and the seed. Stored in every checkpoint so
//! `--resume` continues the same run and refuses a different one.
use serde::{Deserialize, Serialize};
use tessera_dsl::graph::{AdamWConfig, LrSchedule};
use tessera_dsl::ModelSpec;

use crate::model::{build, Model};

/// How long the learning rate ramps up linearly before the cosine decay.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warmup {
    /// A number of optimizer steps (the Fashion-MNIST reference uses 200).
    Steps(u64),
    /// A number of epochs, fractional allowed (official MAE: `--warmup_epochs 40`).
    Epochs(f64),
}

/// A complete pre-training recipe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The model's spec: architecture, masking, target, LayerNorm epsilon.
    pub model: ModelSpec,
    /// Data source spec (`fashion-mnist:DIR`, `folder:DIR`, `fashion-mnist-embedded`).
    pub data: String,
    /// Use only the first `limit` training images (quick runs and tests).
    pub limit: Option<usize>,
    /// MAE's RandomResizedCrop(scale 0.2-1) + horizontal flip; without it images must already
    /// have the model's size.
    pub augment: bool,
    pub epochs: u64,
    pub batch: usize,
    /// Peak learning rate (after `blr * batch / 256` scaling when given as a base rate).
    pub lr: f64,
    pub min_lr: f64,
    pub warmup: Warmup,
    pub weight_decay: f64,
    pub seed: u64,
}

/// A recipe that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunConfigError {
    #[error("{what} must be positive (got {value})")]
    NotPositive { what: &'static str, value: String },
    #[error("the model: {0}")]
    Model(String),
}

impl RunConfig {
    /// Parses the JSON form.
    pub fn from_json(text: &str) -> Result<RunConfig, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks the recipe and builds its model.
    pub fn resolve(&self) -> Result<Box<dyn Model>, RunConfigError> {
        for (what, ok, value) in [
            ("--epochs", self.epochs > 0, self.epochs.to_string()),
            ("--batch", self.batch > 0, self.batch.to_string()),
            (
                "--lr",
                self.lr > 0.0 && self.lr.is_finite(),
                self.lr.to_string(),
            ),
            (
                "--weight-decay",
                self.weight_decay >= 0.0 && self.weight_decay.is_finite(),
                self.weight_decay.to_string(),
            ),
        ] {
            if !ok {
                return Err(RunConfigError::NotPositive { what, value });
            }
        }
        build(&self.model).map_err(|e| RunConfigError::Model(e.to_string()))
    }

    /// MAE pre-training AdamW: betas (0.9, 0.95), no decay on 1-D tensors and biases.
    pub fn adamw(&self) -> AdamWConfig {
        AdamWConfig::mae_pretrain(self.weight_decay)
    }

    /// The per-iteration schedule of `util/lr_sched.py` for `steps_per_epoch` steps an epoch.
    pub fn schedule(&self, steps_per_epoch: usize) -> LrSchedule {
        let warmup_epochs = match self.warmup {
            Warmup::Steps(s) => s as f64 / steps_per_epoch.max(1) as f64,
            Warmup::Epochs(e) => e,
        };
        LrSchedule {
            base_lr: self.lr,
            min_lr: self.min_lr,
            warmup_epochs,
            epochs: self.epochs as f64,
        }
    }

    /// The first field (as a flag name) in which `other` differs, for refusing a resume that
    /// would not continue the same run.
    pub fn first_difference(&self, other: &RunConfig) -> Option<&'static str> {
        let checks: [(&'static str, bool); 10] = [
            ("--model/--config/--mask-ratio", self.model != other.model),
            ("--data", self.data != other.data),
            ("--limit", self.limit != other.limit),
            ("--augment", self.augment != other.augment),
            ("--epochs", self.epochs != other.epochs),
            ("--batch", self.batch != other.batch),
            (
                "--lr/--blr",
                self.lr != other.lr || self.min_lr != other.min_lr,
            ),
            (
                "--warmup-steps/--warmup-epochs",
                self.warmup != other.warmup,
            ),
            ("--weight-decay", self.weight_decay != other.weight_decay),
            ("--seed", self.seed != other.seed),
        ];
        checks.iter().find(|(_, differs)| *differs).map(|(n, _)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe() -> RunConfig {
        RunConfig {
            model: tessera_dsl::presets::by_name("mae_fmnist_small").unwrap(),
            data: "fashion-mnist-embedded".into(),
            limit: None,
            augment: false,
            epochs: 4,
            batch: 256,
            lr: 1e-3,
            min_lr: 0.0,
            warmup: Warmup::Steps(200),
            weight_decay: 0.05,
            seed: 0,
        }
    }

    #[test]
    fn warmup_steps_become_fractional_epochs_of_the_official_schedule() {
        // 234 steps an epoch, 200 warm-up steps: step 100 is half-way up, step 200 the peak,
        // the last step (935) near zero, the midpoint of the cosine at step 568.
        let s = recipe().schedule(234);
        let at = |step: usize| s.lr_at_step(step / 234, step % 234, 234);
        assert_eq!(at(0), 0.0);
        assert!((at(100) - 0.5e-3).abs() < 1e-12);
        assert!((at(200) - 1e-3).abs() < 1e-12);
        assert!((at(568) - 0.5e-3).abs() < 1e-12);
        assert!(at(935) < 1e-8 && at(935) > 0.0);
    }

    #[test]
    fn round_trips_as_json_and_names_the_changed_flag() {
        let r = recipe();
        let back = RunConfig::from_json(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(r.first_difference(&back), None);
        let other = RunConfig {
            seed: 1,
            ..r.clone()
        };
        assert_eq!(r.first_difference(&other), Some("--seed"));
        let model = r.resolve().unwrap();
        assert_eq!(model.step_shape(8).keep, 12);
        let bad = RunConfig { batch: 0, ..r };
        let msg = bad.resolve().err().expect("batch 0 is refused").to_string();
        assert!(msg.contains("--batch"), "{msg}");
    }
}
