//! Properties of the graph passes: buffer plans never alias two live tensors (random DAGs),
//! dead-node removal keeps exactly what outputs need, shape errors are typed, and the
//! learning-rate schedule follows MAE's `lr_sched`.
use proptest::prelude::*;
use tessera_dsl::graph::{
    compile, grad, BufSlot, Graph, GraphError, LrSchedule, NodeId, Op, PlanOptions, Space, Target,
};

/// Builds a random DAG of elementwise, matmul, layout and reduction nodes over a few leaves.
fn random_graph(ops: &[(u8, u16, u16)]) -> (Graph, Vec<NodeId>) {
    let mut g = Graph::new();
    let mut pool: Vec<NodeId> = vec![
        g.input("x", &[4, 6]).unwrap(),
        g.param("w", &[6, 6], true).unwrap(),
        g.param("b", &[6], true).unwrap(),
    ];
    for &(kind, i, j) in ops {
        let a = pool[i as usize % pool.len()];
        let b = pool[j as usize % pool.len()];
        let node = match kind % 7 {
            0 => g.add(a, b),
            1 => g.mul(a, b),
            2 => g.gelu_erf(a),
            3 => g.matmul(a, b, false, true),
            4 => g.reshape(a, &[g.shape(a).iter().product()]),
            5 => g.sum_to(a, &[1]),
            _ => g.concat(&[a, b], 0),
        };
        if let Ok(n) = node {
            pool.push(n);
        }
    }
    let outs = vec![*pool.last().unwrap()];
    (g, outs)
}

