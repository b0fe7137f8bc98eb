//! The wgpu backend against the CPU backend in f64 (the oracle): every kernel family of the
//! elementwise / layout / token / reduction / loss / optimizer library, forward and backward,
//! on random shapes and values. Each case compiles a small graph (with its backward pass
//! appended by `grad`), runs the same plan on both backends and compares every output.
//!
//! Without an adapter these tests print SKIPPED and pass, unless `TESSERA_REQUIRE_GPU=1`
//! (CI, on lavapipe). Sizes stay small: lavapipe costs ~40 µs per dispatch.
use std::sync::{Mutex, MutexGuard, OnceLock};

use proptest::prelude::*;
use tessera_dsl::graph::{
    adamw, compile, grad, AdamWConfig, DType, Graph, NodeId, Op, Plan, PlanOptions, Role, UnaryOp,
};
use tessera_runtime::backend::{BackendError, Executor};
use tessera_runtime::cpu::CpuExecutor;
use tessera_runtime::gpu::{require_gpu, GpuBackend};

mod attention_rounding;

/// One device and pipeline cache for the whole file (tests lock it in turn).
fn gpu() -> Option<MutexGuard<'static, GpuBackend>> {
    static GPU: OnceLock<Option<Mutex<GpuBackend>>> = OnceLock::new();
    GPU.get_or_init(|| {
        require_gpu().map(|ctx| Mutex::new(GpuBackend::with_context(std::sync::Arc::new(ctx))))
    })
    .as_ref()
    .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
}

/// SplitMix64: deterministic values for a seed.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }
    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.range(-2.0, 2.0)).collect()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Leaf values: named ones given, every other float leaf random in [-2, 2).
#[derive(Default)]
struct Feed {
    data: Vec<(String, Vec<f64>)>,
    index: Vec<(String, Vec<u32>)>,
}

impl Feed {
    fn data(mut self, name: &str, v: Vec<f64>) -> Self {
        self.data.push((name.into(), v));
        self
    }
    fn index(mut self, name: &str, v: Vec<u32>) -> Self {
        self.index.push((name.into(), v));
        self
    }
    fn complete(mut self, g: &Graph, rng: &mut Rng) -> Self {
        for (name, id) in g.leaves() {
            let node = g.node(id);
            let given = self.data.iter().any(|(n, _)| n == name);
            if node.dtype == DType::Data && !matches!(node.role, Role::State { .. }) && !given {
                self.data.push((name.into(), rng.vec(node.numel())));
            }
        }
        self
    }
}

/// `‖a − b‖ / ‖b‖` (absolute below a norm of 1e-6); NaN or infinity never passes.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    rel_err_floor(a, b, 1e-6)
}

/// `‖a − b‖ / max(‖b‖, floor)`; NaN or infinity never passes.
fn rel_err_floor(a: &[f64], b: &[f64], floor: f64) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    if a.iter().chain(b).any(|x| !x.is_finite()) {
        return f64::INFINITY;
    }
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>();
    let den: f64 = b.iter().map(|y| y * y).sum::<f64>();
    num.sqrt() / den.sqrt().max(floor).max(1e-6)
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn has_op(plan: &Plan, pred: impl Fn(&Op) -> bool) -> bool {
    plan.steps.iter().any(|s| pred(&plan.graph.node(s.node).op))
}

/// The outputs of `plan` run on the CPU in f64 with every float leaf replaced by its absolute
/// value: the scale of each output without cancellation (a sum of mixed signs can be far
/// smaller than the rounding of its terms, in any order of summation).
fn magnitudes(plan: &Plan, outputs: &[NodeId], feed: &Feed) -> Vec<f64> {
    run_cpu(plan, outputs, feed, f64::abs)
        .iter()
        .map(|v| {
            let m = norm(v);
            if m.is_finite() {
                m
            } else {
                0.0
            }
        })
        .collect()
}

/// `plan` run on the CPU in f64 with every float input passed through `map`: the values of
/// `outputs`.
fn run_cpu(
    plan: &Plan,
    outputs: &[NodeId],
    feed: &Feed,
    mut map: impl FnMut(f64) -> f64,
) -> Vec<Vec<f64>> {
    let mut cpu = CpuExecutor::<f64>::new(plan).expect("cpu executor");
    for (n, v) in &feed.data {
        let mapped: Vec<f64> = v.iter().map(|&x| map(x)).collect();
        cpu.set_any(n, &mapped).expect("set");
    }
    for (n, v) in &feed.index {
        cpu.set_index_input(n, v).expect("set index");
    }
    cpu.run().expect("cpu run");
    outputs
        .iter()
        .map(|&o| cpu.read(o).expect("read"))
        .collect()
}

