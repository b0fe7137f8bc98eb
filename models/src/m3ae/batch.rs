//! M3AE's per-step inputs: images, captions, the two batch-shared masks and what follows from
//! them (key-padding masks, the text loss's weights), from masks drawn for training or from an
//! evaluation batch in the official format (`image` NHWC, `text`, `text_padding_mask`, and the
//! two noise vectors `random_masking` draws: `image_noise` [L], `text_noise` [T]).
use tessera_dsl::mask::modality::{modality, modality_from_noise, ModalityMasks};
use tessera_dsl::mask::Mask;
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{M3aeDims, M3aeSpec};

use super::graph::{inputs, PADDING_LOGIT};
use crate::model::{InputValues, ModelError, StepInputs, StepShape};
use crate::sample::{Samples, PAD};
use crate::tensors::TensorFile;

/// One batch before it becomes tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// `[N, C, H, W]`, normalized.
    pub images: Vec<f32>,
    /// `[N·T]` token ids.
    pub text: Vec<u32>,
    /// `[N·T]`, true where the position is padding.
    pub padding: Vec<bool>,
    pub masks: ModalityMasks,
}

/// `(ids_keep, ids_restore)` of a mask as index inputs.
fn ids(m: &Mask) -> (Vec<u32>, Vec<u32>) {
    let keep = m.ids_keep().iter().map(|&i| i as u32).collect();
    let restore = m.ids_restore().iter().map(|&i| i as u32).collect();
    (keep, restore)
}

/// `[N·T]` weights of the text loss (`1 / n_b` on the `n_b` masked non-padding tokens of
/// sample `b`) and the share of samples that have any. With none at all the official loss is
/// 0: the weights are then 1 (any positive value keeps the weighted mean finite) and the
/// share 0, so loss and gradient are exactly 0.
pub fn text_loss_weights(text_mask: &[u8], padding: &[bool]) -> (Vec<f32>, f32) {
    let t = text_mask.len();
    let n = padding.len() / t;
    let mut w = vec![0.0f32; n * t];
    let mut counted = 0usize;
    for (row, pad) in w.chunks_exact_mut(t).zip(padding.chunks_exact(t)) {
        let used: Vec<bool> = (0..t).map(|j| text_mask[j] == 1 && !pad[j]).collect();
        let k = used.iter().filter(|&&u| u).count();
        if k == 0 {
            continue;
        }
        counted += 1;
        for (x, &u) in row.iter_mut().zip(&used) {
            if u {
                *x = 1.0 / k as f32;
            }
        }
    }
    if counted == 0 {
        return (vec![1.0; n * t], 0.0);
    }
    (w, counted as f32 / n as f32)
}

/// The inputs of a step over `batch`.
pub fn inputs(spec: &M3aeSpec, d: &M3aeDims, batch: Batch) -> StepInputs {
    let (l, t) = (d.image_tokens, spec.text_len);
    let n = batch.text.len() / t;
    let (image, text) = (&batch.masks.image, &batch.masks.text);
    let row: Vec<f32> = image.mask().iter().map(|&m| f32::from(m)).collect();
    let image_mask: Vec<f32> = row.repeat(n);
    let (image_keep, image_restore) = ids(image);
    let (text_keep, text_restore) = ids(text);
    let logit = |pad: bool| if pad { PADDING_LOGIT } else { 0.0 };
    let mut enc_pad = Vec::with_capacity(n * (1 + image.len_keep() + text.len_keep()));
    let mut dec_pad = Vec::with_capacity(n * (1 + l + t));
    for pad in batch.padding.chunks_exact(t) {
        enc_pad.extend(std::iter::repeat_n(0.0, 1 + image.len_keep()));
        enc_pad.extend(text.ids_keep().iter().map(|&j| logit(pad[j])));
        dec_pad.extend(std::iter::repeat_n(0.0, 1 + l));
        dec_pad.extend(pad.iter().map(|&p| logit(p)));
    }
    let (weights, scale) = text_loss_weights(text.mask(), &batch.padding);
    let f = |name: &str, v: Vec<f32>| (name.to_string(), InputValues::F32(v));
    let u = |name: &str, v: Vec<u32>| (name.to_string(), InputValues::U32(v));
    let tensors = vec![
        f(inputs::IMGS, batch.images),
        u(inputs::TEXT, batch.text),
        f(inputs::IMAGE_MASK, image_mask.clone()),
        u(inputs::IMAGE_IDS_KEEP, image_keep),
        u(inputs::IMAGE_IDS_RESTORE, image_restore),
        u(inputs::TEXT_IDS_KEEP, text_keep),
        u(inputs::TEXT_IDS_RESTORE, text_restore),
        f(inputs::ENCODER_PADDING, enc_pad),
        f(inputs::DECODER_PADDING, dec_pad),
        f(inputs::TEXT_WEIGHTS, weights),
        f(inputs::TEXT_LOSS_SCALE, vec![scale]),
    ];
    StepInputs {
        shape: StepShape::new(n, image.len_keep()),
        tensors,
        mask: image_mask,
    }
}

/// A training batch of image–caption samples with masks drawn from `rng` (image noise first,
/// then text noise, as the official forward pass draws them). Padding is where a caption
/// holds [`PAD`].
pub fn train(
    spec: &M3aeSpec,
    d: &M3aeDims,
    samples: &Samples<'_>,
    rng: &mut Rng,
) -> Result<Batch, ModelError> {
    if let Some(&bad) = samples.text.iter().find(|&&id| id as usize >= spec.vocab) {
        return Err(ModelError::Batch(format!(
            "a caption holds token id {bad}, outside this model's vocabulary of {}",
            spec.vocab
        )));
    }
    let masks = modality(
        d.image_tokens,
        spec.image_ratio,
        spec.text_len,
        spec.text_ratio,
        rng,
    )?;
    Ok(Batch {
        images: samples.pixels.to_vec(),
        text: samples.text.to_vec(),
        padding: samples.text.iter().map(|&id| id == PAD).collect(),
        masks,
    })
}

