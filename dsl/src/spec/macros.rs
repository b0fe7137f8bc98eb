//! The model-spec macros: `mae!`, `um_swin!`, `hivit!`, `mixmim!`, `videomae!`, `m3ae!`.
//!
//! Each takes literal sizes and emits a unit struct with `SPEC` (the plain spec value), `DIMS`
//! (validated: a broken rule is a const panic, i.e. a compile error carrying the rule's
//! message), plain consts for every derived size, and a snake-case module of typed-handle
//! aliases (`mae_vit_base16::Patches`). Everything is const evaluation over concrete numbers;
//! no type-level arithmetic, so compile time stays low.

/// Emits the unit struct, `SPEC`, `DIMS` and the forced check shared by every family.
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_spec_item {
    (
        $(#[$meta:meta])* $name:ident, $spec_ty:ident, $dims_ty:ident, $stand_in:path,
        $spec:expr
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name;

        impl $name {
            /// The spec as written.
            pub const SPEC: $crate::spec::$spec_ty = $spec;
            /// Every derived size; a broken shape rule stops compilation here with its message.
            pub const DIMS: $crate::spec::$dims_ty = match Self::SPEC.validate() {
                ::core::result::Result::Ok(dims) => dims,
                ::core::result::Result::Err(err) => ::core::panic!("{}", err.as_str()),
            };
            /// `DIMS` when the spec is valid, else a valid stand-in: the derived consts read
            /// this so a broken rule gives one error with its message, not a cascade of notes
            /// from every derived const (the build fails on `DIMS` either way).
            #[doc(hidden)]
            pub const __DERIVED: $crate::spec::$dims_ty = match Self::SPEC.validate() {
                ::core::result::Result::Ok(dims) => dims,
                ::core::result::Result::Err(_) => $stand_in,
            };
        }

        // Evaluated even when nothing reads `DIMS`, so every spec is checked.
        const _: () = {
            let _ = $name::DIMS;
        };
    };
}

/// `pix` -> false, `norm_pix` -> true.
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_target {
    (pix) => {
        false
    };
    (norm_pix) => {
        true
    };
    ($other:ident) => {
        ::core::compile_error!(::core::concat!(
            "unknown target `",
            ::core::stringify!($other),
            "`; expected `pix` or `norm_pix`"
        ))
    };
}

/// An optional literal or its default: `[]` -> default, `[v]` -> v.
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_or {
    ([] $default:expr) => {
        $default
    };
    ([$value:expr] $default:expr) => {
        $value
    };
}

/// A `crate::Ratio` from `num / den` as written (validation reduces and range-checks it).
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_ratio {
    ($num:literal / $den:literal) => {
        $crate::Ratio {
            num: $num,
            den: $den,
        }
    };
}

/// A `VitSpec` from `vit { dim, depth, heads, mlp }`.
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_vit {
    ($dim:literal, $depth:literal, $heads:literal, $mlp:literal) => {
        $crate::spec::VitSpec {
            dim: $dim,
            depth: $depth,
            heads: $heads,
            mlp_ratio: $mlp,
        }
    };
}

/// MAE masks: `random(a / b)`, `uniform(3 / 4)`, `uniform(3 / 4) + secondary(a / b)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_mae_mask {
    (random, $n:literal, $d:literal, []) => {
        $crate::spec::MaeMask::Random($crate::__tessera_ratio!($n / $d))
    };
    (uniform, $n:literal, $d:literal, []) => {
        $crate::spec::MaeMask::Uniform {
            ratio: $crate::__tessera_ratio!($n / $d),
            secondary: ::core::option::Option::None,
        }
    };
    (uniform, $n:literal, $d:literal, [$sn:literal / $sd:literal]) => {
        $crate::spec::MaeMask::Uniform {
            ratio: $crate::__tessera_ratio!($n / $d),
            secondary: ::core::option::Option::Some($crate::__tessera_ratio!($sn / $sd)),
        }
    };
    ($other:ident, $n:literal, $d:literal, [$($rest:tt)*]) => {
        ::core::compile_error!(::core::concat!(
            "MAE mask `",
            ::core::stringify!($other),
            "` with these arguments is not known; expected random(a / b), uniform(3 / 4) ",
            "or uniform(3 / 4) + secondary(a / b)"
        ))
    };
}