/// The inputs as the GPU receives them (rounded to f32), so that the f64 reference and the
/// GPU differ by their arithmetic only.
fn as_f32(x: f64) -> f64 {
    f64::from(x as f32)
}

/// Runs `plan` on the CPU in f64 and on the GPU; returns (gpu, cpu) values of `outputs`.
fn run_both(
    gpu: &mut GpuBackend,
    plan: &Plan,
    outputs: &[NodeId],
    feed: &Feed,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mut dev = gpu.compile(plan, "test plan").expect("gpu executor");
    for (n, v) in &feed.data {
        let v32: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        dev.set_any(n, &v32).expect("set on gpu");
    }
    for (n, v) in &feed.index {
        dev.set_index_input(n, v).expect("set index on gpu");
    }
    dev.run().expect("gpu run");
    let want = run_cpu(plan, outputs, feed, as_f32);
    let got: Vec<Vec<f64>> = dev
        .read_many(outputs)
        .expect("gpu read")
        .into_iter()
        .map(|v| v.into_iter().map(f64::from).collect())
        .collect();
    (got, want)
}

/// Compiles `g` for `outputs` and checks every output on the GPU against the f64 CPU run:
/// relative error below `tol`, relative to the output's norm or, where the output cancels
/// (a signed sum), to a tenth of its cancellation-free magnitude. Returns the plan (for
/// assertions about which kernels ran).
fn check(g: &Graph, outputs: &[NodeId], feed: &Feed, tol: f64) -> Option<Plan> {
    check_scaled(g, outputs, feed, tol, &[])
}

/// [`check`], with cancellation-free magnitudes that the absolute-value run cannot give
/// (see `attention_rounding`) for some outputs: `(output, magnitude)`.
fn check_scaled(
    g: &Graph,
    outputs: &[NodeId],
    feed: &Feed,
    tol: f64,
    known: &[(NodeId, f64)],
) -> Option<Plan> {
    let mut gpu = gpu()?;
    let plan = compile(g, outputs, &PlanOptions::default()).expect("compile");
    let (got, want) = run_both(&mut gpu, &plan, outputs, feed);
    let mut mags = magnitudes(&plan, outputs, feed);
    for &(node, m) in known {
        let k = outputs
            .iter()
            .position(|&o| o == node)
            .expect("a checked output");
        mags[k] = mags[k].max(m);
    }
    for (k, (a, b)) in got.iter().zip(&want).enumerate() {
        let e = rel_err_floor(a, b, 0.1 * mags[k]);
        assert!(
            e < tol,
            "output {k} (node {:?}, {}): rel err {e:e}\n gpu {a:?}\n cpu {b:?}",
            outputs[k],
            plan.graph.node(plan.resolve(outputs[k]).unwrap()).op.name()
        );
    }
    Some(plan)
}

/// Forward and backward of `y`: `loss = Σ y ∘ r` with `r` random, differentiated with respect
/// to every trainable parameter; checks y, the loss and every gradient.
fn check_with_grads(g: &mut Graph, y: NodeId, feed: Feed, seed: u64) -> Option<Plan> {
    check_with_grads_scaled(g, y, feed, seed, |_| Vec::new())
}

/// [`check_with_grads`], with `known(inputs)` giving cancellation-free magnitudes of some
/// parameters' gradients: `(parameter name, magnitude)`. `inputs` holds every leaf's values,
/// `__r` (the gradient arriving at `y`) included.
fn check_with_grads_scaled(
    g: &mut Graph,
    y: NodeId,
    feed: Feed,
    seed: u64,
    known: impl FnOnce(&Inputs) -> Vec<(&'static str, f64)>,
) -> Option<Plan> {
    let ys = g.shape(y).to_vec();
    let r = g.frozen("__r", &ys).unwrap();
    let yr = g.mul(y, r).unwrap();
    let loss = g.sum_all(yr).unwrap();
    let params = g.trainable_params();
    let grads = grad(g, loss, &params).unwrap();
    let mut outs = vec![y, loss];
    outs.extend(params.iter().map(|&p| grads.get(p).expect("gradient")));
    let feed = feed.complete(g, &mut Rng(seed ^ 0xfeed));
    let inputs = Inputs(&feed);
    let mut known: Vec<(NodeId, f64)> = known(&inputs)
        .into_iter()
        .map(|(name, m)| {
            let (_, p) = g.leaves().find(|(n, _)| *n == name).expect("a leaf");
            (grads.get(p).expect("gradient"), m)
        })
        .collect();
    // The loss is a signed sum of y ∘ r, which the absolute-value run does not make
    // cancellation-free when y itself subtracts (y = h − t with h ≈ t): its magnitude is
    // Σ |y| |r|, from y's f64 values.
    let y_plan = compile(g, &[y], &PlanOptions::default()).expect("compile");
    let y_values = &run_cpu(&y_plan, &[y], &feed, as_f32)[0];
    let loss_scale: f64 = y_values
        .iter()
        .zip(inputs.get("__r"))
        .map(|(a, b)| (a * b).abs())
        .sum();
    known.push((loss, loss_scale));
    check_scaled(g, &outs, &feed, 1e-5, &known)
}

/// The values a check feeds, by leaf name, rounded to f32 as the GPU receives them.
struct Inputs<'a>(&'a Feed);

