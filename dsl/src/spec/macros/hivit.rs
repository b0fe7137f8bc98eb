//! `hivit!`: a HiViT masked autoencoder.

/// Declares a HiViT masked autoencoder.
///
/// ```
/// tessera_dsl::hivit! {
///     pub HiVitBase {
///         image: 224 x 224 x 3, patch: 16, inner_patches: 4,
///         mlp_stages: [2, 2], stem_mlp: 3,
///         main: vit { dim: 512, depth: 20, heads: 8, mlp: 4 },
///         hifeat: true,
///         decoder: vit { dim: 512, depth: 6, heads: 16, mlp: 4 },
///         mask: random(3 / 4), target: norm_pix,
///     }
/// }
/// assert_eq!(HiVitBase::ENC_OUT_DIM, 3584);
/// ```
///
/// Optional flags after `hifeat`, in this order, with the official pre-training values as
/// defaults: `qkv_bias: true, ape: true, rpe: false, patch_norm: true,`; and
/// `layer_norm_eps: 1e-6` after `target`. Any token-dropping mask works (`random`, `block`,
/// `uniform(3 / 4)`): HiViT's MLP-only stages never mix patches, so masked patches are
/// dropped right after the patch embedding.
#[macro_export]
macro_rules! hivit {
    (
        $(#[$meta:meta])* $vis:vis $name:ident {
            image: $h:literal x $w:literal x $c:literal,
            patch: $p:literal,
            inner_patches: $inner:literal,
            mlp_stages: [ $($md:literal),+ $(,)? ],
            stem_mlp: $stem:literal,
            main: vit { dim: $ed:literal, depth: $edp:literal, heads: $eh:literal, mlp: $em:literal $(,)? },
            hifeat: $hifeat:literal,
            $(qkv_bias: $qkv_bias:literal,)?
            $(ape: $ape:literal,)?
            $(rpe: $rpe:literal,)?
            $(patch_norm: $patch_norm:literal,)?
            decoder: vit { dim: $dd:literal, depth: $ddp:literal, heads: $dh:literal, mlp: $dm:literal $(,)? },
            mask: $mask:ident ( $mn:literal / $mdd:literal $(, cell: $bc:literal)? ) $(+ secondary ( $sn:literal / $sd:literal ))?,
            target: $target:ident
            $(, layer_norm_eps: $eps:literal)? $(,)?
        }
    ) => {
        $crate::__tessera_spec_item!($(#[$meta])* $vis $name, HiVitSpec, HiVitDims, $crate::presets::HiVitBase::DIMS, $crate::spec::HiVitSpec {
            image: $crate::__tessera_image!($crate::spec::Family::HiVit, $h, $w, $c),
            patch: $crate::__tessera_size!($crate::spec::Family::HiVit, "patch", $p),
            inner_patches: $crate::__tessera_size!($crate::spec::Family::HiVit, "inner patches", $inner),
            mlp_depths: $crate::spec::SizeList::new(&[$($crate::__tessera_size!($crate::spec::Family::HiVit, "MLP stage depth", $md)),+]),
            stem_mlp_ratio: $crate::__tessera_decimal!($crate::spec::Family::HiVit, "stem mlp ratio", $stem),
            main: $crate::__tessera_vit!($crate::spec::Family::HiVit, "main stage", $ed, $edp, $eh, $em),
            hifeat: $hifeat,
            decoder: $crate::__tessera_vit!($crate::spec::Family::HiVit, "decoder", $dd, $ddp, $dh, $dm),
            mask: $crate::__tessera_mask!($crate::spec::Family::HiVit, $mask, $mn, $mdd, [$($bc)?], [$($sn / $sd)?]),
            target: $crate::__tessera_target!($target),
            layer_norm_eps: $crate::__tessera_eps!($crate::spec::Family::HiVit, [$($eps)?] 1e-6),
            qkv_bias: $crate::__tessera_or!([$($qkv_bias)?] true),
            ape: $crate::__tessera_or!([$($ape)?] true),
            rpe: $crate::__tessera_or!([$($rpe)?] false),
            patch_norm: $crate::__tessera_or!([$($patch_norm)?] true),
        });

        #[allow(dead_code)]
        impl $name {
            pub const IMAGE: usize = Self::__DERIVED.image;
            pub const CHANNELS: usize = Self::SPEC.image.channels;
            pub const GRID: usize = Self::__DERIVED.grid;
            pub const TOKENS: usize = Self::__DERIVED.tokens;
            pub const KEEP: usize = Self::__DERIVED.keep;
            pub const MASKED: usize = Self::__DERIVED.masked;
            pub const INNER: usize = Self::SPEC.inner_patches;
            pub const MLP_STAGES: usize = Self::__DERIVED.mlp_stages;
            pub const INNER_GRIDS: [usize; $name::MLP_STAGES] = $crate::spec::take(&Self::__DERIVED.inner_grids);
            pub const STAGE_DIMS: [usize; $name::MLP_STAGES] = $crate::spec::take(&Self::__DERIVED.stage_dims);
            pub const MAIN_DIM: usize = Self::__DERIVED.main.dim;
            pub const HIFEAT_DIM: usize = Self::__DERIVED.hifeat_dim;
            pub const ENC_OUT_DIM: usize = Self::__DERIVED.encoder_out_dim;
            pub const DEC_DIM: usize = Self::__DERIVED.decoder.dim;
            pub const DEC_SEQ: usize = Self::__DERIVED.decoder_seq;
            pub const PRED_DIM: usize = Self::__DERIVED.pred_dim;
        }
    };
}
