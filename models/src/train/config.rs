//! What a pre-training run is: the model (its spec, masking included), the data, the recipe
//! (epochs, batch, AdamW, learning-rate schedule) and the seed. Stored in every checkpoint so
//! `--resume` continues the same run and refuses a different one.
use serde::{Deserialize, Serialize};
use tessera_dsl::graph::{AdamWConfig, LrSchedule};
use tessera_dsl::ModelSpec;

use crate::data::Fit;
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
    /// Data source spec (`fashion-mnist:DIR`, `folder:DIR`, `fashion-mnist-embedded`), with
    /// an absolute directory so the run can be resumed from anywhere.
    pub data: String,
    /// Use only `limit` training images, classes balanced (quick runs and tests).
    pub limit: Option<usize>,
    /// MAE's RandomResizedCrop(scale 0.2-1) + horizontal flip; without it images are brought
    /// to the model's size by `fit`.
    pub augment: bool,
    /// How images of another size are brought to the model's when not augmented (runs saved
    /// before this setting existed required exact sizes, which `center-crop` leaves as they
    /// are).
    #[serde(default)]
    pub fit: Fit,
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

    /// The fields (as flag names, with this recipe's and `other`'s values) in which `other`
    /// differs, for deciding whether a resume continues the same run. `--data` and `--epochs`
    /// are among them; the trainer allows those two to change (a moved data set, a longer run).
    pub fn differences(&self, other: &RunConfig) -> Vec<Difference> {
        let d = |flag: &'static str, differs: bool, saved: String, asked: String| {
            differs.then_some(Difference { flag, saved, asked })
        };
        let model = |m: &ModelSpec| serde_json::to_string(m).unwrap_or_default();
        let limit = |l: Option<usize>| l.map_or("none".into(), |n| n.to_string());
        [
            d(
                "--model/--config/--mask-ratio",
                self.model != other.model,
                model(&self.model),
                model(&other.model),
            ),
            d(
                "--data",
                self.data != other.data,
                self.data.clone(),
                other.data.clone(),
            ),
            d(
                "--limit",
                self.limit != other.limit,
                limit(self.limit),
                limit(other.limit),
            ),
            d(
                "--augment/--no-augment",
                self.augment != other.augment,
                self.augment.to_string(),
                other.augment.to_string(),
            ),
            d(
                "--fit",
                self.fit != other.fit,
                self.fit.name().into(),
                other.fit.name().into(),
            ),
            d(
                "--epochs",
                self.epochs != other.epochs,
                self.epochs.to_string(),
                other.epochs.to_string(),
            ),
            d(
                "--batch",
                self.batch != other.batch,
                self.batch.to_string(),
                other.batch.to_string(),
            ),
            d(
                "--lr/--blr/--min-lr",
                self.lr != other.lr || self.min_lr != other.min_lr,
                format!("{:e} (min {:e})", self.lr, self.min_lr),
                format!("{:e} (min {:e})", other.lr, other.min_lr),
            ),
            d(
                "--warmup-steps/--warmup-epochs",
                self.warmup != other.warmup,
                format!("{:?}", self.warmup),
                format!("{:?}", other.warmup),
            ),
            d(
                "--weight-decay",
                self.weight_decay != other.weight_decay,
                self.weight_decay.to_string(),
                other.weight_decay.to_string(),
            ),
            d(
                "--seed",
                self.seed != other.seed,
                self.seed.to_string(),
                other.seed.to_string(),
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// One setting in which two recipes differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub flag: &'static str,
    pub saved: String,
    pub asked: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} differs from the saved run's (saved {}, asked {})",
            self.flag, self.saved, self.asked
        )
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
            fit: Fit::CenterCrop,
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
        assert!(r.differences(&back).is_empty());
        let other = RunConfig {
            seed: 1,
            epochs: 6,
            ..r.clone()
        };
        let flags: Vec<&str> = r.differences(&other).iter().map(|d| d.flag).collect();
        assert_eq!(flags, ["--epochs", "--seed"]);
        let text = r.differences(&other)[1].to_string();
        assert!(text.contains("saved 0, asked 1"), "{text}");
        // A recipe saved before `fit` existed reads as center-crop.
        let mut old: serde_json::Value = serde_json::to_value(&r).unwrap();
        old.as_object_mut().unwrap().remove("fit");
        let back = RunConfig::from_json(&old.to_string()).unwrap();
        assert_eq!(back.fit, Fit::CenterCrop);
        let model = r.resolve().unwrap();
        assert_eq!(model.step_shape(8).keep, 12);
        let bad = RunConfig { batch: 0, ..r };
        let msg = bad.resolve().err().expect("batch 0 is refused").to_string();
        assert!(msg.contains("--batch"), "{msg}");
    }
}