impl Inputs<'_> {
    fn get(&self, name: &str) -> Vec<f64> {
        let (_, v) = self.0.data.iter().find(|(n, _)| n == name).expect("fed");
        v.iter().map(|&x| as_f32(x)).collect()
    }
}

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn shape_of(rank: usize, dims: &[usize]) -> Vec<usize> {
    dims[..rank].to_vec()
}

const UNARY: [UnaryOp; 10] = [
    UnaryOp::Affine {
        mul: -1.75,
        add: 0.5,
    },
    UnaryOp::GeluErf,
    UnaryOp::GeluTanh,
    UnaryOp::Relu,
    UnaryOp::Exp,
    UnaryOp::Log,
    UnaryOp::Sqrt,
    UnaryOp::Recip,
    UnaryOp::Square,
    UnaryOp::Tanh,
];

proptest! {
    #![proptest_config(cfg(24))]

    #[test]
    fn unary_forward_and_grad(op in 0usize..10, rank in 1usize..4,
                              dims in prop::array::uniform3(1usize..6), seed: u64) {
        let op = UNARY[op];
        let shape = shape_of(rank, &dims);
        let n: usize = shape.iter().product();
        let mut rng = Rng(seed);
        // Log, sqrt and recip need positive inputs; the rest see both signs and |x| up to 3.
        let x: Vec<f64> = match op {
            UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Recip => {
                (0..n).map(|_| rng.range(0.3, 3.0)).collect()
            }
            _ => (0..n).map(|_| rng.range(-3.0, 3.0)).collect(),
        };
        let mut g = Graph::new();
        let xi = g.param("x", &shape, true).unwrap();
        let y = g.unary(op, xi).unwrap();
        check_with_grads(&mut g, y, Feed::default().data("x", x), seed);
    }

    #[test]
    fn binary_broadcast_forward_and_grad(b in 1usize..4, l in 1usize..5, d in 1usize..5,
                                         which in 0usize..6, op in 0usize..4, seed: u64) {
        // The second operand broadcasts in every way NumPy allows against [b, l, d].
        let sb: Vec<usize> = match which {
            0 => vec![d],
            1 => vec![1, l, d],
            2 => vec![b, l, 1],
            3 => vec![b, 1, d],
            4 => vec![],
            _ => vec![b, l, d],
        };
        let mut rng = Rng(seed);
        let nb: usize = sb.iter().product();
        // Divisors away from zero.
        let bv: Vec<f64> = (0..nb)
            .map(|_| rng.range(0.5, 2.0) * if rng.below(2) == 0 { 1.0 } else { -1.0 })
            .collect();
        let mut g = Graph::new();
        let a = g.param("a", &[b, l, d], true).unwrap();
        let bn = g.param("b", &sb, true).unwrap();
        let y = match op {
            0 => g.add(a, bn),
            1 => g.sub(bn, a),
            2 => g.mul(a, bn),
            _ => g.div(a, bn),
        }
        .unwrap();
        check_with_grads(&mut g, y, Feed::default().data("b", bv), seed);
    }

    #[test]
    fn fused_programs_forward_and_grad(b in 1usize..4, d in 1usize..6, seed: u64) {
        // An MLP-like chain: gelu(x·s + bias) · gate − exp(tanh(x)) / 2; fusion turns each
        // elementwise chain (and its backward) into one program.
        let mut g = Graph::new();
        let x = g.param("x", &[b, 3, d], true).unwrap();
        let s = g.param("s", &[b, 3, d], true).unwrap();
        let bias = g.param("bias", &[d], true).unwrap();
        let gate = g.param("gate", &[b, 1, d], true).unwrap();
        let h = g.mul(x, s).unwrap();
        let h = g.add(h, bias).unwrap();
        let h = g.gelu_erf(h).unwrap();
        let h = g.mul(h, gate).unwrap();
        let t = g.tanh(x).unwrap();
        let t = g.exp(t).unwrap();
        let t = g.scale(t, 0.5).unwrap();
        let y = g.sub(h, t).unwrap();
        if let Some(plan) = check_with_grads(&mut g, y, Feed::default(), seed) {
            prop_assert!(has_op(&plan, |op| matches!(op, Op::Fused(_))), "no fused step");
        }
    }

    #[test]
    fn layout_ops_forward_and_grad(a in 1usize..4, bdim in 1usize..5, c in 1usize..4,
                                   which in 0usize..6, seed: u64) {
        let mut g = Graph::new();
        let x = g.param("x", &[a, bdim, c], true).unwrap();
        let y = match which {
            0 => {
                let z = g.param("z", &[a, 2, c], true).unwrap();
                g.concat(&[x, z, x], 1).unwrap()
            }
            1 => g.slice(x, 1, bdim / 2, bdim - bdim / 2).unwrap(),
            2 => g.pad(x, 2, 1, c + 3).unwrap(),
            3 => g.permute(x, &[2, 0, 1]).unwrap(),
            4 => g.roll(x, &[(1, 1), (2, -1)]).unwrap(),
            _ => g.expand(x, &[2, a, bdim, c]).unwrap(),
        };
        check_with_grads(&mut g, y, Feed::default(), seed);
    }

    #[test]
    fn sums_forward_and_grad(a in 1usize..4, b in 1usize..6, c in 1usize..5,
                             which in 0usize..5, seed: u64) {
        let mut g = Graph::new();
        let x = g.param("x", &[a, b, c], true).unwrap();
        let y = match which {
            0 => g.sum(x, 0, false).unwrap(),
            1 => g.sum(x, 1, true).unwrap(),
            2 => g.mean(x, 2, false).unwrap(),
            3 => g.sum_to(x, &[b, 1]).unwrap(),
            _ => g.sum_all(x).unwrap(),
        };
        check_with_grads(&mut g, y, Feed::default(), seed);
    }

    #[test]
    fn gather_rows_forward_and_grad(b in 1usize..4, l in 1usize..7, d in 1usize..40,
                                    shared_x: bool, shared_idx: bool, seed: u64) {
        let mut rng = Rng(seed);
        let k = 1 + rng.below(l + 2);
        let (bx, bi) = (if shared_x { 1 } else { b }, if shared_idx { 1 } else { b });
        // Repeated indices: the backward scatter must add them.
        let idx: Vec<u32> = (0..bi * k).map(|_| rng.below(l) as u32).collect();
        let mut g = Graph::new();
        let x = g.param("x", &[bx, l, d], true).unwrap();
        let i = g.index_input("idx", &[bi, k]).unwrap();
        let y = g.gather_rows(x, i).unwrap();
        let plan = check_with_grads(&mut g, y, Feed::default().index("idx", idx), seed);
        if let Some(plan) = plan {
            prop_assert!(has_op(&plan, |op| matches!(op, Op::ScatterRows { .. })), "no scatter");
        }
    }

    #[test]
    fn scatter_rows_forward(b in 1usize..4, k in 1usize..6, d in 1usize..70, len in 1usize..6,
                            sum_batches: bool, seed: u64) {
        let mut rng = Rng(seed);
        let idx: Vec<u32> = (0..b * k).map(|_| rng.below(len) as u32).collect();
        let mut g = Graph::new();
        let src = g.param("src", &[b, k, d], true).unwrap();
        let i = g.index_input("idx", &[b, k]).unwrap();
        let y = g.scatter_rows(src, i, len, sum_batches).unwrap();
        check_with_grads(&mut g, y, Feed::default().index("idx", idx), seed);
    }

    #[test]
    fn layer_norm_and_softmax_forward_and_grad(b in 1usize..4, l in 1usize..140,
                                               d in 4usize..24, softmax: bool, seed: u64) {
        // Up to 420 rows: the weight gradient then sums row chunks through scratch. Rows of
        // at least 4: below that dx is a near-total cancellation (x̂ = ±1 for d = 2), whose
        // rounding no backend controls.
        let mut g = Graph::new();
        let x = g.param("x", &[b, l, d], true).unwrap();
        let y = if softmax {
            let s = g.scale(x, 3.0).unwrap();
            g.softmax(s).unwrap()
        } else {
            let w = g.param("w", &[d], true).unwrap();
            let bias = g.param("bias", &[d], true).unwrap();
            g.layer_norm(x, w, bias, 1e-5).unwrap()
        };
        check_with_grads(&mut g, y, Feed::default(), seed);
    }

    #[test]
    fn attention_forward_and_grad(b in 1usize..3, h in 1usize..3, lq in 1usize..9,
                                  lk in 1usize..9, d in 1usize..9, bias in 0usize..3,
                                  seed: u64) {
        attention_case(b, h, lq, lk, d, bias, seed);
    }

    #[test]
    fn self_attention_forward_and_grad(b in 1usize..3, heads in 1usize..4, l in 1usize..10,
                                       d in 1usize..6, bias: bool, seed: u64) {
        self_attention_case(b, heads, l, d, bias, seed)?;
    }

    #[test]
    fn norm_pix_forward(rows in 1usize..9, d in 2usize..40, eps_on_std: bool, seed: u64) {
        let mut g = Graph::new();
        let x = g.input("x", &[rows, d]).unwrap();
        let y = g.norm_pix_with(x, 1e-6, eps_on_std).unwrap();
        let feed = Feed::default().complete(&g, &mut Rng(seed));
        check(&g, &[y], &feed, 1e-5);
    }

    #[test]
    fn masked_mse_forward_and_grad(b in 1usize..4, l in 1usize..9, p in 1usize..20, seed: u64) {
        let mut rng = Rng(seed);
        // At least one removed patch per batch, as MAE's loss assumes.
        let mask: Vec<f64> = (0..b * l)
            .map(|i| if i % l == 0 || rng.below(2) == 0 { 1.0 } else { 0.0 })
            .collect();
        let mut g = Graph::new();
        let pred = g.param("pred", &[b, l, p], true).unwrap();
        let t = g.input("t", &[b, l, p]).unwrap();
        let m = g.input("mask", &[b, l]).unwrap();
        let y = g.masked_mse(pred, t, m).unwrap();
        check_with_grads(&mut g, y, Feed::default().data("mask", mask), seed);
    }

    #[test]
    fn cross_entropy_forward_and_grad(n in 1usize..12, v in 2usize..30, seed: u64) {
        let mut rng = Rng(seed);
        let labels: Vec<u32> = (0..n).map(|_| rng.below(v) as u32).collect();
        let w: Vec<f64> = (0..n).map(|_| rng.range(0.2, 2.0)).collect();
        let logits: Vec<f64> = (0..n * v).map(|_| rng.range(-6.0, 6.0)).collect();
        let mut g = Graph::new();
        let x = g.param("logits", &[n, v], true).unwrap();
        let l = g.index_input("labels", &[n]).unwrap();
        let wi = g.input("w", &[n]).unwrap();
        let y = g.cross_entropy(x, l, wi).unwrap();
        let feed = Feed::default()
            .data("logits", logits)
            .data("w", w)
            .index("labels", labels);
        check_with_grads(&mut g, y, feed, seed);
    }
}

