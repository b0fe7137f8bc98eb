//! `tessera bench`: the time of one pre-training step (forward + backward + AdamW) of any
//! model, on seeded random input, as the PyTorch baseline times PyTorch: a fixed batch of
//! images, fresh masks every step, warm-up steps, then the median of the timed steps.
use std::time::Instant;

use tessera_dsl::graph::{AdamWConfig, LrSchedule};
use tessera_dsl::rng::Rng;
use tessera_models::params::{init_params, normal};
use tessera_models::step::TrainStep;

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
    #[arg(long)]
    profile: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let n = args.batch.get_or(64)?;
    if args.iters == 0 {
        return Err(bad_input("--iters must be at least 1"));
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
    let keep = model.step_shape(n).keep;
    let label = args
        .model
        .model
        .clone()
        .or(args.model.config.as_ref().map(|p| p.display().to_string()))
        .unwrap_or_else(|| "mae_tiny_32".into());

    let params = init_params(model.params(), args.seed);
    // The recipe of main_pretrain.py: AdamW betas (0.9, 0.95), wd 0.05, lr = blr·batch/256
    // with blr 1.5e-4 under a 40-epoch warm-up of an 800-epoch cosine schedule.
    let sched = LrSchedule {
        base_lr: LrSchedule::scaled_base(1.5e-4, n),
        min_lr: 0.0,
        warmup_epochs: 40.0,
        epochs: 800.0,
    };
    let steps_per_epoch = 100;
    let mut step = TrainStep::new(
        model.as_ref(),
        n,
        &params,
        AdamWConfig::mae_pretrain(0.05),
        &mut device,
    )?;

    let mut rng = Rng::seed_from_u64(args.seed ^ 0x5eed_1a6e);
    let img_len = n * model.image().numel();
    let imgs: Vec<f32> = (0..img_len).map(|_| normal(&mut rng) as f32).collect();
    let mut times = Vec::with_capacity(args.iters);
    let mut last_loss = f32::NAN;
    for i in 0..args.warmup + args.iters {
        let t0 = Instant::now();
        // Masking is part of the step, as in PyTorch's forward.
        let inputs = model.step_inputs(&imgs, &mut rng)?;
        let lr = sched.lr_at_step(0, i, steps_per_epoch);
        last_loss = step.step(&inputs, lr)?;
        let dt = t0.elapsed().as_secs_f64();
        if i >= args.warmup {
            times.push(dt);
        }
    }
    if !last_loss.is_finite() {
        anyhow::bail!("the training loss became {last_loss}");
    }
    times.sort_by(f64::total_cmp);
    let median = if times.len() % 2 == 1 {
        times[times.len() / 2]
    } else {
        0.5 * (times[times.len() / 2 - 1] + times[times.len() / 2])
    };
    let ms = median * 1e3;
    let img_s = n as f64 / median;
    let peak = step.planned_peak_bytes();

    let profile = if args.profile {
        let inputs = model.step_inputs(&imgs, &mut rng)?;
        let lr = sched.lr_at_step(0, args.warmup + args.iters, steps_per_epoch);
        Some(step.profile_step(&inputs, lr)?)
    } else {
        None
    };

    if args.json {
        let mut obj = serde_json::json!({
            "model": label,
            "batch": n,
            "backend": device.name(),
            "mask": spec_mask(&spec),
            "visible_tokens_per_image": keep,
            "launches_per_step": step.launches(),
            "warmup": args.warmup,
            "iters": args.iters,
            "ms_per_step": ms,
            "ms_per_step_min": times[0] * 1e3,
            "ms_per_step_max": times[times.len() - 1] * 1e3,
            "images_per_s": img_s,
            "planned_peak_bytes": peak,
            "final_loss": last_loss,
        });
        if let Some(p) = &profile {
            obj["profile"] = p
                .iter()
                .map(|(op, s, k)| serde_json::json!({"op": op, "ms": s * 1e3, "launches": k}))
                .collect();
        }
        println!("{obj}");
    } else {
        println!(
            "{} batch {n} on {}: {ms:.1} ms/step (median of {}, min {:.1}, max {:.1}), \
             {img_s:.1} img/s, planned peak {:.1} MiB, {} launches, loss {last_loss:.4}",
            label,
            device.name(),
            args.iters,
            times[0] * 1e3,
            times[times.len() - 1] * 1e3,
            peak as f64 / (1024.0 * 1024.0),
            step.launches()
        );
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
fn spec_mask(spec: &tessera_dsl::ModelSpec) -> String {
    match spec {
        tessera_dsl::ModelSpec::Mae(s) => s.mask.to_string(),
        other => other.family().name().to_string(),
    }
}
