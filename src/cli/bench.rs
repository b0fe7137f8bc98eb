//! `tessera bench`: the time of one pre-training step (forward + backward + AdamW) of any
//! model, on seeded random input, as the PyTorch baseline times PyTorch: a fixed batch of
//! images, fresh masks every step, warm-up steps, then the median of the timed steps.
use std::time::Instant;

use tessera_dsl::graph::{AdamWConfig, LrSchedule};
use tessera_dsl::rng::Rng;
use tessera_dsl::ModelSpec;
use tessera_models::model::{Model, StepInputs};
use tessera_models::params::{init_params, normal};
use tessera_models::sample::{SampleSpec, Samples};
use tessera_models::step::TrainStep;
use tessera_models::um_swin::SimMimSwin;
use tessera_runtime::backend::Device;

use super::bad_input;
use super::model_args::{model_of, with_mask_ratio, BatchChoice, DeviceChoice, ModelChoice};

#[derive(clap::Args)]
#[command(mut_arg("model", |a| a.help(
    "Model preset (`tessera check --preset NAME` shows one) [default: mae_tiny_32]"
)))]
#[command(mut_arg("batch", |a| a.help("Images per step [default: 64]")))]
pub struct Args {
    #[command(flatten)]
    model: ModelChoice,
    #[command(flatten)]
    batch: BatchChoice,
    #[command(flatten)]
    device: DeviceChoice,
    /// Instead of a training step, time one N x N x N f32 matmul and report GFLOP/s.
    #[arg(long, value_name = "N")]
    matmul: Option<usize>,
    /// Exact mask ratio (`3/4`, `1/64`) instead of the model spec's.
    #[arg(long)]
    mask_ratio: Option<String>,
    /// Untimed steps before timing [default: 3]
    #[arg(long, default_value_t = 3, hide_default_value = true)]
    warmup: usize,
    /// Timed steps; the median is reported [default: 10]
    #[arg(long, default_value_t = 10, hide_default_value = true)]
    iters: usize,
    /// Seed of the parameters, images and masks [default: 0]
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    seed: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Also time every kernel of one extra step and print the ten most expensive.
    #[arg(long, conflicts_with = "baseline")]
    profile: bool,
    /// Also time a baseline built from the same spec, alternating with the model, and report
    /// the step-time and planned-peak-memory ratios (baseline / model).
    #[arg(long, value_enum)]
    baseline: Option<Baseline>,
    /// With --baseline: rounds of (model, baseline) timings, each of --iters steps; the
    /// ratio's median and range over the rounds are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let batch = args.batch.get_or(64)?;
    if args.iters == 0 || args.rounds == 0 {
        return Err(bad_input("--iters and --rounds must be at least 1"));
    }
    let mut device = args.device.open()?;
    if let Some(n) = args.matmul {
        return super::bench_matmul::run(&mut device, n, args.warmup, args.iters, args.json);
    }
    let mut spec = args.model.spec_or("mae_tiny_32")?;
    if let Some(text) = &args.mask_ratio {
        spec = with_mask_ratio(spec, text)?;
    }
    let model = model_of(&spec)?;
    let label = args
        .model
        .model
        .clone()
        .or(args.model.config.as_ref().map(|p| p.display().to_string()))
        .unwrap_or_else(|| "mae_tiny_32".into());
    let mut subject = Timed::new(label, model, batch, &args, &mut device)?;
    let Some(which) = args.baseline else {
        subject.run(args.warmup, args.iters)?;
        let profile = if args.profile {
            Some(subject.profile()?)
        } else {
            None
        };
        return report(&args, &device, &spec, &subject, profile);
    };
    let baseline = which.model(&spec)?;
    let mut base = Timed::new(which.label(), baseline, batch, &args, &mut device)?;
    // Alternate the two so that load on the shared machine hits both alike; each round's
    // ratio compares medians taken minutes apart at most.
    let mut ratios = Vec::with_capacity(args.rounds);
    for round in 0..args.rounds {
        let warmup = if round == 0 { args.warmup } else { 1 };
        let (a, b) = (
            subject.run(warmup, args.iters)?,
            base.run(warmup, args.iters)?,
        );
        ratios.push(b / a);
        if !args.json {
            eprintln!(
                "round {}/{}: {} {:.1} ms, {} {:.1} ms, ratio {:.2}",
                round + 1,
                args.rounds,
                subject.label,
                a * 1e3,
                base.label,
                b * 1e3,
                b / a
            );
        }
    }
    let peak_ratio =
        base.step.planned_peak_bytes() as f64 / subject.step.planned_peak_bytes() as f64;
    let spread = median_min_max(&mut ratios.clone());
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "model": subject.json(&args, &device, &spec),
                "baseline": base.json(&args, &device, &spec),
                "rounds": args.rounds,
                "step_time_ratio": spread.0,
                "step_time_ratio_min": spread.1,
                "step_time_ratio_max": spread.2,
                "step_time_ratios": ratios,
                "planned_peak_ratio": peak_ratio,
            })
        );
    } else {
        println!("{}", subject.line(&device));
        println!("{}", base.line(&device));
        println!(
            "{} takes {:.2}x the step time of {} (median of {} rounds, {:.2}-{:.2}) and \
             {peak_ratio:.2}x its planned peak memory",
            base.label, spread.0, subject.label, args.rounds, spread.1, spread.2
        );
    }
    Ok(())
}