/// Three AdamW steps (decayed and exempt parameters, varying lr) on both backends: the
/// parameters, both moments and the size of each update agree.
#[test]
fn adamw_steps_match_the_cpu() {
    let Some(mut gpu) = gpu() else { return };
    let mut g = Graph::new();
    let w = g.param("fc.weight", &[7, 5], true).unwrap();
    let b = g.param("fc.bias", &[7], true).unwrap();
    let x = g.input("x", &[3, 5]).unwrap();
    let y = g.linear_free(x, w, b);
    let loss = g.mean_all(y).unwrap();
    let grads = grad(&mut g, loss, &[w, b]).unwrap();
    let opt = adamw(&mut g, &grads, &AdamWConfig::mae_pretrain(0.05)).unwrap();
    let mut outs = vec![loss];
    outs.extend(&opt.updates);
    let plan = compile(&g, &outs, &PlanOptions::default()).unwrap();
    let mut rng = Rng(7);
    let mut cpu = CpuExecutor::<f64>::new(&plan).unwrap();
    let mut dev = gpu.compile(&plan, "adamw test").unwrap();
    let params: Vec<(&str, Vec<f64>)> = vec![("fc.weight", rng.vec(35)), ("fc.bias", rng.vec(7))];
    for (n, v) in &params {
        cpu.set_param(n, v).unwrap();
        dev.set_param(n, &v.iter().map(|&x| x as f32).collect::<Vec<_>>())
            .unwrap();
    }
    for t in 1..=3 {
        let xv = rng.vec(15);
        let lr = 1e-3 * t as f64;
        cpu.set_input("x", &xv).unwrap();
        dev.set_input("x", &xv.iter().map(|&x| x as f32).collect::<Vec<_>>())
            .unwrap();
        cpu.set_input(opt.lr_name(), &[lr]).unwrap();
        dev.set_input(opt.lr_name(), &[lr as f32]).unwrap();
        cpu.set_input(opt.step_name(), &[t as f64]).unwrap();
        dev.set_input(opt.step_name(), &[t as f32]).unwrap();
        cpu.run().unwrap();
        dev.run().unwrap();
    }
    for (p, m, v) in &opt.state {
        for name in [p, m, v] {
            let want = cpu.read_name(name).unwrap();
            let got: Vec<f64> = dev
                .read_name(name)
                .unwrap()
                .into_iter()
                .map(f64::from)
                .collect();
            let e = rel_err(&got, &want);
            assert!(e < 1e-5, "{name}: rel err {e:e}");
        }
        // The total change of the parameter, which is small next to the parameter itself.
        let start = &params.iter().find(|(n, _)| n == p).unwrap().1;
        let dw: Vec<f64> = cpu
            .read_name(p)
            .unwrap()
            .iter()
            .zip(start)
            .map(|(a, b)| a - b)
            .collect();
        let dg: Vec<f64> = dev
            .read_name(p)
            .unwrap()
            .iter()
            .zip(start)
            .map(|(&a, b)| f64::from(a) - (*b as f32) as f64)
            .collect();
        let e = rel_err(&dg, &dw);
        assert!(e < 1e-3, "{p}: update rel err {e:e}");
    }
}

