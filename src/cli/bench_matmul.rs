//! `tessera bench --matmul N`: GFLOP/s of one `N × N × N` f32 matmul on the chosen backend —
//! the wgpu kernel (timed with GPU timestamps where the adapter has them) or the CPU
//! backend's GEMM. A few entries are checked against f64 dot products first, so a broken
//! kernel cannot report a number.
use std::time::Instant;

use tessera_dsl::graph::{compile, Graph, PlanOptions};
use tessera_runtime::backend::Device;
use tessera_runtime::cpu::CpuExecutor;
use tessera_runtime::gpu::ops::matmul_bench::bench_matmul;

use super::bad_input;

/// Largest relative error (to the sum of magnitudes) a timed product may have.
const MAX_REL_ERR: f64 = 1e-5;

/// What one run measured.
struct Measured {
    /// Seconds per product.
    secs: f64,
    /// How `secs` was measured.
    clock: &'static str,
    max_rel_err: f64,
    /// The tile, for the GPU kernel.
    detail: String,
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn cpu(n: usize, warmup: usize, iters: usize) -> anyhow::Result<Measured> {
    let mut g = Graph::new();
    let a = g.input("a", &[n, n])?;
    let b = g.input("b", &[n, n])?;
    let c = g.matmul(a, b, false, false)?;
    let plan = compile(&g, &[c], &PlanOptions::default())?;
    let mut ex = CpuExecutor::<f32>::new(&plan)?;
    let (av, bv) = (values(n * n, 1), values(n * n, 2));
    ex.set_input("a", &av)?;
    ex.set_input("b", &bv)?;
    for _ in 0..warmup.max(1) {
        ex.run()?;
    }
    let t = Instant::now();
    for _ in 0..iters {
        ex.run()?;
    }
    let secs = t.elapsed().as_secs_f64() / iters as f64;
    let out = ex.view(c)?;
    let mut max_rel_err = 0f64;
    for s in 0..16 {
        let (i, j) = ((s * 7919 + 13) % n, (s * 104_729 + 5) % n);
        let (mut want, mut mag) = (0f64, 0f64);
        for p in 0..n {
            let t = f64::from(av[i * n + p]) * f64::from(bv[p * n + j]);
            want += t;
            mag += t.abs();
        }
        let e = (f64::from(out[i * n + j]) - want).abs() / mag.max(1e-30);
        max_rel_err = max_rel_err.max(e);
    }
    Ok(Measured {
        secs,
        clock: "wall clock",
        max_rel_err,
        detail: String::new(),
    })
}

/// Times the product on `device` and prints the result (text or one JSON object).
pub fn run(
    device: &mut Device,
    n: usize,
    warmup: usize,
    iters: usize,
    json: bool,
) -> anyhow::Result<()> {
    if n == 0 {
        return Err(bad_input("--matmul needs a size of at least 1"));
    }
    let name = device.name();
    let m = match device {
        Device::Cpu => cpu(n, warmup, iters)?,
        Device::Wgpu(gpu) => {
            let (ctx, cache) = gpu.parts();
            let r = bench_matmul(ctx, cache, n, iters, None)?;
            Measured {
                secs: r.gpu_s.unwrap_or(r.wall_s),
                clock: if r.gpu_s.is_some() {
                    "GPU timestamps"
                } else {
                    "wall clock"
                },
                max_rel_err: r.max_rel_err,
                detail: format!(
                    "tile {}x{} ({}x{} threads of {}x{})",
                    r.tile.bm(),
                    r.tile.bn(),
                    r.tile.wg_y,
                    r.tile.wg_x,
                    r.tile.tm,
                    r.tile.tn
                ),
            }
        }
    };
    if m.max_rel_err.is_nan() || m.max_rel_err >= MAX_REL_ERR {
        anyhow::bail!(
            "the {n}x{n} product on {name} is wrong: relative error {:e} against f64 (allowed \
             {MAX_REL_ERR:e}); not reporting a speed",
            m.max_rel_err
        );
    }
    let gflops = 2.0 * (n as f64).powi(3) / m.secs / 1e9;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "matmul": n,
                "backend": name,
                "iters": iters,
                "ms": m.secs * 1e3,
                "gflops": gflops,
                "clock": m.clock,
                "max_rel_err": m.max_rel_err,
                "detail": m.detail,
            })
        );
    } else {
        println!(
            "matmul {n}x{n}x{n} on {name}: {:.3} ms, {gflops:.2} GFLOP/s ({}, mean of {iters}) {}",
            m.secs * 1e3,
            m.clock,
            m.detail
        );
    }
    Ok(())
}