/// A model the benchmark compares against, built from the benchmarked spec.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Baseline {
    /// SimMIM-style symmetric pre-training of the same Swin (um_swin specs): every token
    /// through the encoder, mask tokens inside it.
    Simmim,
}

impl Baseline {
    fn label(self) -> String {
        match self {
            Baseline::Simmim => "simmim-swin".into(),
        }
    }

    fn model(self, spec: &ModelSpec) -> anyhow::Result<Box<dyn Model>> {
        match (self, spec) {
            (Baseline::Simmim, ModelSpec::UmSwin(s)) => Ok(Box::new(SimMimSwin::new(*s)?)),
            (Baseline::Simmim, other) => Err(bad_input(format!(
                "--baseline simmim compares a UM-MAE Swin with SimMIM pre-training of the same \
                 Swin; this is a {} model (try --model um_swin_tiny_32)",
                other.family().name()
            ))),
        }
    }
}

/// One model's planned step, its fixed batch and masks, and the step times taken so far.
struct Timed {
    label: String,
    model: Box<dyn Model>,
    step: TrainStep,
    pixels: Vec<f32>,
    text: Vec<u32>,
    rng: Rng,
    sched: LrSchedule,
    times: Vec<f64>,
    last_loss: f32,
    batch: usize,
}

/// Optimizer steps per epoch of the learning-rate schedule (only its shape matters here).
const STEPS_PER_EPOCH: usize = 100;

impl Timed {
    /// Plans `model`'s step for `n` images a step, on `device`.
    fn new(
        label: String,
        model: Box<dyn Model>,
        n: usize,
        args: &Args,
        device: &mut Device,
    ) -> anyhow::Result<Timed> {
        let params = init_params(model.params(), args.seed);
        // The recipe of main_pretrain.py: AdamW betas (0.9, 0.95), wd 0.05, lr = blr·batch/256
        // with blr 1.5e-4 under a 40-epoch warm-up of an 800-epoch cosine schedule.
        let sched = LrSchedule {
            base_lr: LrSchedule::scaled_base(1.5e-4, n),
            min_lr: 0.0,
            warmup_epochs: 40.0,
            epochs: 800.0,
        };
        let step = TrainStep::new(
            model.as_ref(),
            n,
            &params,
            AdamWConfig::mae_pretrain(0.05),
            device,
        )?;
        let mut rng = Rng::seed_from_u64(args.seed ^ 0x5eed_1a6e);
        // Pixels from N(0, 1), caption tokens uniform over the vocabulary without padding.
        let sample = model.sample();
        let pixels: Vec<f32> = (0..n * sample.pixel_numel())
            .map(|_| normal(&mut rng) as f32)
            .collect();
        let text: Vec<u32> = match sample {
            SampleSpec::ImageText { vocab, .. } => (0..n * sample.text_len())
                .map(|_| 1 + rng.below(vocab as u64 - 1) as u32)
                .collect(),
            _ => Vec::new(),
        };
        Ok(Timed {
            label,
            model,
            step,
            pixels,
            text,
            rng,
            sched,
            times: Vec::new(),
            last_loss: f32::NAN,
            batch: n,
        })
    }

    /// The inputs of the next step: the fixed batch with fresh masks.
    fn next_inputs(&mut self) -> anyhow::Result<StepInputs> {
        let batch = Samples {
            pixels: &self.pixels,
            text: &self.text,
        };
        Ok(self.model.step_inputs(&batch, &mut self.rng)?)
    }