/// Indices are checked when they are set, with the CPU backend's error.
#[test]
fn out_of_range_indices_are_refused() {
    let Some(mut gpu) = gpu() else { return };
    let mut g = Graph::new();
    let x = g.input("x", &[2, 4, 3]).unwrap();
    let i = g.index_input("idx", &[2, 2]).unwrap();
    let y = g.gather_rows(x, i).unwrap();
    let plan = compile(&g, &[y], &PlanOptions::default()).unwrap();
    let mut dev = gpu.compile(&plan, "index test").unwrap();
    let err = dev.set_index_input("idx", &[0, 3, 4, 1]).unwrap_err();
    assert!(
        matches!(
            err,
            BackendError::IndexOutOfRange {
                index: 4,
                len: 4,
                ..
            }
        ),
        "{err}"
    );
    let err = dev.set_input("x", &[1.0; 5]).unwrap_err();
    assert!(matches!(
        err,
        BackendError::WrongLength {
            expected: 24,
            got: 5,
            ..
        }
    ));
    assert!(matches!(
        dev.set_input("nope", &[]).unwrap_err(),
        BackendError::UnknownName(_)
    ));
}

/// `Σ x·wᵀ + b` without a matmul: elementwise products and sums only, so the optimizer test
/// does not depend on the matmul kernel.
trait LinearFree {
    fn linear_free(&mut self, x: NodeId, w: NodeId, b: NodeId) -> NodeId;
}

