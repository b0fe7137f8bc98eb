//! `tessera bench`: the time of one MAE pre-training step (forward + backward + AdamW) for a
//! preset, on seeded random input, as `../shared/bench/torch_mae_baseline.py` times PyTorch:
//! a fixed batch of images, fresh masking noise every step, warm-up steps, then the median of
//! the timed steps.
use std::time::Instant;

use tessera_dsl::graph::{AdamWConfig, LrSchedule};
use tessera_dsl::rng::Rng;
use tessera_models::mae::init::{init_params, normal};
use tessera_models::mae::masking::{keep_count, mask_from_noise};
use tessera_models::mae::train::TrainStep;
use tessera_models::mae::{param_specs, MaeConfig};

use super::bad_input;
use super::eval::{open_device, Backend};

#[derive(clap::Args)]
pub struct Args {
    /// Preset to train (mae_tiny_32, mae_fmnist_small, mae_vit_base_patch16, ...).
    #[arg(long, default_value = "mae_tiny_32")]
    model: String,
    /// Images per step.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: Backend,
    /// With --backend wgpu: the adapter whose name contains NAME (see `tessera devices`).
    #[arg(long, value_name = "NAME")]
    adapter: Option<String>,
    /// Instead of a training step, time one N x N x N f32 matmul and report GFLOP/s.
    #[arg(long, value_name = "N")]
    matmul: Option<usize>,
    /// Fraction of patches removed (the official default).
    #[arg(long, default_value_t = 0.75)]
    mask_ratio: f32,
    /// Untimed steps before timing.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Timed steps; the median is reported.
    #[arg(long, default_value_t = 10)]
    iters: usize,
    /// Seed of the parameters, images and masks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Also time every kernel of one extra step and print the ten most expensive.
    #[arg(long)]
    profile: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.batch == 0 || args.iters == 0 {
        return Err(bad_input("--batch and --iters must be at least 1"));
    }
    let mut device = open_device(args.backend, args.adapter.as_deref())?;
    if let Some(n) = args.matmul {
        return super::bench_matmul::run(&mut device, n, args.warmup, args.iters, args.json);
    }
    let cfg = MaeConfig::preset(&args.model).map_err(|e| bad_input(e.to_string()))?;
    let dims = cfg.validate().map_err(|e| bad_input(e.to_string()))?;
    let (n, l) = (args.batch, dims.num_patches);
    let len_keep =
        keep_count(l, args.mask_ratio).map_err(|e| bad_input(format!("--mask-ratio: {e}")))?;
    if len_keep == l {
        return Err(bad_input(format!(
            "--mask-ratio {} removes none of the {l} patches; the loss needs removed patches",
            args.mask_ratio
        )));
    }

    let params = init_params(&param_specs(&cfg, &dims), dims.grid, args.seed);
    // The recipe of main_pretrain.py: AdamW betas (0.9, 0.95), wd 0.05, lr = blr·batch/256
    // with blr 1.5e-4 under a 40-epoch warm-up of an 800-epoch cosine schedule.
    let sched = LrSchedule {
        base_lr: LrSchedule::scaled_base(1.5e-4, n),
        min_lr: 0.0,
        warmup_epochs: 40.0,
        epochs: 800.0,
    };
    let steps_per_epoch = 100;
    let mut step = TrainStep::new_on(
        &cfg,
        &dims,
        n,
        len_keep,
        &params,
        AdamWConfig::mae_pretrain(0.05),
        &mut device,
    )?;

    let mut rng = Rng::seed_from_u64(args.seed ^ 0x5eed_1a6e);
    let img_len = n * cfg.in_chans * cfg.img_size * cfg.img_size;
    let imgs: Vec<f32> = (0..img_len).map(|_| normal(&mut rng) as f32).collect();
    let mut times = Vec::with_capacity(args.iters);
    let mut last_loss = f32::NAN;
    for i in 0..args.warmup + args.iters {
        let t0 = Instant::now();
        // Masking is part of the step, as in PyTorch's forward.
        let noise: Vec<f32> = (0..n * l).map(|_| rng.next_f32()).collect();
        let mask = mask_from_noise(&noise, n, l, args.mask_ratio)?;
        let lr = sched.lr_at_step(0, i, steps_per_epoch);
        last_loss = step.step(&imgs, &mask, lr)?;
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
        let noise: Vec<f32> = (0..n * l).map(|_| rng.next_f32()).collect();
        let mask = mask_from_noise(&noise, n, l, args.mask_ratio)?;
        let lr = sched.lr_at_step(0, args.warmup + args.iters, steps_per_epoch);
        Some(step.profile_step(&imgs, &mask, lr)?)
    } else {
        None
    };

    if args.json {
        let mut obj = serde_json::json!({
            "model": args.model,
            "batch": n,
            "backend": device.name(),
            "mask_ratio": args.mask_ratio,
            "visible_tokens_per_image": len_keep,
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
             {img_s:.1} img/s, planned peak {:.1} MiB, loss {last_loss:.4}",
            args.model,
            device.name(),
            args.iters,
            times[0] * 1e3,
            times[times.len() - 1] * 1e3,
            peak as f64 / (1024.0 * 1024.0)
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
