//! Errors of the kernel registry and of naga validation / cross-compilation.

use crate::Target;

/// Why a kernel could not be specialized or translated. Parse and validation messages carry
/// naga's own rendering (with the source line), so a test failure points at the WGSL.
#[derive(Debug, thiserror::Error)]
pub enum ShaderError {
    #[error("kernel `{kernel}`: WGSL does not parse:\n{message}")]
    Parse {
        kernel: &'static str,
        message: String,
    },
    #[error("kernel `{kernel}`: WGSL does not validate:\n{message}")]
    Validation {
        kernel: &'static str,
        message: String,
    },
    #[error("kernel `{kernel}` has no override `{name}` (it declares: {known:?})")]
    UnknownOverride {
        kernel: &'static str,
        name: String,
        known: Vec<&'static str>,
    },
    #[error("kernel `{kernel}` declares overrides {declared:?} but the registry lists {listed:?}")]
    OverrideMismatch {
        kernel: &'static str,
        declared: Vec<String>,
        listed: Vec<&'static str>,
    },
    #[error("kernel `{kernel}`: override constants could not be applied: {message}")]
    Override {
        kernel: &'static str,
        message: String,
    },
    #[error("kernel `{kernel}` has no @compute entry point `{entry_point}`")]
    MissingEntryPoint {
        kernel: &'static str,
        entry_point: &'static str,
    },
    #[error("kernel `{kernel}`: translation to {target} failed: {message}")]
    Translate {
        kernel: &'static str,
        target: Target,
        message: String,
    },
}
