//! MAE's per-step inputs: the images and the masks as tensors, from masks drawn for training or
//! from an evaluation batch in the official format (`imgs`, `noise`, `mask_ratio`: the noise is
//! what `random_masking` draws with `torch.rand`, the keep count `int(L * (1 - mask_ratio))`
//! with the ratio as a float, exactly as the official forward pass).
use tessera_dsl::mask::random::{float_keep_count, random_keeping};
use tessera_dsl::mask::{Mask, MaskBatch};
use tessera_dsl::spec::{MaeDims, MaeSpec};

use super::graph::inputs;
use crate::model::{InputValues, ModelError, StepInputs, StepShape};
use crate::tensors::TensorFile;

/// The inputs of a step over `images` with `masks`.
pub fn inputs(images: Vec<f32>, masks: MaskBatch) -> StepInputs {
    let shape = StepShape {
        batch: masks.batch,
        keep: masks.len_keep,
    };
    let mut tensors = vec![(inputs::IMGS.to_string(), InputValues::F32(images))];
    tensors.push((inputs::MASK.into(), InputValues::F32(masks.mask.clone())));
    if masks.len_keep > 0 {
        tensors.push((inputs::IDS_KEEP.into(), InputValues::U32(masks.ids_keep)));
    }
    tensors.push((
        inputs::IDS_RESTORE.into(),
        InputValues::U32(masks.ids_restore),
    ));
    StepInputs {
        shape,
        tensors,
        mask: masks.mask,
    }
}

/// The inputs of an official evaluation batch, checked against the model's sizes.
pub fn official(file: &TensorFile, spec: &MaeSpec, d: &MaeDims) -> Result<StepInputs, ModelError> {
    let path = file.path.display().to_string();
    let imgs = file.require("imgs")?;
    let (c, side) = (spec.image.channels, d.image);
    if imgs.shape.len() != 4 || imgs.shape[0] == 0 || imgs.shape[1..] != [c, side, side] {
        return Err(ModelError::BatchShape {
            path,
            name: "imgs",
            expected: format!("[N, {c}, {side}, {side}] (f32, N >= 1)"),
            found: imgs.shape.clone(),
        });
    }
    let (n, l) = (imgs.shape[0], d.tokens);
    let noise = file.require("noise")?;
    if noise.shape != [n, l] {
        return Err(ModelError::BatchShape {
            path,
            name: "noise",
            expected: format!("[{n}, {l}] (one value per image and patch)"),
            found: noise.shape.clone(),
        });
    }
    let ratio = file.require("mask_ratio")?;
    let [mask_ratio] = ratio.data[..] else {
        return Err(ModelError::BatchShape {
            path,
            name: "mask_ratio",
            expected: "[1]".into(),
            found: ratio.shape.clone(),
        });
    };
    let keep = float_keep_count(l, mask_ratio).ok_or_else(|| {
        ModelError::Batch(format!(
            "{path}: mask_ratio {mask_ratio} must be a number in [0, 1]"
        ))
    })?;
    let masks: Vec<Mask> = noise
        .data
        .chunks_exact(l)
        .enumerate()
        .map(|(i, row)| {
            random_keeping(row, keep)
                .map_err(|e| ModelError::Batch(format!("{path}: noise of image {i}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(inputs(imgs.data.clone(), MaskBatch::from_masks(&masks)?))
}
