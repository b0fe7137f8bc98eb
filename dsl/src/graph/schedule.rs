//! MAE's host-side learning-rate schedule (`util/lr_sched.py`): linear warm-up, then a
//! half-cycle cosine to `min_lr`, evaluated per step at a fractional epoch.
use core::f64::consts::PI;

/// `lr(e) = base·e/warmup` for `e < warmup`, else
/// `min + (base − min)·½(1 + cos(π (e − warmup)/(epochs − warmup)))`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrSchedule {
    pub base_lr: f64,
    pub min_lr: f64,
    pub warmup_epochs: f64,
    pub epochs: f64,
}

impl LrSchedule {
    /// MAE's `actual_lr = blr · effective_batch / 256`.
    pub fn scaled_base(blr: f64, effective_batch: usize) -> f64 {
        blr * effective_batch as f64 / 256.0
    }

    /// The rate at fractional epoch `epoch`.
    pub fn lr_at_epoch(&self, epoch: f64) -> f64 {
        if epoch < self.warmup_epochs {
            self.base_lr * epoch / self.warmup_epochs
        } else {
            let span = (self.epochs - self.warmup_epochs).max(f64::MIN_POSITIVE);
            let t = (epoch - self.warmup_epochs) / span;
            self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1.0 + libm::cos(PI * t))
        }
    }

    /// The rate of iteration `it` of epoch `epoch` with `steps_per_epoch` iterations
    /// (MAE calls it with `it / len(loader) + epoch`).
    pub fn lr_at_step(&self, epoch: usize, it: usize, steps_per_epoch: usize) -> f64 {
        self.lr_at_epoch(epoch as f64 + it as f64 / steps_per_epoch.max(1) as f64)
    }
}
