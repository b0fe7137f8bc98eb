//! The compute-heavy WGSL kernels (matmul, attention, layer norm, softmax) on the chosen
//! adapter against straightforward f64 references, on random shapes (awkward sizes that are
//! not multiples of the tiles included) and seeded random values. Without an adapter the tests
//! print SKIPPED and pass, unless `TESSERA_REQUIRE_GPU=1` (CI, on lavapipe).
mod gpu_heavy {
    pub mod harness;
}

use gpu_heavy::harness::{assert_close, gpu, wide, Arena, Rng};
use proptest::prelude::*;
use tessera_runtime::gpu::ops::layer_norm::{
    layer_norm_grad_w_scratch, prepare_layer_norm, prepare_layer_norm_grad_w,
    prepare_layer_norm_grad_x,
};
use tessera_runtime::gpu::ops::matmul::{prepare_matmul_with, MatmulDims, MatmulTile};
use tessera_runtime::gpu::ops::softmax::{prepare_softmax, prepare_softmax_grad};
use tessera_runtime::gpu::GpuError;

/// f32 kernels on small sizes must agree with f64 to this relative error (DESIGN.md).
const TOL: f64 = 1e-5;

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Shapes and seeds are all there is to a case; no need to persist failures on disk
        // beyond what proptest prints.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Sizes that straddle tile edges: 1, primes, one past a power of two.
fn awkward() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), Just(7), Just(17), Just(65), 1usize..70]
}

// ---------------------------------------------------------------------------------------
// matmul

/// `alpha · op(a) · op(b) (+ bias)` in f64 on the stored layouts.
fn ref_matmul(d: &MatmulDims, a: &[f64], b: &[f64], bias: Option<&[f64]>) -> Vec<f64> {
    let (m, n, k) = (d.m, d.n, d.k);
    let mut out = vec![0.0; d.batch * m * n];
    for z in 0..d.batch {
        let a = &a[z * m * k..];
        let b = if d.b_shared { b } else { &b[z * k * n..] };
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    let av = if d.trans_a {
                        a[p * m + i]
                    } else {
                        a[i * k + p]
                    };
                    let bv = if d.trans_b {
                        b[j * k + p]
                    } else {
                        b[p * n + j]
                    };
                    s += av * bv;
                }
                out[(z * m + i) * n + j] =
                    f64::from(d.alpha) * s + bias.map_or(0.0, |bias| bias[j]);
            }
        }
    }
    out
}

/// Tiles the launcher may pick, and odd ones (non-square thread grids, per-thread blocks that
/// differ, a slab depth that divides nothing) that catch index mix-ups a square tile hides.
fn tiles() -> impl Strategy<Value = MatmulTile> {
    prop_oneof![
        Just(MatmulTile::SMALL),
        Just(MatmulTile::LARGE),
        Just(MatmulTile {
            wg_x: 4,
            wg_y: 8,
            tm: 4,
            tn: 8,
            bk: 3
        }),
        Just(MatmulTile {
            wg_x: 16,
            wg_y: 2,
            tm: 8,
            tn: 4,
            bk: 5
        }),
    ]
}

fn run_matmul(d: MatmulDims, tile: MatmulTile, with_bias: bool, seed: u64) {
    let Some(mut gpu) = gpu() else { return };
    let gpu = &mut *gpu;
    let mut rng = Rng(seed);
    let a = rng.vec(d.batch * d.m * d.k, 1.0);
    let b_batches = if d.b_shared { 1 } else { d.batch };
    let b = rng.vec(b_batches * d.k * d.n, 1.0);
    let bias = rng.vec(d.n, 2.0);
    let c = vec![f32::NAN; d.batch * d.m * d.n];
    let arena = Arena::new(&gpu.ctx, &[&a, &b, &bias, &c]);
    let bias_view = with_bias.then(|| arena.view(2));
    let dispatches = prepare_matmul_with(
        &gpu.ctx,
        &mut gpu.cache,
        &d,
        tile,
        arena.view(0),
        arena.view(1),
        bias_view,
        arena.view(3),
    )
    .expect("matmul prepares");
    let out = arena.run(&gpu.ctx, &dispatches);
    let want = ref_matmul(
        &d,
        &wide(&a),
        &wide(&b),
        with_bias.then_some(&wide(&bias)[..]),
    );
    assert_close(&format!("matmul {d:?} {tile:?}"), &out[3], &want, TOL);
}

