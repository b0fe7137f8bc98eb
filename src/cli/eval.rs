//! `tessera eval`: one batch through a checkpoint, everything written out (loss, prediction,
//! mask and optionally every parameter gradient under its official name), as the official
//! forward (and backward) pass computes them from the batch in the family's official format
//! (for MAE: `loss, pred, mask = model(imgs, mask_ratio)` with the supplied masking noise).
use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use tessera_dsl::spec::{DecoderPositions, M3aeSpec, MaskSpec, ModelSpec, SecondaryRule};
use tessera_models::checkpoint;
use tessera_models::eval::evaluate;
use tessera_models::m3ae::{eval as m3ae_eval, official_batch, M3aeModel};
use tessera_models::tensors::{write_atomic, Tensor, TensorFile};

use super::bad_input;
use super::model_args::{model_of, DeviceChoice, ModelChoice};

#[derive(clap::Args)]
#[command(mut_arg("model", |a| a.help(
    "Official factory or tessera preset (e.g. mae_vit_base_patch16) instead of the \
     checkpoint's metadata [default: the checkpoint's]"
)))]
pub struct Args {
    /// Checkpoint: safetensors with the official parameter names, or an official PyTorch
    /// `.pth` (architecture from its metadata, its tensors, or --model/--config).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Input file in the family's official format; MAE and HiViT: `imgs` f32 [N, C, H, W]
    /// (normalized), `noise` f32 [N, L], `mask_ratio` f32 [1]; UM-MAE on ViT (uniform masks):
    /// `imgs`, `mask` f32 [N, L] (1 = masked) and `secondary_noise` f32 [N, V]; MixMIM: `imgs`
    /// (N even), `noise` f32 [1, 1, L4] (one mask for the batch) and `mask_ratio` f32 [1];
    /// VideoMAE: `videos` f32 [N, C, T, H, W] and `mask` [N, L]; M3AE: `image` f32
    /// [N, H, W, C], `text` [N, T] token ids, `text_padding_mask` [N, T] (1 = padding),
    /// `image_noise` [L], `text_noise` [T].
    #[arg(long, value_name = "INPUT.safetensors", alias = "batch")]
    input: PathBuf,
    /// Output file: `loss` [1], `pred` [N, L, p*p*C] (rows in the official order: raster, or
    /// for UM-MAE visible patches then masked ones; MixMIM: [2N, L4, P], both decoder
    /// branches), `mask` [N, L] (+ `grad.<name>`); M3AE adds `image_loss`, `text_loss`,
    /// `text_accuracy`, `text_output` [N, T, V], `text_mask`.
    #[arg(long)]
    out: PathBuf,
    /// Also write d loss / d parameter for every trainable parameter as `grad.<name>`.
    #[arg(long)]
    grads: bool,
    #[command(flatten)]
    model: ModelChoice,
    #[command(flatten)]
    device: DeviceChoice,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let named = args.model.spec()?;
    let ckpt =
        checkpoint::load(&args.checkpoint, named.as_ref()).map_err(|e| bad_input(e.to_string()))?;
    let model = model_of(&ckpt.spec)?;
    let batch_file = TensorFile::read(&args.input).map_err(|e| bad_input(e.to_string()))?;
    if let ModelSpec::M3ae(spec) = ckpt.spec {
        return run_m3ae(&args, &ckpt, spec, &batch_file);
    }
    let inputs = model
        .eval_inputs(&batch_file)
        .map_err(|e| bad_input(e.to_string()))?;
    if !inputs.mask.iter().any(|&m| m > 0.5) {
        return Err(bad_input(format!(
            "{}: the batch's masking removes none of the patches, and the loss averages over \
             removed patches only",
            args.input.display()
        )));
    }
    let mut device = args.device.open()?;
    let out = evaluate(
        model.as_ref(),
        &ckpt.params,
        &inputs,
        args.grads,
        &mut device,
    )?;