/// Declares a plain-ViT MAE with compile-time shape checks.
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
/// let _patches: mae_vit_base16::Patches =
///     mae_vit_base16::Patches::from_node(tessera_dsl::graph::NodeId(0));
/// ```
///
/// `class_token: false,` may follow `patch` (default `true`, as the official model).
#[macro_export]
macro_rules! mae {
    (
        $(#[$meta:meta])* $vis:vis $name:ident {
            image: $h:literal x $w:literal x $c:literal,
            patch: $p:literal,
            $(class_token: $cls:literal,)?
            encoder: vit { dim: $ed:literal, depth: $edp:literal, heads: $eh:literal, mlp: $em:literal $(,)? },
            decoder: vit { dim: $dd:literal, depth: $ddp:literal, heads: $dh:literal, mlp: $dm:literal $(,)? },
            mask: $mask:ident ( $mn:literal / $md:literal ) $(+ secondary ( $sn:literal / $sd:literal ))?,
            target: $target:ident $(,)?
        }
    ) => {
        $crate::__paste::paste! {
            #[doc = ::core::concat!("[`", ::core::stringify!($name), "`]: its spec, derived sizes and typed handles (per sample).")]
            #[allow(dead_code)]
            $vis mod [<$name:snake>] {
                $crate::__tessera_spec_item!($(#[$meta])* $name, MaeSpec, MaeDims, $crate::presets::MaeTiny32::DIMS, $crate::spec::MaeSpec {
                    height: $h,
                    width: $w,
                    channels: $c,
                    patch: $p,
                    class_token: $crate::__tessera_or!([$($cls)?] true),
                    encoder: $crate::__tessera_vit!($ed, $edp, $eh, $em),
                    decoder: $crate::__tessera_vit!($dd, $ddp, $dh, $dm),
                    mask: $crate::__tessera_mae_mask!($mask, $mn, $md, [$($sn / $sd)?]),
                    norm_pix_loss: $crate::__tessera_target!($target),
                });

                #[allow(dead_code)]
                impl $name {
                    /// Square image side.
                    pub const IMAGE: usize = Self::__DERIVED.image;
                    pub const CHANNELS: usize = Self::SPEC.channels;
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
                    pub const PRED_DIM: usize = Self::__DERIVED.pred_dim;
                }

                use $crate::typed::{Tensor1, Tensor3, Tokens};
                pub type Image = Tensor3<{ $name::CHANNELS }, { $name::IMAGE }, { $name::IMAGE }>;
                pub type Patches = Tokens<{ $name::TOKENS }, { $name::PATCH_DIM }>;
                pub type Embedded = Tokens<{ $name::TOKENS }, { $name::ENC_DIM }>;
                pub type Visible = Tokens<{ $name::KEEP }, { $name::ENC_DIM }>;
                pub type EncoderSeq = Tokens<{ $name::ENC_SEQ }, { $name::ENC_DIM }>;
                pub type DecoderIn = Tokens<{ $name::ENC_SEQ }, { $name::DEC_DIM }>;
                pub type DecoderSeq = Tokens<{ $name::DEC_SEQ }, { $name::DEC_DIM }>;
                pub type Pred = Tokens<{ $name::TOKENS }, { $name::PRED_DIM }>;
                pub type Mask = Tensor1<{ $name::TOKENS }>;
                pub type IdsKeep = Tensor1<{ $name::KEEP }>;
                pub type IdsRestore = Tensor1<{ $name::TOKENS }>;
            }
            $vis use [<$name:snake>]::$name;
        }
    };
}