/// `int(len · (1.0 − r))` in double precision, as the official forward pass counts.
fn official_keep(len: usize, r: f64) -> usize {
    (len as f64 * (1.0 - r)).floor() as usize
}

/// An evaluation batch in the official format, checked against the model's sizes.
pub fn official(file: &TensorFile, spec: &M3aeSpec, d: &M3aeDims) -> Result<Batch, ModelError> {
    let path = file.path.display().to_string();
    let shape_err =
        |name: &'static str, expected: String, found: &[usize]| ModelError::BatchShape {
            path: path.clone(),
            name,
            expected,
            found: found.to_vec(),
        };
    let image = file.require("image")?;
    let (c, side) = (spec.image.channels, d.image);
    if image.shape.len() != 4 || image.shape[0] == 0 || image.shape[1..] != [side, side, c] {
        let want = format!("[N, {side}, {side}, {c}] (NHWC, f32, N >= 1)");
        return Err(shape_err("image", want, &image.shape));
    }
    let (n, t, l) = (image.shape[0], spec.text_len, d.image_tokens);
    let text = file.require("text")?;
    if text.shape != [n, t] {
        let want = format!("[{n}, {t}] (token ids)");
        return Err(shape_err("text", want, &text.shape));
    }
    let ids: Vec<u32> = text
        .data
        .iter()
        .map(|&x| {
            let ok = x >= 0.0 && x.fract() == 0.0 && (x as usize) < spec.vocab;
            ok.then_some(x as u32).ok_or_else(|| {
                ModelError::Batch(format!(
                    "{path}: `text` holds {x}, not a token id below the vocabulary size {}",
                    spec.vocab
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let padding = file.require("text_padding_mask")?;
    if padding.shape != [n, t] {
        let want = format!("[{n}, {t}] (1 = padding)");
        return Err(shape_err("text_padding_mask", want, &padding.shape));
    }
    if let Some(x) = padding.data.iter().find(|&&x| x != 0.0 && x != 1.0) {
        return Err(ModelError::Batch(format!(
            "{path}: `text_padding_mask` holds {x}; it must be 0 (token) or 1 (padding)"
        )));
    }
    let image_noise = file.require("image_noise")?;
    if image_noise.shape != [l] {
        let want = format!("[{l}] (one value per patch, shared by the batch)");
        return Err(shape_err("image_noise", want, &image_noise.shape));
    }
    let text_noise = file.require("text_noise")?;
    if text_noise.shape != [t] {
        let want = format!("[{t}] (one value per text position, shared by the batch)");
        return Err(shape_err("text_noise", want, &text_noise.shape));
    }
    for (what, len, r, keep) in [
        ("image", l, spec.image_ratio, d.image_keep),
        ("text", t, spec.text_ratio, d.text_keep),
    ] {
        let float = official_keep(len, r.to_f64());
        if float != keep {
            return Err(ModelError::Batch(format!(
                "the official code keeps int({len} * (1.0 - {})) = {float} {what} tokens where \
                 this spec keeps floor({len} * (1 - {r})) = {keep}; choose a ratio both count \
                 alike",
                r.to_f64()
            )));
        }
    }
    let masks = modality_from_noise(
        &image_noise.data,
        spec.image_ratio,
        &text_noise.data,
        spec.text_ratio,
    )
    .map_err(|e| ModelError::Batch(format!("{path}: masking noise: {e}")))?;
    // NHWC → NCHW, the layout of the model's image input.
    let hw = side * side;
    let mut images = vec![0.0f32; n * c * hw];
    for (b, src) in image.data.chunks_exact(hw * c).enumerate() {
        for (p, px) in src.chunks_exact(c).enumerate() {
            for (ch, &v) in px.iter().enumerate() {
                images[(b * c + ch) * hw + p] = v;
            }
        }
    }
    Ok(Batch {
        images,
        text: ids,
        padding: padding.data.iter().map(|&x| x == 1.0).collect(),
        masks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_weights_average_each_sample_then_the_batch() {
        // T = 4, positions 1 and 3 masked; sample 0 counts both, sample 1 (padding from 2 on)
        // counts position 1 only, sample 2 (all padding) nothing.
        let mask = [0u8, 1, 0, 1];
        let pad = [
            false, false, false, false, false, false, true, true, true, true, true, true,
        ];
        let (w, scale) = text_loss_weights(&mask, &pad);
        assert_eq!(
            w,
            [0.0, 0.5, 0.0, 0.5, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        // Σ w·nll / Σ w · (2 / 3) = (nll-mean of sample 0 + nll of sample 1 + 0) / 3.
        assert_eq!(scale, 2.0 / 3.0);
        let (w, scale) = text_loss_weights(&mask, &[true; 8]);
        assert_eq!((w, scale), (vec![1.0; 8], 0.0));
    }

    #[test]
    fn the_official_keep_count_is_computed_in_floats() {
        assert_eq!(official_keep(16, 0.75), 4);
        // 10 · (1 − 0.9) = 0.9999999999999998 in doubles: the official code keeps none.
        assert_eq!(official_keep(10, 0.9), 0);
    }
}
