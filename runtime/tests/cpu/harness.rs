//! Shared helpers of the CPU backend tests: deterministic random values, running a graph in
//! f64/f32, and the finite-difference gradient check.
#![allow(dead_code)]

use tessera_dsl::graph::{compile, grad, DType, GResult, Graph, NodeId, PlanOptions, Role, Target};
use tessera_runtime::cpu::{CpuExecutor, Element};

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
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
    pub fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.uniform()).collect()
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// A random permutation of 0..n.
    pub fn perm(&mut self, n: usize) -> Vec<u32> {
        let mut p: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            p.swap(i, self.below(i + 1));
        }
        p
    }
}

/// Values of the leaves of a test graph: float leaves not listed get random values.
#[derive(Default, Clone)]
pub struct Feed {
    pub data: Vec<(String, Vec<f64>)>,
    pub index: Vec<(String, Vec<u32>)>,
}

impl Feed {
    pub fn data(mut self, name: &str, v: Vec<f64>) -> Self {
        self.data.push((name.into(), v));
        self
    }
    pub fn index(mut self, name: &str, v: Vec<u32>) -> Self {
        self.index.push((name.into(), v));
        self
    }
}

/// Fills every float leaf of `g` (random unless given in `feed`) and every index leaf.
pub fn fill_values(g: &Graph, feed: &Feed, rng: &mut Rng) -> Feed {
    let mut out = feed.clone();
    for (name, id) in g.leaves() {
        let node = g.node(id);
        if node.dtype == DType::Data
            && !matches!(node.role, Role::State { .. })
            && !feed.data.iter().any(|(n, _)| n == name)
        {
            out.data.push((name.into(), rng.vec(node.numel())));
        }
    }
    out
}

fn to<E: Element>(v: &[f64]) -> Vec<E> {
    v.iter().map(|&x| E::from_f64(x)).collect()
}

/// Compiles `g` for `outputs`, feeds it, runs once and reads the outputs (as f64). A fused
/// plan is fused as the CPU backend runs it: elementwise fusion and then its own fused
/// kernels (`Target::Cpu`), so every test that compares fused with unfused covers both.
pub fn run<E: Element>(g: &Graph, outputs: &[NodeId], feed: &Feed, fuse: bool) -> Vec<Vec<f64>> {
    let target = if fuse { Target::Cpu } else { Target::Any };
    let plan = compile(g, outputs, &PlanOptions { fuse, target }).expect("compile");
    let mut ex = CpuExecutor::<E>::new(&plan).expect("executor");
    for (n, v) in &feed.data {
        ex.set_any(n, &to::<E>(v)).expect("set");
    }
    for (n, v) in &feed.index {
        ex.set_index_input(n, v).expect("set index");
    }
    ex.run().expect("run");
    outputs
        .iter()
        .map(|&o| {
            ex.read(o)
                .expect("read")
                .iter()
                .map(|&x| Element::to_f64(x))
                .collect()
        })
        .collect()
}

/// `‖a − b‖ / max(‖b‖, floor)`.
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt();
    let den: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    assert!(a.iter().all(|x| x.is_finite()), "non-finite output");
    num / den.max(1e-12)
}

/// Checks a forward op: the f64 result against `reference` (rel. error < 1e-10) and the f32
/// result against it (< 1e-5).
pub fn check_forward(g: &Graph, y: NodeId, feed: &Feed, reference: &[f64]) {
    let r64 = &run::<f64>(g, &[y], feed, true)[0];
    let e64 = rel_err(r64, reference);
    assert!(
        e64 < 1e-10,
        "f64 forward rel err {e64}: {r64:?} vs {reference:?}"
    );
    let r32 = &run::<f32>(g, &[y], feed, true)[0];
    let e32 = rel_err(r32, reference);
    assert!(e32 < 1e-5, "f32 forward rel err {e32}");
}

/// Checks a forward op whose outputs are differences of larger terms (a mean subtracted
/// from values close to it): `mag[i]` is the size of the terms output i combines, and the
/// error may reach the rounding of those terms, not only a fraction of the (small) result:
/// `‖out − ref‖ ≤ tol·‖ref‖ + u·‖mag‖` with (tol, u) = (1e-10, 1e-14) in f64 and
/// (1e-5, 1e-6) in f32. Rounding the inputs to f32 alone moves each term by 6e-8 of its
/// size, so no f32 kernel can do better than a few 1e-8 of ‖mag‖. NaN never passes.
pub fn check_forward_cancelling(g: &Graph, y: NodeId, feed: &Feed, reference: &[f64], mag: &[f64]) {
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let (rw, rm) = (
        norm(&mut reference.iter().copied()),
        norm(&mut mag.iter().copied()),
    );
    for (name, got, tol, u) in [
        (
            "f64",
            run::<f64>(g, &[y], feed, true).remove(0),
            1e-10,
            1e-14,
        ),
        ("f32", run::<f32>(g, &[y], feed, true).remove(0), 1e-5, 1e-6),
    ] {
        assert!(
            got.iter().all(|x| x.is_finite()),
            "{name}: non-finite output"
        );
        let err = norm(&mut got.iter().zip(reference).map(|(a, b)| a - b));
        assert!(
            err <= tol * rw + u * rm,
            "{name} forward: error {err:.3e} above {tol:e} of the result ({rw:.3e}) + {u:e} \
             of the terms ({rm:.3e})"
        );
    }
}