proptest! {
    #![proptest_config(cfg(24))]

    #[test]
    fn matmul_matches_f64(batch in 1usize..4, m in awkward(), n in awkward(), k in awkward(),
                          trans_a: bool, trans_b: bool, shared: bool, with_bias: bool,
                          alpha in -2.0f32..2.0, tile in tiles(), seed: u64) {
        let d = MatmulDims {
            batch, m, n, k, trans_a, trans_b, b_shared: shared, alpha,
        };
        run_matmul(d, tile, with_bias, seed);
    }
}

#[test]
fn matmul_every_transpose_and_sharing_on_tile_edges() {
    // 65 = one past a 64-tile, 129 one past a 128-tile; k = 9 is one past the slab depth.
    for (trans_a, trans_b, shared) in (0..8).map(|i| (i & 1 != 0, i & 2 != 0, i & 4 != 0)) {
        for (m, n, k) in [(65, 129, 9), (129, 65, 17)] {
            let d = MatmulDims {
                batch: 3,
                m,
                n,
                k,
                trans_a,
                trans_b,
                b_shared: shared,
                alpha: 0.75,
            };
            run_matmul(d, MatmulTile::choose(&d), shared, 7 + m as u64);
        }
    }
}

#[test]
fn matmul_batches_beyond_the_grid_limit_split_over_dispatches() {
    let Some(mut gpu) = gpu() else { return };
    let limit = gpu.ctx.device.limits().max_compute_workgroups_per_dimension as usize;
    drop(gpu);
    // 2 × 3 by 3 × 2 products, one more batch than one dispatch's grid holds.
    let d = MatmulDims {
        batch: limit + 1,
        m: 2,
        n: 2,
        k: 3,
        trans_a: false,
        trans_b: true,
        b_shared: false,
        alpha: -1.5,
    };
    run_matmul(d, MatmulTile::SMALL, false, 99);
}

#[test]
fn matmul_rejects_tiles_the_kernel_cannot_hold() {
    let Some(mut gpu) = gpu() else { return };
    let gpu = &mut *gpu;
    let a = [1.0f32; 4];
    let arena = Arena::new(&gpu.ctx, &[&a, &a, &a]);
    let d = MatmulDims {
        batch: 1,
        m: 2,
        n: 2,
        k: 2,
        trans_a: false,
        trans_b: false,
        b_shared: false,
        alpha: 1.0,
    };
    for tile in [
        MatmulTile {
            tm: 3,
            ..MatmulTile::SMALL
        },
        MatmulTile {
            tn: 12,
            ..MatmulTile::SMALL
        },
        MatmulTile {
            bk: 0,
            ..MatmulTile::SMALL
        },
        // 2 · 64 · (256 + 256) · 4 bytes of workgroup memory is far above any device's limit.
        MatmulTile {
            bk: 64,
            wg_x: 64,
            wg_y: 64,
            ..MatmulTile::SMALL
        },
    ] {
        let err = prepare_matmul_with(
            &gpu.ctx,
            &mut gpu.cache,
            &d,
            tile,
            arena.view(0),
            arena.view(1),
            None,
            arena.view(2),
        )
        .expect_err("invalid tile");
        assert!(matches!(err, GpuError::Limit { .. }), "{err}");
    }
}

// ---------------------------------------------------------------------------------------
// layer norm

/// Row lengths: tiny, odd, one past the 64-wide threads, a ViT width, and one past the
/// 1024 columns a `layer_norm_grad_w` workgroup covers.
fn row_lengths() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(1usize),
        Just(7),
        Just(65),
        Just(197),
        Just(768),
        Just(1025),
        2usize..300
    ]
}

/// Mean and 1/sqrt(biased var + eps) of a row, in f64.
fn ref_stats(x: &[f64], eps: f64) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, 1.0 / (var + eps).sqrt())
}

/// x̂ of every row.
fn ref_xhat(x: &[f64], d: usize, eps: f64) -> Vec<f64> {
    x.chunks(d)
        .flat_map(|r| {
            let (m, rs) = ref_stats(r, eps);
            r.iter().map(move |v| (v - m) * rs)
        })
        .collect()
}

