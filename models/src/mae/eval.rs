//! One batch through a checkpoint on a backend (CPU or wgpu), as official
//! `model(imgs, mask_ratio)` with the masking noise supplied: loss, prediction, mask and
//! (optionally) the gradient of every trainable parameter under its official name.
use tessera_dsl::graph::{compile, GraphError, PlanOptions};
use tessera_runtime::backend::{BackendError, Device};

use super::config::{MaeConfig, MaeDims};
use super::masking::{mask_from_noise, BatchMask, MaskingError};
use super::model::{build, inputs, Extras};
use crate::checkpoint::Checkpoint;
use crate::tensors::{Tensor, TensorFile, TensorFileError};

/// The inputs of one evaluation (the `BATCH.safetensors` of `tessera eval`).
#[derive(Clone, Debug, PartialEq)]
pub struct EvalBatch {
    /// `[N, C, H, W]`, already normalized.
    pub imgs: Tensor,
    /// `[N, L]`: the masking noise, used as official `random_masking` uses `torch.rand`.
    pub noise: Tensor,
    pub mask_ratio: f32,
}

/// Everything an evaluation produces.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalOutput {
    pub loss: f32,
    /// `[N, L, p·p·C]`.
    pub pred: Tensor,
    /// `[N, L]`, 1 = removed.
    pub mask: Tensor,
    /// `(official name, gradient)` of every trainable parameter, in state-dict order.
    pub grads: Vec<(String, Tensor)>,
}

/// Why an evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    File(#[from] TensorFileError),
    #[error("{path}: `{name}` has shape {found:?}; this model needs {expected}")]
    BatchShape {
        path: String,
        name: &'static str,
        expected: String,
        found: Vec<usize>,
    },
    #[error("{path}: {error}")]
    Masking { path: String, error: MaskingError },
    #[error("building the MAE graph: {0}")]
    Graph(GraphError),
    #[error("{0}")]
    Backend(BackendError),
}

impl From<BackendError> for EvalError {
    fn from(e: BackendError) -> Self {
        EvalError::Backend(e)
    }
}

// Written out instead of `#[from]` so the inner error is in the message, not a `source` that a
// chain-printing report would repeat.
impl From<GraphError> for EvalError {
    fn from(e: GraphError) -> Self {
        EvalError::Graph(e)
    }
}

impl EvalBatch {
    /// Reads `imgs`, `noise` and `mask_ratio` from a batch file and checks them against the
    /// model's sizes.
    pub fn from_file(
        file: &TensorFile,
        cfg: &MaeConfig,
        dims: &MaeDims,
    ) -> Result<Self, EvalError> {
        let path = file.path.display().to_string();
        let imgs = file.require("imgs")?;
        let (c, s) = (cfg.in_chans, cfg.img_size);
        if imgs.shape.len() != 4 || imgs.shape[0] == 0 || imgs.shape[1..] != [c, s, s] {
            return Err(EvalError::BatchShape {
                path,
                name: "imgs",
                expected: format!("[N, {c}, {s}, {s}] (f32, N >= 1)"),
                found: imgs.shape.clone(),
            });
        }
        let n = imgs.shape[0];
        let l = dims.num_patches;
        let noise = file.require("noise")?;
        if noise.shape != [n, l] {
            return Err(EvalError::BatchShape {
                path,
                name: "noise",
                expected: format!("[{n}, {l}] (one value per image and patch)"),
                found: noise.shape.clone(),
            });
        }
        let ratio = file.require("mask_ratio")?;
        if ratio.data.len() != 1 {
            return Err(EvalError::BatchShape {
                path,
                name: "mask_ratio",
                expected: "[1]".into(),
                found: ratio.shape.clone(),
            });
        }
        Ok(EvalBatch {
            imgs: imgs.clone(),
            noise: noise.clone(),
            mask_ratio: ratio.data[0],
        })
    }

    pub fn batch(&self) -> usize {
        self.imgs.shape[0]
    }

    /// The official mask of this batch.
    pub fn mask(&self, dims: &MaeDims) -> Result<BatchMask, MaskingError> {
        mask_from_noise(
            &self.noise.data,
            self.batch(),
            dims.num_patches,
            self.mask_ratio,
        )
    }
}

/// Runs `batch` through `ckpt` in f32 on the CPU backend.
pub fn evaluate(
    ckpt: &Checkpoint,
    batch: &EvalBatch,
    grads: bool,
) -> Result<EvalOutput, EvalError> {
    evaluate_on(ckpt, batch, grads, &mut Device::Cpu)
}

/// Runs `batch` through `ckpt` in f32 on `device` (the CPU backend or wgpu).
pub fn evaluate_on(
    ckpt: &Checkpoint,
    batch: &EvalBatch,
    grads: bool,
    device: &mut Device,
) -> Result<EvalOutput, EvalError> {
    let (cfg, dims) = (&ckpt.config, &ckpt.dims);
    let masking = batch.mask(dims).map_err(|error| EvalError::Masking {
        path: "batch".into(),
        error,
    })?;
    let extras = if grads { Extras::Grads } else { Extras::None };
    let n = batch.batch();
    let mg = build(cfg, dims, n, masking.len_keep, &extras)?;
    let plan = compile(&mg.graph, &mg.outputs(), &PlanOptions::default())?;
    let label = format!("MAE eval (batch {n}, {} patches)", dims.num_patches);
    let mut ex = device.compile(&plan, &label)?;
    for (spec, values) in ckpt.params.specs.iter().zip(&ckpt.params.values) {
        // A parameter the loss cannot reach (patch_embed at mask_ratio 1) is not in the plan.
        if plan.slot_by_name(&spec.name).is_none() {
            continue;
        } else if spec.trainable {
            ex.set_param(&spec.name, values)?;
        } else {
            ex.set_frozen(&spec.name, values)?;
        }
    }
    ex.set_input(inputs::IMGS, &batch.imgs.data)?;
    ex.set_input(inputs::MASK, &masking.mask)?;
    if masking.len_keep > 0 {
        ex.set_index_input(inputs::IDS_KEEP, &masking.ids_keep)?;
    }
    ex.set_index_input(inputs::IDS_RESTORE, &masking.ids_restore)?;
    ex.run()?;
    let loss = ex.read(mg.loss)?[0];
    let pred = Tensor {
        shape: vec![n, dims.num_patches, dims.patch_dim],
        data: ex.read(mg.pred)?,
    };
    let mut out_grads = Vec::with_capacity(mg.grads.len());
    // One transfer for every gradient (one copy submission on a GPU).
    let ids: Vec<_> = mg.grads.iter().map(|(_, id)| *id).collect();
    let mut values = ex.read_many(&ids)?.into_iter();
    let mut found: Vec<(&str, Vec<f32>)> = mg
        .grads
        .iter()
        .map(|(n, _)| (n.as_str(), values.next().unwrap_or_default()))
        .collect();
    for spec in ckpt.params.specs.iter().filter(|s| s.trainable && grads) {
        // No gradient node means the loss does not reach the parameter through any nonempty
        // tensor; PyTorch still back-propagates through the empty gather and reports zeros.
        let data = match found.iter_mut().find(|(n, _)| *n == spec.name) {
            Some((_, v)) => std::mem::take(v),
            None => vec![0.0; spec.numel()],
        };
        out_grads.push((
            spec.name.clone(),
            Tensor {
                shape: spec.shape.clone(),
                data,
            },
        ));
    }
    Ok(EvalOutput {
        loss,
        pred,
        mask: Tensor {
            shape: vec![n, dims.num_patches],
            data: masking.mask,
        },
        grads: out_grads,
    })
}
