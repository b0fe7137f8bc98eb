//! The compute-heavy WGSL kernels (matmul, attention, layer norm, softmax) on the chosen
//! adapter against straightforward f64 references, on random shapes (awkward sizes that are
//! not multiples of the tiles included) and seeded random values. Without an adapter the tests
//! print SKIPPED and pass, unless `TESSERA_REQUIRE_GPU=1` (CI, on lavapipe).
mod gpu_heavy {
    pub mod harness;
}

use gpu_heavy::harness::{assert_close, assert_close_cancelling, gpu, wide, Arena, Rng};
use proptest::prelude::*;
use tessera_runtime::gpu::ops::attention::{
    attention_grad_bias_scratch, prepare_attention, prepare_attention_grad,
    prepare_attention_grad_bias_with_scratch, AttentionDims, AttentionTile, BiasMap, Place,
};
use tessera_runtime::gpu::ops::layer_norm::{
    layer_norm_grad_w_scratch, prepare_layer_norm, prepare_layer_norm_grad_w,
    prepare_layer_norm_grad_x,
};
use tessera_runtime::gpu::ops::matmul::{
    matmul_scratch, prepare_matmul_with, MatmulDims, MatmulTile,
};
use tessera_runtime::gpu::ops::softmax::{prepare_softmax, prepare_softmax_grad};
use tessera_runtime::BackendError;

/// f32 kernels on small sizes must agree with f64 to this relative error (DESIGN.md).
const TOL: f64 = 1e-5;

/// `cases` per test, or `PROPTEST_CASES` when set (to soak a test with many seeds).
fn cfg(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
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

/// `scratch`: split-K scratch in output-sized slots (0: none).
fn run_matmul(d: MatmulDims, tile: MatmulTile, with_bias: bool, scratch: usize, seed: u64) {
    let Some(mut gpu) = gpu() else { return };
    let gpu = &mut *gpu;
    let mut rng = Rng(seed);
    let a = rng.vec(d.batch * d.m * d.k, 1.0);
    let b_batches = if d.b_shared { 1 } else { d.batch };
    let b = rng.vec(b_batches * d.k * d.n, 1.0);
    let bias = rng.vec(d.n, 2.0);
    let c = vec![f32::NAN; d.batch * d.m * d.n];
    let part = vec![f32::NAN; scratch * c.len()];
    let arena = Arena::new(&gpu.ctx, &[&a, &b, &bias, &c, &part]);
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
        (scratch > 0).then(|| arena.view(4)),
    )
    .expect("matmul prepares");
    let out = arena.run(&gpu.ctx, &dispatches);
    let want = ref_matmul(
        &d,
        &wide(&a),
        &wide(&b),
        with_bias.then_some(&wide(&bias)[..]),
    );
    // A long dot product of mixed signs can cancel far below its terms (m = n = 1, k = 1100
    // drew 3.6e-5 relative): the error is bounded by the rounding of Σ |a| |b|.
    let abs = |v: &[f32]| v.iter().map(|x| f64::from(x.abs())).collect::<Vec<f64>>();
    let d_abs = MatmulDims {
        alpha: d.alpha.abs(),
        ..d
    };
    let mag = ref_matmul(
        &d_abs,
        &abs(&a),
        &abs(&b),
        with_bias.then_some(&abs(&bias)[..]),
    );
    let what = format!("matmul {d:?} {tile:?} bias {with_bias} scratch slots {scratch}");
    assert_close_cancelling(&what, &out[3], &want, &mag, TOL);
}

