//! MAE's per-step inputs: the images and the masks as tensors, from masks drawn for training or
//! from an evaluation batch in the official format (`imgs`, `noise`, `mask_ratio`: the noise is
//! what `random_masking` draws with `torch.rand`, the keep count `int(L * (1 - mask_ratio))`
//! with the ratio as a float, exactly as the official forward pass).
//!
//! Uniform masks (UM-MAE's ViT) take UM-MAE's official format instead: `imgs`, `mask` (the
//! loader's 0/1 mask, 1 = masked) and, with secondary masking, `secondary_noise` [N, V] (its
//! `torch.rand(N, V)`), which selects the replaced tokens by the spec's rule with
//! `int(V * (1 - vis_mask_ratio))` real tokens computed in floats, as the official code does.
use tessera_dsl::mask::random::{float_keep_count, random_keeping};
use tessera_dsl::mask::uniform::{secondary_keeping, Secondary, SecondaryRule};
use tessera_dsl::mask::{Mask, MaskBatch};
use tessera_dsl::spec::{MaeDims, MaeSpec, MaskSpec};

use super::graph::inputs;
use crate::model::{InputValues, ModelError, StepInputs, StepShape};
use crate::tensors::TensorFile;

/// The inputs of a step over `images` with `masks`.
pub fn inputs(images: Vec<f32>, masks: MaskBatch) -> StepInputs {
    let shape = StepShape::new(masks.batch, masks.len_keep);
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

/// The inputs of a uniform-mask (UM-MAE) step over `images`: the visible tokens in raster
/// order (`ids_keep`), the visible-then-masked order (`ids_shuffle`) and, with secondary
/// masking, which visible tokens are replaced (`vis_mask`).
pub fn visible_first(
    images: Vec<f32>,
    masks: &[Mask],
    secondary: Option<&[Secondary]>,
) -> Result<StepInputs, ModelError> {
    // Whatever ordered the kept tokens, UM-MAE takes them as `x[~mask]`: raster order.
    let masks: Vec<Mask> = masks
        .iter()
        .map(|m| Mask::from_binary(m.mask()))
        .collect::<Result<_, _>>()?;
    let batch = MaskBatch::from_masks(&masks)?;
    let shape = StepShape::new(batch.batch, batch.len_keep);
    let ids_shuffle: Vec<u32> = masks
        .iter()
        .flat_map(|m| m.ids_shuffle().iter().map(|&i| i as u32))
        .collect();
    let mut tensors = vec![
        (inputs::IMGS.to_string(), InputValues::F32(images)),
        (inputs::IDS_KEEP.into(), InputValues::U32(batch.ids_keep)),
        (inputs::IDS_SHUFFLE.into(), InputValues::U32(ids_shuffle)),
    ];
    if let Some(sec) = secondary {
        let vis_mask: Vec<f32> = masks
            .iter()
            .zip(sec)
            .flat_map(|(m, s)| m.ids_keep().iter().map(|&i| f32::from(s.hidden()[i])))
            .collect();
        tensors.push((inputs::VIS_MASK.into(), InputValues::F32(vis_mask)));
    }
    Ok(StepInputs {
        shape,
        tensors,
        mask: batch.mask,
    })
}

/// The images of an official batch, checked: `[N, C, side, side]` with N >= 1.
fn official_images(file: &TensorFile, channels: usize, side: usize) -> Result<usize, ModelError> {
    let imgs = file.require("imgs")?;
    if imgs.shape.len() != 4 || imgs.shape[0] == 0 || imgs.shape[1..] != [channels, side, side] {
        return Err(ModelError::BatchShape {
            path: file.path.display().to_string(),
            name: "imgs",
            expected: format!("[N, {channels}, {side}, {side}] (f32, N >= 1)"),
            found: imgs.shape.clone(),
        });
    }
    Ok(imgs.shape[0])
}

/// The inputs of an official evaluation batch, checked against the model's sizes.
pub fn official(file: &TensorFile, spec: &MaeSpec, d: &MaeDims) -> Result<StepInputs, ModelError> {
    match spec.mask {
        MaskSpec::Uniform { secondary, .. } => {
            let rule = secondary.map(|r| (r.to_f64(), spec.secondary_rule));
            official_uniform(file, spec.image.channels, d, rule)
        }
        // A variant's mask has no official batch format: MAE's noise format serves.
        MaskSpec::Random { .. } | MaskSpec::Block { .. } | MaskSpec::Custom { .. } => {
            official_noise(file, spec.image.channels, d.image, d.tokens)
        }
    }
}

/// The `mask_ratio [1]` an official batch gives the forward pass (MAE, HiViT, MixMIM).
pub fn official_mask_ratio(file: &TensorFile) -> Result<f32, ModelError> {
    let ratio = file.require("mask_ratio")?;
    match ratio.data[..] {
        [mask_ratio] => Ok(mask_ratio),
        _ => Err(ModelError::BatchShape {
            path: file.path.display().to_string(),
            name: "mask_ratio",
            expected: "[1]".into(),
            found: ratio.shape.clone(),
        }),
    }
}

/// An official MAE-format batch (`imgs`, `noise`, `mask_ratio`) over `tokens` patches of
/// `side`-pixel images with `channels` channels (HiViT reads the same format).
pub fn official_noise(
    file: &TensorFile,
    channels: usize,
    side: usize,
    tokens: usize,
) -> Result<StepInputs, ModelError> {
    let path = file.path.display().to_string();
    let n = official_images(file, channels, side)?;
    let imgs = file.require("imgs")?;
    let l = tokens;
    let noise = file.require("noise")?;
    if noise.shape != [n, l] {
        return Err(ModelError::BatchShape {
            path,
            name: "noise",
            expected: format!("[{n}, {l}] (one value per image and patch)"),
            found: noise.shape.clone(),
        });
    }
    let mask_ratio = official_mask_ratio(file)?;
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

/// An official UM-MAE batch (`imgs`, `mask`, and `secondary_noise` when `secondary` gives the
/// ratio and rule of secondary masking).
fn official_uniform(
    file: &TensorFile,
    channels: usize,
    d: &MaeDims,
    secondary: Option<(f64, SecondaryRule)>,
) -> Result<StepInputs, ModelError> {
    let path = file.path.display().to_string();
    let n = official_images(file, channels, d.image)?;
    let l = d.tokens;
    let mask = file.require("mask")?;
    if mask.shape != [n, l] {
        return Err(ModelError::BatchShape {
            path,
            name: "mask",
            expected: format!("[{n}, {l}] (1 = masked, one value per image and patch)"),
            found: mask.shape.clone(),
        });
    }
    let masks: Vec<Mask> = mask
        .data
        .chunks_exact(l)
        .enumerate()
        .map(|(i, row)| {
            let bits: Option<Vec<u8>> = row
                .iter()
                .map(|&v| {
                    if v == 0.0 {
                        Some(0)
                    } else if v == 1.0 {
                        Some(1)
                    } else {
                        None
                    }
                })
                .collect();
            let bits = bits.ok_or_else(|| {
                ModelError::Batch(format!("{path}: the mask of image {i} is not all 0 and 1"))
            })?;
            Ok(Mask::from_binary(&bits)?)
        })
        .collect::<Result<_, ModelError>>()?;
    let visible = masks[0].len_keep();
    if let Some(i) = masks.iter().position(|m| m.len_keep() != visible) {
        return Err(ModelError::Batch(format!(
            "{path}: image {i} has {} visible patches and image 0 {visible}; UM-MAE needs the              same count in every image",
            masks[i].len_keep()
        )));
    }
    if visible == 0 {
        return Err(ModelError::Batch(format!(
            "{path}: the mask hides every patch; the encoder needs a visible one"
        )));
    }
    let imgs = file.require("imgs")?.data.clone();
    let Some((ratio, rule)) = secondary else {
        return visible_first(imgs, &masks, None);
    };
    let noise = file.require("secondary_noise")?;
    if noise.shape != [n, visible] {
        return Err(ModelError::BatchShape {
            path,
            name: "secondary_noise",
            expected: format!("[{n}, {visible}] (one value per image and visible patch)"),
            found: noise.shape.clone(),
        });
    }
    // `int(V * (1 - vis_mask_ratio))` with the ratio as a Python float.
    let len_real = (visible as f64 * (1.0 - ratio)).floor() as usize;
    let secondary: Vec<Secondary> = masks
        .iter()
        .zip(noise.data.chunks_exact(visible))
        .map(|(m, row)| secondary_keeping(m, row, len_real, rule))
        .collect::<Result<_, _>>()?;
    visible_first(imgs, &masks, Some(&secondary))
}
