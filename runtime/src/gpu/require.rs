//! The rule GPU tests follow when there is no adapter: skip loudly, or fail when the
//! environment promises a GPU (`TESSERA_REQUIRE_GPU=1`, set by CI, which runs on lavapipe).

use std::io::Write;

use super::{BackendError, GpuContext, GpuOptions};

/// Name of the variable that turns a missing adapter into a failure.
pub const REQUIRE_GPU_VAR: &str = "TESSERA_REQUIRE_GPU";

/// Name of the variable that restricts tests to adapters whose name contains its value.
pub const ADAPTER_VAR: &str = "TESSERA_ADAPTER";

/// Whether `TESSERA_REQUIRE_GPU` asks for a GPU (`1`, `true` or `yes`).
pub fn gpu_required() -> bool {
    std::env::var(REQUIRE_GPU_VAR)
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// The context for a GPU test, on the adapter named by `TESSERA_ADAPTER` if set.
///
/// Returns `None` after printing a SKIPPED line when no adapter exists; panics instead when
/// `TESSERA_REQUIRE_GPU=1`. Any other failure (an adapter that exists but cannot open a
/// device, no adapter matching `TESSERA_ADAPTER`) always panics: it is a real problem.
pub fn require_gpu() -> Option<GpuContext> {
    let options = GpuOptions {
        adapter_name: std::env::var(ADAPTER_VAR).ok(),
        timeout: None,
    };
    match GpuContext::new(&options) {
        Ok(ctx) => Some(ctx),
        Err(e @ BackendError::NoAdapter { .. }) if !gpu_required() => {
            // Straight to the process's stderr, past the test harness's output capture, so
            // a skip is visible in a plain `cargo test`.
            let _ = writeln!(
                std::io::stderr().lock(),
                "SKIPPED: no GPU adapter (set {REQUIRE_GPU_VAR}=1 to fail instead): {e}"
            );
            None
        }
        Err(e @ BackendError::NoAdapter { .. }) => {
            panic!("{REQUIRE_GPU_VAR}=1 asks for a GPU, but: {e}")
        }
        Err(e) => panic!("GPU test could not open a device: {e}"),
    }
}
