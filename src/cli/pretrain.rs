//! `tessera pretrain`: MAE pre-training on the CPU backend with a progress bar, `metrics.csv`,
//! `loss.png` and a checkpoint every epoch; `--resume` continues a run bit for bit and Ctrl-C
//! saves the position before exiting.
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tessera_dsl::graph::LrSchedule;
use tessera_dsl::spec::Target;
use tessera_models::train::checkpoint::MODEL_FILE;
use tessera_models::train::run::{LOSS_PLOT_FILE, METRICS_FILE};
use tessera_models::train::{
    load_run, Observer, Outcome, RunConfig, RunError, StepReport, TrainState, Trainer, Warmup,
};

use super::bad_input;
use super::model_args::{
    describe, with_mask_ratio, with_target, Backend, DeviceChoice, ModelChoice,
};

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The model (default: the preset mae_fmnist_small).
    #[command(flatten)]
    pub model: ModelChoice,
    /// Training data: `fashion-mnist:DIR`, `folder:DIR` or `fashion-mnist-embedded`
    /// (default: the Fashion-MNIST slice built into tessera); for M3AE `captions:DIR`, a
    /// folder of images with captions.jsonl.
    #[arg(long, value_name = "SOURCE")]
    pub data: Option<String>,
    /// Use only the first N training images.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// MAE's augmentation (RandomResizedCrop scale 0.2-1 + horizontal flip). Without it the
    /// images must already have the model's size.
    #[arg(long)]
    pub augment: bool,
    /// Epochs (default 4).
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Images per step (default 256).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Peak learning rate.
    #[arg(long, conflicts_with = "blr")]
    pub lr: Option<f64>,
    /// Base learning rate, scaled as official MAE does: lr = blr * batch / 256
    /// (default 1.5e-4, the official value).
    #[arg(long)]
    pub blr: Option<f64>,
    /// Lowest learning rate at the end of the cosine (default 0).
    #[arg(long)]
    pub min_lr: Option<f64>,
    /// Linear warm-up in epochs, fractions allowed (default: epochs / 20, the official 40 of
    /// 800).
    #[arg(long, conflicts_with = "warmup_steps")]
    pub warmup_epochs: Option<f64>,
    /// Linear warm-up in optimizer steps.
    #[arg(long)]
    pub warmup_steps: Option<u64>,
    /// AdamW weight decay (default 0.05; none on biases and 1-D tensors, as official).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Exact mask ratio, `3/4` or `0.75`, replacing the model spec's.
    #[arg(long)]
    pub mask_ratio: Option<String>,
    /// Per-patch normalized pixel targets (the official recommendation).
    #[arg(long, conflicts_with = "no_norm_pix")]
    pub norm_pix: bool,
    /// Raw pixel targets (reconstructions look like images without re-injecting statistics).
    #[arg(long)]
    pub no_norm_pix: bool,
    /// Seed of the initialization, the data order and the masks (default 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where the steps run (only the CPU backend promises a bit-exact --resume).
    #[command(flatten)]
    pub device: DeviceChoice,
    /// Run folder: last.safetensors (+ last.optim.safetensors), metrics.csv, loss.png.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Continue the run saved in --out exactly where it stopped (settings come from it).
    #[arg(long)]
    pub resume: bool,
    /// Stop (saving a checkpoint) once this many optimizer steps are done in total, as Ctrl-C
    /// would; continue later with --resume.
    #[arg(long, value_name = "STEPS")]
    pub stop_after: Option<u64>,
}

/// What a finished (or stopped) call did.
#[derive(Clone, Debug)]
pub struct Summary {
    pub outcome: Outcome,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let summary = pretrain(&args, &stop_on_ctrl_c())?;
    if summary.outcome == Outcome::Stopped && args.stop_after.is_none() {
        // Interrupted by the user: the conventional status of SIGINT.
        std::process::exit(130);
    }
    Ok(())
}

/// A flag that Ctrl-C raises (the loop then saves and stops).
pub fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = Arc::clone(&flag);
    // A second handler in one process is refused; the first one keeps working then.
    let _ = ctrlc::set_handler(move || {
        if f.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond Ctrl-C: exiting without saving");
            std::process::exit(130);
        }
        eprintln!("\nCtrl-C: saving a checkpoint after this step (Ctrl-C again to quit now)");
    });
    flag
}

/// Runs (or resumes) pre-training as `args` say; the body of `tessera pretrain` and the demo.
pub fn pretrain(args: &Args, stop: &AtomicBool) -> anyhow::Result<Summary> {
    if let Some(tessera_dsl::spec::ModelSpec::M3ae(spec)) = args.model.spec()? {
        super::m3ae::pretrain(args, spec)?;
        return Ok(Summary {
            outcome: Outcome::Finished,
        });
    }
    let mut device = args.device.open()?;
    let mut trainer = if args.resume {
        let saved = load_run(&args.out).map_err(|e| bad_input(e.to_string()))?;
        let expected = recipe(args, Some(&saved.state.config))?;
        Trainer::resume_on(&args.out, Some(&expected), &mut device).map_err(run_error)?
    } else {
        let config = recipe(args, None)?;
        Trainer::new_on(config, &args.out, &mut device).map_err(run_error)?
    };
    if args.device.backend == Backend::Wgpu {
        println!("backend: {}", device.name());
    }
    let state = trainer.state().clone();
    if state.finished() {
        println!(
            "{} is already finished ({} steps); nothing to do",
            args.out.display(),
            state.global_step
        );
        return Ok(Summary {
            outcome: Outcome::Finished,
        });
    }
    print_start(&trainer, args.resume);
    let mut bar = Bar::new(&state);
    let started = Instant::now();
    let outcome = trainer
        .run(&mut bar, stop, args.stop_after)
        .map_err(run_error);
    bar.finish();
    let outcome = outcome?;
    let state = trainer.state().clone();
    print_end(&state, &args.out, outcome, started.elapsed().as_secs_f64());
    Ok(Summary { outcome })
}

