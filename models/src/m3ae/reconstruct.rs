//! Image–caption pairs through a trained M3AE with masks drawn from a seed, turned into the
//! reconstruction picture of [`super::picture`]: the image columns and the masked words with
//! their predictions.
use tessera_dsl::rng::Rng;
use tessera_runtime::backend::Device;

use super::captions::{load_image, normalization, CaptionSet};
use super::eval::evaluate;
use super::picture::{draw, Piece};
use super::pretrain::PretrainError;
use super::tokenizer::CaptionTokenizer;
use super::M3aeModel;
use crate::model::Model;
use crate::params::ParamSet;
use crate::sample::{Samples, PAD};
use crate::viz::canvas::Canvas;
use crate::viz::{reconstruct_one, Denormalize, PatchLayout};

/// Stream of the reconstruction masks ("RECO").
const RECON_STREAM: u64 = 0x5245_434f;

/// What the picture shows, besides the picture.
#[derive(Clone, Debug, PartialEq)]
pub struct Reconstruction {
    pub canvas: Canvas,
    /// Masked caption pieces (not padding) and how many the model got right.
    pub masked_words: usize,
    pub right: usize,
}

/// The pairs `indices` of `set` through `model` on `device`.
pub fn reconstruct(
    model: &M3aeModel,
    params: &ParamSet,
    tok: &CaptionTokenizer,
    set: &CaptionSet,
    indices: &[usize],
    seed: u64,
    device: &mut Device,
) -> Result<Reconstruction, PretrainError> {
    let spec = *model.m3ae_spec();
    let (t, v, per) = (spec.text_len, spec.vocab, spec.image.numel());
    let mut pixels = Vec::with_capacity(indices.len() * per);
    let mut text = Vec::with_capacity(indices.len() * t);
    for &i in indices {
        pixels.extend(load_image(&set.pairs[i].image, spec.image)?);
        text.extend(tok.encode(&set.pairs[i].caption, t)?);
    }
    let samples = Samples {
        pixels: &pixels,
        text: &text,
    };
    let inputs = model.step_inputs(&samples, &mut Rng::for_stream(seed, &[RECON_STREAM]))?;
    let out = evaluate(model, params, &inputs, false, device)?;
    let layout = PatchLayout {
        channels: spec.image.channels,
        img: spec.image.height,
        patch: spec.patch,
    };
    let (l, d) = (layout.tokens(), layout.patch_dim());
    let norm = normalization(spec.image.channels);
    let denorm = Denormalize {
        mean: norm.mean().to_vec(),
        std: norm.std().to_vec(),
    };
    let (mut masked_words, mut right) = (0, 0);
    let mut rows = Vec::new();
    for b in 0..indices.len() {
        let recon = reconstruct_one(
            &layout,
            &pixels[b * per..][..per],
            &out.common.pred.data[b * l * d..][..l * d],
            &out.common.mask.data[b * l..][..l],
            false,
        );
        let mut pieces = Vec::new();
        for j in 0..t {
            let id = text[b * t + j];
            if id == PAD {
                continue;
            }
            let masked = out.text_mask.data[b * t + j] > 0.5;
            let predicted = masked.then(|| {
                let row = &out.text_output.data[(b * t + j) * v..][..v];
                let best = (0..v).fold(0, |m, k| if row[k] > row[m] { k } else { m });
                tok.piece(best as u32)
            });
            let piece = tok.piece(id);
            if let Some(p) = &predicted {
                masked_words += 1;
                right += usize::from(*p == piece);
            }
            pieces.push(Piece {
                piece,
                masked,
                predicted,
            });
        }
        rows.push((recon, pieces));
    }
    let title = format!(
        "M3AE {}x{} px, patch {}, image mask {}, text mask {} ({} of {} masked words right)",
        spec.image.height,
        spec.image.width,
        spec.patch,
        spec.image_ratio,
        spec.text_ratio,
        right,
        masked_words
    );
    let scale = (128 / spec.image.height).max(1);
    Ok(Reconstruction {
        canvas: draw(&title, &rows, &denorm, spec.image.height, scale),
        masked_words,
        right,
    })
}
