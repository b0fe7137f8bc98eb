//! The M3AE branches of `tessera pretrain` and `tessera reconstruct`: image–caption data
//! (`--data captions:DIR`, a folder with `captions.jsonl`), a WordPiece vocabulary trained on
//! the training captions and kept beside the checkpoint, and pictures with the masked words.
use std::path::{Path, PathBuf};
use std::time::Instant;

use tessera_dsl::graph::LrSchedule;
use tessera_dsl::spec::M3aeSpec;
use tessera_models::checkpoint::Checkpoint;
use tessera_models::m3ae::captions::CaptionSet;
use tessera_models::m3ae::pretrain::{
    default_held_out, pretrain as run_pretrain, saved_state, Control, EpochRow, PretrainConfig,
    PretrainError, RunInfo, CHECKPOINT_FILE, METRICS_FILE, OPTIM_FILE, RUN_FILE,
};
use tessera_models::m3ae::reconstruct::reconstruct as draw_reconstruction;
use tessera_models::m3ae::tokenizer::{CaptionTokenizer, TOKENIZER_FILE};
use tessera_models::m3ae::M3aeModel;
use tessera_models::params::ParamSet;
use tessera_runtime::backend::Device;

use super::bad_input;
use super::pretrain::Args as PretrainArgs;

/// The folder of `--data captions:DIR` (or a bare DIR).
pub fn captions_dir(data: &str) -> anyhow::Result<PathBuf> {
    let dir = data.strip_prefix("captions:").unwrap_or(data);
    if data.contains(':') && !data.starts_with("captions:") {
        return Err(bad_input(format!(
            "--data {data}: an M3AE trains on image–caption pairs, `captions:DIR` (a folder \
             with captions.jsonl)"
        )));
    }
    Ok(PathBuf::from(dir))
}

fn pretrain_error(e: PretrainError) -> anyhow::Error {
    match e {
        PretrainError::Data(_)
        | PretrainError::Tokenizer(_)
        | PretrainError::Setup(_)
        | PretrainError::Resume { .. }
        | PretrainError::NonFinite { .. } => bad_input(e.to_string()),
        other => anyhow::Error::new(other),
    }
}

/// The model of the M3AE run saved in `out`, if `out` holds one (for `--resume` without
/// `--model`).
pub fn saved_spec(out: &Path) -> anyhow::Result<Option<M3aeSpec>> {
    Ok(saved_state(out)
        .map_err(|e| bad_input(e.to_string()))?
        .map(|(spec, _)| spec))
}

