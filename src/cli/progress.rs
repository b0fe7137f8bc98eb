//! The progress of a training run: a bar on a terminal, a few plain lines per epoch
//! otherwise (so a log file shows progress too), and a line per epoch and per save.
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tessera_models::train::checkpoint::MODEL_FILE;
use tessera_models::train::{Observer, StepReport, TrainState};

/// The progress bar on a terminal; plain lines (a few per epoch) otherwise, so a log file
/// shows progress too.
pub struct Bar {
    bar: ProgressBar,
    tty: bool,
}

impl Bar {
    pub fn new(state: &TrainState) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = if tty {
            ProgressBar::with_draw_target(
                Some(state.total_steps()),
                ProgressDrawTarget::stderr_with_hz(4),
            )
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{bar:32.cyan/blue} {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_position(state.global_step);
        bar.enable_steady_tick(Duration::from_millis(250));
        Bar { bar, tty }
    }

    pub fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}

fn hms(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

impl Observer for Bar {
    fn step(&mut self, r: &StepReport) {
        let msg = format!(
            "epoch {}/{} step {}/{} loss {:.4} {:.0} img/s ETA {}",
            r.epoch + 1,
            r.epochs,
            r.step_in_epoch,
            r.steps_per_epoch,
            r.loss,
            r.images_per_s,
            hms(r.eta_s)
        );
        self.bar.set_position(r.global_step);
        self.bar.set_message(msg.clone());
        let every = (r.steps_per_epoch / 4).max(1);
        if !self.tty && (r.step_in_epoch.is_multiple_of(every) || r.global_step == 1) {
            println!("  step {}/{}: {msg}", r.global_step, r.total_steps);
        }
    }

    fn epoch_done(&mut self, epoch: u64, mean_loss: f64, state: &TrainState) {
        let line = format!(
            "epoch {}/{}: mean loss {mean_loss:.4}, {:.1} s of training so far",
            epoch + 1,
            state.config.epochs,
            state.train_seconds
        );
        if self.tty {
            self.bar.println(line);
        } else {
            println!("{line}");
        }
    }

    fn saved(&mut self, dir: &Path, state: &TrainState) {
        if !self.tty {
            println!(
                "  saved {} at step {}",
                dir.join(MODEL_FILE).display(),
                state.global_step
            );
        }
    }
}