/// Declares a Swin encoder pre-trained with Uniform Masking (UM-MAE).
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
            mask: uniform ( $mn:literal / $md:literal ) $(+ secondary ( $sn:literal / $sdd:literal ))?,
            decoder: vit { dim: $dd:literal, depth: $ddp:literal, heads: $dh:literal, mlp: $dm:literal $(,)? },
            target: $target:ident $(,)?
        }
    ) => {
        $crate::__paste::paste! {
            #[doc = ::core::concat!("[`", ::core::stringify!($name), "`]: its spec, derived sizes and typed handles (per sample).")]
            #[allow(dead_code)]
            $vis mod [<$name:snake>] {
                $crate::__tessera_spec_item!($(#[$meta])* $name, UmSwinSpec, UmSwinDims, $crate::presets::UmSwinTiny256::DIMS, $crate::spec::UmSwinSpec {
                    height: $h,
                    width: $w,
                    channels: $c,
                    patch: $p,
                    mask_cell: $cell,
                    stages: $crate::spec::Stages::new(&[$(
                        $crate::spec::Stage { dim: $sd, depth: $sdp, heads: $sh, window: $win }
                    ),+]),
                    mlp_ratio: $mlp,
                    ratio: $crate::__tessera_ratio!($mn / $md),
                    secondary: $crate::__tessera_or!(
                        [$(::core::option::Option::Some($crate::__tessera_ratio!($sn / $sdd)))?]
                        ::core::option::Option::None
                    ),
                    decoder: $crate::__tessera_vit!($dd, $ddp, $dh, $dm),
                    norm_pix_loss: $crate::__tessera_target!($target),
                });

                #[allow(dead_code)]
                impl $name {
                    pub const IMAGE: usize = Self::__DERIVED.image;
                    pub const CHANNELS: usize = Self::SPEC.channels;
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

                use $crate::typed::{Tensor1, Tensor3, Tokens};
                pub type Image = Tensor3<{ $name::CHANNELS }, { $name::IMAGE }, { $name::IMAGE }>;
                pub type Mask = Tensor1<{ $name::MASK_CELLS }>;
                pub type Compact = Tensor3<{ $name::COMPACT_GRID }, { $name::COMPACT_GRID }, { $name::STAGE_DIMS[0] }>;
                pub type FinalMap = Tensor3<{ $name::LAST_GRID }, { $name::LAST_GRID }, { $name::LAST_DIM }>;
                pub type DecoderVisible = Tokens<{ $name::KEEP }, { $name::DEC_DIM }>;
                pub type DecoderSeq = Tokens<{ $name::DEC_SEQ }, { $name::DEC_DIM }>;
                pub type Pred = Tokens<{ $name::MASKED }, { $name::PRED_DIM }>;
                pub type Target = Tokens<{ $name::MASKED }, { $name::PRED_DIM }>;
            }
            $vis use [<$name:snake>]::$name;
        }
    };
}

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
            decoder: vit { dim: $dd:literal, depth: $ddp:literal, heads: $dh:literal, mlp: $dm:literal $(,)? },
            mask: random ( $rn:literal / $rd:literal ),
            target: $target:ident $(,)?
        }
    ) => {
        $crate::__paste::paste! {
            #[doc = ::core::concat!("[`", ::core::stringify!($name), "`]: its spec, derived sizes and typed handles (per sample).")]
            #[allow(dead_code)]
            $vis mod [<$name:snake>] {
                $crate::__tessera_spec_item!($(#[$meta])* $name, HiVitSpec, HiVitDims, $crate::presets::HiVitBase::DIMS, $crate::spec::HiVitSpec {
                    height: $h,
                    width: $w,
                    channels: $c,
                    patch: $p,
                    inner_patches: $inner,
                    mlp_depths: $crate::spec::SizeList::new(&[$($md),+]),
                    stem_mlp_ratio: $stem,
                    main: $crate::__tessera_vit!($ed, $edp, $eh, $em),
                    hifeat: $hifeat,
                    decoder: $crate::__tessera_vit!($dd, $ddp, $dh, $dm),
                    ratio: $crate::__tessera_ratio!($rn / $rd),
                    norm_pix_loss: $crate::__tessera_target!($target),
                });

                #[allow(dead_code)]
                impl $name {
                    pub const IMAGE: usize = Self::__DERIVED.image;
                    pub const CHANNELS: usize = Self::SPEC.channels;
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

                use $crate::typed::{Tensor1, Tensor3, Tensor4, Tokens};
                pub type Image = Tensor3<{ $name::CHANNELS }, { $name::IMAGE }, { $name::IMAGE }>;
                pub type Patches = Tokens<{ $name::TOKENS }, { $name::PRED_DIM }>;
                pub type InnerTokens = Tensor4<{ $name::KEEP }, { $name::INNER }, { $name::INNER }, { $name::STAGE_DIMS[0] }>;
                pub type Visible = Tokens<{ $name::KEEP }, { $name::MAIN_DIM }>;
                pub type EncoderOut = Tokens<{ $name::KEEP }, { $name::ENC_OUT_DIM }>;
                pub type DecoderSeq = Tokens<{ $name::DEC_SEQ }, { $name::DEC_DIM }>;
                pub type Pred = Tokens<{ $name::TOKENS }, { $name::PRED_DIM }>;
                pub type Mask = Tensor1<{ $name::TOKENS }>;
                pub type IdsKeep = Tensor1<{ $name::KEEP }>;
            }
            $vis use [<$name:snake>]::$name;
        }
    };
}