/// `tessera pretrain` of an M3AE: the official recipe's defaults (peak lr 1.5e-4 · batch / 256,
/// warm-up a twentieth of the epochs, weight decay 0.05), a tenth of the pairs held out. With
/// `--resume`, flags left out take the saved run's values, and `--epochs` may raise its length.
pub fn pretrain(args: &PretrainArgs, spec: M3aeSpec) -> anyhow::Result<()> {
    if args.augment || args.mask_ratio.is_some() {
        return Err(bad_input(
            "M3AE pre-training takes no --augment or --mask-ratio (its ratios are the spec's \
             image and text ratios)",
        ));
    }
    let saved = if args.resume {
        let found = saved_state(&args.out).map_err(|e| bad_input(e.to_string()))?;
        let Some((saved_spec, state)) = found else {
            return Err(bad_input(format!(
                "{} holds no M3AE run to resume ({CHECKPOINT_FILE} and {OPTIM_FILE})",
                args.out.display()
            )));
        };
        if saved_spec != spec {
            return Err(bad_input(format!(
                "--model differs from the run saved in {}; leave it out to resume",
                args.out.display()
            )));
        }
        Some(state)
    } else {
        None
    };
    let recipe = saved.as_ref().map(|s| &s.recipe);
    let dir = match (args.data.data.as_deref(), recipe) {
        (Some(data), _) => captions_dir(data)?,
        (None, Some(r)) => r.data.clone(),
        (None, None) => {
            return Err(bad_input(
                "M3AE pre-training needs --data captions:DIR (a folder with captions.jsonl)",
            ))
        }
    };
    let pairs = CaptionSet::open(&dir)
        .map_err(|e| {
            bad_input(format!(
                "{e}; an M3AE trains on image–caption pairs, `--data captions:DIR` (a folder \
                 with captions.jsonl)"
            ))
        })?
        .pairs
        .len();
    let limit = args.data.limit.or(recipe.and_then(|r| r.limit));
    let pairs = limit.map_or(pairs, |l| l.min(pairs));
    let epochs = match (args.epochs, &saved) {
        (Some(e), _) => e as usize,
        (None, Some(s)) => s.epochs,
        (None, None) => 4,
    };
    let batch = match (args.batch.batch, recipe) {
        (Some(_), _) | (None, None) => args.batch.get_or(64)?,
        (None, Some(r)) => r.batch,
    };
    let lr = match (args.lr, args.blr, recipe) {
        (Some(lr), _, _) => lr,
        (None, Some(blr), _) => LrSchedule::scaled_base(blr, batch),
        (None, None, Some(r)) => r.lr,
        (None, None, None) => LrSchedule::scaled_base(1.5e-4, batch),
    };
    let tokenizer = dir.join(TOKENIZER_FILE);
    let cfg = PretrainConfig {
        spec,
        data: dir,
        out: args.out.clone(),
        epochs,
        batch,
        lr,
        warmup_epochs: args
            .warmup_epochs
            .or(recipe.map(|r| r.warmup_epochs))
            .unwrap_or(epochs as f64 / 20.0),
        weight_decay: args
            .weight_decay
            .or(recipe.map(|r| r.weight_decay))
            .unwrap_or(0.05),
        seed: args.seed.or(recipe.map(|r| r.seed)).unwrap_or(0),
        held_out: recipe.map_or(default_held_out(pairs), |r| r.held_out),
        limit,
        tokenizer: tokenizer.exists().then_some(tokenizer),
    };
    if saved.is_none() && cfg.out.join(CHECKPOINT_FILE).exists() {
        return Err(bad_input(format!(
            "{} already holds a run ({CHECKPOINT_FILE}); continue it with --resume, or choose \
             another --out",
            cfg.out.display()
        )));
    }
    if let Some(state) = &saved {
        let wanted = cfg.recipe(pairs);
        if let Some(flag) = state.recipe.first_difference(&wanted) {
            return Err(bad_input(format!(
                "cannot resume {}: {flag} differs from the saved run's; leave it out to \
                 continue the run as it was",
                cfg.out.display()
            )));
        }
        if state.epoch >= epochs {
            println!(
                "{} is already finished ({} steps of {} epochs); nothing to do. Train it \
                 longer with --resume --epochs N",
                cfg.out.display(),
                state.global_step,
                state.epochs
            );
            return Ok(());
        }
    }
    let mut device = args.device.open()?;
    match &saved {
        Some(state) => println!(
            "resuming M3AE in {} at step {} (epoch {} of {epochs})",
            cfg.out.display(),
            state.global_step,
            state.epoch + 1
        ),
        None => println!(
            "pre-training M3AE ({}x{} px, {} text tokens, vocabulary {}) on {} ({pairs} pairs, \
             {} held out)",
            spec.image.height,
            spec.image.width,
            spec.text_len,
            spec.vocab,
            cfg.data.display(),
            cfg.held_out
        ),
    }
    println!(
        "  {epochs} epochs of batches of {batch}, lr {lr:e}, warm-up {} epochs, wd {}, seed {}",
        cfg.warmup_epochs, cfg.weight_decay, cfg.seed
    );
    let started = Instant::now();
    let mut report = |r: &EpochRow| {
        println!(
            "epoch {:>3}: train loss {:.4}, held-out loss {:.4} (image {:.4}, text {:.4}, text \
             accuracy {:.3}), {:.1} s",
            r.epoch,
            r.train_loss,
            r.held_out.loss,
            r.held_out.image_loss,
            r.held_out.text_loss,
            r.held_out.text_accuracy,
            r.seconds
        );
    };
    let stop = super::interrupt::stop_on_ctrl_c();
    let control = Control {
        stop: &stop,
        stop_after: args.stop_after,
    };
    let summary = run_pretrain(&cfg, saved.is_some(), &control, &mut device, &mut report)
        .map_err(pretrain_error)?;
    if !summary.finished {
        println!(
            "stopped at step {}; the position is saved in {}: continue with `tessera pretrain \
             --resume --out {}`",
            summary.global_step,
            cfg.out.display(),
            cfg.out.display()
        );
    }
    let last = summary.epochs.last().map(|r| r.held_out);
    println!(
        "{}",
        serde_json::json!({
            "finished": summary.finished,
            "steps": summary.global_step,
            "train_pairs": summary.train_pairs,
            "held_out_pairs": summary.held_out_pairs,
            "vocab_used": summary.vocab_used,
            "held_out_loss_before": summary.before.loss,
            "held_out_loss_after": last.map(|h| h.loss),
            "held_out_text_accuracy_after": last.map(|h| h.text_accuracy),
            "seconds": started.elapsed().as_secs_f64(),
            "checkpoint": cfg.out.join(CHECKPOINT_FILE),
            "metrics": cfg.out.join(METRICS_FILE),
        })
    );
    if !summary.finished && args.stop_after.is_none() {
        // Interrupted by the user: the conventional status of SIGINT.
        std::process::exit(130);
    }
    Ok(())
}

