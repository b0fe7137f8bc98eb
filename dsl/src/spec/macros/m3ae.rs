//! `m3ae!`: an M3AE (image + text).

/// Declares an M3AE (image + text). Optional after the mask, in this order:
/// `layer_norm_eps: 1e-6`, `loss: image(1.0) + text(0.1)` (the official loss weights, the
/// default) and `type_embedding: true` (learned modality embeddings, the default).
///
/// ```
/// tessera_dsl::m3ae! {
///     pub M3aeBase {
///         image: 256 x 256 x 3, patch: 16, text: 64, vocab: 30522,
///         encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
///         decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
///         mask: image(3 / 4) + text(3 / 4),
///     }
/// }
/// assert_eq!(M3aeBase::ENC_SEQ, 1 + 64 + 16);
/// ```
#[macro_export]
macro_rules! m3ae {
    (
        $(#[$meta:meta])* $vis:vis $name:ident {
            image: $h:literal x $w:literal x $c:literal,
            patch: $p:literal,
            text: $tl:literal,
            vocab: $voc:literal,
            encoder: vit { dim: $ed:literal, depth: $edp:literal, heads: $eh:literal, mlp: $em:literal $(,)? },
            decoder: vit { dim: $dd:literal, depth: $ddp:literal, heads: $dh:literal, mlp: $dm:literal $(,)? },
            mask: image ( $in:literal / $id:literal ) + text ( $tn:literal / $td:literal )
            $(, layer_norm_eps: $eps:literal)?
            $(, loss: image ( $iw:literal ) + text ( $tw:literal ))?
            $(, type_embedding: $te:literal)? $(,)?
        }
    ) => {
        $crate::__tessera_spec_item!($(#[$meta])* $vis $name, M3aeSpec, M3aeDims, $crate::presets::M3aeBase::DIMS, $crate::spec::M3aeSpec {
            image: $crate::__tessera_image!($crate::spec::Family::M3ae, $h, $w, $c),
            patch: $crate::__tessera_size!($crate::spec::Family::M3ae, "patch", $p),
            text_len: $crate::__tessera_size!($crate::spec::Family::M3ae, "text length", $tl),
            vocab: $crate::__tessera_try!($crate::spec::vocab_lit($crate::spec::Family::M3ae, "text vocabulary", $voc)),
            encoder: $crate::__tessera_vit!($crate::spec::Family::M3ae, "encoder", $ed, $edp, $eh, $em),
            decoder: $crate::__tessera_vit!($crate::spec::Family::M3ae, "decoder", $dd, $ddp, $dh, $dm),
            image_ratio: $crate::__tessera_ratio!($crate::spec::Family::M3ae, "image mask", $in / $id),
            text_ratio: $crate::__tessera_ratio!($crate::spec::Family::M3ae, "text mask", $tn / $td),
            layer_norm_eps: $crate::__tessera_eps!($crate::spec::Family::M3ae, [$($eps)?] 1e-6),
            type_embedding: $crate::__tessera_or!([$($te)?] true),
            image_loss_weight: $crate::__tessera_or!(
                [$($crate::__tessera_decimal!($crate::spec::Family::M3ae, "image loss weight", $iw))?] 1.0
            ),
            text_loss_weight: $crate::__tessera_or!(
                [$($crate::__tessera_decimal!($crate::spec::Family::M3ae, "text loss weight", $tw))?] 0.1
            ),
        });

        #[allow(dead_code)]
        impl $name {
            pub const IMAGE: usize = Self::__DERIVED.image;
            pub const CHANNELS: usize = Self::SPEC.image.channels;
            pub const GRID: usize = Self::__DERIVED.grid;
            pub const IMAGE_TOKENS: usize = Self::__DERIVED.image_tokens;
            pub const IMAGE_KEEP: usize = Self::__DERIVED.image_keep;
            pub const TEXT_LEN: usize = Self::SPEC.text_len;
            pub const TEXT_KEEP: usize = Self::__DERIVED.text_keep;
            pub const VOCAB: usize = Self::SPEC.vocab;
            pub const ENC_DIM: usize = Self::__DERIVED.encoder.dim;
            pub const ENC_SEQ: usize = Self::__DERIVED.encoder_seq;
            pub const DEC_DIM: usize = Self::__DERIVED.decoder.dim;
            pub const DEC_SEQ: usize = Self::__DERIVED.decoder_seq;
            pub const PATCH_DIM: usize = Self::__DERIVED.patch_dim;
            pub const PRED_DIM: usize = Self::__DERIVED.patch_dim;
        }
    };
}
