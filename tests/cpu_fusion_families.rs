//! CPU fusion reaches every family's training step: for each built preset, the step planned
//! for the CPU backend has fewer launches than the same step planned for any backend, and its
//! fused linear layers and LayerNorm backward are there. (Their values are checked by the CPU
//! op tests, fused against unfused, and by every family's parity fixture, which runs on the
//! CPU's fused plans.)
use tessera_dsl::graph::{compile, AdamWConfig, Plan, PlanOptions, Target};
use tessera_dsl::presets;
use tessera_models::build;
use tessera_models::model::Extras;

fn op_names(plan: &Plan) -> Vec<&'static str> {
    plan.steps
        .iter()
        .map(|s| plan.graph.node(s.node).op.name())
        .collect()
}

#[test]
fn every_built_family_gets_the_cpu_fused_kernels() {
    let mut families = std::collections::BTreeSet::new();
    for (name, spec) in presets::ALL {
        let Ok(model) = build(spec) else {
            continue;
        };
        let sg = model
            .step_graph(
                model.step_shape(2),
                &Extras::TrainStep(AdamWConfig::mae_pretrain(0.05)),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let plan = |target| {
            compile(&sg.graph, &sg.outputs(), &PlanOptions::for_target(target))
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let (any, cpu) = (plan(Target::Any), plan(Target::Cpu));
        let names = op_names(&cpu);
        assert!(
            cpu.steps.len() < any.steps.len(),
            "{name}: {} launches on the CPU, {} for any backend",
            cpu.steps.len(),
            any.steps.len()
        );
        for op in ["linear_act", "linear_act_grad", "layer_norm_grad"] {
            assert!(names.contains(&op), "{name}: no {op} in its CPU plan");
        }
        assert!(
            !op_names(&any).iter().any(|n| names_cpu_only(n)),
            "{name}: a plan for any backend holds a CPU-only kernel"
        );
        eprintln!(
            "{name}: {} -> {} launches",
            any.steps.len(),
            cpu.steps.len()
        );
        families.insert(spec.family().name());
    }
    assert!(families.len() >= 6, "built families: {families:?}");
}

fn names_cpu_only(name: &str) -> bool {
    [
        "linear_act",
        "linear_residual",
        "linear_act_grad",
        "layer_norm_grad",
        "linear_input_sums",
    ]
    .contains(&name)
}
