//! `tessera pretrain`: pre-training on the CPU backend (or a GPU) with a progress bar,
//! `metrics.csv`, `log.txt`, `loss.png` and checkpoints; `--resume` continues a run bit for
//! bit (or for more epochs), `--init` starts from other weights (an official `.pth` too), and
//! Ctrl-C saves the position before exiting.
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use tessera_dsl::graph::LrSchedule;
use tessera_dsl::spec::{ModelSpec, Target};
use tessera_models::checkpoint;
use tessera_models::data::{open_clips, Fit, Source, Split};
use tessera_models::train::checkpoint::MODEL_FILE;
use tessera_models::train::log_txt::LOG_FILE;
use tessera_models::train::run::{LOSS_PLOT_FILE, METRICS_FILE};
use tessera_models::train::{load_run, Outcome, RunConfig, RunError, TrainState, Trainer, Warmup};

use super::bad_input;
use super::model_args::{
    describe, parse_source, with_mask_ratio, with_target, Backend, BatchChoice, DataChoice,
    DeviceChoice, ModelChoice, DEFAULT_DATA,
};
use super::progress::Bar;

/// The official base learning rate (`main_pretrain.py --blr`), per 256 images.
pub const BASE_LR: f64 = 1.5e-4;
/// The official batch, 256 images a step.
pub const FULL_BATCH: usize = 256;
/// Fewest steps an epoch that a default batch leaves a small data set.
pub const MIN_STEPS_PER_EPOCH: usize = 8;

#[derive(clap::Args, Clone, Debug)]
#[command(mut_arg("model", |a| a.help(
    "Model preset (`tessera check --preset NAME` shows one) [default: mae_fmnist_small, or \
     the run's, or --init's]"
)))]
#[command(mut_arg("data", |a| a.help(
    "Training images: `folder:DIR` (DIR/<class>/<image>.png|jpg, or the images straight in \
     DIR; DIR/train is used when present), `fashion-mnist:DIR` (its four IDX files) or \
     `fashion-mnist-embedded` (2,048 images built into tessera) [default: \
     fashion-mnist-embedded, or the run's; with --resume, the new place of a moved data set]"
)))]
#[command(mut_arg("batch", |a| a.help(
    "Images per step [default: 256, halved until a small data set gets 8 steps an epoch; or \
     the run's]"
)))]
pub struct Args {
    #[command(flatten)]
    pub model: ModelChoice,
    #[command(flatten)]
    pub data: DataChoice,
    /// MAE's augmentation: each image randomly cropped (scale 0.2-1) and flipped, as official
    /// pre-training does [default: on (clips: off), or the run's]
    #[arg(long, conflicts_with = "no_augment")]
    pub augment: bool,
    /// No augmentation: images only brought to the model's size (see --fit).
    #[arg(long)]
    pub no_augment: bool,
    /// Epochs; with --resume, a different number continues the run to the new length
    /// [default: 4, or the run's]
    #[arg(long)]
    pub epochs: Option<u64>,
    #[command(flatten)]
    pub batch: BatchChoice,
    /// Peak learning rate [default: --blr x batch / 256, or the run's]
    #[arg(long, conflicts_with = "blr")]
    pub lr: Option<f64>,
    /// Base learning rate: lr = blr x batch / 256 as official MAE scales it, for batches of
    /// 256 and more; smaller batches keep lr = blr (scaling Adam's rate down linearly makes
    /// small runs crawl) [default: 1.5e-4, the official value]
    #[arg(long)]
    pub blr: Option<f64>,
    /// Lowest learning rate at the end of the cosine [default: 0, or the run's]
    #[arg(long)]
    pub min_lr: Option<f64>,
    /// Linear warm-up in epochs, fractions allowed [default: epochs / 20, the official 40 of
    /// 800; or the run's]
    #[arg(long, conflicts_with = "warmup_steps")]
    pub warmup_epochs: Option<f64>,
    /// Linear warm-up in optimizer steps.
    #[arg(long)]
    pub warmup_steps: Option<u64>,
    /// AdamW weight decay, none on biases and 1-D tensors as official [default: 0.05, or the
    /// run's]
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
    /// Seed of the initialization, the data order, the augmentation and the masks
    /// [default: 0, or the run's]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where the steps run (only the CPU backend promises a bit-exact --resume).
    #[command(flatten)]
    pub device: DeviceChoice,
    /// Write the checkpoint every N epochs; the last epoch and a stop always write it, and
    /// metrics.csv, log.txt and loss.png are written every epoch [default: 1]
    #[arg(long, value_name = "N", default_value_t = 1, hide_default_value = true)]
    pub save_every: u64,
    /// Start from the parameters of CKPT (a tessera checkpoint, or an official PyTorch `.pth`
    /// such as mae_pretrain_vit_base.pth) with a fresh optimizer; parameters it lacks (an
    /// encoder-only file's decoder) are initialized as usual.
    #[arg(long, value_name = "CKPT", conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Run folder: last.safetensors (+ last.optim.safetensors), metrics.csv, log.txt, loss.png.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Continue the run saved in --out where it stopped (settings come from it; --epochs may
    /// change it, --data may name its new place).
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
    /// Where the run stands now.
    pub state: TrainState,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // M3AE trains on image–caption pairs with its own loop (captions, tokenizer, held-out loss).
    if let Some(ModelSpec::M3ae(spec)) = args.model.spec()? {
        return super::m3ae::pretrain(&args, spec);
    }
    if args.resume {
        if let Some(spec) = super::m3ae::saved_spec(&args.out)? {
            return super::m3ae::pretrain(&args, spec);
        }
    }
    let summary = pretrain(&args, &super::interrupt::stop_on_ctrl_c())?;
    if summary.outcome == Outcome::Stopped && args.stop_after.is_none() {
        // Interrupted by the user: the conventional status of SIGINT.
        std::process::exit(130);
    }
    Ok(())
}