impl LinearFree for Graph {
    fn linear_free(&mut self, x: NodeId, w: NodeId, b: NodeId) -> NodeId {
        // x [N, K] → [N, 1, K]; w [M, K] → [1, M, K]; product summed over K → [N, M].
        let (n, k) = (self.shape(x)[0], self.shape(x)[1]);
        let m = self.shape(w)[0];
        let xe = self.reshape(x, &[n, 1, k]).unwrap();
        let we = self.reshape(w, &[1, m, k]).unwrap();
        let p = self.mul(xe, we).unwrap();
        let s = self.sum(p, 2, false).unwrap();
        let s = self.gelu_tanh(s).unwrap();
        self.add(s, b).unwrap()
    }
}

/// A plan that does not fit the device is refused before anything is allocated, naming the
/// plan, the tensor and the sizes.
#[test]
fn plans_beyond_the_device_limits_are_refused() {
    let Some(mut gpu) = gpu() else { return };
    let limits = gpu.context().device.limits();
    // One tensor larger than a storage binding may be.
    let too_long = (limits.max_storage_buffer_binding_size / 4 + 1) as usize;
    let mut g = Graph::new();
    let x = g.input("huge_input", &[too_long]).unwrap();
    let y = g.scale(x, 2.0).unwrap();
    let plan = compile(&g, &[y], &PlanOptions::default()).unwrap();
    let err = gpu
        .compile(&plan, "the huge model")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("huge_input") && err.contains("the huge model") && err.contains("allows"),
        "{err}"
    );
    // Tensors that each fit a binding but not together in one buffer.
    let each = (limits.max_storage_buffer_binding_size / 4 / 2) as usize;
    let count = (limits.max_buffer_size / (each as u64 * 4) + 2) as usize;
    let mut g = Graph::new();
    let xs: Vec<NodeId> = (0..count)
        .map(|i| g.input(&format!("x{i}"), &[each]).unwrap())
        .collect();
    let plan = compile(&g, &xs, &PlanOptions::default()).unwrap();
    let err = gpu
        .compile(&plan, "the wide model")
        .unwrap_err()
        .to_string();
    assert!(err.contains("arena of the wide model"), "{err}");
}

