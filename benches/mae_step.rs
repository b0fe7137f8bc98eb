//! Criterion benchmark of a whole MAE pre-training step (forward + backward + AdamW, masks
//! drawn every step as in PyTorch's forward), the way `tessera bench` and the trainer run
//! it: `mae_tiny_32` at batch 64 with the spec's 3/4 masked and with (almost) nothing masked
//! (1/64: the encoder over 63 of 64 tokens, the asymmetric speed-up's other side), and
//! `mae_fmnist_small` at batch 256. On the CPU backend always; on wgpu too where a GPU
//! adapter exists (a software one, such as lavapipe, would time the CPU again).
//!
//! `cargo bench --bench mae_step`; set `RAYON_NUM_THREADS` for a fixed thread count.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tessera_dsl::graph::{compile, AdamWConfig, LrSchedule, PlanOptions, Target};
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{MaskSpec, ModelSpec};
use tessera_dsl::{presets, Ratio};
use tessera_models::model::Extras;
use tessera_models::params::{init_params, normal};
use tessera_models::sample::Samples;
use tessera_models::step::TrainStep;
use tessera_models::{build, Model};
use tessera_runtime::backend::{BackendChoice, Device};

/// (label, preset, batch, mask ratio instead of the spec's).
const CASES: [(&str, &str, usize, Option<&str>); 3] = [
    ("mae_tiny_32 b64", "mae_tiny_32", 64, None),
    ("mae_tiny_32 b64 mask 1/64", "mae_tiny_32", 64, Some("1/64")),
    ("mae_fmnist_small b256", "mae_fmnist_small", 256, None),
];

fn model(preset: &str, mask: Option<&str>) -> Box<dyn Model> {
    let mut spec = presets::by_name(preset).expect("a tessera preset");
    if let (Some(text), ModelSpec::Mae(s)) = (mask, &mut spec) {
        s.mask = MaskSpec::Random {
            ratio: Ratio::parse(text).expect("an exact ratio"),
        };
    }
    build(&spec).expect("the preset builds")
}

/// Devices to time on: the CPU, and wgpu where a GPU adapter opens.
fn devices() -> Vec<(String, Device)> {
    let mut out = vec![("cpu".to_string(), Device::Cpu)];
    if let Ok(Device::Wgpu(gpu)) = Device::open(&BackendChoice::Wgpu { adapter: None }) {
        if !gpu.context().report.is_software() {
            out.push(("wgpu".to_string(), Device::Wgpu(gpu)));
        }
    }
    out
}

/// Launches of a step planned for any backend (elementwise fusion only) and for the CPU
/// backend (its own fused kernels too): what CPU fusion saves, printed beside the timings.
fn launches(model: &dyn Model, batch: usize) -> (usize, usize) {
    let sg = model
        .step_graph(
            model.step_shape(batch),
            &Extras::TrainStep(AdamWConfig::mae_pretrain(0.05)),
        )
        .expect("the step graph builds");
    let count = |target| {
        compile(&sg.graph, &sg.outputs(), &PlanOptions::for_target(target))
            .expect("the step plans")
            .steps
            .len()
    };
    (count(Target::Any), count(Target::Cpu))
}

fn mae_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("mae_step");
    group.sample_size(10);
    for (dev_name, mut device) in devices() {
        for (label, preset, batch, mask) in CASES {
            let model = model(preset, mask);
            let params = init_params(model.params(), 0);
            let mut step = TrainStep::new(
                model.as_ref(),
                batch,
                &params,
                AdamWConfig::mae_pretrain(0.05),
                &mut device,
            )
            .expect("the step plans");
            if dev_name == "cpu" {
                let (any, cpu) = launches(model.as_ref(), batch);
                eprintln!(
                    "{label}: {cpu} launches per step on the CPU, {any} planned for any backend"
                );
            }
            let mut rng = Rng::seed_from_u64(7);
            let n = batch * model.sample().pixel_numel();
            let images: Vec<f32> = (0..n).map(|_| normal(&mut rng) as f32).collect();
            let lr = LrSchedule::scaled_base(1.5e-4, batch);
            group.throughput(Throughput::Elements(batch as u64));
            let id = BenchmarkId::new(&dev_name, label);
            group.bench_function(id, |b| {
                b.iter(|| {
                    let samples = Samples::pixels(&images);
                    let inputs = model.step_inputs(&samples, &mut rng).expect("inputs");
                    step.step(&inputs, lr).expect("step")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(step, mae_step);
criterion_main!(step);
