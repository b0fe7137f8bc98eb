//! One MAE pre-training step as a single planned program on a backend (CPU or wgpu): forward,
//! loss, backward and AdamW (official parameter groups: no decay for 1-D tensors and biases).
use tessera_dsl::graph::{compile, AdamWConfig, GraphError, Optimizer, PlanOptions};
use tessera_runtime::backend::{BackendError, Device, Executor};

use super::config::{MaeConfig, MaeDims};
use super::masking::BatchMask;
use super::model::{build, inputs, Extras, MaeGraph};
use super::params::ParamSet;

/// Why a training step could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("building the MAE training graph: {0}")]
    Graph(GraphError),
    #[error("{0}")]
    Backend(BackendError),
    #[error("the mask keeps {found} tokens per image; this step was planned for {expected}")]
    KeepCount { expected: usize, found: usize },
    #[error("the batch holds {found} images; this step was planned for {expected}")]
    Batch { expected: usize, found: usize },
}

// Written out instead of `#[from]` so the inner error is in the message, not a `source` that a
// chain-printing report would repeat.
impl From<GraphError> for TrainError {
    fn from(e: GraphError) -> Self {
        TrainError::Graph(e)
    }
}

impl From<BackendError> for TrainError {
    fn from(e: BackendError) -> Self {
        TrainError::Backend(e)
    }
}

/// A planned training step with its parameters and optimizer state resident in the arena.
pub struct TrainStep {
    pub(crate) graph: MaeGraph,
    pub(crate) exec: Box<dyn Executor>,
    /// The starting values (what a parameter the plan does not reach keeps).
    initial: ParamSet,
    peak_bytes: usize,
    /// Steps taken so far (AdamW's t is this plus one at the next step).
    pub steps_done: usize,
}

impl TrainStep {
    /// Plans a step for `batch` images keeping `len_keep` tokens each, starting from `params`.
    pub fn new(
        cfg: &MaeConfig,
        dims: &MaeDims,
        batch: usize,
        len_keep: usize,
        params: &ParamSet,
        adam: AdamWConfig,
    ) -> Result<TrainStep, TrainError> {
        Self::new_on(cfg, dims, batch, len_keep, params, adam, &mut Device::Cpu)
    }

    /// Like [`TrainStep::new`], on `device` (the CPU backend or wgpu).
    pub fn new_on(
        cfg: &MaeConfig,
        dims: &MaeDims,
        batch: usize,
        len_keep: usize,
        params: &ParamSet,
        adam: AdamWConfig,
        device: &mut Device,
    ) -> Result<TrainStep, TrainError> {
        let graph = build(cfg, dims, batch, len_keep, &Extras::TrainStep(adam))?;
        let opt = graph.optimizer.as_ref().expect("built with an optimizer");
        let mut outputs = vec![graph.loss];
        outputs.extend(&opt.updates);
        let plan = compile(&graph.graph, &outputs, &PlanOptions::default())?;
        let peak_bytes = plan.peak_bytes(std::mem::size_of::<f32>());
        let label = format!("MAE training step (batch {batch}, {len_keep} visible tokens)");
        let mut exec = device.compile(&plan, &label)?;
        for (spec, values) in params.specs.iter().zip(&params.values) {
            // A parameter the loss cannot reach (patch_embed at mask_ratio 1) is not planned.
            if plan.slot_by_name(&spec.name).is_none() {
                continue;
            } else if spec.trainable {
                exec.set_param(&spec.name, values)?;
            } else {
                exec.set_frozen(&spec.name, values)?;
            }
        }
        Ok(TrainStep {
            graph,
            exec,
            initial: params.clone(),
            peak_bytes,
            steps_done: 0,
        })
    }

    /// Planned peak memory of one step in bytes (the whole f32 arena plus the index arena).
    pub fn planned_peak_bytes(&self) -> usize {
        self.peak_bytes
    }

    /// One step on `imgs` (`[N, C, H, W]`, normalized) with `mask` at learning rate `lr`;
    /// returns the loss computed before the update.
    pub fn step(&mut self, imgs: &[f32], mask: &BatchMask, lr: f64) -> Result<f32, TrainError> {
        self.set_inputs(imgs, mask, lr)?;
        self.exec.run()?;
        self.steps_done += 1;
        Ok(self.exec.read(self.graph.loss)?[0])
    }

    /// Like [`TrainStep::step`], timing every kernel: `(op, seconds, launches)`, largest first.
    pub fn profile_step(
        &mut self,
        imgs: &[f32],
        mask: &BatchMask,
        lr: f64,
    ) -> Result<Vec<(String, f64, usize)>, TrainError> {
        self.set_inputs(imgs, mask, lr)?;
        let prof = self.exec.profile()?;
        self.steps_done += 1;
        Ok(prof)
    }

    fn set_inputs(&mut self, imgs: &[f32], mask: &BatchMask, lr: f64) -> Result<(), TrainError> {
        if mask.len_keep != self.graph.len_keep {
            return Err(TrainError::KeepCount {
                expected: self.graph.len_keep,
                found: mask.len_keep,
            });
        }
        if mask.batch != self.graph.batch {
            return Err(TrainError::Batch {
                expected: self.graph.batch,
                found: mask.batch,
            });
        }
        let ex = &mut self.exec;
        ex.set_input(inputs::IMGS, imgs)?;
        ex.set_input(inputs::MASK, &mask.mask)?;
        if mask.len_keep > 0 {
            ex.set_index_input(inputs::IDS_KEEP, &mask.ids_keep)?;
        }
        ex.set_index_input(inputs::IDS_RESTORE, &mask.ids_restore)?;
        ex.set_input(Optimizer::LR, &[lr as f32])?;
        // AdamW's t is 1-based.
        ex.set_input(Optimizer::STEP, &[(self.steps_done + 1) as f32])?;
        Ok(())
    }

    /// The current values of every state-dict entry, in state-dict order.
    pub fn params(&self) -> Result<ParamSet, TrainError> {
        let plan = self.exec.plan();
        let values = self
            .initial
            .specs
            .iter()
            .zip(&self.initial.values)
            .map(|(s, v)| match plan.slot_by_name(&s.name) {
                Some(_) => self.exec.read_name(&s.name),
                None => Ok(v.clone()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ParamSet {
            specs: self.initial.specs.clone(),
            values,
        })
    }
}