/// dx by the explicit Jacobian ∂x̂_k/∂x_j = rstd (δ_kj − 1/D − x̂_k x̂_j / D), not the
/// compact formula the kernel uses.
fn ref_layer_norm_grad_x(x: &[f64], w: &[f64], dy: &[f64], d: usize, eps: f64) -> Vec<f64> {
    let xh = ref_xhat(x, d, eps);
    let mut dx = vec![0.0; x.len()];
    for r in 0..x.len() / d {
        let (_, rs) = ref_stats(&x[r * d..(r + 1) * d], eps);
        let (xh, dy) = (&xh[r * d..(r + 1) * d], &dy[r * d..(r + 1) * d]);
        for j in 0..d {
            dx[r * d + j] = (0..d)
                .map(|k| {
                    let delta = if k == j { 1.0 } else { 0.0 };
                    dy[k] * w[k] * rs * (delta - 1.0 / d as f64 - xh[k] * xh[j] / d as f64)
                })
                .sum();
        }
    }
    dx
}

fn run_layer_norm(rows: usize, d: usize, eps: f64, scratch: Option<usize>, seed: u64) {
    let Some(mut gpu) = gpu() else { return };
    let gpu = &mut *gpu;
    let mut rng = Rng(seed);
    // A per-row offset and scale so that rows have nonzero means and differing spreads.
    let mut x = rng.vec(rows * d, 1.0);
    for r in 0..rows {
        let (shift, scale) = (3.0 * rng.uniform(), 0.1 + 2.0 * rng.uniform().abs());
        x[r * d..(r + 1) * d]
            .iter_mut()
            .for_each(|v| *v = *v * scale + shift);
    }
    let w = rng.vec(d, 1.5);
    let b = rng.vec(d, 1.0);
    let dy = rng.vec(rows * d, 1.0);
    let nan = vec![f32::NAN; rows * d];
    let dw = vec![f32::NAN; d];
    let scratch_buf = vec![f32::NAN; scratch.unwrap_or(0)];
    let arena = Arena::new(&gpu.ctx, &[&x, &w, &b, &dy, &nan, &nan, &dw, &scratch_buf]);
    let v = |i| arena.view(i);
    let (ctx, cache) = (&gpu.ctx, &mut gpu.cache);
    let mut ds = prepare_layer_norm(ctx, cache, rows, d, eps, v(0), v(1), v(2), v(4)).unwrap();
    ds.extend(prepare_layer_norm_grad_x(ctx, cache, rows, d, eps, v(0), v(1), v(3), v(5)).unwrap());
    let s = scratch.map(|_| v(7));
    ds.extend(prepare_layer_norm_grad_w(ctx, cache, rows, d, eps, v(0), v(3), v(6), s).unwrap());
    let out = arena.run(ctx, &ds);

    let (xw, ww, bw, dyw) = (wide(&x), wide(&w), wide(&b), wide(&dy));
    let xh = ref_xhat(&xw, d, eps);
    let y: Vec<f64> = xh
        .iter()
        .enumerate()
        .map(|(i, h)| h * ww[i % d] + bw[i % d])
        .collect();
    let mut dw_ref = vec![0.0; d];
    for (i, (h, g)) in xh.iter().zip(&dyw).enumerate() {
        dw_ref[i % d] += h * g;
    }
    let what = format!("rows {rows} d {d} eps {eps} scratch {scratch:?}");
    if d > 1 {
        assert_close(&format!("layer_norm {what}"), &out[4], &y, TOL);
        let dx = ref_layer_norm_grad_x(&xw, &ww, &dyw, d, eps);
        assert_close(&format!("layer_norm_grad_x {what}"), &out[5], &dx, TOL);
        assert_close(&format!("layer_norm_grad_w {what}"), &out[6], &dw_ref, TOL);
    } else {
        // One element per row: x̂ = 0, so y = b, dx = 0 and dw = 0 exactly.
        assert!(out[4].iter().all(|&v| v == b[0]), "{what}: {:?}", out[4]);
        assert!(out[5].iter().chain(&out[6]).all(|&v| v == 0.0), "{what}");
    }
}