/// The profile covers every launch of the plan once, under its kernel's name.
#[test]
fn profile_times_every_launch() {
    let Some(mut gpu) = gpu() else { return };
    let mut g = Graph::new();
    let x = g.param("x", &[4, 6], true).unwrap();
    let i = g.index_input("idx", &[3]).unwrap();
    let h = g.gelu_erf(x).unwrap();
    let r = g.gather_rows(h, i).unwrap();
    let loss = g.sum_all(r).unwrap();
    let grads = grad(&mut g, loss, &[x]).unwrap();
    let gx = grads.get(x).unwrap();
    let plan = compile(&g, &[loss, gx], &PlanOptions::default()).unwrap();
    let mut dev = gpu.compile(&plan, "profile test").unwrap();
    dev.set_param("x", &[0.5; 24]).unwrap();
    dev.set_index_input("idx", &[3, 0, 3]).unwrap();
    let prof = dev.profile().unwrap();
    let launches: usize = prof.iter().map(|(_, _, n)| n).sum();
    assert_eq!(launches, dev.dispatch_count());
    for kernel in ["elementwise", "gather_rows", "scatter_rows", "sum_to"] {
        assert!(
            prof.iter().any(|(k, _, _)| k == kernel),
            "{kernel} missing: {prof:?}"
        );
    }
    assert!(prof.iter().all(|(_, s, _)| s.is_finite() && *s >= 0.0));
    assert!(
        prof.windows(2).all(|w| w[0].1 >= w[1].1),
        "not sorted: {prof:?}"
    );
    // The profiled run computed the same values as a plain run: d/dx Σ gelu(x)[rows 3, 0, 3].
    let got = dev.read(gx).unwrap();
    let d = tessera_dsl::graph::scalar::unary_grad(UnaryOp::GeluErf, 0.5f64, 1.0) as f32;
    let want: Vec<f32> = (0..24)
        .map(|k| match k / 6 {
            3 => 2.0 * d,
            0 => d,
            _ => 0.0,
        })
        .collect();
    assert!(
        rel_err(
            &got.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            &want.iter().map(|&v| v as f64).collect::<Vec<_>>()
        ) < 1e-5
    );
}

/// Losing the device (here: destroying it) turns every later call into an error naming the
/// loss, not a panic or a hang.
#[test]
fn a_lost_device_is_an_error() {
    let Some(ctx) = require_gpu() else { return };
    let ctx = std::sync::Arc::new(ctx);
    let mut backend = GpuBackend::with_context(ctx.clone());
    let mut g = Graph::new();
    let x = g.input("x", &[5]).unwrap();
    let y = g.exp(x).unwrap();
    let plan = compile(&g, &[y], &PlanOptions::default()).unwrap();
    let mut dev = backend.compile(&plan, "device-loss test").unwrap();
    dev.set_input("x", &[0.5, -1.0, 2.0, 0.0, 1.5]).unwrap();
    dev.run().unwrap();
    assert!((dev.read(y).unwrap()[2] - 2f32.exp()).abs() < 1e-5);
    ctx.device.destroy();
    let err = dev.run().unwrap_err();
    assert!(err.to_string().contains("lost"), "{err}");
    let err = dev.read(y).unwrap_err();
    assert!(err.to_string().contains("lost"), "{err}");
}

/// Reductions longer than one workgroup's share run in parts (lavapipe ends an invocation's
/// loops after 65535 iterations: a single pass over these would silently stop early).
#[test]
fn long_reductions_run_in_parts() {
    let n = 2_600_000;
    let mut g = Graph::new();
    let x = g.input("x", &[n / 2, 2]).unwrap();
    let all = g.sum_all(x).unwrap();
    let cols = g.sum_to(x, &[2]).unwrap();
    let mut rng = Rng(3);
    // Positive values: no cancellation, so 1e-5 holds for any order of summation.
    let xv: Vec<f64> = (0..n).map(|_| rng.range(0.5, 1.5)).collect();
    let feed = Feed::default().data("x", xv);
    check(&g, &[all, cols], &feed, 1e-5);
}