/// Builds `loss = Σ y ∘ r` (r random, frozen) on top of `y`, differentiates it with respect
/// to every trainable parameter, and compares the analytic gradients (run in f64, fused and
/// unfused plans) with central finite differences.
///
/// A central difference with step h is off by its truncation error c·h² (c from the third
/// derivative), which is large where the loss bends sharply: LayerNorm over 2 values whose
/// difference is comparable to sqrt(eps) is a smoothed step. Steps h and 2h estimate it:
/// fd(2h) − fd(h) ≈ 3c·h², so the check allows that difference on top of the fixed bounds.
/// Where the loss is smooth the difference is far below them and nothing is loosened.
pub fn check_grad(g: &mut Graph, y: NodeId, feed: &Feed, seed: u64) -> GResult<()> {
    let mut rng = Rng(seed);
    let ys = g.shape(y).to_vec();
    let r = g.frozen("__r", &ys)?;
    let yr = g.mul(y, r)?;
    let loss = g.sum_all(yr)?;
    let params = g.trainable_params();
    let grads = grad(g, loss, &params)?;
    let feed = fill_values(g, feed, &mut rng);
    let mut outs = vec![loss];
    let gids: Vec<NodeId> = params
        .iter()
        .map(|&p| grads.get(p).expect("param without gradient"))
        .collect();
    outs.extend(&gids);
    let analytic = run::<f64>(g, &outs, &feed, false);
    let fused = run::<f64>(g, &outs, &feed, true);
    for (a, f) in analytic.iter().zip(&fused) {
        assert!(rel_err(f, a) < 1e-12, "fused and unfused gradients differ");
    }
    // Finite differences on the forward-only plan.
    let plan = compile(g, &[loss], &PlanOptions::default())?;
    let mut ex = CpuExecutor::<f64>::new(&plan).expect("executor");
    for (n, v) in &feed.data {
        ex.set_any(n, v).expect("set");
    }
    for (n, v) in &feed.index {
        ex.set_index_input(n, v).expect("set index");
    }
    let h = 1e-5;
    for (pi, &p) in params.iter().enumerate() {
        let name = g.node(p).role.name().unwrap().to_string();
        let base = feed
            .data
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
            .clone();
        let picks: Vec<usize> = if base.len() <= 48 {
            (0..base.len()).collect()
        } else {
            (0..48).map(|_| rng.below(base.len())).collect()
        };
        let (mut fd, mut an, mut trunc) = (Vec::new(), Vec::new(), Vec::new());
        for &i in &picks {
            let mut v = base.clone();
            let mut central = |step: f64, ex: &mut CpuExecutor<f64>| {
                let mut at = |x: f64| {
                    v[i] = x;
                    ex.set_any(&name, &v).unwrap();
                    ex.run().unwrap();
                    ex.read(loss).unwrap()[0]
                };
                let (lp, lm) = (at(base[i] + step), at(base[i] - step));
                (lp - lm) / (2.0 * step)
            };
            let (fd_h, fd_2h) = (central(h, &mut ex), central(2.0 * h, &mut ex));
            fd.push(fd_h);
            trunc.push(fd_2h - fd_h);
            an.push(analytic[pi + 1][i]);
        }
        ex.set_any(&name, &base).unwrap();
        // Relative error, with an absolute floor for gradients that are ~0 by symmetry (the
        // finite-difference rounding error is about 1e-16 · |loss| / h ≈ 1e-11), plus the
        // estimated truncation error (3× it, for the higher-order terms).
        let diff: f64 = an
            .iter()
            .zip(&fd)
            .map(|(a, f)| (a - f) * (a - f))
            .sum::<f64>()
            .sqrt();
        let norm: f64 = fd.iter().map(|f| f * f).sum::<f64>().sqrt();
        let trunc: f64 = trunc.iter().map(|t| t * t).sum::<f64>().sqrt();
        assert!(
            an.iter().all(|a| a.is_finite()) && diff <= 1e-6 * norm + 1e-9 + trunc,
            "gradient of {name}: |diff| {diff}, |fd| {norm}, |fd(2h) - fd(h)| {trunc}\n\
             analytic {an:?}\nfd {fd:?}"
        );
    }
    Ok(())
}
