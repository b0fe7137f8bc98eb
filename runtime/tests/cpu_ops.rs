//! Every op of the IR on the CPU backend: forward against straightforward reference loops
//! (f64 and f32) and backward against f64 central finite differences, on random shapes.
mod cpu {
    pub mod harness;
}
use cpu::harness::{check_forward, check_forward_cancelling, check_grad, Feed, Rng};
use proptest::prelude::*;
use tessera_dsl::graph::{BinaryOp, Graph, UnaryOp};

/// 12 cases per test, or `PROPTEST_CASES` when set (to soak a test with many seeds).
fn cfg() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Naive batched matmul reference on row-major data.
#[allow(clippy::too_many_arguments)]
fn ref_matmul(
    a: &[f64],
    b: &[f64],
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
    shared_b: bool,
) -> Vec<f64> {
    let mut out = vec![0.0; batch * m * n];
    for bi in 0..batch {
        let ab = &a[bi * m * k..];
        let bb = if shared_b { b } else { &b[bi * k * n..] };
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    let av = if ta { ab[p * m + i] } else { ab[i * k + p] };
                    let bv = if tb { bb[j * k + p] } else { bb[p * n + j] };
                    s += av * bv;
                }
                out[(bi * m + i) * n + j] = 1.5 * s;
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn matmul_forward_and_grad(batch in 1usize..4, m in 1usize..6, k in 1usize..6,
                               n in 1usize..6, ta: bool, tb: bool, shared: bool, seed: u64) {
        let ta = ta && !shared;
        let mut g = Graph::new();
        let sa = if ta { [batch, k, m] } else { [batch, m, k] };
        let sb: Vec<usize> = match (shared, tb) {
            (true, true) => vec![n, k],
            (true, false) => vec![k, n],
            (false, true) => vec![batch, n, k],
            (false, false) => vec![batch, k, n],
        };
        let a = g.param("a", &sa, true).unwrap();
        let b = g.param("b", &sb, true).unwrap();
        let y = g.matmul_scaled(a, b, ta, tb, 1.5).unwrap();
        let mut rng = Rng(seed);
        let (av, bv) = (rng.vec(batch * m * k), rng.vec(sb.iter().product()));
        let want = ref_matmul(&av, &bv, batch, m, k, n, ta, tb, shared);
        let feed = Feed::default().data("a", av).data("b", bv);
        check_forward(&g, y, &feed, &want);
        check_grad(&mut g, y, &feed, seed).unwrap();
    }

    #[test]
    fn binary_broadcast_forward_and_grad(b in 1usize..4, l in 1usize..5, d in 1usize..5,
                                         which in 0usize..5, op in 0usize..4, seed: u64) {
        let sb: Vec<usize> = match which {
            0 => vec![d],
            1 => vec![1, l, d],
            2 => vec![b, l, 1],
            3 => vec![l, 1],
            _ => vec![b, l, d],
        };
        let op = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div][op];
        let mut g = Graph::new();
        let x = g.param("x", &[b, l, d], true).unwrap();
        let yv = g.param("y", &sb, true).unwrap();
        let out = g.binary(op, x, yv).unwrap();
        let mut rng = Rng(seed);
        let xv = rng.vec(b * l * d);
        // Keep divisors away from zero.
        let yvals: Vec<f64> = rng.vec(sb.iter().product()).iter().map(|v| 1.5 + v).collect();
        let full = [b, l, d];
        let off = 3 - sb.len();
        let mut want = vec![0.0; b * l * d];
        for i in 0..b { for j in 0..l { for c in 0..d {
            let idx = [i, j, c];
            let mut yi = 0;
            for (t, &dim) in sb.iter().enumerate() {
                yi = yi * dim + if dim == 1 { 0 } else { idx[t + off] };
            }
            let (xa, yb) = (xv[(i * l + j) * d + c], yvals[yi]);
            want[(i * l + j) * d + c] = match op {
                BinaryOp::Add => xa + yb, BinaryOp::Sub => xa - yb,
                BinaryOp::Mul => xa * yb, BinaryOp::Div => xa / yb,
            };
        }}}
        let _ = full;
        let feed = Feed::default().data("x", xv).data("y", yvals);
        check_forward(&g, out, &feed, &want);
        check_grad(&mut g, out, &feed, seed).unwrap();
    }

    #[test]
    fn unary_forward_and_grad(n in 1usize..40, which in 0usize..10, seed: u64) {
        let ops = [UnaryOp::Affine { mul: -0.7, add: 0.3 }, UnaryOp::GeluErf, UnaryOp::GeluTanh,
                   UnaryOp::Relu, UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sqrt, UnaryOp::Recip,
                   UnaryOp::Square, UnaryOp::Tanh];
        let op = ops[which];
        let mut rng = Rng(seed);
        let positive = matches!(op, UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Recip);
        let xv: Vec<f64> = rng.vec(n).iter()
            .map(|v| if positive { 1.0 + 0.5 * v } else { 3.0 * v }).collect();
        let want: Vec<f64> = xv.iter().map(|&x| match op {
            UnaryOp::Affine { mul, add } => x * mul + add,
            UnaryOp::GeluErf => 0.5 * x * (1.0 + libm::erf(x / 2f64.sqrt())),
            UnaryOp::GeluTanh => 0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt()
                                 * (x + 0.044715 * x * x * x)).tanh()),
            UnaryOp::Relu => x.max(0.0),
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Recip => 1.0 / x,
            UnaryOp::Square => x * x,
            UnaryOp::Tanh => x.tanh(),
        }).collect();
        let mut g = Graph::new();
        let x = g.param("x", &[n], true).unwrap();
        let y = g.unary(op, x).unwrap();
        let feed = Feed::default().data("x", xv);
        check_forward(&g, y, &feed, &want);
        check_grad(&mut g, y, &feed, seed).unwrap();
    }

    #[test]
    fn layer_norm_forward_and_grad(rows in 1usize..6, d in 2usize..9, seed: u64) {
        let mut rng = Rng(seed);
        let (xv, wv, bv) = (rng.vec(rows * d), rng.vec(d), rng.vec(d));
        let mut want = vec![0.0; rows * d];
        // Nearly equal values cancel in x − mean (see norm_pix_forward): the terms' size.
        let mut mag = vec![0.0; rows * d];
        for r in 0..rows {
            let x = &xv[r * d..(r + 1) * d];
            let mean = x.iter().sum::<f64>() / d as f64;
            let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
            let rstd = 1.0 / (var + 1e-6).sqrt();
            for j in 0..d {
                want[r * d + j] = (x[j] - mean) * rstd * wv[j] + bv[j];
                mag[r * d + j] = (x[j].abs() + mean.abs()) * rstd * wv[j].abs() + bv[j].abs();
            }
        }
        let mut g = Graph::new();
        let x = g.param("x", &[rows, d], true).unwrap();
        let w = g.param("ln.weight", &[d], true).unwrap();
        let b = g.param("ln.bias", &[d], true).unwrap();
        let y = g.layer_norm(x, w, b, 1e-6).unwrap();
        let feed = Feed::default().data("x", xv).data("ln.weight", wv).data("ln.bias", bv);
        check_forward_cancelling(&g, y, &feed, &want, &mag);
        check_grad(&mut g, y, &feed, seed).unwrap();
    }

    #[test]
    fn softmax_forward_and_grad(rows in 1usize..5, d in 1usize..8, seed: u64) {
        let mut rng = Rng(seed);
        let xv: Vec<f64> = rng.vec(rows * d).iter().map(|v| 4.0 * v).collect();
        let mut want = vec![0.0; rows * d];
        for r in 0..rows {
            let x = &xv[r * d..(r + 1) * d];
            let s: f64 = x.iter().map(|v| v.exp()).sum();
            for j in 0..d { want[r * d + j] = x[j].exp() / s; }
        }
        let mut g = Graph::new();
        let x = g.param("x", &[rows, d], true).unwrap();
        let y = g.softmax(x).unwrap();
        let feed = Feed::default().data("x", xv);
        check_forward(&g, y, &feed, &want);
        check_grad(&mut g, y, &feed, seed).unwrap();
    }

    #[test]
    fn attention_forward_and_grad(b in 1usize..3, h in 1usize..3, lq in 1usize..5,
                                  lk in 1usize..5, d in 1usize..4, dv in 1usize..4,
                                  bias_kind in 0usize..3, seed: u64) {
        let mut rng = Rng(seed);
        let (qv, kv, vv) = (rng.vec(b * h * lq * d), rng.vec(b * h * lk * d), rng.vec(b * h * lk * dv));
        let bshape: Vec<usize> = match bias_kind { 1 => vec![h, lq, lk], 2 => vec![b, 1, 1, lk], _ => vec![] };
        let bvals = rng.vec(bshape.iter().product::<usize>().max(1));
        let scale = 1.0 / (d as f64).sqrt();
        let mut want = vec![0.0; b * h * lq * dv];
        for bi in 0..b { for hi in 0..h {
            let gi = bi * h + hi;
            for i in 0..lq {
                let mut s: Vec<f64> = (0..lk).map(|j| {
                    let dot: f64 = (0..d).map(|c| qv[(gi * lq + i) * d + c] * kv[(gi * lk + j) * d + c]).sum();
                    let bias = match bias_kind {
                        1 => bvals[(hi * lq + i) * lk + j],
                        2 => bvals[bi * lk + j],
                        _ => 0.0,
                    };
                    scale * dot + bias
                }).collect();
                let mx = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = s.iter().map(|x| (x - mx).exp()).sum();
                s.iter_mut().for_each(|x| *x = (*x - mx).exp() / sum);
                for c in 0..dv {
                    want[(gi * lq + i) * dv + c] = (0..lk).map(|j| s[j] * vv[(gi * lk + j) * dv + c]).sum();
                }
            }
        }}
        let mut g = Graph::new();
        let q = g.param("q", &[b, h, lq, d], true).unwrap();
        let k = g.param("k", &[b, h, lk, d], true).unwrap();
        let v = g.param("v", &[b, h, lk, dv], true).unwrap();
        let mut feed = Feed::default().data("q", qv).data("k", kv).data("v", vv);
        let bias = match bias_kind {
            1 => Some(g.param("rel_bias", &bshape, true).unwrap()),
            2 => Some(g.input("pad_mask", &bshape).unwrap()),
            _ => None,
        };
        if bias_kind == 1 { feed = feed.data("rel_bias", bvals); }
        else if bias_kind == 2 { feed = feed.data("pad_mask", bvals); }
        let y = g.attention(q, k, v, bias, scale).unwrap();
        check_forward(&g, y, &feed, &want);
        check_grad(&mut g, y, &feed, seed).unwrap();
    }

    #[test]
    fn gather_scatter_forward_and_grad(b in 1usize..4, l in 1usize..7, d in 1usize..4,
                                       kk in 1usize..7, shared_x: bool, seed: u64) {
        let mut rng = Rng(seed);
        let bx = if shared_x { 1 } else { b };
        let xv = rng.vec(bx * l * d);
        // Indices with repeats, so the scatter must accumulate.
        let idx: Vec<u32> = (0..b * kk).map(|_| rng.below(l) as u32).collect();
        let mut want = vec![0.0; b * kk * d];
        for bi in 0..b { for k in 0..kk { for c in 0..d {
            let xb = if shared_x { 0 } else { bi };
            want[(bi * kk + k) * d + c] = xv[(xb * l + idx[bi * kk + k] as usize) * d + c];
        }}}
        let mut g = Graph::new();
        let x = g.param("x", &[bx, l, d], true).unwrap();
        let i = g.index_input("ids", &[b, kk]).unwrap();
        let y = g.gather_rows(x, i).unwrap();
        let feed = Feed::default().data("x", xv).index("ids", idx.clone());
        check_forward(&g, y, &feed, &want);
        check_grad(&mut g, y, &feed, seed).unwrap();
        // scatter_rows forward and its gradient (a gather).
        let sv = rng.vec(b * kk * d);
        let mut want = vec![0.0; b * l * d];
        for bi in 0..b { for k in 0..kk { for c in 0..d {
            want[(bi * l + idx[bi * kk + k] as usize) * d + c] += sv[(bi * kk + k) * d + c];
        }}}
        let mut g = Graph::new();
        let s = g.param("s", &[b, kk, d], true).unwrap();
        let i = g.index_input("ids", &[b, kk]).unwrap();
        let y = g.scatter_rows(s, i, l, false).unwrap();
        let feed = Feed::default().data("s", sv).index("ids", idx);
        check_forward(&g, y, &feed, &want);
        check_grad(&mut g, y, &feed, seed).unwrap();
    }

    #[test]
    fn concat_slice_pad_grad(b in 1usize..3, l1 in 1usize..4, l2 in 1usize..4, d in 1usize..4, seed: u64) {
        let mut rng = Rng(seed);
        let (av, bv) = (rng.vec(b * l1 * d), rng.vec(b * l2 * d));
        let mut want = Vec::new();
        for bi in 0..b {
            want.extend_from_slice(&av[bi * l1 * d..(bi + 1) * l1 * d]);
            want.extend_from_slice(&bv[bi * l2 * d..(bi + 1) * l2 * d]);
        }
        let mut g = Graph::new();
        let a = g.param("a", &[b, l1, d], true).unwrap();
        let c = g.param("c", &[b, l2, d], true).unwrap();
        let y = g.concat(&[a, c], 1).unwrap();
        let feed = Feed::default().data("a", av).data("c", bv);
        check_forward(&g, y, &feed, &want);
        // A slice straddling both parts, then padding back.
        let s = g.slice(y, 1, l1 - 1, 2.min(l2 + 1)).unwrap();
        let p = g.pad(s, 2, 1, d + 2).unwrap();
        check_grad(&mut g, p, &feed, seed).unwrap();
    }

    #[test]
    fn permute_roll_sum_forward_and_grad(a in 1usize..4, bb in 1usize..4, c in 1usize..4,
                                         sh in -3isize..4, seed: u64) {
        let mut rng = Rng(seed);
        let xv = rng.vec(a * bb * c);
        // permute (2, 0, 1)
        let mut want = vec![0.0; a * bb * c];
        for i in 0..a { for j in 0..bb { for k in 0..c {
            want[(k * a + i) * bb + j] = xv[(i * bb + j) * c + k];
        }}}
        let mut g = Graph::new();
        let x = g.param("x", &[a, bb, c], true).unwrap();
        let y = g.permute(x, &[2, 0, 1]).unwrap();
        let feed = Feed::default().data("x", xv.clone());
        check_forward(&g, y, &feed, &want);
        check_grad(&mut g, y, &feed, seed).unwrap();
        // roll along axes 1 and 2
        let mut want = vec![0.0; a * bb * c];
        for i in 0..a { for j in 0..bb { for k in 0..c {
            let jj = (j as isize + sh).rem_euclid(bb as isize) as usize;
            let kk = (k as isize - sh).rem_euclid(c as isize) as usize;
            want[(i * bb + jj) * c + kk] = xv[(i * bb + j) * c + k];
        }}}
        let mut g = Graph::new();
        let x = g.param("x", &[a, bb, c], true).unwrap();
        let y = g.roll(x, &[(1, sh), (2, -sh)]).unwrap();
        check_forward(&g, y, &feed, &want);
        check_grad(&mut g, y, &feed, seed).unwrap();
        // sum over axis 1, mean over axis 0, sum_to [1, b, 1], expand back
        let mut want = vec![0.0; a * c];
        let mut mag = vec![0.0; a * c];
        for i in 0..a { for j in 0..bb { for k in 0..c {
            want[i * c + k] += xv[(i * bb + j) * c + k];
            mag[i * c + k] += xv[(i * bb + j) * c + k].abs();
        }}}
        let mut g = Graph::new();
        let x = g.param("x", &[a, bb, c], true).unwrap();
        let y = g.sum(x, 1, false).unwrap();
        check_forward_cancelling(&g, y, &feed, &want, &mag);
        // expand and mean against loops
        let mut g2 = Graph::new();
        let x2 = g2.input("x", &[a, bb, c]).unwrap();
        let s2 = g2.sum_to(x2, &[1, bb, 1]).unwrap();
        let e2 = g2.expand(s2, &[a, bb, c]).unwrap();
        let m2 = g2.mean(x2, 0, false).unwrap();
        // Sums of mixed signs may cancel: their error is measured against the sums of |x|.
        let mut sums = vec![0.0; bb];
        let mut abs_sums = vec![0.0; bb];
        let mut means = vec![0.0; bb * c];
        let mut abs_means = vec![0.0; bb * c];
        for i in 0..a { for j in 0..bb { for k in 0..c {
            let v = xv[(i * bb + j) * c + k];
            sums[j] += v;
            abs_sums[j] += v.abs();
            means[j * c + k] += v / a as f64;
            abs_means[j * c + k] += v.abs() / a as f64;
        }}}
        let want_e: Vec<f64> = (0..a * bb * c).map(|f| sums[(f / c) % bb]).collect();
        let mag_e: Vec<f64> = (0..a * bb * c).map(|f| abs_sums[(f / c) % bb]).collect();
        check_forward_cancelling(&g2, e2, &feed, &want_e, &mag_e);
        check_forward_cancelling(&g2, m2, &feed, &means, &abs_means);
        let m = g.mean(x, 0, true).unwrap();
        let s = g.sum_to(x, &[1, bb, 1]).unwrap();
        let e = g.expand(s, &[a, bb, c]).unwrap();
        let t = g.mul(e, m).unwrap();
        let t = g.add(t, x).unwrap();
        let u = g.reshape(y, &[a, 1, c]).unwrap();
        let t = g.mul(t, u).unwrap();
        check_grad(&mut g, t, &feed, seed).unwrap();
    }

    #[test]
    fn norm_pix_forward(rows in 1usize..6, p in 2usize..10, on_std: bool, seed: u64) {
        let mut rng = Rng(seed);
        let xv = rng.vec(rows * p);
        let mut want = vec![0.0; rows * p];
        // Each output is (x − mean) / den: nearly equal values cancel in the subtraction, so
        // the error is measured against the size of its terms, (|x| + |mean|) / den.
        let mut mag = vec![0.0; rows * p];
        for r in 0..rows {
            let x = &xv[r * p..(r + 1) * p];
            let mean = x.iter().sum::<f64>() / p as f64;
            let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (p as f64 - 1.0);
            let den = if on_std { var.sqrt() + 1e-6 } else { (var + 1e-6).sqrt() };
            for j in 0..p {
                want[r * p + j] = (x[j] - mean) / den;
                mag[r * p + j] = (x[j].abs() + mean.abs()) / den;
            }
        }
        let mut g = Graph::new();
        let x = g.input("x", &[rows, p]).unwrap();
        let y = g.norm_pix_with(x, 1e-6, on_std).unwrap();
        check_forward_cancelling(&g, y, &Feed::default().data("x", xv), &want, &mag);
    }

    #[test]
    fn losses_forward_and_grad(b in 1usize..4, l in 1usize..5, p in 1usize..5, v in 2usize..6, seed: u64) {
        let mut rng = Rng(seed);
        let (pv, tv) = (rng.vec(b * l * p), rng.vec(b * l * p));
        let mut mask: Vec<f64> = (0..b * l).map(|_| (rng.below(2)) as f64).collect();
        mask[0] = 1.0;
        // A prediction close to its target cancels in pred − t: the error of (pred − t)² is
        // measured against 2·|pred − t|·(|pred| + |t|), what rounding the terms can move it by.
        let (mut num, mut num_mag) = (0.0, 0.0);
        for r in 0..b * l {
            let (pr, tr) = (&pv[r * p..(r + 1) * p], &tv[r * p..(r + 1) * p]);
            let mse: f64 = pr.iter().zip(tr).map(|(a, t)| (a - t).powi(2)).sum::<f64>() / p as f64;
            let mag: f64 = pr.iter().zip(tr).map(|(a, t)| 2.0 * (a - t).abs() * (a.abs() + t.abs()))
                .sum::<f64>() / p as f64;
            num += mask[r] * mse;
            num_mag += mask[r] * mag;
        }
        let want = num / mask.iter().sum::<f64>();
        let want_mag = num_mag / mask.iter().sum::<f64>();
        let mut g = Graph::new();
        let pred = g.param("pred", &[b, l, p], true).unwrap();
        let t = g.input("t", &[b, l, p]).unwrap();
        let m = g.input("mask", &[b, l]).unwrap();
        let loss = g.masked_mse(pred, t, m).unwrap();
        let feed = Feed::default().data("pred", pv).data("t", tv).data("mask", mask);
        check_forward_cancelling(&g, loss, &feed, &[want], &[want_mag]);
        check_grad(&mut g, loss, &feed, seed).unwrap();
        // weighted cross-entropy
        let n = b * l;
        let lv = rng.vec(n * v);
        let labels: Vec<u32> = (0..n).map(|_| rng.below(v) as u32).collect();
        let w: Vec<f64> = (0..n).map(|i| if i == 0 { 1.0 } else { rng.below(2) as f64 }).collect();
        let mut num = 0.0;
        for i in 0..n {
            let row = &lv[i * v..(i + 1) * v];
            let lse = row.iter().map(|x| x.exp()).sum::<f64>().ln();
            num += w[i] * (lse - row[labels[i] as usize]);
        }
        let want = num / w.iter().sum::<f64>();
        let mut g = Graph::new();
        let logits = g.param("logits", &[n, v], true).unwrap();
        let lab = g.index_input("labels", &[n]).unwrap();
        let wt = g.input("w", &[n]).unwrap();
        let loss = g.cross_entropy(logits, lab, wt).unwrap();
        let feed = Feed::default().data("logits", lv).data("w", w).index("labels", labels);
        check_forward(&g, loss, &feed, &[want]);
        check_grad(&mut g, loss, &feed, seed).unwrap();
    }

    #[test]
    fn packed_self_attention_forward_and_grad(b in 1usize..3, l in 1usize..6, heads in 1usize..3,
                                             hd in 1usize..4, with_bias: bool, seed: u64) {
        let d = heads * hd;
        let mut rng = Rng(seed);
        let qkv = rng.vec(b * l * 3 * d);
        let bias = rng.vec(heads * l * l);
        let scale = 0.7;
        // Reference: channel s·D + h·hd + i of token (b, t) holds q/k/v (s = 0/1/2).
        let at = |bi: usize, t: usize, s: usize, h: usize, i: usize| qkv[(bi * l + t) * 3 * d + s * d + h * hd + i];
        let mut want = vec![0.0; b * l * d];
        for bi in 0..b { for h in 0..heads { for i in 0..l {
            let mut p: Vec<f64> = (0..l).map(|j| {
                let dot: f64 = (0..hd).map(|c| at(bi, i, 0, h, c) * at(bi, j, 1, h, c)).sum();
                scale * dot + if with_bias { bias[(h * l + i) * l + j] } else { 0.0 }
            }).collect();
            let mx = p.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = p.iter().map(|x| (x - mx).exp()).sum();
            p.iter_mut().for_each(|x| *x = (*x - mx).exp() / sum);
            for c in 0..hd {
                want[(bi * l + i) * d + h * hd + c] = (0..l).map(|j| p[j] * at(bi, j, 2, h, c)).sum();
            }
        }}}
        let mut g = Graph::new();
        let x = g.param("qkv", &[b, l, 3 * d], true).unwrap();
        let mut feed = Feed::default().data("qkv", qkv);
        let bn = if with_bias {
            feed = feed.data("rel_bias", bias);
            Some(g.param("rel_bias", &[heads, l, l], true).unwrap())
        } else {
            None
        };
        let y = g.self_attention(x, heads, bn, scale).unwrap();
        check_forward(&g, y, &feed, &want);
        check_grad(&mut g, y, &feed, seed).unwrap();
    }
}