/// Runs (or resumes) pre-training as `args` say; the body of `tessera pretrain` and the demo.
pub fn pretrain(args: &Args, stop: &AtomicBool) -> anyhow::Result<Summary> {
    let mut device = args.device.open()?;
    let mut trainer = if args.resume {
        let saved = load_run(&args.out).map_err(|e| bad_input(resume_hint(&args.out, e)))?;
        let expected = recipe(args, Some(&saved.state.config), None)?;
        Trainer::resume_on(&args.out, Some(&expected), &mut device).map_err(run_error)?
    } else if let Some(init) = &args.init {
        let named = args.model.spec()?;
        let (ckpt, _) =
            checkpoint::load_partial(init, named.as_ref()).map_err(|e| bad_input(e.to_string()))?;
        let config = recipe(args, None, Some(ckpt.spec))?;
        let (trainer, fresh) =
            Trainer::new_from(config, &ckpt.params, &args.out, &mut device).map_err(run_error)?;
        println!(
            "initialized from {}: {} tensors{}; the optimizer starts fresh",
            init.display(),
            ckpt.params.specs.len(),
            if fresh.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} initialized as a new run's (not in the file: {})",
                    fresh.len(),
                    abbreviate(&fresh)
                )
            }
        );
        trainer
    } else {
        let config = recipe(args, None, None)?;
        Trainer::new_on(config, &args.out, &mut device).map_err(run_error)?
    };
    trainer = trainer.with_save_every(args.save_every);
    if args.device.backend == Backend::Wgpu {
        println!("backend: {}", device.name());
    }
    let state = trainer.state().clone();
    if state.finished() {
        println!(
            "{} is already finished ({} steps of {} epochs); nothing to do. Train it longer \
             with --resume --epochs N, or start another run with another --out",
            args.out.display(),
            state.global_step,
            state.config.epochs
        );
        return Ok(Summary {
            outcome: Outcome::Finished,
            state,
        });
    }
    print_start(&trainer, args);
    let mut bar = Bar::new(&state);
    let started = Instant::now();
    let outcome = trainer
        .run(&mut bar, stop, args.stop_after)
        .map_err(run_error);
    bar.finish();
    let outcome = outcome?;
    let state = trainer.state().clone();
    print_end(&state, &args.out, outcome, started.elapsed().as_secs_f64());
    Ok(Summary { outcome, state })
}