/// Independent check of a plan: derives each buffer's live steps from the step list alone
/// (a reshape shares its input's buffer) and asserts that no two buffers live at a common
/// step overlap in memory, and that no step writes over its own inputs.
fn assert_no_live_overlap(plan: &tessera_dsl::graph::Plan) {
    let g = &plan.graph;
    let n = g.len();
    let mut root: Vec<usize> = (0..n).collect();
    for i in 0..n {
        if g.nodes()[i].op == Op::Reshape {
            root[i] = root[g.nodes()[i].inputs[0].0 as usize];
        }
    }
    let mut span: Vec<Option<(usize, usize)>> = vec![None; n];
    let mut touch = |id: NodeId, t: usize| {
        let r = root[id.0 as usize];
        let e = span[r].get_or_insert((t, t));
        e.0 = e.0.min(t);
        e.1 = e.1.max(t);
    };
    for (t, step) in plan.steps.iter().enumerate() {
        let node = g.node(step.node);
        node.inputs.iter().for_each(|&x| touch(x, t));
        touch(step.node, t);
        for k in 1..=node.op.extra_outputs() {
            if let Some(e) = g.extra_of(step.node, k as u8) {
                touch(e, t);
            }
        }
        for o in &step.outputs {
            for i in &step.inputs {
                if o.space == i.space && o.len > 0 && i.len > 0 {
                    assert!(
                        o.range().end <= i.offset || i.range().end <= o.offset,
                        "step {t}: output {o:?} overlaps input {i:?}"
                    );
                }
            }
        }
    }
    let bufs: Vec<(BufSlot, usize, usize)> = (0..n)
        .filter_map(|i| Some((plan.slots[i]?, span[i]?)))
        .filter(|(s, _)| s.space == Space::Data && s.len > 0 && s.offset >= plan.pinned_len)
        .map(|(s, (a, b))| (s, a, b))
        .collect();
    for (x, (a, a0, a1)) in bufs.iter().enumerate() {
        assert!(a.range().end <= plan.data_len, "slot past the arena");
        for (b, b0, b1) in &bufs[x + 1..] {
            let same_time = a0 <= b1 && b0 <= a1;
            let disjoint = a.range().end <= b.offset || b.range().end <= a.offset;
            assert!(!same_time || disjoint, "live buffers overlap: {a:?} {b:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn buffer_plans_never_alias_live_tensors(
        ops in proptest::collection::vec((any::<u8>(), any::<u16>(), any::<u16>()), 1..40),
        fuse: bool,
        cpu: bool,
    ) {
        let target = if cpu { Target::Cpu } else { Target::Any };
        let (mut g, outs) = random_graph(&ops);
        let plan = compile(&g, &outs, &PlanOptions { fuse, target }).unwrap();
        assert_no_live_overlap(&plan);
        // The same with a backward pass appended, when the output is differentiable.
        let loss = g.sum_all(outs[0]).unwrap();
        let params = g.trainable_params();
        if let Ok(grads) = grad(&mut g, loss, &params) {
            let mut want = vec![loss];
            want.extend(grads.iter().map(|(_, d)| d));
            let plan = compile(&g, &want, &PlanOptions { fuse, target }).unwrap();
            assert_no_live_overlap(&plan);
        }
    }
}

#[test]
fn liveness_reuses_memory_in_a_chain() {
    // x → 10 chained unary ops: only two transients are ever live, so the transient region holds
    // two buffers, not ten.
    let mut g = Graph::new();
    let mut x = g.input("x", &[1000]).unwrap();
    for _ in 0..5 {
        x = g.gelu_erf(x).unwrap();
        x = g.exp(x).unwrap();
    }
    let plan = compile(&g, &[x], &PlanOptions::default().unfused()).unwrap();
    assert_no_live_overlap(&plan);
    let transient = plan.data_len - plan.pinned_len;
    assert!(
        transient <= 2 * 1008,
        "transient region {transient} elements"
    );
    // With fusion the whole chain is one kernel.
    let fused = compile(&g, &[x], &PlanOptions::default()).unwrap();
    assert_eq!(fused.steps.len(), 1);
    assert!(matches!(
        fused.graph.node(fused.steps[0].node).op,
        Op::Fused(_)
    ));
}

#[test]
fn dead_nodes_are_removed() {
    let mut g = Graph::new();
    let x = g.input("x", &[3, 4]).unwrap();
    let used = g.exp(x).unwrap();
    let _unused = g.log(x).unwrap();
    let plan = compile(&g, &[used], &PlanOptions::default()).unwrap();
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.graph.node(plan.steps[0].node).op.name(), "unary");
}

#[test]
fn shape_errors_are_typed_and_name_the_op() {
    let mut g = Graph::new();
    let a = g.input("a", &[2, 3]).unwrap();
    let b = g.input("b", &[4, 5]).unwrap();
    let err = g.matmul(a, b, false, false).unwrap_err();
    assert!(matches!(err, GraphError::Shape { op: "matmul", .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("matmul") && msg.contains("[2, 3]") && msg.contains("[4, 5]"),
        "{msg}"
    );
    let i = g.index_input("i", &[2]).unwrap();
    assert!(matches!(g.add(a, i), Err(GraphError::DType { .. })));
    assert!(matches!(
        g.add(a, b),
        Err(GraphError::Shape { op: "binary", .. })
    ));
    assert!(matches!(
        g.window_partition(a, 2),
        Err(GraphError::Shape { .. })
    ));
    assert!(matches!(
        g.input("a", &[1]),
        Err(GraphError::DuplicateName(_))
    ));
    let nonscalar = grad(&mut g, a, &[a]).unwrap_err();
    assert!(matches!(nonscalar, GraphError::NonScalarLoss(_)));
}

#[test]
fn frozen_tensors_get_no_gradient_and_shared_params_accumulate() {
    let mut g = Graph::new();
    let x = g.input("x", &[2, 3]).unwrap();
    let pos = g.frozen("pos_embed", &[3]).unwrap();
    let w = g.param("w", &[3], true).unwrap();
    let h = g.add(x, pos).unwrap();
    let h = g.mul(h, w).unwrap();
    let h = g.mul(h, w).unwrap(); // w used twice
    let loss = g.sum_all(h).unwrap();
    let grads = grad(&mut g, loss, &[w, pos]).unwrap();
    assert!(grads.get(pos).is_none(), "frozen tensors have no gradient");
    assert!(grads.get(w).is_some());
}

#[test]
fn lr_schedule_matches_mae_lr_sched() {
    let s = LrSchedule {
        base_lr: 1.5e-4 * 4096.0 / 256.0,
        min_lr: 0.0,
        warmup_epochs: 40.0,
        epochs: 800.0,
    };
    assert_eq!(LrSchedule::scaled_base(1.5e-4, 4096), s.base_lr);
    // Linear warm-up, per step at fractional epochs.
    assert!((s.lr_at_step(0, 0, 100) - 0.0).abs() < 1e-15);
    assert!((s.lr_at_step(20, 50, 100) - s.base_lr * 20.5 / 40.0).abs() < 1e-12);
    // Peak at the end of warm-up, half at the middle of the cosine, min at the end.
    assert!((s.lr_at_epoch(40.0) - s.base_lr).abs() < 1e-12);
    assert!((s.lr_at_epoch(420.0) - s.base_lr / 2.0).abs() < 1e-12);
    assert!(s.lr_at_epoch(800.0).abs() < 1e-12);
    let t = LrSchedule { min_lr: 1e-6, ..s };
    let e = 100.0;
    let want =
        1e-6 + (s.base_lr - 1e-6) * 0.5 * (1.0 + (std::f64::consts::PI * 60.0 / 760.0).cos());
    assert!((t.lr_at_epoch(e) - want).abs() < 1e-15);
}