fn run_error(e: RunError) -> anyhow::Error {
    if e.is_user_input() {
        bad_input(e.to_string())
    } else {
        anyhow::Error::new(e)
    }
}

/// The recipe the flags describe; with `saved`, unset flags take the saved run's values.
fn recipe(args: &Args, saved: Option<&RunConfig>) -> anyhow::Result<RunConfig> {
    let mut model = match (saved, args.model.spec()?) {
        (_, Some(spec)) => spec,
        (Some(s), None) => s.model,
        (None, None) => super::model_args::preset("mae_fmnist_small")?,
    };
    if let Some(text) = &args.mask_ratio {
        model = with_mask_ratio(model, text)?;
    }
    if args.norm_pix {
        model = with_target(model, Target::NormPix)?;
    }
    if args.no_norm_pix {
        model = with_target(model, Target::Pix)?;
    }
    let epochs = args.epochs.or(saved.map(|s| s.epochs)).unwrap_or(4);
    let batch = args.batch.or(saved.map(|s| s.batch)).unwrap_or(256);
    let lr = match (args.lr, args.blr, saved) {
        (Some(lr), _, _) => lr,
        (None, Some(blr), _) => LrSchedule::scaled_base(blr, batch),
        (None, None, Some(s)) => s.lr,
        (None, None, None) => LrSchedule::scaled_base(1.5e-4, batch),
    };
    let warmup = match (args.warmup_epochs, args.warmup_steps, saved) {
        (Some(e), _, _) => Warmup::Epochs(e),
        (None, Some(s), _) => Warmup::Steps(s),
        (None, None, Some(s)) => s.warmup,
        (None, None, None) => Warmup::Epochs(epochs as f64 / 20.0),
    };
    if let Warmup::Epochs(e) = warmup {
        if !(e >= 0.0 && e.is_finite()) {
            return Err(bad_input(format!(
                "--warmup-epochs {e} must be a non-negative number"
            )));
        }
    }
    Ok(RunConfig {
        model,
        data: args
            .data
            .clone()
            .or(saved.map(|s| s.data.clone()))
            .unwrap_or_else(|| "fashion-mnist-embedded".into()),
        limit: args.limit.or(saved.and_then(|s| s.limit)),
        augment: args.augment || saved.is_some_and(|s| s.augment),
        epochs,
        batch,
        lr,
        min_lr: args.min_lr.or(saved.map(|s| s.min_lr)).unwrap_or(0.0),
        warmup,
        weight_decay: args
            .weight_decay
            .or(saved.map(|s| s.weight_decay))
            .unwrap_or(0.05),
        seed: args.seed.or(saved.map(|s| s.seed)).unwrap_or(0),
    })
}

fn print_start(trainer: &Trainer, resumed: bool) {
    let s = trainer.state();
    let c = &s.config;
    let (params, _) = tessera_models::params::ParamSet::counts(trainer.model().params());
    let verb = if resumed { "resuming" } else { "pre-training" };
    println!(
        "{verb} {}, {:.2}M parameters, on {} ({} images)",
        describe(&c.model),
        params as f64 / 1e6,
        c.data,
        s.data_len
    );
    println!(
        "  {} epochs x {} steps of {} images, lr {:e} ({}), wd {}, seed {}{}",
        c.epochs,
        s.steps_per_epoch,
        c.batch,
        c.lr,
        match c.warmup {
            Warmup::Steps(n) => format!("{n} warm-up steps then cosine"),
            Warmup::Epochs(e) => format!("{e} warm-up epochs then cosine"),
        },
        c.weight_decay,
        c.seed,
        if resumed {
            format!(", from step {}", s.global_step)
        } else {
            String::new()
        }
    );
}

/// `wall` is this invocation's wall-clock time of the loop (data waits and saves included).
fn print_end(state: &TrainState, dir: &Path, outcome: Outcome, wall: f64) {
    let ips = if state.train_seconds > 0.0 {
        (state.global_step * state.config.batch as u64) as f64 / state.train_seconds
    } else {
        0.0
    };
    match outcome {
        Outcome::Finished => println!(
            "done: {} steps, {:.1} s in training steps ({:.0} img/s), {wall:.1} s wall in this \
             call, last loss {:.4}",
            state.global_step,
            state.train_seconds,
            ips,
            state.last_loss.unwrap_or(f32::NAN)
        ),
        Outcome::Stopped => println!(
            "stopped after step {} of {}; continue with: tessera pretrain --out {} --resume",
            state.global_step,
            state.total_steps(),
            dir.display()
        ),
    }
    println!(
        "  checkpoint {}  metrics {}  loss plot {}",
        dir.join(MODEL_FILE).display(),
        dir.join(METRICS_FILE).display(),
        dir.join(LOSS_PLOT_FILE).display()
    );
    println!(
        "{}",
        serde_json::json!({
            "steps": state.global_step,
            "epochs_done": state.epoch,
            "train_seconds": (state.train_seconds * 10.0).round() / 10.0,
            "wall_seconds": (wall * 10.0).round() / 10.0,
            "images_per_s": ips.round(),
            "last_loss": state.last_loss,
            "finished": state.finished(),
        })
    );
}

/// The progress bar on a terminal; plain lines (a few per epoch) otherwise, so a log file
/// shows progress too.
struct Bar {
    bar: ProgressBar,
    tty: bool,
}

impl Bar {
    fn new(state: &TrainState) -> Self {
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

    fn finish(&mut self) {
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
