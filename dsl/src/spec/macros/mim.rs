//! `mim!`, the composed form: a new masked-image-modeling variant is an encoder, a masking
//! strategy, a decoder and a target. The encoder is a plain ViT (the spec is an `MaeSpec`), a
//! Swin that drops masked tokens (a `UmSwinSpec`, as `um_swin!`) or a HiViT (a `HiVitSpec`, as
//! `hivit!`); the cross-rules between the parts (a block cell that must tile the token grid,
//! uniform sampling's even grid, equal visible counts in every window of a windowed encoder,
//! ...) are checked when the declaration compiles. `mae!` is the same macro under the published
//! method's name.

/// Declares a masked-image-modeling model from its parts, with compile-time shape checks.
///
/// ```
/// tessera_dsl::mim! {
///     /// MAE with block-wise masking in 2x2-token cells: a variant no paper published.
///     pub BlockMaeTiny {
///         image: 32 x 32 x 3, patch: 4,
///         encoder: vit { dim: 192, depth: 12, heads: 3, mlp: 4 },
///         decoder: vit { dim: 128, depth: 4, heads: 4, mlp: 4 },
///         mask: block(2 / 5, cell: 2), target: norm_pix,
///     }
/// }
/// assert_eq!((BlockMaeTiny::TOKENS, BlockMaeTiny::MASKED), (64, 24));
/// ```
///
/// Optional parts: `class_token: false,` after `patch` (default `true`, as MAE) and
/// `layer_norm_eps: 1e-5` after `target` (default 1e-6, as the official factories).
///
/// A windowed pyramid encoder drops masked tokens only when every window keeps the same number
/// of them: `encoder: swin { .. }` compacts the visible cells of uniform sampling (UM-MAE), and
/// any other mask — random, block-wise, or a custom strategy that does not declare equal counts
/// in the 2x2 blocks it compacts — fails the build (rule `windowed_token_dropping`):
///
/// ```
/// tessera_dsl::mim! {
///     /// A small Swin pre-trained with uniform masking, declared in the composed form.
///     pub SwinUm32 {
///         image: 32 x 32 x 3, patch: 2,
///         encoder: swin { mask_cell: 4, stages: [(32, 2, 2), (64, 2, 4), (128, 2, 8)], mlp: 4, window: 4 },
///         decoder: vit { dim: 64, depth: 1, heads: 2, mlp: 4 },
///         mask: uniform(3 / 4) + secondary(1 / 4), target: norm_pix,
///     }
/// }
/// assert_eq!(SwinUm32::COMPACT_GRID, 8);
///
/// tessera_dsl::mim! {
///     /// HiViT, whose MLP-only stages never mix patches, with block-wise masking.
///     pub HiVitBlock32 {
///         image: 32 x 32 x 3, patch: 8,
///         encoder: hivit {
///             inner_patches: 4, mlp_stages: [1, 1], stem_mlp: 3,
///             main: vit { dim: 64, depth: 2, heads: 2, mlp: 4 }, hifeat: false,
///         },
///         decoder: vit { dim: 32, depth: 1, heads: 2, mlp: 4 },
///         mask: block(1 / 2, cell: 2), target: norm_pix,
///     }
/// }
/// assert_eq!(HiVitBlock32::KEEP, 8);
/// ```
///
/// ```compile_fail
/// tessera_dsl::mim! {
///     // Random masking on a Swin: windows would keep unequal numbers of visible tokens.
///     pub Broken {
///         image: 32 x 32 x 3, patch: 2,
///         encoder: swin { mask_cell: 4, stages: [(32, 2, 2), (64, 2, 4), (128, 2, 8)], mlp: 4, window: 4 },
///         decoder: vit { dim: 64, depth: 1, heads: 2, mlp: 4 },
///         mask: random(3 / 4), target: norm_pix,
///     }
/// }
/// let _ = Broken::DIMS;
/// ```
#[macro_export]
macro_rules! mim {
    (
        $(#[$meta:meta])* $vis:vis $name:ident {
            image: $h:literal x $w:literal x $c:literal,
            patch: $p:literal,
            $(class_token: $cls:literal,)?
            encoder: vit { dim: $ed:literal, depth: $edp:literal, heads: $eh:literal, mlp: $em:literal $(,)? },
            decoder: vit { dim: $dd:literal, depth: $ddp:literal, heads: $dh:literal, mlp: $dm:literal $(,)? },
            mask: $mask:ident ( $($margs:tt)* ) $(+ secondary ( $sn:literal / $sd:literal ))?,
            target: $target:ident
            $(, layer_norm_eps: $eps:literal)? $(,)?
        }
    ) => {
        $crate::__tessera_spec_item!($(#[$meta])* $vis $name, MaeSpec, MaeDims, $crate::presets::MaeTiny32::DIMS, $crate::spec::MaeSpec {
            image: $crate::__tessera_image!($crate::spec::Family::Mae, $h, $w, $c),
            patch: $crate::__tessera_size!($crate::spec::Family::Mae, "patch", $p),
            class_token: $crate::__tessera_or!([$($cls)?] true),
            encoder: $crate::__tessera_vit!($crate::spec::Family::Mae, "encoder", $ed, $edp, $eh, $em),
            decoder: $crate::__tessera_vit!($crate::spec::Family::Mae, "decoder", $dd, $ddp, $dh, $dm),
            mask: $crate::__tessera_mask_of!($crate::spec::Family::Mae, $mask ($($margs)*) [$($sn / $sd)?]),
            target: $crate::__tessera_target!($target),
            layer_norm_eps: $crate::__tessera_eps!($crate::spec::Family::Mae, [$($eps)?] $crate::spec::FACTORY_LAYER_NORM_EPS),
            secondary_rule: $crate::mask::uniform::SecondaryRule::Smallest,
        });

        #[allow(dead_code)]
        impl $name {
            /// Square image side.
            pub const IMAGE: usize = Self::__DERIVED.image;
            pub const CHANNELS: usize = Self::SPEC.image.channels;
            pub const PATCH: usize = Self::SPEC.patch;
            /// Tokens per side.
            pub const GRID: usize = Self::__DERIVED.grid;
            /// Patch tokens `L`.
            pub const TOKENS: usize = Self::__DERIVED.tokens;
            /// Tokens the encoder sees (without the class token).
            pub const KEEP: usize = Self::__DERIVED.keep;
            pub const MASKED: usize = Self::__DERIVED.masked;
            pub const SECONDARY_MASKED: usize = Self::__DERIVED.secondary_masked;
            pub const ENC_DIM: usize = Self::__DERIVED.encoder.dim;
            pub const ENC_MLP: usize = Self::__DERIVED.encoder.mlp_hidden;
            pub const DEC_DIM: usize = Self::__DERIVED.decoder.dim;
            pub const DEC_MLP: usize = Self::__DERIVED.decoder.mlp_hidden;
            pub const ENC_SEQ: usize = Self::__DERIVED.encoder_seq;
            pub const DEC_SEQ: usize = Self::__DERIVED.decoder_seq;
            pub const PATCH_DIM: usize = Self::__DERIVED.patch_dim;
            pub const PRED_DIM: usize = Self::__DERIVED.patch_dim;
        }
    };
    // A Swin encoder: UM-MAE's compaction of uniformly sampled cells (`um_swin!`).
    (
        $(#[$meta:meta])* $vis:vis $name:ident {
            image: $h:literal x $w:literal x $c:literal,
            patch: $p:literal,
            encoder: swin {
                mask_cell: $cell:literal,
                stages: [ $( ($sd:literal, $sdp:literal, $sh:literal) ),+ $(,)? ],
                mlp: $mlp:literal,
                window: $win:literal
                $(, posmlp: $pm:literal)? $(,)?
            },
            decoder: vit { $($dec:tt)* },
            mask: $mask:ident ( $($margs:tt)* ) $(+ secondary ( $sn:literal / $sdd:literal ))?,
            target: $target:ident
            $(, layer_norm_eps: $eps:literal)? $(,)?
        }
    ) => {
        $crate::um_swin! {
            $(#[$meta])* $vis $name {
                image: $h x $w x $c,
                patch: $p,
                mask_cell: $cell,
                stages: [ $( ($sd, $sdp, $sh) ),+ ],
                mlp: $mlp,
                window: $win,
                $(posmlp: $pm,)?
                mask: $mask ( $($margs)* ) $(+ secondary ( $sn / $sdd ))?,
                decoder: vit { $($dec)* },
                target: $target
                $(, layer_norm_eps: $eps)?
            }
        }
    };
    // A HiViT encoder: MLP-only stages inside each patch, then attention (`hivit!`).
    (
        $(#[$meta:meta])* $vis:vis $name:ident {
            image: $h:literal x $w:literal x $c:literal,
            patch: $p:literal,
            encoder: hivit {
                inner_patches: $inner:literal,
                mlp_stages: [ $($md:literal),+ $(,)? ],
                stem_mlp: $stem:literal,
                main: vit { $($main:tt)* },
                hifeat: $hifeat:literal $(,)?
            },
            decoder: vit { $($dec:tt)* },
            mask: $mask:ident ( $($margs:tt)* ) $(+ secondary ( $sn:literal / $sd:literal ))?,
            target: $target:ident
            $(, layer_norm_eps: $eps:literal)? $(,)?
        }
    ) => {
        $crate::hivit! {
            $(#[$meta])* $vis $name {
                image: $h x $w x $c,
                patch: $p,
                inner_patches: $inner,
                mlp_stages: [ $($md),+ ],
                stem_mlp: $stem,
                main: vit { $($main)* },
                hifeat: $hifeat,
                decoder: vit { $($dec)* },
                mask: $mask ( $($margs)* ) $(+ secondary ( $sn / $sd ))?,
                target: $target
                $(, layer_norm_eps: $eps)?
            }
        }
    };
}

/// Declares a plain-ViT MAE: the [`mim!`] form under the published method's name.
///
/// ```
/// tessera_dsl::mae! {
///     /// MAE ViT-B/16, as released.
///     pub MaeVitBase16 {
///         image: 224 x 224 x 3, patch: 16,
///         encoder: vit { dim: 768, depth: 12, heads: 12, mlp: 4 },
///         decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
///         mask: random(3 / 4), target: norm_pix,
///     }
/// }
/// assert_eq!(MaeVitBase16::KEEP, 49);
/// ```
#[macro_export]
macro_rules! mae {
    ($($spec:tt)*) => {
        $crate::mim! { $($spec)* }
    };
}
