//! The spec macros: the composed form `mim!` (encoder × masking × decoder × target; `mae!` is
//! its name for the published method) and the family macros `um_swin!`, `hivit!`, `mixmim!`,
//! `videomae!`, `m3ae!`.
//!
//! Each takes literal sizes and emits a unit struct with `SPEC` (the spec value the models are
//! built from), `DIMS` (validated: a broken rule is a const panic, i.e. a compile error carrying
//! the rule's message) and plain consts for the derived sizes. Everything is const evaluation
//! over concrete numbers; no type-level arithmetic, so compile time stays low. Integer
//! literals are read as `u128` and decimals from their text (see `literal.rs`).
mod hivit;
mod m3ae;
mod mim;
mod mixmim;
mod um_swin;
mod videomae;

/// Emits the unit struct, `SPEC`, `DIMS` and the forced check shared by every family.
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_spec_item {
    (
        $(#[$meta:meta])* $vis:vis $name:ident, $spec_ty:ident, $dims_ty:ident, $stand_in:path,
        $spec:expr
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        $vis struct $name;

        #[allow(dead_code)]
        impl $name {
            /// The spec from the literals as written (a literal too wide for its field is an
            /// error here, reported by `DIMS`).
            #[doc(hidden)]
            #[allow(clippy::result_large_err)]
            pub const fn __build() -> ::core::result::Result<$crate::spec::$spec_ty, $crate::spec::ShapeError> {
                ::core::result::Result::Ok($spec)
            }
            /// The spec as written.
            pub const SPEC: $crate::spec::$spec_ty = match Self::__build() {
                ::core::result::Result::Ok(spec) => spec,
                ::core::result::Result::Err(_) => $stand_in.spec,
            };
            /// Every derived size; a broken shape rule stops compilation here with its message.
            pub const DIMS: $crate::spec::$dims_ty = match Self::__build() {
                ::core::result::Result::Err(err) => $crate::spec::fail(err),
                ::core::result::Result::Ok(spec) => match spec.validate() {
                    ::core::result::Result::Ok(dims) => dims,
                    ::core::result::Result::Err(err) => $crate::spec::fail(err),
                },
            };
            /// `DIMS` when the spec is valid, else a valid stand-in: the derived consts read
            /// this so a broken rule gives one error with its message, not a cascade of notes
            /// from every derived const (the build fails on `DIMS` either way).
            #[doc(hidden)]
            pub const __DERIVED: $crate::spec::$dims_ty = match Self::__build() {
                ::core::result::Result::Ok(spec) => match spec.validate() {
                    ::core::result::Result::Ok(dims) => dims,
                    ::core::result::Result::Err(_) => $stand_in,
                },
                ::core::result::Result::Err(_) => $stand_in,
            };
        }

        // Evaluated even when nothing reads `DIMS`, so every spec is checked.
        const _: () = {
            let _ = $name::DIMS;
        };
    };
}

/// `pix` / `norm_pix` as a `Target`.
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_target {
    (pix) => {
        $crate::spec::Target::Pix
    };
    (norm_pix) => {
        $crate::spec::Target::NormPix
    };
    ($other:ident) => {
        ::core::compile_error!(::core::concat!(
            "unknown target `",
            ::core::stringify!($other),
            "`; expected `pix` or `norm_pix`"
        ))
    };
}

/// An optional value or its default: `[]` -> default, `[v]` -> v.
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

/// `?` inside a spec's `__build` (a `const fn`, where the `Try` trait is not available).
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_try {
    ($e:expr) => {
        match $e {
            ::core::result::Result::Ok(v) => v,
            ::core::result::Result::Err(e) => return ::core::result::Result::Err(e),
        }
    };
}

/// A size literal read wide (`u128`) and range-checked.
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_size {
    ($fam:expr, $what:expr, $v:literal) => {
        $crate::__tessera_try!($crate::spec::size_lit($fam, $what, $v))
    };
}

/// A decimal literal (`4`, `2.5`, `1e-6`) read from its text.
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_decimal {
    ($fam:expr, $what:expr, $v:literal) => {
        $crate::__tessera_try!($crate::spec::decimal_lit(
            $fam,
            $what,
            ::core::stringify!($v)
        ))
    };
}

/// A `Ratio` from `num / den` as written (the spec's rules check its range).
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_ratio {
    ($fam:expr, $what:expr, $num:literal / $den:literal) => {
        $crate::__tessera_try!($crate::spec::ratio_lit($fam, $what, $num, $den))
    };
}

/// The image `H x W x C`.
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_image {
    ($fam:expr, $h:literal, $w:literal, $c:literal) => {
        $crate::spec::ImageSpec {
            height: $crate::__tessera_size!($fam, "image height", $h),
            width: $crate::__tessera_size!($fam, "image width", $w),
            channels: $crate::__tessera_size!($fam, "channels", $c),
        }
    };
}

/// A `VitSpec` from `vit { dim, depth, heads, mlp }` (`role` names it in messages).
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_vit {
    ($fam:expr, $role:literal, $dim:literal, $depth:literal, $heads:literal, $mlp:literal) => {
        $crate::spec::VitSpec {
            dim: $crate::__tessera_size!($fam, ::core::concat!($role, " width"), $dim),
            depth: $crate::__tessera_size!($fam, ::core::concat!($role, " depth"), $depth),
            heads: $crate::__tessera_size!($fam, ::core::concat!($role, " heads"), $heads),
            mlp_ratio: $crate::__tessera_decimal!($fam, ::core::concat!($role, " mlp ratio"), $mlp),
        }
    };
}

/// The LayerNorm epsilon: the literal given, or the family's default.
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_eps {
    ($fam:expr, [] $default:expr) => {
        $default
    };
    ($fam:expr, [$eps:literal] $default:expr) => {
        $crate::__tessera_decimal!($fam, "layer_norm_eps", $eps)
    };
}

/// Token-dropping masks: `random(a / b)`, `block(a / b)` or `block(a / b, cell: k)`,
/// `uniform(3 / 4)` or `uniform(3 / 4) + secondary(a / b)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_mask {
    ($fam:expr, random, $n:literal, $d:literal, [], []) => {
        $crate::spec::MaskSpec::Random {
            ratio: $crate::__tessera_ratio!($fam, "mask", $n / $d),
        }
    };
    ($fam:expr, block, $n:literal, $d:literal, [$($cell:literal)?], []) => {
        $crate::spec::MaskSpec::Block {
            ratio: $crate::__tessera_ratio!($fam, "block mask", $n / $d),
            cell: $crate::__tessera_or!([$($crate::__tessera_size!($fam, "block mask cell", $cell))?] 1),
        }
    };
    ($fam:expr, uniform, $n:literal, $d:literal, [], [$($sn:literal / $sd:literal)?]) => {
        $crate::spec::MaskSpec::Uniform {
            ratio: $crate::__tessera_ratio!($fam, "uniform mask", $n / $d),
            secondary: $crate::__tessera_or!(
                [$(::core::option::Option::Some($crate::__tessera_ratio!($fam, "secondary mask", $sn / $sd)))?]
                ::core::option::Option::None
            ),
        }
    };
    ($fam:expr, $other:ident, $n:literal, $d:literal, [$($cell:tt)*], [$($rest:tt)*]) => {
        ::core::compile_error!(::core::concat!(
            "mask `",
            ::core::stringify!($other),
            "` with these arguments is not known; expected random(a / b), block(a / b), ",
            "block(a / b, cell: k), uniform(3 / 4), uniform(3 / 4) + secondary(a / b) or ",
            "custom(STRATEGY, a / b)"
        ))
    };
}