proptest! {
    #![proptest_config(cfg(16))]

    #[test]
    fn layer_norm_and_grads_match_f64(rows in awkward(), d in row_lengths(),
                                      eps in prop_oneof![Just(1e-5), Just(1e-6), Just(0.1)],
                                      scratch in 0usize..3, seed: u64) {
        // No scratch, exactly what the launcher asks for, or less (fewer chunks).
        let want = layer_norm_grad_w_scratch(rows, d);
        let scratch = [None, Some(want), Some(want / 3)][scratch];
        run_layer_norm(rows, d, eps, scratch, seed);
    }
}

#[test]
fn layer_norm_grad_w_sums_many_row_chunks() {
    // 1500 rows: 6 chunks of 250 rows with full scratch, 2 with a third of it, 1 without.
    let want = layer_norm_grad_w_scratch(1500, 33);
    assert!(want >= 6 * 33, "scratch for several chunks: {want}");
    for scratch in [Some(want), Some(want / 3), None] {
        run_layer_norm(1500, 33, 1e-5, scratch, 5);
    }
}

// ---------------------------------------------------------------------------------------
// softmax

fn run_softmax(rows: usize, d: usize, spread: f32, seed: u64) {
    let Some(mut gpu) = gpu() else { return };
    let gpu = &mut *gpu;
    let mut rng = Rng(seed);
    let x = rng.vec(rows * d, spread);
    let dy = rng.vec(rows * d, 1.0);
    let nan = vec![f32::NAN; rows * d];
    let arena = Arena::new(&gpu.ctx, &[&x, &dy, &nan, &nan]);
    let v = |i| arena.view(i);
    let (ctx, cache) = (&gpu.ctx, &mut gpu.cache);
    let mut ds = prepare_softmax(ctx, cache, rows, d, v(0), v(2)).unwrap();
    // The gradient runs on the GPU's own forward output, as in a training step.
    ds.extend(prepare_softmax_grad(ctx, cache, rows, d, v(2), v(1), v(3)).unwrap());
    let out = arena.run(ctx, &ds);

    let mut y = vec![0.0; rows * d];
    for (yr, xr) in y.chunks_mut(d).zip(wide(&x).chunks(d)) {
        let m = xr.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = xr.iter().map(|v| (v - m).exp()).sum();
        yr.iter_mut()
            .zip(xr)
            .for_each(|(o, v)| *o = (v - m).exp() / s);
    }
    let what = format!("rows {rows} d {d} spread {spread}");
    assert_close(&format!("softmax {what}"), &out[2], &y, TOL);
    // dx by the explicit Jacobian ∂y_k/∂x_j = y_k (δ_kj − y_j), from the f64 forward.
    let dyw = wide(&dy);
    let mut dx = vec![0.0; rows * d];
    for r in 0..rows {
        let (yr, dyr) = (&y[r * d..(r + 1) * d], &dyw[r * d..(r + 1) * d]);
        for j in 0..d {
            dx[r * d + j] = (0..d)
                .map(|k| dyr[k] * yr[k] * (if k == j { 1.0 } else { 0.0 } - yr[j]))
                .sum();
        }
    }
    if d > 1 {
        assert_close(&format!("softmax_grad {what}"), &out[3], &dx, TOL);
    } else {
        assert!(
            out[3].iter().all(|&v| v == 0.0),
            "{what}: one class has no gradient"
        );
    }
}

proptest! {
    #![proptest_config(cfg(16))]

    #[test]
    fn softmax_and_grad_match_f64(rows in awkward(), d in row_lengths(),
                                  spread in prop_oneof![Just(3.0f32), Just(90.0)], seed: u64) {
        // exp(90) overflows f32: the kernel must subtract the row maximum.
        run_softmax(rows, d, spread, seed);
    }
}

#[test]
fn softmax_rows_beyond_one_grid_dimension() {
    let Some(gpu) = gpu() else { return };
    let limit = gpu.ctx.device.limits().max_compute_workgroups_per_dimension as usize;
    drop(gpu);
    // Rows of 3 pack 4 to a workgroup: this needs a second grid row.
    run_softmax(4 * limit + 5, 3, 4.0, 11);
}
