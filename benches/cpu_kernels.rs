//! Criterion benchmarks of the CPU backend's kernels at the shapes of an MAE training step
//! (`mae_tiny_32`, batch 64: 1088 = 64·17 encoder rows of width 192, 4160 = 64·65 decoder
//! rows of width 128), so that a regression in one of them shows between commits.
//!
//! Each benchmark is a small graph compiled as the CPU backend compiles it and run by its
//! executor, the way a training step runs it. Where CPU fusion changes a group's kernels
//! (linear + GELU, LayerNorm's backward), the same graph is also timed as a plan for any
//! backend (`unfused`), which keeps the separate kernels: the pair shows what fusion buys.
//!
//! Run with `cargo bench --bench cpu_kernels`; the kernels use rayon's global pool (set
//! `RAYON_NUM_THREADS` to compare at a fixed thread count).
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tessera_dsl::graph::{compile, grad, DType, Graph, NodeId, PlanOptions, Role, Target};
use tessera_runtime::cpu::CpuExecutor;

/// Deterministic values in [-1, 1) (SplitMix64).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// An executor of `g` for `outputs` compiled for `target`, every float leaf filled.
fn executor(g: &Graph, outputs: &[NodeId], target: Target) -> CpuExecutor<f32> {
    let plan = compile(g, outputs, &PlanOptions::for_target(target)).expect("compile");
    let mut ex = CpuExecutor::<f32>::new(&plan).expect("executor");
    for (k, (name, id)) in g.leaves().enumerate() {
        let node = g.node(id);
        if node.dtype == DType::Data && !matches!(node.role, Role::State { .. }) {
            ex.set_any(name, &values(node.numel(), k as u64 + 1))
                .expect("set leaf");
        }
    }
    ex
}

/// `loss = Σ y ∘ r` (r a random frozen tensor) and the gradients of every trainable leaf:
/// the outputs of a forward + backward of `y`.
fn with_backward(g: &mut Graph, y: NodeId) -> Vec<NodeId> {
    let shape = g.shape(y).to_vec();
    let r = g.frozen("r", &shape).unwrap();
    let yr = g.mul(y, r).unwrap();
    let loss = g.sum_all(yr).unwrap();
    let params = g.trainable_params();
    let grads = grad(g, loss, &params).unwrap();
    let mut outs = vec![loss];
    outs.extend(params.iter().map(|&p| grads.get(p).unwrap()));
    outs
}

/// The step's GEMM shapes (m, k, n, transposed operand): the qkv and fc1 forward products,
/// fc2's, and the weight gradient of qkv (Xᵀ·dY, the transposed left operand).
fn gemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm");
    let shapes: [(&str, usize, usize, usize, bool); 6] = [
        ("1024x1024x1024", 1024, 1024, 1024, false),
        ("qkv 1088x192x576", 1088, 192, 576, false),
        ("fc2 1088x768x192", 1088, 768, 192, false),
        ("qkv weight grad 192x1088x576", 192, 1088, 576, true),
        ("fc1 weight grad 192x1088x768", 192, 1088, 768, true),
        ("fc1 weight grad 768x1088x192", 768, 1088, 192, true),
    ];
    for (name, m, k, n, trans_a) in shapes {
        let mut g = Graph::new();
        let a_shape = if trans_a { [k, m] } else { [m, k] };
        let a = g.input("a", &a_shape).unwrap();
        let b = g.input("b", &[k, n]).unwrap();
        let y = g.matmul(a, b, trans_a, false).unwrap();
        let mut ex = executor(&g, &[y], Target::Cpu);
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |bch| {
            bch.iter(|| ex.run().unwrap())
        });
    }
    group.finish();
}

/// An MLP block's forward + backward (fc1 + bias, exact GELU, fc2 + bias, residual add) at
/// the encoder's shape: CPU fusion puts the bias, the GELU and its gradient in the GEMMs.
fn mlp(c: &mut Criterion) {
    let (rows, d, hidden) = (1088, 192, 768);
    let mut g = Graph::new();
    let x = g.param("x", &[rows, d], true).unwrap();
    let w1 = g.param("fc1.weight", &[hidden, d], true).unwrap();
    let b1 = g.param("fc1.bias", &[hidden], true).unwrap();
    let w2 = g.param("fc2.weight", &[d, hidden], true).unwrap();
    let b2 = g.param("fc2.bias", &[d], true).unwrap();
    let h = g.linear(x, w1, Some(b1)).unwrap();
    let h = g.gelu_erf(h).unwrap();
    let h = g.linear(h, w2, Some(b2)).unwrap();
    let y = g.add(x, h).unwrap();
    let outs = with_backward(&mut g, y);
    let mut group = c.benchmark_group("mlp 1088x192x768 fwd+bwd");
    for (name, target) in [("fused", Target::Cpu), ("unfused", Target::Any)] {
        let mut ex = executor(&g, &outs, target);
        group.bench_function(name, |bch| bch.iter(|| ex.run().unwrap()));
    }
    group.finish();
}

/// Self-attention over a packed qkv projection, forward and forward + backward, at the
/// encoder's shape (17 tokens, 3 heads of 64) and the decoder's (65 tokens, 4 heads of 32).
fn attention(c: &mut Criterion) {
    let mut group = c.benchmark_group("self_attention");
    for (name, b, l, d, heads) in [
        ("encoder 64x17x192 h3", 64, 17, 192, 3),
        ("decoder 64x65x128 h4", 64, 65, 128, 4),
    ] {
        let mut g = Graph::new();
        let qkv = g.param("qkv", &[b, l, 3 * d], true).unwrap();
        let scale = 1.0 / ((d / heads) as f64).sqrt();
        let y = g.self_attention(qkv, heads, None, scale).unwrap();
        let mut fwd = executor(&g, &[y], Target::Cpu);
        group.bench_function(BenchmarkId::new("fwd", name), |bch| {
            bch.iter(|| fwd.run().unwrap())
        });
        let outs = with_backward(&mut g, y);
        let mut both = executor(&g, &outs, Target::Cpu);
        group.bench_function(BenchmarkId::new("fwd+bwd", name), |bch| {
            bch.iter(|| both.run().unwrap())
        });
    }
    group.finish();
}

/// LayerNorm forward + backward over the encoder's rows, with the weight and bias
/// gradients: one fused kernel on the CPU target, three (dx, dw, db) unfused.
fn layer_norm(c: &mut Criterion) {
    let (rows, d) = (1088, 192);
    let mut g = Graph::new();
    let x = g.param("x", &[rows, d], true).unwrap();
    let w = g.param("norm.weight", &[d], true).unwrap();
    let b = g.param("norm.bias", &[d], true).unwrap();
    let y = g.layer_norm(x, w, b, 1e-6).unwrap();
    let mut group = c.benchmark_group("layer_norm 1088x192");
    let mut fwd = executor(&g, &[y], Target::Cpu);
    group.bench_function("fwd", |bch| bch.iter(|| fwd.run().unwrap()));
    let outs = with_backward(&mut g, y);
    for (name, target) in [
        ("fwd+bwd fused", Target::Cpu),
        ("fwd+bwd unfused", Target::Any),
    ] {
        let mut ex = executor(&g, &outs, target);
        group.bench_function(name, |bch| bch.iter(|| ex.run().unwrap()));
    }
    group.finish();
}

criterion_group!(kernels, gemm, mlp, attention, layer_norm);
criterion_main!(kernels);
