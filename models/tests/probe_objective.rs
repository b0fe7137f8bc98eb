//! The probe's objective against independent references: a naive f64 transcription of
//! sklearn's multinomial loss, central finite differences of its gradient, and the optimality
//! conditions of sklearn's problem at the fitted solution.

use tessera_dsl::rng::Rng;
use tessera_models::probe::{LbfgsOptions, LogRegOptions, LogisticRegression, SoftmaxObjective};

/// n x d features (row-major), normal-ish, with labels from a random linear rule plus noise.
fn problem(n: usize, d: usize, k: usize, seed: u64) -> (Vec<f64>, Vec<u32>) {
    let mut rng = Rng::seed_from_u64(seed);
    let mut gauss = || {
        // Box-Muller.
        let (u, v) = (rng.next_f64().max(1e-12), rng.next_f64());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let x: Vec<f64> = (0..n * d).map(|_| gauss()).collect();
    let w: Vec<f64> = (0..d * k).map(|_| gauss()).collect();
    let labels = (0..n)
        .map(|i| {
            let noisy: Vec<f64> = (0..k)
                .map(|j| (0..d).map(|f| x[i * d + f] * w[f * k + j]).sum::<f64>() + 1.5 * gauss())
                .collect();
            (0..k)
                .max_by(|&a, &b| noisy[a].total_cmp(&noisy[b]))
                .unwrap() as u32
        })
        .collect();
    (x, labels)
}

/// Logits of row i written out: z_j = b_j + sum_f W[j, f] x[i, f], W = classes x features.
fn row_logits(x: &[f64], d: usize, k: usize, theta: &[f64], i: usize) -> Vec<f64> {
    (0..k)
        .map(|j| theta[d * k + j] + (0..d).map(|f| x[i * d + f] * theta[j * d + f]).sum::<f64>())
        .collect()
}

/// sklearn's objective written out loop by loop: (1/n) sum_i [log sum_j exp(z_ij) - z_iy]
/// + sum W^2 / (2 C n).
fn naive(x: &[f64], d: usize, y: &[u32], k: usize, c: f64, theta: &[f64]) -> f64 {
    let n = y.len();
    let mut total = 0.0;
    for i in 0..n {
        let z = row_logits(x, d, k, theta, i);
        let lse = z.iter().map(|v| v.exp()).sum::<f64>().ln();
        total += lse - z[y[i] as usize];
    }
    let w2: f64 = theta[..d * k].iter().map(|v| v * v).sum();
    total / n as f64 + w2 / (2.0 * c * n as f64)
}

#[test]
fn value_matches_a_naive_transcription() {
    // 1100 rows: more than two blocks of work, split over 3 threads.
    let (x, y) = problem(1100, 6, 4, 1);
    let mut rng = Rng::seed_from_u64(2);
    for c in [0.3, 1.0, 7.0] {
        let obj = SoftmaxObjective::new(&x, 6, &y, 4, c, 3);
        let theta: Vec<f64> = (0..obj.len()).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let mut g = vec![0.0; obj.len()];
        let v = obj.value_grad(&theta, &mut g);
        let r = naive(&x, 6, &y, 4, c, &theta);
        assert!((v - r).abs() < 1e-12 * r.abs().max(1.0), "{v} vs {r}");
        // The same bits with one thread: blocks are summed in a fixed order.
        let mut g1 = vec![0.0; obj.len()];
        let v1 = SoftmaxObjective::new(&x, 6, &y, 4, c, 1).value_grad(&theta, &mut g1);
        assert_eq!((v, &g), (v1, &g1));
    }
    // At theta = 0 every class has probability 1/k: the value is ln k.
    let obj = SoftmaxObjective::new(&x, 6, &y, 4, 1.0, 0);
    let mut g = vec![0.0; obj.len()];
    assert!((obj.value_grad(&vec![0.0; obj.len()], &mut g) - 4f64.ln()).abs() < 1e-14);
}

#[test]
fn gradient_matches_central_differences() {
    let (x, y) = problem(30, 5, 3, 3);
    let obj = SoftmaxObjective::new(&x, 5, &y, 3, 0.5, 0);
    let mut rng = Rng::seed_from_u64(4);
    let theta: Vec<f64> = (0..obj.len()).map(|_| rng.uniform(-2.0, 2.0)).collect();
    let mut g = vec![0.0; obj.len()];
    obj.value_grad(&theta, &mut g);
    let h = 1e-5;
    let mut scratch = vec![0.0; obj.len()];
    let (mut err2, mut ref2) = (0.0, 0.0);
    for i in 0..theta.len() {
        let mut t = theta.clone();
        t[i] += h;
        let up = obj.value_grad(&t, &mut scratch);
        t[i] -= 2.0 * h;
        let down = obj.value_grad(&t, &mut scratch);
        let fd = (up - down) / (2.0 * h);
        err2 += (g[i] - fd).powi(2);
        ref2 += fd * fd;
    }
    let rel = (err2 / ref2).sqrt();
    assert!(rel < 1e-8, "relative gradient error {rel}");
}

#[test]
fn the_fit_satisfies_sklearns_optimality_conditions() {
    // At the minimum of sum_i CE_i + ||W||^2 / (2C): W = C X^T (Y - P), sum_i (P - Y) = 0,
    // and so the class columns of W sum to zero (the softmax's shift freedom is fixed by the
    // penalty, as in sklearn's over-parameterized multinomial).
    let (x, y) = problem(200, 8, 5, 5);
    let (n, d, k, c) = (200, 8, 5, 0.7);
    let opts = LogRegOptions {
        c,
        lbfgs: LbfgsOptions {
            gtol: 1e-10,
            ftol: 0.0,
            max_iter: 2000,
            ..LbfgsOptions::default()
        },
        threads: 0,
    };
    let model = LogisticRegression::fit(&x, d, &y, k, &opts).unwrap();
    let theta = &model.params;
    let mut residual = vec![0f64; n * k]; // Y - P
    for i in 0..n {
        let z = row_logits(&x, d, k, theta, i);
        let s: f64 = z.iter().map(|v| v.exp()).sum();
        for j in 0..k {
            residual[i * k + j] = f64::from(y[i] == j as u32) - z[j].exp() / s;
        }
    }
    for f in 0..d {
        for j in 0..k {
            let stationary = c
                * (0..n)
                    .map(|i| x[i * d + f] * residual[i * k + j])
                    .sum::<f64>();
            let w = theta[j * d + f];
            assert!(
                (w - stationary).abs() < 1e-6,
                "W[{j},{f}] {w} vs {stationary}"
            );
        }
        let col: f64 = (0..k).map(|j| theta[j * d + f]).sum();
        assert!(col.abs() < 1e-6, "class sum of W[.,{f}] = {col}");
    }
    for j in 0..k {
        let sum: f64 = (0..n).map(|i| residual[i * k + j]).sum();
        assert!(sum.abs() < 1e-6, "intercept condition {j}: {sum}");
    }
}