/// A failed `load_run`, with what to do about a folder that holds no run.
fn resume_hint(dir: &Path, e: impl std::fmt::Display) -> String {
    if !dir.join(MODEL_FILE).exists() {
        format!(
            "--resume: {} holds no run ({MODEL_FILE} is missing); leave --resume out to start \
             one there",
            dir.display()
        )
    } else {
        e.to_string()
    }
}

/// `a, b, c and 23 more`.
fn abbreviate(names: &[String]) -> String {
    if names.len() <= 3 {
        names.join(", ")
    } else {
        format!("{} and {} more", names[..3].join(", "), names.len() - 3)
    }
}

fn run_error(e: RunError) -> anyhow::Error {
    if e.is_user_input() {
        bad_input(e.to_string())
    } else {
        anyhow::Error::new(e)
    }
}

/// The batch used when `--batch` is not given: the official 256, halved until `images` give
/// at least [`MIN_STEPS_PER_EPOCH`] steps an epoch (a folder of 64 images trains at batch 8
/// instead of failing for want of one full batch).
pub fn default_batch(images: usize) -> usize {
    let mut batch = FULL_BATCH;
    while batch > 1 && images / batch < MIN_STEPS_PER_EPOCH {
        batch /= 2;
    }
    batch
}

/// The samples an epoch of `model` on `source` has: images, or for a clip model the clips'
/// samples of its frame count (a folder of 3 clips of 32 frames is 6 samples of 16 frames, not
/// 96 images). Counted from file names, without reading the files.
fn training_samples(
    source: &Source,
    model: &ModelSpec,
) -> Result<usize, tessera_models::data::DataError> {
    match model {
        ModelSpec::VideoMae(spec) => {
            Ok(
                open_clips(source, Split::Train, spec.frames, spec.image.height)?
                    .0
                    .len(),
            )
        }
        _ => source.count_images(Split::Train),
    }
}

/// The peak learning rate of a base rate at `batch`: scaled linearly for batches of 256 and
/// more (the official rule), kept at `blr` below.
pub fn scaled_lr(blr: f64, batch: usize) -> f64 {
    LrSchedule::scaled_base(blr, batch.max(FULL_BATCH))
}

