//! Per-kernel timing of a prepared plan: GPU timestamps between dispatches inside one compute
//! pass where the adapter offers `TIMESTAMP_QUERY_INSIDE_PASSES`, otherwise one pass per
//! dispatch with pass timestamps (`TIMESTAMP_QUERY`), otherwise host wall-clock time around
//! each dispatch submitted alone (which includes the submission cost).
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Instant;

use super::launch::{record, Dispatch};
use super::{BackendError, GpuContext};
use crate::backend::KernelTime;

/// Queries of one query set (wgpu's `QUERY_SET_MAX_QUERIES`).
const MAX_QUERIES: usize = 4096;

/// How the kernels were timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    InsidePass,
    PassPerDispatch,
    Host,
}

/// The timing method the device allows.
pub fn timing(ctx: &GpuContext) -> Timing {
    let f = ctx.device.features();
    if f.contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES) {
        Timing::InsidePass
    } else if f.contains(wgpu::Features::TIMESTAMP_QUERY) {
        Timing::PassPerDispatch
    } else {
        Timing::Host
    }
}

/// Runs `dispatches` once and returns seconds per dispatch label (kernel name) with launch
/// counts, largest first.
pub fn profile(
    ctx: &GpuContext,
    dispatches: &[Dispatch],
    label: &str,
) -> Result<Vec<KernelTime>, BackendError> {
    let secs = match timing(ctx) {
        Timing::Host => host_times(ctx, dispatches, label)?,
        t => gpu_times(ctx, dispatches, label, t == Timing::InsidePass)?,
    };
    let mut acc: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for (d, s) in dispatches.iter().zip(secs) {
        let e = acc.entry(&d.label).or_default();
        e.0 += s;
        e.1 += 1;
    }
    let mut v: Vec<KernelTime> = acc
        .into_iter()
        .map(|(k, (s, n))| (k.to_string(), s, n))
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(v)
}

fn host_times(ctx: &GpuContext, ds: &[Dispatch], label: &str) -> Result<Vec<f64>, BackendError> {
    let mut out = Vec::with_capacity(ds.len());
    for d in ds {
        let t = Instant::now();
        let sub = ctx.scoped(&format!("profiling {label}"), || {
            let mut e = ctx.device.create_command_encoder(&Default::default());
            record(&mut e.begin_compute_pass(&Default::default()), d);
            ctx.queue.submit([e.finish()])
        })?;
        ctx.wait(sub, &format!("profiling `{}` in {label}", d.label))?;
        out.push(t.elapsed().as_secs_f64());
    }
    Ok(out)
}

/// Timestamps around every dispatch; `inside` writes them between dispatches of one pass,
/// otherwise each dispatch gets a pass whose beginning and end are timestamped.
fn gpu_times(
    ctx: &GpuContext,
    ds: &[Dispatch],
    label: &str,
    inside: bool,
) -> Result<Vec<f64>, BackendError> {
    // Dispatches per query set: n + 1 boundaries inside a pass, 2 per dispatch otherwise.
    let per_set = if inside {
        MAX_QUERIES - 1
    } else {
        MAX_QUERIES / 2
    };
    let chunks: Vec<&[Dispatch]> = ds.chunks(per_set).collect();
    let queries = |c: &[Dispatch]| if inside { c.len() + 1 } else { 2 * c.len() };
    // Resolve offsets must be multiples of 256 bytes.
    let mut offsets = Vec::with_capacity(chunks.len());
    let mut total = 0u64;
    for c in &chunks {
        offsets.push(total);
        total += (queries(c) as u64 * 8).next_multiple_of(256);
    }
    if total == 0 {
        return Ok(Vec::new());
    }
    let during = format!("profiling {label}");
    let (sets, resolve, staging, sub) = ctx.scoped(&during, || {
        let sets: Vec<wgpu::QuerySet> = chunks
            .iter()
            .map(|c| {
                ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("tessera profile"),
                    ty: wgpu::QueryType::Timestamp,
                    count: queries(c) as u32,
                })
            })
            .collect();
        let buffer = |usage| {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tessera profile"),
                size: total,
                usage,
                mapped_at_creation: false,
            })
        };
        let resolve = buffer(wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC);
        let staging = buffer(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
        let mut e = ctx.device.create_command_encoder(&Default::default());
        for ((c, set), &off) in chunks.iter().zip(&sets).zip(&offsets) {
            if inside {
                let mut pass = e.begin_compute_pass(&Default::default());
                for (i, d) in c.iter().enumerate() {
                    pass.write_timestamp(set, i as u32);
                    record(&mut pass, d);
                }
                pass.write_timestamp(set, c.len() as u32);
            } else {
                for (i, d) in c.iter().enumerate() {
                    let mut pass = e.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                            query_set: set,
                            beginning_of_pass_write_index: Some(2 * i as u32),
                            end_of_pass_write_index: Some(2 * i as u32 + 1),
                        }),
                    });
                    record(&mut pass, d);
                }
            }
            e.resolve_query_set(set, 0..queries(c) as u32, &resolve, off);
        }
        e.copy_buffer_to_buffer(&resolve, 0, &staging, 0, total);
        let sub = ctx.queue.submit([e.finish()]);
        (sets, resolve, staging, sub)
    })?;
    let (sender, receiver) = mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = sender.send(r);
    });
    ctx.wait(sub, &during)?;
    receiver
        .recv_timeout(ctx.timeout)
        .map_err(|_| BackendError::Timeout(ctx.timeout, "mapping the timestamps".into()))??;
    let view = staging
        .get_mapped_range(..)
        .map_err(|e| BackendError::Wgpu {
            during: during.clone(),
            message: e.to_string(),
        })?;
    let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&view);
    drop(view);
    staging.unmap();
    drop((sets, resolve));
    let period = f64::from(ctx.queue.get_timestamp_period()) * 1e-9;
    let mut out = Vec::with_capacity(ds.len());
    for (c, &off) in chunks.iter().zip(&offsets) {
        let t = &ticks[(off / 8) as usize..];
        for i in 0..c.len() {
            let (a, b) = if inside {
                (t[i], t[i + 1])
            } else {
                (t[2 * i], t[2 * i + 1])
            };
            out.push(b.saturating_sub(a) as f64 * period);
        }
    }
    Ok(out)
}
