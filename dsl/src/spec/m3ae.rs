//! M3AE, the multimodal MAE (young-geng/m3ae_public `model.py`).
//! Image patches and text tokens are masked separately, each keeping `floor(L * (1 - r))` with
//! one permutation shared by the batch; the encoder sees `[cls | kept image | kept text]`.
use super::error::{Family, ShapeError};
use super::image::ImageSpec;
#[cfg(feature = "serde")]
use super::mae::eps_1e6;
use super::rules::{
    keep_at_least_one, layer_norm_eps, patch_grid, size, size_within, tri, PosEmbed, MAX_VOCAB,
};
use super::table::{decoder_rows, image_row, row};
use super::vit::{VitDims, VitSpec};
use crate::Ratio;
use core::fmt::{self, Display, Formatter};
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

const F: Family = Family::M3ae;

/// An M3AE: image plus fixed-length text, per-modality mask ratios.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct M3aeSpec {
    pub image: ImageSpec,
    pub patch: usize,
    /// Tokens per text (official `tokenizer_max_length` 64, padded).
    pub text_len: usize,
    /// Text vocabulary (30522 for bert-base-uncased).
    pub vocab: usize,
    pub encoder: VitSpec,
    pub decoder: VitSpec,
    pub image_ratio: Ratio,
    pub text_ratio: Ratio,
    /// Flax LayerNorm's epsilon, 1e-6.
    #[cfg_attr(feature = "serde", serde(default = "eps_1e6"))]
    pub layer_norm_eps: f64,
    /// Learned modality type embeddings added to image and text tokens (official
    /// `use_type_embedding`, true).
    #[cfg_attr(feature = "serde", serde(default = "yes"))]
    pub type_embedding: bool,
    /// Weight of the image MSE in the loss (official `image_loss_weight`, 1.0).
    #[cfg_attr(feature = "serde", serde(default = "one"))]
    pub image_loss_weight: f64,
    /// Weight of the text cross-entropy in the loss (official `text_loss_weight`, 0.1; the
    /// README's command line uses 0.5).
    #[cfg_attr(feature = "serde", serde(default = "tenth"))]
    pub text_loss_weight: f64,
}

#[cfg(feature = "serde")]
fn yes() -> bool {
    true
}

#[cfg(feature = "serde")]
fn one() -> f64 {
    1.0
}

#[cfg(feature = "serde")]
fn tenth() -> f64 {
    0.1
}

/// Every size derived from an [`M3aeSpec`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct M3aeDims {
    pub spec: M3aeSpec,
    pub image: usize,
    pub grid: usize,
    pub image_tokens: usize,
    pub image_keep: usize,
    pub text_keep: usize,
    /// `[cls | kept image | kept text]`.
    pub encoder_seq: usize,
    /// `[cls | all image | all text]`.
    pub decoder_seq: usize,
    /// `patch^2 * channels`: the image embedding's input and the image head's output.
    pub patch_dim: usize,
    /// Text head output: the vocabulary.
    pub text_pred_dim: usize,
    pub encoder: VitDims,
    pub decoder: VitDims,
}

impl M3aeSpec {
    /// Checks every M3AE rule (docs/shape-rules.md) and derives every size.
    pub const fn validate(&self) -> Result<M3aeDims, ShapeError> {
        let image = tri!(self.image.validate(F));
        tri!(size(F, "patch", self.patch));
        tri!(layer_norm_eps(F, self.layer_norm_eps));
        tri!(size(F, "text length", self.text_len));
        tri!(size_within(F, "text vocabulary", self.vocab, MAX_VOCAB));
        let grid = tri!(patch_grid(F, image, self.patch));
        let encoder = tri!(self.encoder.validate(F, "encoder", PosEmbed::SinCos2d));
        let decoder = tri!(self.decoder.validate(F, "decoder", PosEmbed::SinCos2d));
        let image_tokens = grid * grid;
        let image_keep = tri!(keep_at_least_one(
            F,
            "image mask",
            self.image_ratio,
            image_tokens
        ));
        let text_keep = tri!(keep_at_least_one(
            F,
            "text mask",
            self.text_ratio,
            self.text_len
        ));
        Ok(M3aeDims {
            spec: *self,
            image,
            grid,
            image_tokens,
            image_keep,
            text_keep,
            encoder_seq: 1 + image_keep + text_keep,
            decoder_seq: 1 + image_tokens + self.text_len,
            patch_dim: self.patch * self.patch * self.image.channels,
            text_pred_dim: self.vocab,
            encoder,
            decoder,
        })
    }
}

impl Display for M3aeDims {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        row(f, "family", "M3AE (image + text)")?;
        image_row(f, self.image, s.image.channels)?;
        row(f, "patch", s.patch)?;
        row(f, "grid", format_args!("{0}x{0}", self.grid))?;
        row(f, "image tokens", self.image_tokens)?;
        row(f, "text length", s.text_len)?;
        row(f, "vocabulary", s.vocab)?;
        row(
            f,
            "mask",
            format_args!(
                "image {}, text {} (keep floor(L*(1-r)))",
                s.image_ratio, s.text_ratio
            ),
        )?;
        row(f, "kept image tokens", self.image_keep)?;
        row(f, "kept text tokens", self.text_keep)?;
        row(f, "encoder", self.encoder)?;
        row(f, "encoder sequence", self.encoder_seq)?;
        decoder_rows(f, self.decoder, self.decoder_seq)?;
        row(f, "patch dim", self.patch_dim)?;
        row(f, "image prediction", self.patch_dim)?;
        row(f, "text prediction", self.text_pred_dim)?;
        row(
            f,
            "type embeddings",
            if s.type_embedding { "yes" } else { "no" },
        )?;
        row(
            f,
            "loss",
            format_args!(
                "{} * image MSE + {} * text cross-entropy",
                s.image_loss_weight, s.text_loss_weight
            ),
        )
    }
}
