//! The one error type of both backends. A caller's mistake (a wrong name, kind, length or
//! index) reads the same on the CPU and on wgpu; the device variants say what went wrong on
//! which adapter and what to do about it.
use std::time::Duration;

use tessera_dsl::graph::cpu::KernelError;

/// Why setting up, running or reading a plan failed, on either backend. Device loss and wgpu
/// validation errors are captured and returned here instead of reaching wgpu's default
/// handler, which panics.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("no tensor named {0:?} in the plan")]
    UnknownName(String),
    #[error("{name}: expected {expected} values, got {got}")]
    WrongLength {
        name: String,
        expected: usize,
        got: usize,
    },
    #[error("{name} is a {found}, not a {wanted}")]
    WrongKind {
        name: String,
        found: &'static str,
        wanted: &'static str,
    },
    #[error("node {0} is not readable in this plan (request it as an output of compile)")]
    NotReadable(u32),
    #[error("{op}: index {index} out of range 0..{len}")]
    IndexOutOfRange {
        op: &'static str,
        index: u32,
        len: usize,
    },
    #[error("invalid plan: {0}")]
    Plan(String),
    #[error(
        "no GPU adapter with compute shaders found (backends tried: {backends}); for a \
         software Vulkan adapter install Mesa's lavapipe (`apt-get install \
         mesa-vulkan-drivers`), or set WGPU_BACKEND=gl to try OpenGL"
    )]
    NoAdapter { backends: String },
    #[error("no adapter with compute shaders matches {wanted:?}; available: {available:?}")]
    NoMatchingAdapter {
        wanted: String,
        available: Vec<String>,
    },
    #[error("adapter {adapter:?} refused to create a device: {source}")]
    RequestDevice {
        adapter: String,
        #[source]
        source: wgpu::RequestDeviceError,
    },
    #[error("GPU device lost ({reason}): {message}")]
    DeviceLost { reason: String, message: String },
    #[error("wgpu reported an error while {during}: {message}")]
    Wgpu { during: String, message: String },
    #[error("GPU work did not finish within {0:?} while {1}")]
    Timeout(Duration, String),
    #[error("reading a buffer back failed: {0}")]
    Map(#[from] wgpu::BufferAsyncError),
    #[error(transparent)]
    Shader(#[from] tessera_shaders::ShaderError),
    #[error("{what} needs {needed} but the device allows {allowed}")]
    Limit {
        what: String,
        needed: u64,
        allowed: u64,
    },
}

impl From<KernelError> for BackendError {
    fn from(e: KernelError) -> Self {
        match e {
            KernelError::IndexOutOfRange { op, index, len } => {
                BackendError::IndexOutOfRange { op, index, len }
            }
            KernelError::Plan(m) => BackendError::Plan(m),
        }
    }
}