/// `tessera reconstruct` of an M3AE checkpoint: `count` pairs of `data` (default: the run's
/// held-out pairs) with masks from `seed`, drawn to `out`.
pub fn reconstruct(
    checkpoint: &Path,
    ckpt: &Checkpoint,
    spec: M3aeSpec,
    data: Option<&str>,
    count: usize,
    seed: u64,
    out: &Path,
) -> anyhow::Result<()> {
    let run_dir = checkpoint.parent().unwrap_or(Path::new("."));
    let tok_path = run_dir.join(TOKENIZER_FILE);
    let tok = CaptionTokenizer::load(&tok_path).map_err(|e| {
        bad_input(format!(
            "{e}; an M3AE checkpoint needs the {TOKENIZER_FILE} its run wrote beside it"
        ))
    })?;
    let (set, indices) = match data {
        Some(d) => {
            let set = CaptionSet::open(&captions_dir(d)?).map_err(|e| bad_input(e.to_string()))?;
            let idx = (0..set.pairs.len().min(count)).collect();
            (set, idx)
        }
        None => {
            let info_path = run_dir.join(RUN_FILE);
            let text = std::fs::read_to_string(&info_path).map_err(|e| {
                bad_input(format!(
                    "cannot read {}: {e}; name the pairs with --data captions:DIR",
                    info_path.display()
                ))
            })?;
            let info: RunInfo = serde_json::from_str(&text)
                .map_err(|e| bad_input(format!("{}: {e}", info_path.display())))?;
            let set = CaptionSet::open(&info.data).map_err(|e| bad_input(e.to_string()))?;
            let mut idx = info.held_out_indices(set.pairs.len());
            idx.truncate(count);
            (set, idx)
        }
    };
    if indices.is_empty() {
        return Err(bad_input("no image–caption pairs to show"));
    }
    let model = M3aeModel::new(spec).map_err(|e| bad_input(e.to_string()))?;
    let params: &ParamSet = &ckpt.params;
    let r = draw_reconstruction(&model, params, &tok, &set, &indices, seed, &mut Device::Cpu)
        .map_err(pretrain_error)?;
    r.canvas
        .save_png(out)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
    println!(
        "{}",
        serde_json::json!({
            "out": out,
            "pairs": indices.len(),
            "masked_words": r.masked_words,
            "right": r.right,
        })
    );
    Ok(())
}
