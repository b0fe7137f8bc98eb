//! Throughput of the matmul kernel on an `n × n × n` product, for `tessera bench --matmul`.
//!
//! The launches are recorded back to back in one compute pass, after a warm-up run (pipeline
//! creation and first-touch costs excluded). Time is measured twice: on the host around a
//! submit-and-wait, and, where the device has `TIMESTAMP_QUERY`, on the GPU at the pass's
//! beginning and end. A few entries of the result are checked against f64 dot products, so
//! a fast but broken kernel cannot report a number.

use std::time::Instant;

use super::matmul::{prepare_matmul_with, MatmulDims, MatmulTile};
use crate::gpu::launch::{record, Dispatch, View};
use crate::gpu::{BackendError, GpuContext, PipelineCache};

/// One benchmark's result.
#[derive(Clone, Debug, PartialEq)]
pub struct MatmulBench {
    pub n: usize,
    pub tile: MatmulTile,
    pub iters: usize,
    /// Host wall-clock seconds per product (submit to completion, divided by `iters`).
    pub wall_s: f64,
    /// GPU seconds per product from timestamp queries, if the device has them.
    pub gpu_s: Option<f64>,
    /// Largest relative error of the sampled entries against f64.
    pub max_rel_err: f64,
}

impl MatmulBench {
    /// GFLOP/s from the GPU time when measured, else from the wall-clock time.
    pub fn gflops(&self) -> f64 {
        2.0 * (self.n as f64).powi(3) / self.gpu_s.unwrap_or(self.wall_s) / 1e9
    }
}

/// Deterministic operand values in [-1, 1) (a 32-bit LCG: fast enough for 4096² values).
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// Times `iters` products `c = a · b` of `n × n` matrices with `tile` (the launcher's choice
/// when `None`).
pub fn bench_matmul(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    n: usize,
    iters: usize,
    tile: Option<MatmulTile>,
) -> Result<MatmulBench, BackendError> {
    let iters = iters.max(1);
    let dims = MatmulDims {
        batch: 1,
        m: n,
        n,
        k: n,
        trans_a: false,
        trans_b: false,
        b_shared: false,
        alpha: 1.0,
    };
    let tile = tile.unwrap_or_else(|| MatmulTile::choose(&dims));
    let bytes = (n * n * 4) as u64;
    let limit = ctx.device.limits().max_storage_buffer_binding_size;
    if bytes > limit {
        return Err(BackendError::Limit {
            what: format!("one {n}×{n} f32 operand"),
            needed: bytes,
            allowed: limit,
        });
    }
    let (a, b) = (values(n * n, 1), values(n * n, 2));
    let storage = wgpu::BufferUsages::STORAGE;
    let ab = ctx.upload("bench a", bytemuck::cast_slice(&a), storage)?;
    let bb = ctx.upload("bench b", bytemuck::cast_slice(&b), storage)?;
    let cb = ctx.upload(
        "bench c",
        &vec![0u8; n * n * 4],
        storage | wgpu::BufferUsages::COPY_SRC,
    )?;
    let view = |buffer| View {
        buffer,
        offset: 0,
        len: n * n,
    };
    let dispatches = prepare_matmul_with(
        ctx,
        cache,
        &dims,
        tile,
        view(&ab),
        view(&bb),
        None,
        view(&cb),
        None,
    )?;

    run(ctx, &dispatches, 1, None)?;
    let timer = ctx
        .device
        .features()
        .contains(wgpu::Features::TIMESTAMP_QUERY)
        .then(|| Timer::new(ctx))
        .transpose()?;
    let start = Instant::now();
    run(ctx, &dispatches, iters, timer.as_ref())?;
    let wall_s = start.elapsed().as_secs_f64() / iters as f64;
    let gpu_s = match &timer {
        Some(t) => Some(t.seconds(ctx)? / iters as f64),
        None => None,
    };

    let c = ctx.read_f32(&cb, n * n)?;
    let mut max_rel_err = 0f64;
    for s in 0..16 {
        let (i, j) = ((s * 7919 + 13) % n, (s * 104_729 + 5) % n);
        let (mut want, mut mag) = (0f64, 0f64);
        for p in 0..n {
            let t = f64::from(a[i * n + p]) * f64::from(b[p * n + j]);
            want += t;
            mag += t.abs();
        }
        // Relative to the sum of magnitudes: the entry itself may nearly cancel.
        max_rel_err = max_rel_err.max((f64::from(c[i * n + j]) - want).abs() / mag.max(1e-30));
    }
    Ok(MatmulBench {
        n,
        tile,
        iters,
        wall_s,
        gpu_s,
        max_rel_err,
    })
}

/// Records `iters` rounds of `dispatches` in one pass, submits and waits.
fn run(
    ctx: &GpuContext,
    dispatches: &[Dispatch],
    iters: usize,
    timer: Option<&Timer>,
) -> Result<(), BackendError> {
    let submission = ctx.scoped("recording the matmul benchmark", || {
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("matmul bench"),
                timestamp_writes: timer.map(|t| wgpu::ComputePassTimestampWrites {
                    query_set: &t.queries,
                    beginning_of_pass_write_index: Some(0),
                    end_of_pass_write_index: Some(1),
                }),
            });
            for _ in 0..iters {
                for d in dispatches {
                    record(&mut pass, d);
                }
            }
        }
        if let Some(t) = timer {
            encoder.resolve_query_set(&t.queries, 0..2, &t.resolved, 0);
        }
        ctx.queue.submit([encoder.finish()])
    })?;
    ctx.wait(submission, "running the matmul benchmark")
}

/// Two timestamps around a compute pass.
struct Timer {
    queries: wgpu::QuerySet,
    resolved: wgpu::Buffer,
}

impl Timer {
    fn new(ctx: &GpuContext) -> Result<Timer, BackendError> {
        ctx.scoped("creating timestamp queries", || Timer {
            queries: ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("matmul bench"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            }),
            resolved: ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("matmul bench timestamps"),
                size: 2 * wgpu::QUERY_SIZE as u64,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
        })
    }

    /// Seconds between the two timestamps.
    fn seconds(&self, ctx: &GpuContext) -> Result<f64, BackendError> {
        // The readback is typed f32; the bits are two little-endian u64 tick counts.
        let words: Vec<u32> = ctx
            .read_f32(&self.resolved, 4)?
            .iter()
            .map(|w| w.to_bits())
            .collect();
        let tick = |i: usize| u64::from(words[2 * i]) | u64::from(words[2 * i + 1]) << 32;
        let ticks = tick(1).saturating_sub(tick(0));
        Ok(ticks as f64 * f64::from(ctx.queue.get_timestamp_period()) * 1e-9)
    }
}
