//! The compute-heavy WGSL kernels (matmul, attention, layer norm, softmax) on the chosen
//! adapter against straightforward f64 references, on random shapes (awkward sizes that are
//! not multiples of the tiles included) and seeded random values. Without an adapter the tests
//! print SKIPPED and pass, unless `TESSERA_REQUIRE_GPU=1` (CI, on lavapipe).
mod gpu_heavy {
    pub mod harness;
}

use gpu_heavy::harness::{assert_close, gpu, wide, Arena, Rng};
use proptest::prelude::*;
use tessera_runtime::gpu::ops::matmul::{prepare_matmul_with, MatmulDims, MatmulTile};
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
