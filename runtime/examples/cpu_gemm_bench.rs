//! GEMM throughput on the mae_tiny_32 shapes: the `gemm` crate (rayon-threaded and
//! single-threaded), `matrixmultiply` single-threaded, and the CPU backend's `gemm`
//! (matrixmultiply kernels in row blocks on the rayon pool).
//! `cargo run --release -p tessera-runtime --example cpu_gemm_bench`.
use std::time::Instant;

use tessera_runtime::cpu::gemm::{gemm as ours, MatRef};

fn time(mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..4 {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / 4.0);
    }
    best
}

fn main() {
    // (m, k, n, trans_a, trans_b): forward x·Wᵀ, backward dY·W and Xᵀ·dY.
    let shapes = [
        (1088, 192, 576, false, true),
        (1088, 192, 768, false, true),
        (1088, 768, 192, false, true),
        (1088, 576, 192, false, false),
        (192, 1088, 768, true, false),
        (768, 1088, 192, true, false),
        (4160, 128, 512, false, true),
        (4160, 512, 128, false, true),
        (128, 4160, 512, true, false),
    ];
    println!(
        "{:>28} {:>10} {:>10} {:>10} {:>10}",
        "m x k x n (ta, tb)", "gemm par", "gemm 1t", "mm 1t", "tessera"
    );
    for (m, k, n, ta, tb) in shapes {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 * 0.1 - 0.6).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.1 - 0.3).collect();
        let mut c = vec![0f32; m * n];
        let flops = 2.0 * (m * n * k) as f64;
        let (ar, ac) = if ta { (k, m) } else { (m, k) };
        let (br, bc) = if tb { (n, k) } else { (k, n) };
        let av = MatRef::row_major(&a, ar, ac, ta);
        let bv = MatRef::row_major(&b, br, bc, tb);
        let crate_gemm = |c: &mut [f32], par: gemm::Parallelism| unsafe {
            // SAFETY: strides describe the row-major buffers above, sizes match.
            gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                av.cs as isize,
                av.rs as isize,
                b.as_ptr(),
                bv.cs as isize,
                bv.rs as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                par,
            )
        };
        let par = time(|| crate_gemm(&mut c, gemm::Parallelism::Rayon(0)));
        let one = time(|| crate_gemm(&mut c, gemm::Parallelism::None));
        let mm = time(|| unsafe {
            // SAFETY: strides describe the row-major buffers above, sizes match.
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                av.rs as isize,
                av.cs as isize,
                b.as_ptr(),
                bv.rs as isize,
                bv.cs as isize,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            )
        });
        let mut c2 = vec![0f32; m * n];
        let tess = time(|| ours(&mut c2, n, av, bv, 1.0, false));
        assert_eq!(c, c2, "same kernels, same result");
        println!(
            "{:>28} {:>10.1} {:>10.1} {:>10.1} {:>10.1}   GFLOP/s",
            format!("{m}x{k}x{n} ({ta}, {tb})"),
            flops / par / 1e9,
            flops / one / 1e9,
            flops / mm / 1e9,
            flops / tess / 1e9
        );
    }
}