    let mut tensors = vec![
        ("loss".to_string(), Tensor::scalar(out.loss)),
        ("pred".to_string(), out.pred),
        ("mask".to_string(), out.mask),
    ];
    for (name, g) in out.grads {
        tensors.push((format!("grad.{name}"), g));
    }
    write_atomic(&args.out, &tensors, &HashMap::new())
        .with_context(|| format!("writing the results to {}", args.out.display()))?;
    if !out.loss.is_finite() {
        anyhow::bail!(
            "the loss is {} (results written to {}); check the checkpoint and the batch for \
             NaN or infinite values",
            out.loss,
            args.out.display()
        );
    }
    let quirks = official_quirks(&ckpt.spec);
    for q in &quirks {
        eprintln!("note: reproducing an official quirk: {q}");
    }
    println!(
        "{}",
        serde_json::json!({ "loss": out.loss, "official_quirks": quirks })
    );
    Ok(())
}

/// The official code's known deviations a spec reproduces (docs/official-quirks.md).
fn official_quirks(spec: &ModelSpec) -> Vec<&'static str> {
    let mut out = Vec::new();
    if let ModelSpec::Mae(s) = spec {
        if s.secondary_rule == SecondaryRule::OfficialVit
            && matches!(
                s.mask,
                MaskSpec::Uniform {
                    secondary: Some(_),
                    ..
                }
            )
        {
            out.push(
                "UM-MAE ViT secondary masking replaces visible token j iff \
                 argsort(secondary_noise)[j] >= len_keep (secondary_rule = \"official_vit\")",
            );
        }
    }
    if let ModelSpec::UmSwin(s) = spec {
        if s.decoder_positions == DecoderPositions::OfficialRaster {
            out.push(
                "UM-MAE Swin's decoder gives its visible tokens (in 2x2-block order) the \
                 position embeddings of the visible cells in raster order (decoder_positions = \
                 \"official_raster\")",
            );
        }
    }
    out
}

/// M3AE: the official training step's numbers, text side included.
fn run_m3ae(
    args: &Args,
    ckpt: &checkpoint::Checkpoint,
    spec: M3aeSpec,
    batch_file: &TensorFile,
) -> anyhow::Result<()> {
    let model = M3aeModel::new(spec).map_err(|e| bad_input(e.to_string()))?;
    let batch =
        official_batch(batch_file, &spec, model.dims()).map_err(|e| bad_input(e.to_string()))?;
    let inputs = model.inputs(batch);
    let mut device = args.device.open()?;
    let out = m3ae_eval::evaluate(&model, &ckpt.params, &inputs, args.grads, &mut device)?;
    let loss = out.common.loss;
    let mut tensors = vec![
        ("loss".to_string(), Tensor::scalar(loss)),
        ("pred".to_string(), out.common.pred),
        ("mask".to_string(), out.common.mask),
        ("image_loss".to_string(), Tensor::scalar(out.image_loss)),
        ("text_loss".to_string(), Tensor::scalar(out.text_loss)),
        (
            "text_accuracy".to_string(),
            Tensor::scalar(out.text_accuracy),
        ),
        ("text_output".to_string(), out.text_output),
        ("text_mask".to_string(), out.text_mask),
    ];
    for (name, g) in out.common.grads {
        tensors.push((format!("grad.{name}"), g));
    }
    write_atomic(&args.out, &tensors, &HashMap::new())
        .with_context(|| format!("writing the results to {}", args.out.display()))?;
    if !loss.is_finite() {
        anyhow::bail!(
            "the loss is {loss} (results written to {}); check the checkpoint and the batch for \
             NaN or infinite values",
            args.out.display()
        );
    }
    println!(
        "{}",
        serde_json::json!({
            "loss": loss,
            "image_loss": out.image_loss,
            "text_loss": out.text_loss,
            "text_accuracy": out.text_accuracy,
        })
    );
    Ok(())
}
