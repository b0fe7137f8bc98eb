//! `um_swin!`: a Swin encoder pre-trained with Uniform Masking (UM-MAE).

/// Declares a Swin encoder pre-trained with Uniform Masking (UM-MAE). Stages are
/// `(width, depth, heads)`; one pre-training `window` serves every stage (clamped to the grid).
///
/// ```
/// tessera_dsl::um_swin! {
///     pub UmSwinTiny256 {
///         image: 256 x 256 x 3, patch: 4, mask_cell: 16,
///         stages: [(96, 2, 3), (192, 2, 6), (384, 6, 12), (768, 2, 24)], mlp: 4, window: 8,
///         mask: uniform(3 / 4) + secondary(1 / 4),
///         decoder: vit { dim: 512, depth: 2, heads: 16, mlp: 4 },
///         target: norm_pix,
///     }
/// }
/// assert_eq!(UmSwinTiny256::STAGE_GRIDS, [32, 16, 8, 4]);
/// ```
///
/// `posmlp: 64,` after `window` sets the relative-position MLP's width (default 32);
/// `decoder_positions: official_raster` at the end reproduces the official decoder's position
/// order (see `DecoderPositions`; default `cells`).
///
/// Random or block-wise masks are compile errors (rule `windowed_token_dropping`): the Swin
/// stages attend inside windows of visible tokens only, which need equal counts.
#[macro_export]
macro_rules! um_swin {
    (
        $(#[$meta:meta])* $vis:vis $name:ident {
            image: $h:literal x $w:literal x $c:literal,
            patch: $p:literal,
            mask_cell: $cell:literal,
            stages: [ $( ($sd:literal, $sdp:literal, $sh:literal) ),+ $(,)? ],
            mlp: $mlp:literal,
            window: $win:literal,
            $(posmlp: $pm:literal,)?
            mask: $mask:ident ( $($margs:tt)* ) $(+ secondary ( $sn:literal / $sdd:literal ))?,
            decoder: vit { dim: $dd:literal, depth: $ddp:literal, heads: $dh:literal, mlp: $dm:literal $(,)? },
            target: $target:ident
            $(, layer_norm_eps: $eps:literal)?
            $(, decoder_positions: $dp:ident)? $(,)?
        }
    ) => {
        $crate::__tessera_spec_item!($(#[$meta])* $vis $name, UmSwinSpec, UmSwinDims, $crate::presets::UmSwinTiny256::DIMS, $crate::spec::UmSwinSpec {
            image: $crate::__tessera_image!($crate::spec::Family::UmSwin, $h, $w, $c),
            patch: $crate::__tessera_size!($crate::spec::Family::UmSwin, "patch", $p),
            mask_cell: $crate::__tessera_size!($crate::spec::Family::UmSwin, "mask cell", $cell),
            stages: $crate::spec::Stages::new(&[$(
                $crate::spec::Stage {
                    dim: $crate::__tessera_size!($crate::spec::Family::UmSwin, "stage width", $sd),
                    depth: $crate::__tessera_size!($crate::spec::Family::UmSwin, "stage depth", $sdp),
                    heads: $crate::__tessera_size!($crate::spec::Family::UmSwin, "stage heads", $sh),
                    window: $crate::__tessera_size!($crate::spec::Family::UmSwin, "window", $win),
                }
            ),+]),
            mlp_ratio: $crate::__tessera_decimal!($crate::spec::Family::UmSwin, "mlp ratio", $mlp),
            posmlp_dim: $crate::__tessera_or!(
                [$($crate::__tessera_size!($crate::spec::Family::UmSwin, "posmlp width", $pm))?]
                $crate::spec::UM_SWIN_POSMLP
            ),
            mask: $crate::__tessera_mask_of!($crate::spec::Family::UmSwin, $mask ($($margs)*) [$($sn / $sdd)?]),
            decoder: $crate::__tessera_vit!($crate::spec::Family::UmSwin, "decoder", $dd, $ddp, $dh, $dm),
            decoder_positions: $crate::__tessera_or!(
                [$($crate::__tessera_decoder_positions!($dp))?]
                $crate::spec::DecoderPositions::Cells
            ),
            target: $crate::__tessera_target!($target),
            layer_norm_eps: $crate::__tessera_eps!($crate::spec::Family::UmSwin, [$($eps)?] 1e-6),
        });

        #[allow(dead_code)]
        impl $name {
            pub const IMAGE: usize = Self::__DERIVED.image;
            pub const CHANNELS: usize = Self::SPEC.image.channels;
            /// Mask cells per side `M`.
            pub const MASK_GRID: usize = Self::__DERIVED.mask_grid;
            /// `M^2`: also the decoder sequence.
            pub const MASK_CELLS: usize = Self::__DERIVED.mask_cells;
            /// Cells kept by uniform sampling, `M^2 / 4`.
            pub const KEEP: usize = Self::__DERIVED.visible_cells;
            pub const MASKED: usize = Self::__DERIVED.masked_cells;
            pub const SECONDARY_MASKED: usize = Self::__DERIVED.secondary_masked;
            pub const TOKEN_GRID: usize = Self::__DERIVED.token_grid;
            pub const COMPACT_GRID: usize = Self::__DERIVED.compact_grid;
            pub const NUM_STAGES: usize = Self::__DERIVED.num_stages;
            pub const STAGE_GRIDS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.stage_grids);
            pub const STAGE_DIMS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.stage_dims);
            pub const WINDOWS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.windows);
            pub const WINDOW_COUNTS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.window_counts);
            pub const SHIFTS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.shifts);
            pub const FINETUNE_GRIDS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.finetune_grids);
            pub const FINETUNE_WINDOWS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.finetune_windows);
            pub const LAST_GRID: usize = Self::STAGE_GRIDS[Self::NUM_STAGES - 1];
            pub const LAST_DIM: usize = Self::STAGE_DIMS[Self::NUM_STAGES - 1];
            pub const DEC_DIM: usize = Self::__DERIVED.decoder.dim;
            pub const DEC_SEQ: usize = Self::__DERIVED.decoder_seq;
            pub const PRED_DIM: usize = Self::__DERIVED.pred_dim;
        }
    };
}

/// `cells` / `official_raster` as a `DecoderPositions`.
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_decoder_positions {
    (cells) => {
        $crate::spec::DecoderPositions::Cells
    };
    (official_raster) => {
        $crate::spec::DecoderPositions::OfficialRaster
    };
    ($other:ident) => {
        ::core::compile_error!(::core::concat!(
            "unknown decoder_positions `",
            ::core::stringify!($other),
            "`; expected `cells` or `official_raster`"
        ))
    };
}
