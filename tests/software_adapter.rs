//! `--backend wgpu` on a software rasterizer (lavapipe/llvmpipe, WARP) says so: it emulates a
//! GPU on the CPU, far slower than `--backend cpu`, and nobody should meet that unaware. On a
//! real GPU there is no such warning. Mesa's device-select layer stays quiet (no
//! `error: XDG_RUNTIME_DIR ...` that reads like tessera's own error).
mod common;

use tessera::runtime::gpu::require_gpu;

#[test]
fn wgpu_on_a_software_adapter_warns_and_a_gpu_does_not() {
    let Some(ctx) = require_gpu() else {
        return;
    };
    let software = ctx.report.is_software();
    let mut cmd = common::tessera();
    cmd.args([
        "bench",
        "--backend",
        "wgpu",
        "--model",
        "mae_fmnist_small",
        "--batch",
        "2",
        "--warmup",
        "0",
        "--iters",
        "1",
    ]);
    if let Ok(name) = std::env::var(tessera::runtime::gpu::ADAPTER_VAR) {
        cmd.args(["--adapter", &name]);
    }
    // As a user runs it: without the variable that silences Mesa's layer.
    cmd.env_remove("NODEVICE_SELECT")
        .env_remove("XDG_RUNTIME_DIR");
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.contains("software renderer"),
        software,
        "adapter {} (software: {software}): {stderr}",
        ctx.report.name
    );
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
}
