//! What a model needs from a backend, now that there are two (the CPU backend and wgpu): set
//! the leaves of a compiled [`Plan`], run it, read tensors back. Models hold a
//! `Box<dyn Executor>` and pick the backend with a [`Device`].
use tessera_dsl::graph::{NodeId, Plan, PlanOptions, Target};

use crate::cpu::CpuExecutor;
use crate::gpu::{GpuBackend, GpuOptions};
pub use crate::BackendError;

/// Seconds spent in one kernel (or op) name during a profiled run, and its launch count.
pub type KernelTime = (String, f64, usize);

/// A plan compiled for one backend, with its memory allocated: the interface of
/// [`CpuExecutor`] (f32) and [`crate::gpu::GpuExecutor`]. `Send`, so a model holding one can
/// move to another thread.
pub trait Executor: Send {
    /// The plan being executed.
    fn plan(&self) -> &Plan;
    /// Where it runs, for reports (`cpu`, or the adapter's name).
    fn device_name(&self) -> String;
    /// Sets a parameter by its official name.
    fn set_param(&mut self, name: &str, v: &[f32]) -> Result<(), BackendError>;
    /// Sets a frozen float table.
    fn set_frozen(&mut self, name: &str, v: &[f32]) -> Result<(), BackendError>;
    /// Sets a per-step float input.
    fn set_input(&mut self, name: &str, v: &[f32]) -> Result<(), BackendError>;
    /// Sets any float leaf, optimizer state included.
    fn set_any(&mut self, name: &str, v: &[f32]) -> Result<(), BackendError>;
    /// Sets a u32 index leaf.
    fn set_index_input(&mut self, name: &str, v: &[u32]) -> Result<(), BackendError>;
    /// Runs every step of the plan once.
    fn run(&mut self) -> Result<(), BackendError>;
    /// A requested output (or any float leaf) by its id in the graph handed to `compile`.
    fn read(&self, original: NodeId) -> Result<Vec<f32>, BackendError>;
    /// Several tensors at once (one transfer on the GPU).
    fn read_many(&self, originals: &[NodeId]) -> Result<Vec<Vec<f32>>, BackendError> {
        originals.iter().map(|&id| self.read(id)).collect()
    }
    /// Any named float leaf.
    fn read_name(&self, name: &str) -> Result<Vec<f32>, BackendError>;
    /// Runs once, timing every kernel: `(name, seconds, launches)`, largest first.
    fn profile(&mut self) -> Result<Vec<KernelTime>, BackendError>;
}

impl Executor for CpuExecutor<f32> {
    fn plan(&self) -> &Plan {
        CpuExecutor::plan(self)
    }
    fn device_name(&self) -> String {
        "cpu".into()
    }
    fn set_param(&mut self, name: &str, v: &[f32]) -> Result<(), BackendError> {
        CpuExecutor::set_param(self, name, v)
    }
    fn set_frozen(&mut self, name: &str, v: &[f32]) -> Result<(), BackendError> {
        CpuExecutor::set_frozen(self, name, v)
    }
    fn set_input(&mut self, name: &str, v: &[f32]) -> Result<(), BackendError> {
        CpuExecutor::set_input(self, name, v)
    }
    fn set_any(&mut self, name: &str, v: &[f32]) -> Result<(), BackendError> {
        CpuExecutor::set_any(self, name, v)
    }
    fn set_index_input(&mut self, name: &str, v: &[u32]) -> Result<(), BackendError> {
        CpuExecutor::set_index_input(self, name, v)
    }
    fn run(&mut self) -> Result<(), BackendError> {
        CpuExecutor::run(self)
    }
    fn read(&self, original: NodeId) -> Result<Vec<f32>, BackendError> {
        CpuExecutor::read(self, original)
    }
    fn read_name(&self, name: &str) -> Result<Vec<f32>, BackendError> {
        CpuExecutor::read_name(self, name)
    }
    fn profile(&mut self) -> Result<Vec<KernelTime>, BackendError> {
        CpuExecutor::profile(self)
    }
}

/// Which backend to run on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum BackendChoice {
    #[default]
    Cpu,
    /// wgpu on the adapter whose name contains `adapter` (any adapter if `None`).
    Wgpu { adapter: Option<String> },
}

/// An opened backend that compiles plans into executors. The wgpu one keeps its device and
/// pipeline cache across plans.
#[derive(Debug)]
pub enum Device {
    Cpu,
    Wgpu(GpuBackend),
}

impl Device {
    /// Opens the backend `choice` names (for wgpu: picks the adapter, creates the device).
    pub fn open(choice: &BackendChoice) -> Result<Device, BackendError> {
        Ok(match choice {
            BackendChoice::Cpu => Device::Cpu,
            BackendChoice::Wgpu { adapter } => Device::Wgpu(GpuBackend::new(&GpuOptions {
                adapter_name: adapter.clone(),
                timeout: None,
            })?),
        })
    }

    /// Compiles `plan` (named `label` in errors) for this device and allocates its memory.
    pub fn compile(&mut self, plan: &Plan, label: &str) -> Result<Box<dyn Executor>, BackendError> {
        Ok(match self {
            Device::Cpu => Box::new(CpuExecutor::<f32>::new(plan)?),
            Device::Wgpu(gpu) => Box::new(gpu.compile(plan, label)?),
        })
    }

    /// How to compile plans for this device: the CPU backend's own fused kernels on the
    /// CPU, the ops every backend has on wgpu.
    pub fn plan_options(&self) -> PlanOptions {
        PlanOptions::for_target(match self {
            Device::Cpu => Target::Cpu,
            Device::Wgpu(_) => Target::Any,
        })
    }

    /// `cpu`, or `wgpu (<adapter name>)`.
    pub fn name(&self) -> String {
        match self {
            Device::Cpu => "cpu".into(),
            Device::Wgpu(g) => format!("wgpu ({})", g.context().report.name),
        }
    }
}