/// The recipe the flags describe; with `saved`, unset flags take the saved run's values; with
/// `init_spec`, the model defaults to the checkpoint's.
fn recipe(
    args: &Args,
    saved: Option<&RunConfig>,
    init_spec: Option<tessera_dsl::ModelSpec>,
) -> anyhow::Result<RunConfig> {
    let mut model = match (saved, args.model.spec()?, init_spec) {
        (_, Some(spec), _) => spec,
        (Some(s), None, _) => s.model,
        (None, None, Some(spec)) => spec,
        (None, None, None) => super::model_args::preset("mae_fmnist_small")?,
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
    let data = match (&args.data.data, saved) {
        (Some(text), _) => parse_source(text)?.to_string(),
        (None, Some(s)) => s.data.clone(),
        (None, None) => DEFAULT_DATA.to_string(),
    };
    let limit = args.data.limit.or(saved.and_then(|s| s.limit));
    let epochs = args.epochs.or(saved.map(|s| s.epochs)).unwrap_or(4);
    let batch = match (args.batch.batch, saved) {
        (Some(0), _) => return Err(bad_input("--batch must be at least 1")),
        (Some(b), _) => b,
        (None, Some(s)) => s.batch,
        (None, None) => {
            let source: Source = data
                .parse()
                .map_err(|e: tessera_models::data::DataError| bad_input(e.to_string()))?;
            let samples =
                training_samples(&source, &model).map_err(|e| bad_input(e.to_string()))?;
            default_batch(limit.map_or(samples, |n| n.min(samples)))
        }
    };
    let lr = match (args.lr, args.blr, saved) {
        (Some(lr), _, _) => lr,
        (None, Some(blr), _) => scaled_lr(blr, batch),
        (None, None, Some(s)) => s.lr,
        (None, None, None) => scaled_lr(BASE_LR, batch),
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
    let augment = match (args.augment, args.no_augment, saved) {
        (true, _, _) => true,
        (_, true, _) => false,
        (_, _, Some(s)) => s.augment,
        // Clips are not cropped or flipped: one crop must serve every frame of a clip.
        _ => !matches!(model, ModelSpec::VideoMae(_)),
    };
    let fit = match (args.data.fit, saved) {
        (Some(f), _) => Fit::from(f),
        (None, Some(s)) => s.fit,
        (None, None) => Fit::default(),
    };
    Ok(RunConfig {
        model,
        data,
        limit,
        augment,
        fit,
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

fn print_start(trainer: &Trainer, args: &Args) {
    let s = trainer.state();
    let c = &s.config;
    let (params, _) = tessera_models::params::ParamSet::counts(trainer.model().params());
    let verb = if args.resume {
        "resuming"
    } else {
        "pre-training"
    };
    println!(
        "{verb} {}, {:.2}M parameters, on {} ({} images)",
        describe(&c.model),
        params as f64 / 1e6,
        c.data,
        s.data_len
    );
    for note in trainer.notes() {
        println!("  {note}");
    }
    let lr_rule = match (args.lr, args.blr) {
        _ if args.resume => String::new(),
        (Some(_), _) => " (--lr)".to_string(),
        (None, blr) => {
            let blr = blr.unwrap_or(BASE_LR);
            if c.batch >= FULL_BATCH {
                format!(" = blr {blr:e} x {} / 256", c.batch)
            } else {
                format!(" = blr {blr:e}, not scaled down for a batch under 256")
            }
        }
    };
    // A clip model's sample is a clip of its frame count.
    let unit = match c.model {
        ModelSpec::VideoMae(_) => "clip",
        _ => "image",
    };
    let count = |n: usize| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let batch_rule = match args.batch.batch {
        None if !args.resume => format!(" (chosen for {}; --batch sets it)", count(s.data_len)),
        _ => String::new(),
    };
    println!(
        "  {} epoch{} x {} steps of {}{batch_rule}, lr {:e}{lr_rule} ({}), wd {}, seed \
         {}{}",
        c.epochs,
        if c.epochs == 1 { "" } else { "s" },
        s.steps_per_epoch,
        count(c.batch),
        c.lr,
        match c.warmup {
            Warmup::Steps(n) => format!("{n} warm-up steps then cosine"),
            Warmup::Epochs(e) => format!("{e} warm-up epochs then cosine"),
        },
        c.weight_decay,
        c.seed,
        if args.resume {
            format!(", from step {}", s.global_step)
        } else {
            String::new()
        }
    );
    if args.save_every > 1 {
        println!(
            "  checkpoint every {} epochs (and at the end)",
            args.save_every
        );
    }
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
             call, last step's loss {:.4}",
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
        "  checkpoint {}  metrics {}  {}  loss plot {}",
        dir.join(MODEL_FILE).display(),
        dir.join(METRICS_FILE).display(),
        dir.join(LOG_FILE).display(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_data_set_gets_a_batch_it_can_fill_eight_times() {
        assert_eq!(default_batch(60_000), 256);
        assert_eq!(default_batch(2048), 256);
        assert_eq!(default_batch(2047), 128);
        assert_eq!(default_batch(200), 16);
        assert_eq!(default_batch(64), 8);
        assert_eq!(default_batch(3), 1);
    }

    #[test]
    fn the_learning_rate_scales_up_from_256_but_not_down() {
        assert_eq!(scaled_lr(1.5e-4, 4096), 1.5e-4 * 16.0);
        assert_eq!(scaled_lr(1.5e-4, 256), 1.5e-4);
        assert_eq!(scaled_lr(1.5e-4, 16), 1.5e-4);
    }
}