/// Declares a MixMIM model; stages are `(width, depth, heads, window)`.
///
/// ```
/// tessera_dsl::mixmim! {
///     pub MixMimBase {
///         image: 224 x 224 x 3, patch: 4,
///         stages: [(128, 2, 4, 14), (256, 2, 8, 14), (512, 18, 16, 14), (1024, 2, 32, 7)],
///         mlp: 4,
///         decoder: vit { dim: 512, depth: 8, heads: 16, mlp: 4 },
///         mask: mixed(1 / 2), target: norm_pix,
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
            mask: mixed ( $rn:literal / $rd:literal ),
            target: $target:ident $(,)?
        }
    ) => {
        $crate::__paste::paste! {
            #[doc = ::core::concat!("[`", ::core::stringify!($name), "`]: its spec, derived sizes and typed handles (per sample).")]
            #[allow(dead_code)]
            $vis mod [<$name:snake>] {
                $crate::__tessera_spec_item!($(#[$meta])* $name, MixMimSpec, MixMimDims, $crate::presets::MixMimBase::DIMS, $crate::spec::MixMimSpec {
                    height: $h,
                    width: $w,
                    channels: $c,
                    patch: $p,
                    stages: $crate::spec::Stages::new(&[$(
                        $crate::spec::Stage { dim: $sd, depth: $sdp, heads: $sh, window: $sw }
                    ),+]),
                    mlp_ratio: $mlp,
                    decoder: $crate::__tessera_vit!($dd, $ddp, $dh, $dm),
                    ratio: $crate::__tessera_ratio!($rn / $rd),
                    norm_pix_loss: $crate::__tessera_target!($target),
                });

                #[allow(dead_code)]
                impl $name {
                    pub const IMAGE: usize = Self::__DERIVED.image;
                    pub const CHANNELS: usize = Self::SPEC.channels;
                    pub const NUM_STAGES: usize = Self::__DERIVED.num_stages;
                    pub const STAGE_GRIDS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.stage_grids);
                    pub const STAGE_DIMS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.stage_dims);
                    pub const WINDOWS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.windows);
                    pub const WINDOW_COUNTS: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.window_counts);
                    pub const MASK_UPSAMPLE: [usize; $name::NUM_STAGES] = $crate::spec::take(&Self::__DERIVED.mask_upsample);
                    pub const STAGE1_TOKENS: usize = Self::STAGE_GRIDS[0] * Self::STAGE_GRIDS[0];
                    pub const MASK_GRID: usize = Self::__DERIVED.mask_grid;
                    pub const MASK_TOKENS: usize = Self::__DERIVED.mask_tokens;
                    pub const MASKED: usize = Self::__DERIVED.masked;
                    pub const KEEP: usize = Self::__DERIVED.visible;
                    pub const LAST_DIM: usize = Self::STAGE_DIMS[Self::NUM_STAGES - 1];
                    pub const DEC_DIM: usize = Self::__DERIVED.decoder.dim;
                    pub const DEC_SEQ: usize = Self::__DERIVED.decoder_seq;
                    pub const PRED_DIM: usize = Self::__DERIVED.pred_dim;
                }

                use $crate::typed::{Tensor1, Tensor3, Tokens};
                pub type Image = Tensor3<{ $name::CHANNELS }, { $name::IMAGE }, { $name::IMAGE }>;
                pub type Stage1 = Tokens<{ $name::STAGE1_TOKENS }, { $name::STAGE_DIMS[0] }>;
                pub type Final = Tokens<{ $name::MASK_TOKENS }, { $name::LAST_DIM }>;
                pub type Mask = Tensor1<{ $name::MASK_TOKENS }>;
                pub type DecoderSeq = Tokens<{ $name::DEC_SEQ }, { $name::DEC_DIM }>;
                pub type Pred = Tokens<{ $name::MASK_TOKENS }, { $name::PRED_DIM }>;
            }
            $vis use [<$name:snake>]::$name;
        }
    };
}

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
            target: $target:ident $(,)?
        }
    ) => {
        $crate::__paste::paste! {
            #[doc = ::core::concat!("[`", ::core::stringify!($name), "`]: its spec, derived sizes and typed handles (per sample).")]
            #[allow(dead_code)]
            $vis mod [<$name:snake>] {
                $crate::__tessera_spec_item!($(#[$meta])* $name, VideoMaeSpec, VideoMaeDims, $crate::presets::VideoMaeBase::DIMS, $crate::spec::VideoMaeSpec {
                    frames: $t,
                    height: $h,
                    width: $w,
                    channels: $c,
                    patch: $p,
                    tubelet: $tub,
                    encoder: $crate::__tessera_vit!($ed, $edp, $eh, $em),
                    decoder: $crate::__tessera_vit!($dd, $ddp, $dh, $dm),
                    ratio: $crate::__tessera_ratio!($rn / $rd),
                    norm_pix_loss: $crate::__tessera_target!($target),
                });

                #[allow(dead_code)]
                impl $name {
                    pub const FRAMES: usize = Self::SPEC.frames;
                    pub const IMAGE: usize = Self::__DERIVED.image;
                    pub const CHANNELS: usize = Self::SPEC.channels;
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

                use $crate::typed::{Tensor1, Tensor4, Tokens};
                pub type Clip = Tensor4<{ $name::CHANNELS }, { $name::FRAMES }, { $name::IMAGE }, { $name::IMAGE }>;
                pub type Tubelets = Tokens<{ $name::TOKENS }, { $name::PRED_DIM }>;
                pub type Visible = Tokens<{ $name::KEEP }, { $name::ENC_DIM }>;
                pub type DecoderSeq = Tokens<{ $name::DEC_SEQ }, { $name::DEC_DIM }>;
                pub type Pred = Tokens<{ $name::MASKED }, { $name::PRED_DIM }>;
                pub type Mask = Tensor1<{ $name::TOKENS }>;
            }
            $vis use [<$name:snake>]::$name;
        }
    };
}

