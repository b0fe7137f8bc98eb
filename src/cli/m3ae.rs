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
    default_held_out, pretrain as run_pretrain, EpochRow, PretrainConfig, PretrainError, RunInfo,
    CHECKPOINT_FILE, METRICS_FILE, RUN_FILE,
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
        | PretrainError::NonFinite { .. } => bad_input(e.to_string()),
        other => anyhow::Error::new(other),
    }
}

/// `tessera pretrain` of an M3AE: the official recipe's defaults (peak lr 1.5e-4 · batch / 256,
/// warm-up a twentieth of the epochs, weight decay 0.05), a tenth of the pairs held out.
pub fn pretrain(args: &PretrainArgs, spec: M3aeSpec) -> anyhow::Result<()> {
    if args.resume || args.stop_after.is_some() || args.augment || args.mask_ratio.is_some() {
        return Err(bad_input(
            "M3AE pre-training takes no --resume, --stop-after, --augment or --mask-ratio \
             (its ratios are the spec's image and text ratios)",
        ));
    }
    let data = args.data.data.as_deref().ok_or_else(|| {
        bad_input("M3AE pre-training needs --data captions:DIR (a folder with captions.jsonl)")
    })?;
    let dir = captions_dir(data)?;
    let pairs = CaptionSet::open(&dir)
        .map_err(|e| {
            bad_input(format!(
                "{e}; an M3AE trains on image–caption pairs, `--data captions:DIR` (a folder \
                 with captions.jsonl)"
            ))
        })?
        .pairs
        .len();
    let pairs = args.data.limit.map_or(pairs, |l| l.min(pairs));
    let epochs = args.epochs.unwrap_or(4) as usize;
    let batch = args.batch.get_or(64)?;
    let lr = match (args.lr, args.blr) {
        (Some(lr), _) => lr,
        (None, blr) => LrSchedule::scaled_base(blr.unwrap_or(1.5e-4), batch),
    };
    let tokenizer = dir.join(TOKENIZER_FILE);
    let cfg = PretrainConfig {
        spec,
        data: dir,
        out: args.out.clone(),
        epochs,
        batch,
        lr,
        warmup_epochs: args.warmup_epochs.unwrap_or(epochs as f64 / 20.0),
        weight_decay: args.weight_decay.unwrap_or(0.05),
        seed: args.seed.unwrap_or(0),
        held_out: default_held_out(pairs),
        limit: args.data.limit,
        tokenizer: tokenizer.exists().then_some(tokenizer),
    };
    if cfg.out.join(CHECKPOINT_FILE).exists() {
        return Err(bad_input(format!(
            "{} already holds a run ({CHECKPOINT_FILE}); choose another --out",
            cfg.out.display()
        )));
    }
    let mut device = args.device.open()?;
    println!(
        "pre-training M3AE ({}x{} px, {} text tokens, vocabulary {}) on {} ({pairs} pairs, {} \
         held out)",
        spec.image.height,
        spec.image.width,
        spec.text_len,
        spec.vocab,
        cfg.data.display(),
        cfg.held_out
    );
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
    let summary = run_pretrain(&cfg, &mut device, &mut report).map_err(pretrain_error)?;
    let last = summary.epochs.last().map(|r| r.held_out);
    println!(
        "{}",
        serde_json::json!({
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
