//! VideoMAE's per-step inputs: the clips and, per clip, its visible and masked tokens in raster
//! order, from tube masks drawn for training or from an evaluation batch in the official
//! format (`videos` `[N, C, T, H, W]` and `mask` `[N, L]`, 1 = masked, as the official data
//! pipeline hands them to the engine, which passes `mask.flatten(1).to(bool)` to the model).
use tessera_dsl::mask::{Mask, MaskBatch};
use tessera_dsl::spec::{VideoMaeDims, VideoMaeSpec};

use super::graph::inputs;
use crate::model::{InputValues, ModelError, StepInputs, StepShape};
use crate::tensors::TensorFile;

/// The inputs of a step over `videos` with `masks` (made by `Mask::from_binary`, so each
/// sample's `ids_keep` and `ids_masked` are in raster order, as `x[~mask]` and `x[mask]`).
pub fn inputs(videos: Vec<f32>, masks: &[Mask]) -> Result<StepInputs, ModelError> {
    let batch = MaskBatch::from_masks(masks)?;
    let ids_masked: Vec<u32> = masks
        .iter()
        .flat_map(|m| m.ids_masked().iter().map(|&i| i as u32))
        .collect();
    Ok(StepInputs {
        shape: StepShape::new(batch.batch, batch.len_keep),
        tensors: vec![
            (inputs::VIDEOS.to_string(), InputValues::F32(videos)),
            (inputs::IDS_KEEP.into(), InputValues::U32(batch.ids_keep)),
            (inputs::IDS_MASKED.into(), InputValues::U32(ids_masked)),
        ],
        mask: batch.mask,
    })
}

/// The inputs of an official evaluation batch, checked against the model's sizes. Any 0/1
/// mask is taken as the official model takes it (tube or not), as long as every clip keeps the
/// same number of tokens and keeps and masks at least one.
pub fn official(
    file: &TensorFile,
    spec: &VideoMaeSpec,
    d: &VideoMaeDims,
) -> Result<StepInputs, ModelError> {
    let path = file.path.display().to_string();
    let videos = file.require("videos")?;
    let (c, t, side) = (spec.image.channels, spec.frames, d.image);
    if videos.shape.len() != 5 || videos.shape[0] == 0 || videos.shape[1..] != [c, t, side, side] {
        return Err(ModelError::BatchShape {
            path,
            name: "videos",
            expected: format!("[N, {c}, {t}, {side}, {side}] (f32, N >= 1)"),
            found: videos.shape.clone(),
        });
    }
    let (n, l) = (videos.shape[0], d.tokens);
    let mask = file.require("mask")?;
    if mask.shape.iter().product::<usize>() != n * l || mask.shape.first() != Some(&n) {
        return Err(ModelError::BatchShape {
            path,
            name: "mask",
            expected: format!("[{n}, {l}] (one value per clip and token, 1 = masked)"),
            found: mask.shape.clone(),
        });
    }
    let mut masks = Vec::with_capacity(n);
    for (i, row) in mask.data.chunks_exact(l).enumerate() {
        let binary: Vec<u8> = row
            .iter()
            .map(|&v| match v {
                0.0 => Ok(0),
                1.0 => Ok(1),
                other => Err(ModelError::Batch(format!(
                    "{path}: mask of clip {i} holds {other}; it must be 0 (visible) or 1 (masked)"
                ))),
            })
            .collect::<Result<_, _>>()?;
        let m = Mask::from_binary(&binary)?;
        if m.len_keep() == 0 || m.len_keep() == l {
            return Err(ModelError::Batch(format!(
                "{path}: the mask of clip {i} keeps {} of {l} tokens; VideoMAE needs visible \
                 tokens for the encoder and masked ones for the loss",
                m.len_keep()
            )));
        }
        if let Some(first) = masks.first().map(Mask::len_keep) {
            if m.len_keep() != first {
                return Err(ModelError::Batch(format!(
                    "{path}: clip {i} keeps {} tokens, clip 0 keeps {first}; the official \
                     encoder reshapes the visible tokens to [N, K, D], so every clip must keep \
                     the same number",
                    m.len_keep()
                )));
            }
        }
        masks.push(m);
    }
    inputs(videos.data.clone(), &masks)
}
