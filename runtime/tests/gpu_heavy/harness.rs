//! Shared helpers of the heavy-kernel GPU tests: one device for the whole test binary, an
//! arena buffer holding every tensor of a launch at aligned offsets (as plans lay them out),
//! seeded values and the relative-error check.
#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard, OnceLock};

use tessera_runtime::gpu::launch::{record, Dispatch, View};
use tessera_runtime::gpu::{require_gpu, GpuContext, PipelineCache};

/// A device and its pipeline cache, shared by the tests of the binary so that each kernel
/// variant is compiled once (lavapipe compiles slowly).
pub struct Gpu {
    pub ctx: GpuContext,
    pub cache: PipelineCache,
}

/// The shared device, or `None` (after `require_gpu` printed SKIPPED) without an adapter.
pub fn gpu() -> Option<MutexGuard<'static, Gpu>> {
    static GPU: OnceLock<Option<Mutex<Gpu>>> = OnceLock::new();
    GPU.get_or_init(|| {
        require_gpu().map(|ctx| {
            Mutex::new(Gpu {
                ctx,
                cache: PipelineCache::new(),
            })
        })
    })
    .as_ref()
    // A failed test must not poison the device for the others.
    .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
}

/// SplitMix64: deterministic values for a seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
    }

    /// `n` values uniform in [-scale, scale).
    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| scale * self.uniform()).collect()
    }
}

/// What the gaps between tensors hold; a kernel writing out of bounds changes it.
pub const SENTINEL: f32 = -7.25e3;

/// One storage buffer holding the tensors of a launch, each at an offset aligned to the
/// device's storage-offset alignment, with sentinel-filled gaps (at least one element) after
/// each tensor.
pub struct Arena {
    pub buffer: wgpu::Buffer,
    slots: Vec<(usize, usize)>,
    initial: Vec<f32>,
}

impl Arena {
    /// Outputs are passed in too, usually NaN-filled so that an element the kernel fails to
    /// write cannot pass the comparison.
    pub fn new(ctx: &GpuContext, tensors: &[&[f32]]) -> Arena {
        let align = ctx.device.limits().min_storage_buffer_offset_alignment as usize / 4;
        let mut initial = Vec::new();
        let mut slots = Vec::new();
        for t in tensors {
            let start = initial.len();
            initial.extend_from_slice(t);
            slots.push((start, t.len()));
            let end = (initial.len() + 1).next_multiple_of(align);
            initial.resize(end, SENTINEL);
        }
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let buffer = ctx
            .upload("test arena", bytemuck::cast_slice(&initial), usage)
            .expect("arena upload");
        Arena {
            buffer,
            slots,
            initial,
        }
    }

    /// The view of tensor `i`.
    pub fn view(&self, i: usize) -> View<'_> {
        let (start, len) = self.slots[i];
        View {
            buffer: &self.buffer,
            offset: (start * 4) as u64,
            len,
        }
    }

    /// Records `dispatches` in one compute pass, runs them and returns every tensor read back,
    /// after checking that the gaps between tensors are untouched.
    pub fn run(&self, ctx: &GpuContext, dispatches: &[Dispatch]) -> Vec<Vec<f32>> {
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for d in dispatches {
                record(&mut pass, d);
            }
        }
        let submission = ctx.queue.submit([encoder.finish()]);
        ctx.wait(submission, "running test kernels")
            .expect("kernels ran");
        let all = ctx
            .read_f32(&self.buffer, self.initial.len())
            .expect("arena read back");
        let mut covered = vec![false; all.len()];
        for &(start, len) in &self.slots {
            covered[start..start + len].fill(true);
        }
        for (i, (&got, &was)) in all.iter().zip(&self.initial).enumerate() {
            if !covered[i] {
                assert_eq!(
                    got.to_bits(),
                    was.to_bits(),
                    "gap element {i} was overwritten"
                );
            }
        }
        self.slots
            .iter()
            .map(|&(start, len)| all[start..start + len].to_vec())
            .collect()
    }
}

/// `‖got − want‖ / ‖want‖`, with non-finite values anywhere in `got` an error (NaN never
/// passes).
pub fn rel_err(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "output length");
    if let Some(i) = got.iter().position(|v| !v.is_finite()) {
        panic!("element {i} is {} (want {})", got[i], want[i]);
    }
    let (mut e2, mut r2) = (0f64, 0f64);
    for (&g, &w) in got.iter().zip(want) {
        e2 += (f64::from(g) - w).powi(2);
        r2 += w * w;
    }
    assert!(
        r2 > 0.0,
        "a zero reference cannot tell a right kernel from a wrong one"
    );
    (e2 / r2).sqrt()
}

/// Asserts `rel_err(got, want) < tol`, naming `what`.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    let e = rel_err(got, want);
    assert!(e < tol, "{what}: relative error {e:.3e} ≥ {tol:e}");
}

/// f32 values widened to f64 for the references.
pub fn wide(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// For outputs that are differences of larger terms (gradients through a normalization):
/// `‖got − want‖ ≤ tol · ‖want‖ + 1e-6 · ‖mag‖`, where `mag[i]` is the size of the terms
/// element i combines. Well-conditioned cases (‖mag‖ ≈ ‖want‖) are held to about `tol`;
/// ill-conditioned ones (terms cancelling to far below their size) to f32 rounding of the
/// terms, which is all an f32 kernel can promise. NaN never passes.
pub fn assert_close_cancelling(what: &str, got: &[f32], want: &[f64], mag: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: output length");
    if let Some(i) = got.iter().position(|v| !v.is_finite()) {
        panic!("{what}: element {i} is {} (want {})", got[i], want[i]);
    }
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let err = norm(&mut got.iter().zip(want).map(|(&g, w)| f64::from(g) - w));
    let (rw, rm) = (
        norm(&mut want.iter().copied()),
        norm(&mut mag.iter().copied()),
    );
    assert!(
        rm > 0.0,
        "{what}: a zero reference cannot tell a right kernel from a wrong one"
    );
    assert!(
        err <= tol * rw + 1e-6 * rm,
        "{what}: error {err:.3e} above {tol:e} of the result ({rw:.3e}) + 1e-6 of the terms \
         ({rm:.3e})"
    );
}