proptest! {
    #![proptest_config(cfg(24))]

    #[test]
    fn matmul_matches_f64(batch in 1usize..4, m in awkward(), n in awkward(),
                          k in prop_oneof![awkward(), Just(600), Just(1100)],
                          trans_a: bool, trans_b: bool, shared: bool, with_bias: bool,
                          alpha in prop_oneof![-2.0f32..-0.25, 0.25f32..2.0], tile in tiles(),
                          scratch in prop_oneof![Just(0usize), Just(2), Just(300)], seed: u64) {
        let d = MatmulDims {
            batch, m, n, k, trans_a, trans_b, b_shared: shared, alpha,
        };
        // Split K over up to 2 (or as many as wanted) parallel slots; a K of 600 or 1100
        // is deep enough to be split.
        run_matmul(d, tile, with_bias, scratch, seed);
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
            run_matmul(d, MatmulTile::choose(&d), shared, 0, 7 + m as u64);
        }
    }
}

#[test]
fn matmul_batches_beyond_the_grid_limit_split_over_dispatches() {
    let Some(gpu) = gpu() else { return };
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
    run_matmul(d, MatmulTile::SMALL, false, 0, 99);
}

#[test]
fn matmul_long_k_runs_in_chunks_and_splits_with_the_bias_added_once() {
    // A weight-gradient-like product (trans_a, K = tokens · batch) over two chunk boundaries:
    // without scratch (three accumulating steps), split in two (two steps per split) and
    // split as far as the launcher wants.
    let k = 2 * tessera_runtime::gpu::ops::matmul::K_CHUNK + 7;
    for (trans_a, tile) in [(true, MatmulTile::SMALL), (false, MatmulTile::LARGE)] {
        let d = MatmulDims {
            batch: 2,
            m: 3,
            n: 5,
            k,
            trans_a,
            trans_b: false,
            b_shared: false,
            alpha: 0.5,
        };
        let wanted = matmul_scratch(&d) / (d.batch * d.m * d.n);
        assert!(wanted > 2, "a long K with one tile wants splits: {wanted}");
        for slots in [0, 2, wanted] {
            run_matmul(d, tile, true, slots, 21);
        }
    }
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
            None,
        )
        .expect_err("invalid tile");
        assert!(matches!(err, BackendError::Limit { .. }), "{err}");
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
/// compact formula the kernel uses; and per element the size of the terms that the kernel's
/// rstd (g_j − mean g − x̂_j mean(g x̂)) combines, with |x̂| bounded by the row's `kappa`
/// (see `run_layer_norm`).
fn ref_layer_norm_grad_x(
    x: &[f64],
    w: &[f64],
    dy: &[f64],
    d: usize,
    eps: f64,
    kappa: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let xh = ref_xhat(x, d, eps);
    let mut dx = vec![0.0; x.len()];
    let mut mag = vec![0.0; x.len()];
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
            let mean_g = (0..d).map(|k| (dy[k] * w[k]).abs()).sum::<f64>() / d as f64;
            let kr = kappa[r];
            mag[r * d + j] = rs * ((dy[j] * w[j]).abs() + (1.0 + kr * kr) * mean_g);
        }
    }
    (dx, mag)
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
    // Rows with a mean far from 0 relative to their spread lose digits in x − mean in any
    // f32 kernel: x̂ is only known to f32 rounding times κ = rstd · (max |x| + |mean|).
    // The bounds below replace |x̂| by κ in the size of the terms each output combines.
    let kappa: Vec<f64> = xw
        .chunks(d)
        .map(|r| {
            let (m, rs) = ref_stats(r, eps);
            rs * (r.iter().fold(0f64, |a, v| a.max(v.abs())) + m.abs())
        })
        .collect();
    let what = format!("rows {rows} d {d} eps {eps} scratch {scratch:?}");
    if d > 1 {
        let mag_y: Vec<f64> = (0..rows * d)
            .map(|i| kappa[i / d] * ww[i % d].abs() + bw[i % d].abs())
            .collect();
        assert_close_cancelling(&format!("layer_norm {what}"), &out[4], &y, &mag_y, TOL);
        // With D = 2 the terms also cancel to eps / var of their size.
        let (dx, mag) = ref_layer_norm_grad_x(&xw, &ww, &dyw, d, eps, &kappa);
        let name = format!("layer_norm_grad_x {what}");
        assert_close_cancelling(&name, &out[5], &dx, &mag, TOL);
        let mut mag_w = vec![0.0; d];
        for (i, g) in dyw.iter().enumerate() {
            mag_w[i % d] += g.abs() * kappa[i / d];
        }
        let name = format!("layer_norm_grad_w {what}");
        assert_close_cancelling(&name, &out[6], &dw_ref, &mag_w, TOL);
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
    // dx by the explicit Jacobian ∂y_k/∂x_j = y_k (δ_kj − y_j), at the y the kernel was given
    // (the GPU's forward output, as in a training step).
    let (yg, dyw) = (wide(&out[2]), wide(&dy));
    let mut dx = vec![0.0; rows * d];
    // Per element, the size of the terms the kernel's formula y_j (dy_j − Σ_k dy_k y_k)
    // combines: f32 rounding is relative to it.
    let mut mag = vec![0.0; rows * d];
    for r in 0..rows {
        let (yr, dyr) = (&yg[r * d..(r + 1) * d], &dyw[r * d..(r + 1) * d]);
        let s_abs: f64 = (0..d).map(|k| (dyr[k] * yr[k]).abs()).sum();
        for j in 0..d {
            let term = |k: usize| dyr[k] * yr[k] * (if k == j { 1.0 } else { 0.0 } - yr[j]);
            dx[r * d + j] = (0..d).map(term).sum();
            mag[r * d + j] = yr[j].abs() * (dyr[j].abs() + s_abs);
        }
    }
    if d == 1 {
        assert!(
            out[3].iter().all(|&v| v == 0.0),
            "{what}: one class has no gradient"
        );
    } else {
        // Nearly one-hot rows (spread 90) make dx a difference of nearly equal terms.
        assert_close_cancelling(&format!("softmax_grad {what}"), &out[3], &dx, &mag, TOL);
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

// ---------------------------------------------------------------------------------------
// attention

/// Index of the element of `small` (broadcast by NumPy rules) that `idx` of `big` reads.
fn broadcast_index(small: &[usize], big: &[usize], idx: &[usize]) -> usize {
    let off = big.len() - small.len();
    let mut flat = 0;
    for (a, &n) in small.iter().enumerate() {
        flat = flat * n + if n == 1 { 0 } else { idx[a + off] };
    }
    flat
}

/// The f64 attention of one case: forward from the definition (materialized scores) and the
/// backward by the chain rule through softmax. The backward takes the saved `o` and `lse` it
/// is given (the GPU's, as a training step passes them), so that it checks the backward
/// kernels on their own inputs rather than compounding the forward's f32 rounding.
///
/// Each output comes with the size of the terms it is made of (`*_mag`, the same sums over
/// absolute values), for [`assert_close_cancelling`]: outputs can be much smaller than their
/// terms (one key: dS = 0; mixed-sign values), and exp turns the f32 rounding of a score s
/// into a relative error of about |s| ε in P, so P's terms carry a factor 1 + |s|.
#[derive(Default)]
struct AttnRef {
    o: Vec<f64>,
    o_mag: Vec<f64>,
    lse: Vec<f64>,
    lse_mag: Vec<f64>,
    dq: Vec<f64>,
    dq_mag: Vec<f64>,
    dk: Vec<f64>,
    dk_mag: Vec<f64>,
    dv: Vec<f64>,
    dv_mag: Vec<f64>,
    dbias: Vec<f64>,
    dbias_mag: Vec<f64>,
}

/// Operand element (g, i, c) of a buffer laid out by `place` (the layout under test is
/// described independently here: g = b·heads + h).
fn at(dm: &AttentionDims, place: &Place, g: usize, i: usize) -> usize {
    place.off + (g / dm.heads) * place.bs + (g % dm.heads) * place.hs + i * place.rs
}

/// Inputs of [`ref_attention`]: q, k, v (the same buffer when packed), the bias with its
/// shape, dO, and the saved o and lse.
struct AttnInputs<'a> {
    q: &'a [f64],
    k: &'a [f64],
    v: &'a [f64],
    bias: Option<(&'a [f64], &'a [usize])>,
    d_o: &'a [f64],
    o: &'a [f64],
    lse: &'a [f64],
}

fn ref_attention(
    dm: &AttentionDims,
    lead: &[usize],
    x: &AttnInputs<'_>,
    sizes: [usize; 4],
) -> AttnRef {
    let (lq, lk, d, dv) = (dm.lq, dm.lk, dm.d, dm.dv);
    let mut scores_shape = lead.to_vec();
    scores_shape.extend([lq, lk]);
    let nb = x.bias.map_or(0, |(b, _)| b.len());
    let z = |n: usize| vec![0.0; n];
    let mut r = AttnRef {
        o: z(sizes[0]),
        o_mag: z(sizes[0]),
        lse: z(dm.groups() * lq),
        lse_mag: z(dm.groups() * lq),
        dq: z(sizes[1]),
        dq_mag: z(sizes[1]),
        dk: z(sizes[2]),
        dk_mag: z(sizes[2]),
        dv: z(sizes[3]),
        dv_mag: z(sizes[3]),
        dbias: z(nb),
        dbias_mag: z(nb),
    };
    // dq, dk, dv are laid out like q, k, v; with the packed layout all three share one
    // buffer, accumulated here in dq.
    let packed = dm.k.off > 0;
    for g in 0..dm.groups() {
        let mut idx = vec![0; lead.len()];
        let mut rem = g;
        for a in (0..lead.len()).rev() {
            idx[a] = rem % lead[a];
            rem /= lead[a];
        }
        let bias_at = |i: usize, j: usize| {
            let mut full = idx.clone();
            full.extend([i, j]);
            x.bias.map(|(b, shape)| {
                let e = broadcast_index(shape, &scores_shape, &full);
                (e, b[e])
            })
        };
        for i in 0..lq {
            let (qi, oi) = (at(dm, &dm.q, g, i), at(dm, &dm.o, g, i));
            let kj = |j: usize| at(dm, &dm.k, g, j);
            let vj = |j: usize| at(dm, &dm.v, g, j);
            let mut s = vec![0.0; lk];
            let mut s_mag = vec![0.0; lk];
            for j in 0..lk {
                s[j] = dm.scale * (0..d).map(|c| x.q[qi + c] * x.k[kj(j) + c]).sum::<f64>();
                s_mag[j] = dm.scale
                    * (0..d)
                        .map(|c| (x.q[qi + c] * x.k[kj(j) + c]).abs())
                        .sum::<f64>();
                if let Some((_, b)) = bias_at(i, j) {
                    s[j] += b;
                    s_mag[j] += b.abs();
                }
            }
            // Forward, from the definition.
            let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let zsum: f64 = s.iter().map(|v| (v - m).exp()).sum();
            r.lse[g * lq + i] = m + zsum.ln();
            r.lse_mag[g * lq + i] = s_mag.iter().copied().fold(0.0, f64::max) + 1.0;
            let p: Vec<f64> = s.iter().map(|v| (v - m).exp() / zsum).collect();
            for c in 0..dv {
                r.o[oi + c] = (0..lk).map(|j| p[j] * x.v[vj(j) + c]).sum();
                r.o_mag[oi + c] = (0..lk)
                    .map(|j| p[j] * (1.0 + s_mag[j]) * x.v[vj(j) + c].abs())
                    .sum();
            }
            // Backward from the saved lse and o: P = exp(s − lse), dP_ij = dO_i · v_j,
            // dS = P ∘ (dP − rowsum(dO ∘ o)).
            let p: Vec<f64> = s.iter().map(|v| (v - x.lse[g * lq + i]).exp()).collect();
            let dd: f64 = (0..dv).map(|c| x.d_o[oi + c] * x.o[oi + c]).sum();
            let dd_mag: f64 = (0..dv).map(|c| (x.d_o[oi + c] * x.o[oi + c]).abs()).sum();
            for j in 0..lk {
                let dp: f64 = (0..dv).map(|c| x.d_o[oi + c] * x.v[vj(j) + c]).sum();
                let dp_mag: f64 = (0..dv)
                    .map(|c| (x.d_o[oi + c] * x.v[vj(j) + c]).abs())
                    .sum();
                let pm = p[j] * (1.0 + s_mag[j]);
                let (ds, ds_mag) = (p[j] * (dp - dd), pm * (dp_mag + dd_mag));
                let (dk_at, dv_at) = (kj(j), vj(j));
                for c in 0..d {
                    r.dq[qi + c] += dm.scale * ds * x.k[dk_at + c];
                    r.dq_mag[qi + c] += dm.scale * ds_mag * x.k[dk_at + c].abs();
                    let (t, tm) = if packed {
                        (&mut r.dq, &mut r.dq_mag)
                    } else {
                        (&mut r.dk, &mut r.dk_mag)
                    };
                    t[dk_at + c] += dm.scale * ds * x.q[qi + c];
                    tm[dk_at + c] += dm.scale * ds_mag * x.q[qi + c].abs();
                }
                let (t, tm) = if packed {
                    (&mut r.dq, &mut r.dq_mag)
                } else {
                    (&mut r.dv, &mut r.dv_mag)
                };
                for c in 0..dv {
                    t[dv_at + c] += p[j] * x.d_o[oi + c];
                    tm[dv_at + c] += pm * x.d_o[oi + c].abs();
                }
                if let Some((e, _)) = bias_at(i, j) {
                    r.dbias[e] += ds;
                    r.dbias_mag[e] += ds_mag;
                }
            }
        }
    }
    if packed {
        (r.dk, r.dk_mag) = (r.dq.clone(), r.dq_mag.clone());
        (r.dv, r.dv_mag) = (r.dq.clone(), r.dq_mag.clone());
    }
    r
}

/// One case: `packed` uses the self-attention layout (lq = lk, d = dv, one qkv buffer).
#[derive(Clone, Debug)]
struct AttnCase {
    batch: usize,
    heads: usize,
    lq: usize,
    lk: usize,
    d: usize,
    dv: usize,
    packed: bool,
    /// Bias shape over scores [batch, heads, lq, lk], if any.
    bias: Option<Vec<usize>>,
    tile: Option<AttentionTile>,
    /// Scratch for the bias gradient's partial sums: 0 what the launcher asks for, 1 a third
    /// of it (the parts run in rounds), 2 none (one part per round, straight into dbias).
    scratch: usize,
    seed: u64,
}

fn run_attention(c: &AttnCase) {
    let Some(mut gpu) = gpu() else { return };
    let gpu = &mut *gpu;
    let mut rng = Rng(c.seed);
    let scale = 1.0 / (c.d as f64).sqrt();
    let dm = if c.packed {
        AttentionDims::packed(c.batch, c.lq, c.heads, c.d, scale)
    } else {
        AttentionDims::split(c.batch * c.heads, c.lq, c.lk, c.d, c.dv, scale)
    };
    let g = c.batch * c.heads;
    let (nq, nk, nv, no) = if c.packed {
        let n = c.batch * c.lq * 3 * c.heads * c.d;
        (n, n, n, c.batch * c.lq * c.heads * c.d)
    } else {
        (
            g * c.lq * c.d,
            g * c.lk * c.d,
            g * c.lk * c.dv,
            g * c.lq * c.dv,
        )
    };
    // Scores spread over a few units so the softmax is neither flat nor one-hot.
    let q = rng.vec(nq, 2.0);
    let k = if c.packed {
        q.clone()
    } else {
        rng.vec(nk, 2.0)
    };
    let v = if c.packed {
        q.clone()
    } else {
        rng.vec(nv, 1.0)
    };
    let lead = [c.batch, c.heads];
    let scores = [c.batch, c.heads, c.lq, c.lk];
    let bias_len = c.bias.as_ref().map_or(0, |s| s.iter().product());
    let bias = rng.vec(bias_len, 1.5);
    let bias_map = c.bias.as_ref().map(|s| BiasMap::new(s, &scores).unwrap());
    let want_scratch = bias_map.map_or(0, |m| attention_grad_bias_scratch(&dm, &m));
    let scratch_len = match c.scratch {
        1 => want_scratch / 3,
        2 => 0,
        _ => want_scratch,
    };
    let d_o = rng.vec(no, 1.0);
    let nan = |n: usize| vec![f32::NAN; n];
    let tensors: Vec<Vec<f32>> = vec![
        q.clone(),
        k.clone(),
        v.clone(),
        bias.clone(),
        nan(no),
        nan(g * c.lq),
        d_o.clone(),
        nan(nq),
        nan(nk),
        nan(nv),
        nan(bias_len),
        nan(scratch_len),
    ];
    let refs: Vec<&[f32]> = tensors.iter().map(|t| &t[..]).collect();
    let arena = Arena::new(&gpu.ctx, &refs);
    let view = |i| arena.view(i);
    // Packed: q, k, v are one view, and so are dq, dk, dv.
    let (qv, kv, vv) = if c.packed {
        (view(0), view(0), view(0))
    } else {
        (view(0), view(1), view(2))
    };
    let (dqv, dkv, dvv) = if c.packed {
        (view(7), view(7), view(7))
    } else {
        (view(7), view(8), view(9))
    };
    let map = c.bias.as_ref().map(|s| BiasMap::new(s, &scores).unwrap());
    let b = map.as_ref().map(|m| (view(3), m));
    let (ctx, cache) = (&gpu.ctx, &mut gpu.cache);
    let mut ds =
        prepare_attention(ctx, cache, &dm, c.tile, qv, kv, vv, b, view(4), view(5)).unwrap();
    ds.extend(
        prepare_attention_grad(
            ctx,
            cache,
            &dm,
            c.tile,
            qv,
            kv,
            vv,
            b,
            view(4),
            view(5),
            view(6),
            dqv,
            dkv,
            dvv,
        )
        .unwrap(),
    );
    if let Some(m) = &map {
        ds.extend(
            prepare_attention_grad_bias_with_scratch(
                ctx,
                cache,
                &dm,
                qv,
                kv,
                vv,
                (view(3), m),
                view(4),
                view(5),
                view(6),
                view(10),
                (scratch_len > 0).then(|| view(11)),
            )
            .unwrap(),
        );
    }
    let out = arena.run(ctx, &ds);

    let (qw, kw, vw, dow) = (wide(&q), wide(&k), wide(&v), wide(&d_o));
    let (bw, ow, lsew) = (wide(&bias), wide(&out[4]), wide(&out[5]));
    let inputs = AttnInputs {
        q: &qw,
        k: &kw,
        v: &vw,
        bias: c.bias.as_ref().map(|s| (&bw[..], &s[..])),
        d_o: &dow,
        o: &ow,
        lse: &lsew,
    };
    let want = ref_attention(&dm, &lead, &inputs, [no, nq, nk, nv]);
    let what = format!("{c:?}");
    let check = |name: &str, got: &[f32], want: &[f64], mag: &[f64]| {
        assert_close_cancelling(&format!("attention {name} {what}"), got, want, mag, TOL)
    };
    check("o", &out[4], &want.o, &want.o_mag);
    check("lse", &out[5], &want.lse, &want.lse_mag);
    check("dq", &out[7], &want.dq, &want.dq_mag);
    if !c.packed {
        check("dk", &out[8], &want.dk, &want.dk_mag);
        check("dv", &out[9], &want.dv, &want.dv_mag);
    }
    if c.bias.is_some() {
        check("dbias", &out[10], &want.dbias, &want.dbias_mag);
    }
}

/// Bias shapes over scores [batch, heads, lq, lk]: shared by all groups, per head (relative
/// position bias), a key mask per batch, per head and key.
fn bias_shape(kind: usize, b: usize, h: usize, lq: usize, lk: usize) -> Option<Vec<usize>> {
    match kind {
        1 => Some(vec![lq, lk]),
        2 => Some(vec![h, lq, lk]),
        3 => Some(vec![b, 1, 1, lk]),
        4 => Some(vec![1, h, 1, lk]),
        5 => Some(vec![b, h, lq, lk]),
        _ => None,
    }
}

/// Explicit tiles (besides the device's choice): small and odd ones, with one or two threads
/// more per row than the head dim needs.
fn attn_tile(kind: usize, d: usize, dv: usize) -> Option<AttentionTile> {
    let dmax = d.max(dv).next_power_of_two().max(16) as u32;
    let tpr = (dmax / 16).max(1);
    let (bq, bkv, tpr) = match kind {
        1 => (4, 8, tpr),
        2 => (8, 16, 2 * tpr),
        3 => (16, 8, tpr),
        _ => return None,
    };
    Some(AttentionTile { bq, bkv, tpr, dmax })
}

fn head_dims() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(1usize),
        Just(8),
        Just(17),
        Just(64),
        Just(128),
        2usize..40
    ]
}

