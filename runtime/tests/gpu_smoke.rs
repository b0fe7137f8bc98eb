//! The wgpu smoke path: the `axpy` WGSL kernel on the chosen adapter against an f64 CPU
//! reference. Without an adapter these tests print SKIPPED and pass, unless
//! `TESSERA_REQUIRE_GPU=1` (CI, on lavapipe), which makes them fail.

use tessera_runtime::gpu::{axpy, require_gpu, PipelineCache};
use tessera_runtime::BackendError;

/// SplitMix64: a seeded, dependency-free source of test data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1) times a magnitude spread over 2^-8 .. 2^8, so that sums mix scales
    /// and signs (and sometimes nearly cancel).
    fn value(&mut self) -> f32 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        let scale = 2f64.powi((self.next_u64() % 17) as i32 - 8);
        (unit * scale) as f32
    }

    fn values(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.value()).collect()
    }
}

/// Padding after the n valid elements, with a value the kernel must not touch.
const PAD: usize = 13;
const SENTINEL: f32 = -7.25e3;

/// Checks `out` against a·x + y computed in f64 over the first n elements, and that the
/// padding is bit-for-bit unchanged. Each element may differ by 1e-6 of |a·x| + |y|, the scale
/// of the f32 rounding in a multiply and an add (two roundings are at most 2.4e-7 of it).
fn check(a: f32, n: usize, x: &[f32], y: &[f32], out: &[f32]) {
    assert_eq!(out.len(), y.len());
    let (mut err2, mut ref2) = (0f64, 0f64);
    for i in 0..n {
        let (ax, yi) = (f64::from(a) * f64::from(x[i]), f64::from(y[i]));
        let want = ax + yi;
        let got = f64::from(out[i]);
        let tol = 1e-6 * (ax.abs() + yi.abs());
        assert!(
            (got - want).abs() <= tol,
            "n={n} i={i}: got {got}, want {want} (tol {tol})"
        );
        err2 += (got - want).powi(2);
        ref2 += want.powi(2);
    }
    assert!(
        (err2 / ref2).sqrt() < 1e-6,
        "n={n}: relative error {}",
        (err2 / ref2).sqrt()
    );
    for i in n..y.len() {
        assert_eq!(
            out[i].to_bits(),
            y[i].to_bits(),
            "n={n}: padding {i} was written"
        );
    }
}

fn operands(rng: &mut Rng, n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut x = rng.values(n);
    let mut y = rng.values(n);
    x.resize(n + PAD, SENTINEL);
    y.resize(n + PAD, SENTINEL);
    (x, y)
}

#[test]
fn axpy_matches_the_cpu_on_awkward_lengths() {
    let Some(ctx) = require_gpu() else { return };
    eprintln!("adapter: {} ({:?})", ctx.report.name, ctx.report.backend);
    let mut cache = PipelineCache::new();
    let mut rng = Rng(0x7E55_E7A0);
    // Not multiples of the workgroup size (64), apart from one whole workgroup.
    for (n, a) in [
        (1000, -1.375f32),
        (4099, 0.3),
        (64, 2.5),
        (1, -0.8125),
        (65_537, 1.0e-3),
    ] {
        let (x, y) = operands(&mut rng, n);
        let out = axpy(&ctx, &mut cache, a, n, &x, &y, None).unwrap();
        check(a, n, &x, &y, &out);
    }
    assert_eq!(
        cache.len(),
        1,
        "one kernel, one set of overrides, one pipeline"
    );
}

#[test]
fn workgroup_override_and_two_dimensional_grid() {
    let Some(ctx) = require_gpu() else { return };
    let mut cache = PipelineCache::new();
    let mut rng = Rng(42);

    let (x, y) = operands(&mut rng, 999);
    let out = axpy(&ctx, &mut cache, 0.75, 999, &x, &y, Some(32)).unwrap();
    check(0.75, 999, &x, &y, &out);

    // With one invocation per workgroup, this length needs more workgroups than one grid
    // dimension allows, so the launcher must fold the grid into rows.
    let max = ctx.device.limits().max_compute_workgroups_per_dimension as usize;
    let n = max + 4099;
    let (x, y) = operands(&mut rng, n);
    let out = axpy(&ctx, &mut cache, -2.25, n, &x, &y, Some(1)).unwrap();
    check(-2.25, n, &x, &y, &out);
    assert_eq!(cache.len(), 2);
}

#[test]
fn bad_launches_are_errors_not_panics() {
    let Some(ctx) = require_gpu() else { return };
    let mut cache = PipelineCache::new();
    let (x, y) = ([1.5f32, -2.0], [0.25f32, 4.0]);

    let err = cache
        .get(&ctx, &tessera_shaders::AXPY, &[("TILE", 8.0)])
        .unwrap_err();
    assert!(matches!(err, BackendError::Shader(_)), "{err}");

    let too_big = ctx.device.limits().max_compute_invocations_per_workgroup + 1;
    let err = axpy(&ctx, &mut cache, 1.0, 2, &x, &y, Some(too_big)).unwrap_err();
    assert!(matches!(err, BackendError::Limit { .. }), "{err}");
    assert!(cache.is_empty());

    // A lost device surfaces as an error from the next launch, not a panic or a hang.
    ctx.device.destroy();
    let err = axpy(&ctx, &mut cache, 1.0, 2, &x, &y, None).unwrap_err();
    assert!(matches!(err, BackendError::DeviceLost { .. }), "{err}");
}