/// Declares an M3AE (image + text).
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
            mask: image ( $in:literal / $id:literal ) + text ( $tn:literal / $td:literal ) $(,)?
        }
    ) => {
        $crate::__paste::paste! {
            #[doc = ::core::concat!("[`", ::core::stringify!($name), "`]: its spec, derived sizes and typed handles (per sample).")]
            #[allow(dead_code)]
            $vis mod [<$name:snake>] {
                $crate::__tessera_spec_item!($(#[$meta])* $name, M3aeSpec, M3aeDims, $crate::presets::M3aeBase::DIMS, $crate::spec::M3aeSpec {
                    height: $h,
                    width: $w,
                    channels: $c,
                    patch: $p,
                    text_len: $tl,
                    vocab: $voc,
                    encoder: $crate::__tessera_vit!($ed, $edp, $eh, $em),
                    decoder: $crate::__tessera_vit!($dd, $ddp, $dh, $dm),
                    image_ratio: $crate::__tessera_ratio!($in / $id),
                    text_ratio: $crate::__tessera_ratio!($tn / $td),
                });

                #[allow(dead_code)]
                impl $name {
                    pub const IMAGE: usize = Self::__DERIVED.image;
                    pub const CHANNELS: usize = Self::SPEC.channels;
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

                use $crate::typed::{Tensor1, Tensor3, Tokens};
                pub type Image = Tensor3<{ $name::CHANNELS }, { $name::IMAGE }, { $name::IMAGE }>;
                pub type ImagePatches = Tokens<{ $name::IMAGE_TOKENS }, { $name::PATCH_DIM }>;
                pub type Text = Tensor1<{ $name::TEXT_LEN }>;
                pub type EncoderSeq = Tokens<{ $name::ENC_SEQ }, { $name::ENC_DIM }>;
                pub type DecoderSeq = Tokens<{ $name::DEC_SEQ }, { $name::DEC_DIM }>;
                pub type ImagePred = Tokens<{ $name::IMAGE_TOKENS }, { $name::PATCH_DIM }>;
                pub type TextLogits = Tokens<{ $name::TEXT_LEN }, { $name::VOCAB }>;
            }
            $vis use [<$name:snake>]::$name;
        }
    };
}
