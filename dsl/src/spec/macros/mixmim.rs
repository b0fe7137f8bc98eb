//! `mixmim!`: a MixMIM model.

/// Declares a MixMIM model; stages are `(width, depth, heads, window)`, exactly four. The
/// mixing ratio defaults to the official 1/2 (`mask: mixed(1 / 2),` sets it).
///
/// ```
/// tessera_dsl::mixmim! {
///     pub MixMimBase {
///         image: 224 x 224 x 3, patch: 4,
///         stages: [(128, 2, 4, 14), (256, 2, 8, 14), (512, 18, 16, 14), (1024, 2, 32, 7)],
///         mlp: 4,
///         decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
///         target: norm_pix,
///     }
/// }
/// assert_eq!(MixMimBase::PRED_DIM, 3072);
/// ```
#[macro_export]
macro_rules! mixmim {
    (
        $(#[$meta:meta])* $vis:vis $name:ident {
            image: $h:literal x $w:literal x $c:literal,
            patch: $p:literal,
            stages: [ $( ($sd:literal, $sdp:literal, $sh:literal, $sw:literal) ),+ $(,)? ],
            mlp: $mlp:literal,
            decoder: vit { dim: $dd:literal, depth: $ddp:literal, heads: $dh:literal, mlp: $dm:literal $(,)? },
            $(mask: mixed ( $rn:literal / $rd:literal ),)?
            target: $target:ident
            $(, layer_norm_eps: $eps:literal)? $(,)?
        }
    ) => {
        $crate::__tessera_spec_item!($(#[$meta])* $vis $name, MixMimSpec, MixMimDims, $crate::presets::MixMimBase::DIMS, $crate::spec::MixMimSpec {
            image: $crate::__tessera_image!($crate::spec::Family::MixMim, $h, $w, $c),
            patch: $crate::__tessera_size!($crate::spec::Family::MixMim, "patch", $p),
            stages: $crate::spec::Stages::new(&[$(
                $crate::spec::Stage {
                    dim: $crate::__tessera_size!($crate::spec::Family::MixMim, "stage width", $sd),
                    depth: $crate::__tessera_size!($crate::spec::Family::MixMim, "stage depth", $sdp),
                    heads: $crate::__tessera_size!($crate::spec::Family::MixMim, "stage heads", $sh),
                    window: $crate::__tessera_size!($crate::spec::Family::MixMim, "stage window", $sw),
                }
            ),+]),
            mlp_ratio: $crate::__tessera_decimal!($crate::spec::Family::MixMim, "mlp ratio", $mlp),
            decoder: $crate::__tessera_vit!($crate::spec::Family::MixMim, "decoder", $dd, $ddp, $dh, $dm),
            ratio: $crate::__tessera_or!(
                [$($crate::__tessera_ratio!($crate::spec::Family::MixMim, "mixing", $rn / $rd))?]
                $crate::spec::MIXMIM_RATIO
            ),
            target: $crate::__tessera_target!($target),
            layer_norm_eps: $crate::__tessera_eps!($crate::spec::Family::MixMim, [$($eps)?] 1e-5),
        });

        #[allow(dead_code)]
        impl $name {
            pub const IMAGE: usize = Self::__DERIVED.image;
            pub const CHANNELS: usize = Self::SPEC.image.channels;
            pub const NUM_STAGES: usize = Self::__DERIVED.num_stages;
            pub const STAGE_GRIDS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.stage_grids);
            pub const STAGE_DIMS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.stage_dims);
            pub const WINDOWS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.windows);
            pub const WINDOW_COUNTS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.window_counts);
            pub const MASK_UPSAMPLE: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.mask_upsample);
            pub const MASK_GRID: usize = Self::__DERIVED.mask_grid;
            pub const MASK_TOKENS: usize = Self::__DERIVED.mask_tokens;
            pub const MASKED: usize = Self::__DERIVED.masked;
            pub const KEEP: usize = Self::__DERIVED.visible;
            pub const LAST_DIM: usize = Self::STAGE_DIMS[Self::NUM_STAGES - 1];
            pub const DEC_DIM: usize = Self::__DERIVED.decoder.dim;
            pub const DEC_SEQ: usize = Self::__DERIVED.decoder_seq;
            pub const PRED_DIM: usize = Self::__DERIVED.pred_dim;
        }
    };
}