/// Attention with separate q, k, v and a bias broadcast per head (`bias` 1), per key (2) or
/// none (0), forward and backward.
fn attention_case(b: usize, h: usize, lq: usize, lk: usize, d: usize, bias: usize, seed: u64) {
    // Separate q, k, v with a bias broadcast per head, per key, or none.
    let mut g = Graph::new();
    let q = g.param("q", &[b, h, lq, d], true).unwrap();
    let k = g.param("k", &[b, h, lk, d], true).unwrap();
    let v = g.param("v", &[b, h, lk, d + 1], true).unwrap();
    let bn = match bias {
        0 => None,
        1 => Some(g.param("bias", &[h, lq, lk], true).unwrap()),
        _ => Some(g.param("bias", &[b, 1, 1, lk], true).unwrap()),
    };
    let scale = 1.0 / (d as f64).sqrt();
    let y = g.attention(q, k, v, bn, scale).unwrap();
    check_with_grads_scaled(&mut g, y, Feed::default(), seed, |x| {
        let (qv, kv, vv, r) = (x.get("q"), x.get("k"), x.get("v"), x.get("__r"));
        let bv = if bias == 0 { Vec::new() } else { x.get("bias") };
        let at = |t, rows, cols| attention_rounding::indexed(t, h, rows, cols);
        let (fq, fk, fv, fr) = (
            at(&qv, lq, d),
            at(&kv, lk, d),
            at(&vv, lk, d + 1),
            at(&r, lq, d + 1),
        );
        let fb = |bi: usize, hi: usize, i: usize, j: usize| match bias {
            0 => 0.0,
            1 => bv[(hi * lq + i) * lk + j],
            _ => bv[bi * lk + j],
        };
        let m = attention_rounding::magnitudes(&attention_rounding::Problem {
            batch: b,
            heads: h,
            lq,
            lk,
            d,
            dv: d + 1,
            scale,
            q: &fq,
            k: &fk,
            v: &fv,
            bias: &fb,
            d_o: &fr,
        });
        // The bias gradient sums dS over the dimensions the bias broadcasts along.
        let mut db = vec![0.0; bv.len()];
        for (n, s) in m.ds.iter().enumerate() {
            let (j, i, hi, bi) = (n % lk, n / lk % lq, n / (lk * lq) % h, n / (lk * lq * h));
            match bias {
                0 => {}
                1 => db[(hi * lq + i) * lk + j] += s,
                _ => db[bi * lk + j] += s,
            }
        }
        let mut known = vec![("q", norm(&m.dq)), ("k", norm(&m.dk))];
        if bias != 0 {
            known.push(("bias", norm(&db)));
        }
        known
    });
}

/// A peaked softmax (one key takes almost the whole row) that random cases once drew: dq is
/// then far smaller than the rounding of the terms it is computed from, on either backend.
#[test]
fn attention_with_a_peaked_softmax() {
    attention_case(1, 1, 1, 2, 6, 0, 16400704208609160201);
}

/// Multi-head self-attention on a packed qkv projection `[B, L, 3·H·d]` (timm order), with a
/// bias per head or none, forward and backward.
fn self_attention_case(
    b: usize,
    heads: usize,
    l: usize,
    d: usize,
    bias: bool,
    seed: u64,
) -> Result<(), TestCaseError> {
    // One packed qkv projection [B, L, 3·H·d] (timm order), bias per head.
    let mut g = Graph::new();
    let qkv = g.param("qkv", &[b, l, 3 * heads * d], true).unwrap();
    let bn = bias.then(|| g.param("bias", &[1, heads, l, l], true).unwrap());
    let y = g.self_attention(qkv, heads, bn, 0.5).unwrap();
    let plan = check_with_grads_scaled(&mut g, y, Feed::default(), seed, |x| {
        let (qkv_v, r) = (x.get("qkv"), x.get("__r"));
        let bv = if bias { x.get("bias") } else { Vec::new() };
        // timm layout: channel s·D + h·d + c of token (b, i), s ∈ {q, k, v}.
        let width = heads * d;
        let part = |s: usize| {
            let t = &qkv_v;
            move |bi: usize, hi: usize, i: usize, c: usize| {
                t[(bi * l + i) * 3 * width + s * width + hi * d + c]
            }
        };
        let (fq, fk, fv) = (part(0), part(1), part(2));
        let fr = |bi: usize, hi: usize, i: usize, c: usize| r[(bi * l + i) * width + hi * d + c];
        let fb = |_: usize, hi: usize, i: usize, j: usize| {
            if bias {
                bv[(hi * l + i) * l + j]
            } else {
                0.0
            }
        };
        let m = attention_rounding::magnitudes(&attention_rounding::Problem {
            batch: b,
            heads,
            lq: l,
            lk: l,
            d,
            dv: d,
            scale: 0.5,
            q: &fq,
            k: &fk,
            v: &fv,
            bias: &fb,
            d_o: &fr,
        });
        // dqkv holds dq and dk (and dv, which does not cancel) in disjoint places.
        let mut known = vec![("qkv", norm(&m.dq).hypot(norm(&m.dk)))];
        if bias {
            // The bias [1, H, L, L] gets dS summed over the batch.
            let mut db = vec![0.0; heads * l * l];
            for (n, s) in m.ds.iter().enumerate() {
                db[n % (heads * l * l)] += s;
            }
            known.push(("bias", norm(&db)));
        }
        known
    });
    if let Some(plan) = plan {
        prop_assert!(
            has_op(&plan, |op| matches!(op, Op::SelfAttentionGrad { .. })),
            "no grad"
        );
    }
    Ok(())
}

/// A peaked softmax in packed self-attention with a bias, drawn once by random cases: the bias
/// gradient is dS summed, far smaller than the rounding of its terms.
#[test]
fn self_attention_with_a_peaked_softmax() {
    self_attention_case(1, 1, 2, 1, true, 1666911697799689185).unwrap();
}