/// A mask clause `name(args) [+ secondary(a / b)]`: `custom(STRATEGY, a / b)` (STRATEGY a
/// `const` `CustomStrategy`) or one of the built-in forms of [`__tessera_mask`].
#[doc(hidden)]
#[macro_export]
macro_rules! __tessera_mask_of {
    ($fam:expr, custom ($strategy:path, $n:literal / $d:literal $(,)?) []) => {
        $crate::spec::MaskSpec::Custom {
            strategy: $strategy,
            ratio: $crate::__tessera_ratio!($fam, "custom mask", $n / $d),
        }
    };
    ($fam:expr, custom ($($args:tt)*) [$($rest:tt)*]) => {
        ::core::compile_error!(
            "a custom mask is written custom(STRATEGY, a / b), STRATEGY a `const` \
             CustomStrategy, without + secondary"
        )
    };
    ($fam:expr, $mask:ident ($n:literal / $d:literal $(, cell: $cell:literal)?) [$($sn:literal / $sd:literal)?]) => {
        $crate::__tessera_mask!($fam, $mask, $n, $d, [$($cell)?], [$($sn / $sd)?])
    };
    ($fam:expr, $other:ident ($($args:tt)*) [$($rest:tt)*]) => {
        ::core::compile_error!(::core::concat!(
            "mask `",
            ::core::stringify!($other),
            "` with these arguments is not known; expected random(a / b), block(a / b), ",
            "block(a / b, cell: k), uniform(3 / 4), uniform(3 / 4) + secondary(a / b) or ",
            "custom(STRATEGY, a / b)"
        ))
    };
}
