//! `videomae!`: a VideoMAE.

/// Declares a VideoMAE; `video: T x H x W x C`.
///
/// ```
/// tessera_dsl::videomae! {
///     pub VideoMaeBase {
///         video: 16 x 224 x 224 x 3, patch: 16, tubelet: 2,
///         encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
///         decoder: vit { dim: 384, depth: 4, heads: 6, mlp: 4 },
///         mask: tube(9 / 10), target: norm_pix,
///     }
/// }
/// assert_eq!((VideoMaeBase::TOKENS, VideoMaeBase::KEEP), (1568, 160));
/// ```
#[macro_export]
macro_rules! videomae {
    (
        $(#[$meta:meta])* $vis:vis $name:ident {
            video: $t:literal x $h:literal x $w:literal x $c:literal,
            patch: $p:literal,
            tubelet: $tub:literal,
            encoder: vit { dim: $ed:literal, depth: $edp:literal, heads: $eh:literal, mlp: $em:literal $(,)? },
            decoder: vit { dim: $dd:literal, depth: $ddp:literal, heads: $dh:literal, mlp: $dm:literal $(,)? },
            mask: tube ( $rn:literal / $rd:literal ),
            target: $target:ident
            $(, layer_norm_eps: $eps:literal)? $(,)?
        }
    ) => {
        $crate::__tessera_spec_item!($(#[$meta])* $vis $name, VideoMaeSpec, VideoMaeDims, $crate::presets::VideoMaeBase::DIMS, $crate::spec::VideoMaeSpec {
            frames: $crate::__tessera_size!($crate::spec::Family::VideoMae, "frames", $t),
            image: $crate::__tessera_image!($crate::spec::Family::VideoMae, $h, $w, $c),
            patch: $crate::__tessera_size!($crate::spec::Family::VideoMae, "patch", $p),
            tubelet: $crate::__tessera_size!($crate::spec::Family::VideoMae, "tubelet", $tub),
            encoder: $crate::__tessera_vit!($crate::spec::Family::VideoMae, "encoder", $ed, $edp, $eh, $em),
            decoder: $crate::__tessera_vit!($crate::spec::Family::VideoMae, "decoder", $dd, $ddp, $dh, $dm),
            ratio: $crate::__tessera_ratio!($crate::spec::Family::VideoMae, "tube mask", $rn / $rd),
            target: $crate::__tessera_target!($target),
            layer_norm_eps: $crate::__tessera_eps!($crate::spec::Family::VideoMae, [$($eps)?] 1e-6),
        });

        #[allow(dead_code)]
        impl $name {
            pub const FRAMES: usize = Self::SPEC.frames;
            pub const IMAGE: usize = Self::__DERIVED.image;
            pub const CHANNELS: usize = Self::SPEC.image.channels;
            pub const GRID: usize = Self::__DERIVED.grid;
            pub const SLICES: usize = Self::__DERIVED.slices;
            pub const TOKENS: usize = Self::__DERIVED.tokens;
            /// Tokens the encoder sees.
            pub const KEEP: usize = Self::__DERIVED.visible;
            pub const MASKED: usize = Self::__DERIVED.masked;
            pub const KEEP_PER_SLICE: usize = Self::__DERIVED.visible_per_slice;
            pub const ENC_DIM: usize = Self::__DERIVED.encoder.dim;
            pub const DEC_DIM: usize = Self::__DERIVED.decoder.dim;
            pub const DEC_SEQ: usize = Self::__DERIVED.decoder_seq;
            pub const PRED_DIM: usize = Self::__DERIVED.pred_dim;
        }
    };
}