    /// Runs `warmup` untimed and `iters` timed steps; returns the median of these `iters`.
    fn run(&mut self, warmup: usize, iters: usize) -> anyhow::Result<f64> {
        let mut times = Vec::with_capacity(iters);
        for i in 0..warmup + iters {
            let t0 = Instant::now();
            // Masking is part of the step, as in PyTorch's forward.
            let inputs = self.next_inputs()?;
            let lr = self
                .sched
                .lr_at_step(0, self.step.steps_done, STEPS_PER_EPOCH);
            self.last_loss = self.step.step(&inputs, lr)?;
            if i >= warmup {
                times.push(t0.elapsed().as_secs_f64());
            }
        }
        if !self.last_loss.is_finite() {
            anyhow::bail!(
                "{}: the training loss became {}",
                self.label,
                self.last_loss
            );
        }
        self.times.extend(&times);
        Ok(median_min_max(&mut times).0)
    }

    /// The ten most expensive kernels of one more step.
    fn profile(&mut self) -> anyhow::Result<Vec<(String, f64, usize)>> {
        let inputs = self.next_inputs()?;
        let lr = self
            .sched
            .lr_at_step(0, self.step.steps_done, STEPS_PER_EPOCH);
        Ok(self.step.profile_step(&inputs, lr)?)
    }

    fn json(&self, args: &Args, device: &Device, spec: &ModelSpec) -> serde_json::Value {
        let (median, min, max) = median_min_max(&mut self.times.clone());
        serde_json::json!({
            "model": self.label,
            "batch": self.batch,
            "backend": device.name(),
            "mask": spec_mask(spec),
            "encoder_tokens_per_image": self.model.step_shape(self.batch).keep,
            "launches_per_step": self.step.launches(),
            "warmup": args.warmup,
            "iters": self.times.len(),
            "ms_per_step": median * 1e3,
            "ms_per_step_min": min * 1e3,
            "ms_per_step_max": max * 1e3,
            "images_per_s": self.batch as f64 / median,
            "planned_peak_bytes": self.step.planned_peak_bytes(),
            "final_loss": self.last_loss,
        })
    }

    fn line(&self, device: &Device) -> String {
        let (median, min, max) = median_min_max(&mut self.times.clone());
        format!(
            "{} batch {} on {}: {:.1} ms/step (median of {}, min {:.1}, max {:.1}), \
             {:.1} img/s, planned peak {:.1} MiB, {} launches, loss {:.4}",
            self.label,
            self.batch,
            device.name(),
            median * 1e3,
            self.times.len(),
            min * 1e3,
            max * 1e3,
            self.batch as f64 / median,
            self.step.planned_peak_bytes() as f64 / (1024.0 * 1024.0),
            self.step.launches(),
            self.last_loss
        )
    }
}

/// The median, minimum and maximum of non-empty `v`.
fn median_min_max(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    let median = if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    };
    (median, v[0], v[v.len() - 1])
}

/// The single-model report, with the kernel profile when asked for.
fn report(
    args: &Args,
    device: &Device,
    spec: &ModelSpec,
    t: &Timed,
    profile: Option<Vec<(String, f64, usize)>>,
) -> anyhow::Result<()> {
    if args.json {
        let mut obj = t.json(args, device, spec);
        if let Some(p) = &profile {
            obj["profile"] = p
                .iter()
                .map(|(op, s, k)| serde_json::json!({"op": op, "ms": s * 1e3, "launches": k}))
                .collect();
        }
        println!("{obj}");
    } else {
        println!("{}", t.line(device));
        if let Some(p) = &profile {
            let total: f64 = p.iter().map(|(_, s, _)| s).sum();
            println!("profile of one step ({:.1} ms in kernels):", total * 1e3);
            for (op, s, k) in p.iter().take(10) {
                println!(
                    "  {:7.2} ms  {:5.1}%  x{k:<4} {op}",
                    s * 1e3,
                    100.0 * s / total
                );
            }
        }
    }
    Ok(())
}

/// The spec's masking, as text.
fn spec_mask(spec: &ModelSpec) -> String {
    match spec {
        ModelSpec::Mae(s) => s.mask.to_string(),
        ModelSpec::HiVit(s) => s.mask.to_string(),
        other => other.family().name().to_string(),
    }
}