proptest! {
    #![proptest_config(cfg(24))]

    #[test]
    fn attention_forward_and_grads_match_f64(
        batch in 1usize..3, heads in 1usize..4, lq in awkward(), lk in awkward(),
        d in head_dims(), dv in head_dims(), packed: bool, bias in 0usize..6,
        tile in 0usize..4, scratch in 0usize..3, seed: u64,
    ) {
        // Keep lavapipe fast: the biggest cases have ~70 × 70 scores per group.
        let (lk, dv) = if packed { (lq, d) } else { (lk, dv) };
        let c = AttnCase {
            batch, heads, lq, lk, d, dv, packed,
            bias: bias_shape(bias, batch, heads, lq, lk),
            tile: attn_tile(tile, d, dv),
            scratch,
            seed,
        };
        run_attention(&c);
    }
}

#[test]
fn attention_vit_shapes_and_long_bias_sums() {
    // ViT-ish: 197 tokens (not a multiple of any tile), head dim 64, packed qkv, a per-head
    // bias; and a cross-attention with Lq ≠ Lk and head dim 128.
    run_attention(&AttnCase {
        batch: 2,
        heads: 3,
        lq: 197,
        lk: 197,
        d: 64,
        dv: 64,
        packed: true,
        bias: Some(vec![3, 197, 197]),
        tile: None,
        scratch: 0,
        seed: 3,
    });
    run_attention(&AttnCase {
        batch: 1,
        heads: 2,
        lq: 50,
        lk: 129,
        d: 128,
        dv: 96,
        packed: false,
        bias: Some(vec![1, 1, 1, 129]),
        tile: None,
        scratch: 0,
        seed: 4,
    });
    // A key bias summed over 3 heads × 70 queries with d = dv = 128: 5 parts, and scratch
    // for only one of them. Parts lengthened to fit the scratch ran past lavapipe's 65535
    // loop iterations per invocation and came back short (an error of half the result);
    // now they keep their length and run in rounds.
    for scratch in [1, 2] {
        run_attention(&AttnCase {
            batch: 2,
            heads: 3,
            lq: 70,
            lk: 17,
            d: 128,
            dv: 128,
            packed: false,
            bias: Some(vec![2, 1, 1, 17]),
            tile: None,
            scratch,
            seed: 5,
        });
    }
    // A key bias shared by 12 heads: each element sums 12 · 17 positions of d = dv = 128,
    // more loop iterations than lavapipe runs in one invocation, so in parts.
    run_attention(&AttnCase {
        batch: 1,
        heads: 12,
        lq: 17,
        lk: 17,
        d: 128,
        dv: 128,
        packed: false,
        bias: Some(vec![1, 1, 1, 17]),
        tile: None,
        scratch: 0,
        seed: 0,
    });
}
