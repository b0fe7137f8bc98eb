//! `tessera eval`: one batch through a checkpoint, everything written out (loss, prediction,
//! mask and optionally every parameter gradient under its official name), as the official
//! `loss, pred, mask = model(imgs, mask_ratio)` computes them from the supplied masking noise.
use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use tessera_models::checkpoint;
use tessera_models::mae::eval::{evaluate_on, EvalBatch, EvalError};
use tessera_models::mae::MaeConfig;
use tessera_models::tensors::{write_atomic, Tensor, TensorFile};
use tessera_runtime::backend::{BackendChoice, BackendError, Device};

use super::bad_input;

/// Where the numbers are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Cpu,
    Wgpu,
}

/// Opens `backend` (on the adapter whose name contains `adapter`, for wgpu). Asking for an
/// adapter that does not exist, or naming one for the CPU, is the user's input.
pub fn open_device(backend: Backend, adapter: Option<&str>) -> anyhow::Result<Device> {
    let choice = match (backend, adapter) {
        (Backend::Cpu, Some(_)) => {
            return Err(bad_input(
                "--adapter chooses a GPU; it needs --backend wgpu",
            ))
        }
        (Backend::Cpu, None) => BackendChoice::Cpu,
        (Backend::Wgpu, a) => BackendChoice::Wgpu {
            adapter: a.map(str::to_string),
        },
    };
    Device::open(&choice).map_err(|e| match e {
        BackendError::NoMatchingAdapter { .. } => bad_input(e.to_string()),
        other => anyhow::Error::new(other).context("opening the wgpu backend"),
    })
}

#[derive(clap::Args)]
pub struct Args {
    /// MAE checkpoint (safetensors, official parameter names; architecture in its `config`
    /// metadata unless --model names it).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Batch file: `imgs` f32 [N, C, H, W] (normalized), `noise` f32 [N, L], `mask_ratio` f32 [1].
    #[arg(long)]
    batch: PathBuf,
    /// Output file: `loss` [1], `pred` [N, L, p*p*C], `mask` [N, L] (+ `grad.<name>`).
    #[arg(long)]
    out: PathBuf,
    /// Also write d loss / d parameter for every trainable parameter as `grad.<name>`.
    #[arg(long)]
    grads: bool,
    /// Official factory or tessera preset (e.g. mae_vit_base_patch16) instead of the
    /// checkpoint's `config` metadata.
    #[arg(long)]
    model: Option<String>,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: Backend,
    /// With --backend wgpu: the adapter whose name contains NAME (see `tessera devices`).
    #[arg(long, value_name = "NAME")]
    adapter: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = match &args.model {
        Some(name) => Some(MaeConfig::preset(name).map_err(|e| bad_input(e.to_string()))?),
        None => None,
    };
    let ckpt =
        checkpoint::load(&args.checkpoint, model.as_ref()).map_err(|e| bad_input(e.to_string()))?;
    let batch_file = TensorFile::read(&args.batch).map_err(|e| bad_input(e.to_string()))?;
    let batch = EvalBatch::from_file(&batch_file, &ckpt.config, &ckpt.dims)
        .map_err(|e| bad_input(e.to_string()))?;
    let masking = batch
        .mask(&ckpt.dims)
        .map_err(|e| bad_input(format!("{}: {e}", args.batch.display())))?;
    if masking.len_keep == ckpt.dims.num_patches {
        return Err(bad_input(format!(
            "{}: mask_ratio {} removes none of the {} patches, and the loss averages over \
             removed patches only",
            args.batch.display(),
            batch.mask_ratio,
            ckpt.dims.num_patches
        )));
    }
    let mut device = open_device(args.backend, args.adapter.as_deref())?;
    let out = evaluate_on(&ckpt, &batch, args.grads, &mut device).map_err(|e| match e {
        EvalError::File(_) | EvalError::BatchShape { .. } | EvalError::Masking { .. } => {
            bad_input(e.to_string())
        }
        other => anyhow::Error::new(other),
    })?;

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
    println!("{}", serde_json::json!({ "loss": out.loss }));
    Ok(())
}
