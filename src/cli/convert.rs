//! `tessera convert`: an official PyTorch checkpoint (`.pth`: a zip of pickled tensors, the
//! state dict under `model`) to safetensors with the official names, and with the architecture
//! in the metadata (`spec`, the official constructor's `config`, `layer_norm_eps`) when it is
//! given (`--model`, `--config`) or recognised from the tensors. Every tensor is checked
//! against the model then; the result loads in `probe`, `reconstruct`, `eval` and
//! `pretrain --init` without naming the architecture again, and in PyTorch.
use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use tessera_dsl::spec::Target;
use tessera_models::checkpoint::{self, read_file};
use tessera_models::infer::{infer_spec, Inferred};
use tessera_models::tensors::write_atomic;

use super::bad_input;
use super::model_args::{describe, model_of, with_target, ModelChoice};

#[derive(clap::Args)]
#[command(mut_arg("model", |a| a.help(
    "The architecture, e.g. mae_vit_base_patch16 / mae_vit_large_patch16 / \
     mae_vit_huge_patch14 for the released MAE weights [default: recognised from the tensors' \
     names and shapes]"
)))]
pub struct Args {
    /// The checkpoint to convert: an official PyTorch `.pth` (or a safetensors file, to add
    /// the architecture to its metadata).
    #[arg(value_name = "CKPT")]
    pub input: PathBuf,
    #[command(flatten)]
    pub model: ModelChoice,
    /// Record per-patch normalized pixel targets in the architecture (how the released MAE
    /// weights were trained; the presets of the official factories already say so).
    #[arg(long, conflicts_with = "no_norm_pix")]
    pub norm_pix: bool,
    /// Record raw pixel targets (the official constructor's default, norm_pix_loss=False).
    #[arg(long)]
    pub no_norm_pix: bool,
    /// The safetensors file to write.
    #[arg(long, value_name = "FILE.safetensors")]
    pub out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let file = read_file(&args.input).map_err(|e| bad_input(e.to_string()))?;
    let count = file.tensors.len();
    let mut spec = match args.model.spec()? {
        Some(spec) => Some(spec),
        None => match infer_spec(&file) {
            Inferred::One(name, spec) => {
                println!("recognised {name} from the tensors' names and shapes");
                Some(*spec)
            }
            Inferred::Several(names) => {
                return Err(bad_input(format!(
                    "{}: its tensors fit several presets ({}); name one with --model",
                    args.input.display(),
                    names.join(", ")
                )))
            }
            Inferred::None => None,
        },
    };
    if let Some(s) = spec {
        if args.norm_pix {
            spec = Some(with_target(s, Target::NormPix)?);
        }
        if args.no_norm_pix {
            spec = Some(with_target(s, Target::Pix)?);
        }
    }
    let Some(spec) = spec else {
        // No architecture: keep every tensor under its name, and say what is missing.
        write_atomic(&args.out, &file.tensors, &HashMap::new())
            .with_context(|| format!("writing {}", args.out.display()))?;
        println!(
            "wrote {} ({count} tensors, official names) WITHOUT architecture metadata: its \
             tensors match no preset. Name it when using the file (--model PRESET or --config \
             SPEC.toml), or convert again with --model/--config to record it",
            args.out.display()
        );
        return Ok(());
    };
    // Checked against the model: names, shapes, the fixed sin-cos tables; the decoder may be
    // absent (the released pre-trained weights are encoder-only).
    let (ckpt, missing) =
        checkpoint::load_partial(&args.input, Some(&spec)).map_err(|e| bad_input(e.to_string()))?;
    let model = model_of(&ckpt.spec)?;
    checkpoint::save(&args.out, model.as_ref(), &ckpt.params)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", args.out.display()))?;
    println!(
        "wrote {}: {} ({count} tensors, official names, architecture in the metadata)",
        args.out.display(),
        describe(&ckpt.spec)
    );
    if !missing.is_empty() {
        println!(
            "  encoder only: the mask token and decoder ({} tensors) are not in the file; \
             `probe` and `pretrain --init` use it, `reconstruct` and `eval` need a decoder",
            missing.len()
        );
    }
    if model.official_config().is_none() {
        println!("  (no official constructor `config`: the official code cannot build this spec)");
    }
    Ok(())
}
