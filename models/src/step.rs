//! One step of any model as a single planned program on a backend (CPU or wgpu): forward,
//! loss, backward and AdamW, with the parameters and the optimizer state resident in the
//! arena; and the state that makes a run resumable exactly (AdamW's moments and step count).
use tessera_dsl::graph::{compile, AdamWConfig, GraphError, Optimizer, Plan};
use tessera_runtime::backend::{BackendError, Device, Executor};

use crate::blocks::Constant;
use crate::model::{Extras, InputValues, Model, StepGraph, StepInputs, StepShape};
use crate::params::ParamSet;

/// Why a step could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("building the training graph: {0}")]
    Graph(GraphError),
    #[error("{0}")]
    Backend(BackendError),
    #[error("the batch is {found:?}; this step was planned for {expected:?}")]
    Shape {
        expected: StepShape,
        found: StepShape,
    },
    #[error("the optimizer state has no moments for `{0}`")]
    MissingMoments(String),
    #[error("the optimizer state has moments for `{0}`, which this model does not train")]
    ExtraMoments(String),
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

/// The first and second moments of one parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    /// Official name of the parameter.
    pub name: String,
    pub shape: Vec<usize>,
    pub exp_avg: Vec<f32>,
    pub exp_avg_sq: Vec<f32>,
}

/// Sets every parameter, frozen table and constant of `plan` that it holds. A parameter the
/// loss cannot reach (patch_embed when everything is masked) is not in the plan and is skipped.
pub fn load_state(
    exec: &mut dyn Executor,
    params: &ParamSet,
    constants: &[(String, Constant)],
) -> Result<(), BackendError> {
    let plan = exec.plan().clone();
    for (spec, values) in params.specs.iter().zip(&params.values) {
        if plan.slot_by_name(&spec.name).is_none() {
            continue;
        } else if spec.trainable {
            exec.set_param(&spec.name, values)?;
        } else {
            exec.set_frozen(&spec.name, values)?;
        }
    }
    set_constants(exec, &plan, constants)
}

fn set_constants(
    exec: &mut dyn Executor,
    plan: &Plan,
    constants: &[(String, Constant)],
) -> Result<(), BackendError> {
    for (name, value) in constants {
        if plan.slot_by_name(name).is_none() {
            continue;
        }
        match value {
            Constant::F32(v) => exec.set_frozen(name, v)?,
            Constant::U32(v) => exec.set_index_input(name, v)?,
        }
    }
    Ok(())
}

/// Uploads a step's inputs.
pub fn set_inputs(exec: &mut dyn Executor, inputs: &StepInputs) -> Result<(), BackendError> {
    for (name, values) in &inputs.tensors {
        match values {
            InputValues::F32(v) => exec.set_input(name, v)?,
            InputValues::U32(v) => exec.set_index_input(name, v)?,
        }
    }
    Ok(())
}

/// A planned training step.
pub struct TrainStep {
    graph: StepGraph,
    exec: Box<dyn Executor>,
    /// The starting values (what a parameter the plan does not reach keeps).
    initial: ParamSet,
    peak_bytes: usize,
    /// Steps taken so far (AdamW's t is this plus one at the next step).
    pub steps_done: usize,
}

impl TrainStep {
    /// Plans a step of `model` for batches of `batch` samples on `device`, starting from
    /// `params`.
    pub fn new(
        model: &dyn Model,
        batch: usize,
        params: &ParamSet,
        adam: AdamWConfig,
        device: &mut Device,
    ) -> Result<TrainStep, TrainError> {
        let shape = model.step_shape(batch);
        let graph = model.step_graph(shape, &Extras::TrainStep(adam))?;
        let opt = graph.optimizer.as_ref().expect("built with an optimizer");
        let mut outputs = vec![graph.loss, graph.pred];
        outputs.extend(&opt.updates);
        let plan = compile(&graph.graph, &outputs, &device.plan_options())?;
        let peak_bytes = plan.peak_bytes(std::mem::size_of::<f32>());
        let label = format!(
            "training step (batch {batch}, {} visible tokens)",
            shape.keep
        );
        let mut exec = device.compile(&plan, &label)?;
        load_state(exec.as_mut(), params, &graph.constants)?;
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

    /// Kernel launches per step.
    pub fn launches(&self) -> usize {
        self.exec.plan().steps.len()
    }

    /// Where the step runs (`cpu` or the adapter).
    pub fn device_name(&self) -> String {
        self.exec.device_name()
    }

    /// One step on `inputs` at learning rate `lr`; returns the loss before the update.
    pub fn step(&mut self, inputs: &StepInputs, lr: f64) -> Result<f32, TrainError> {
        self.set_step_inputs(inputs, lr)?;
        self.exec.run()?;
        self.steps_done += 1;
        Ok(self.exec.read(self.graph.loss)?[0])
    }

    /// The prediction of the last step, `[N, L, P]`.
    pub fn last_prediction(&self) -> Result<Vec<f32>, TrainError> {
        Ok(self.exec.read(self.graph.pred)?)
    }

    /// Like [`TrainStep::step`], timing every kernel: `(op, seconds, launches)`, largest first.
    pub fn profile_step(
        &mut self,
        inputs: &StepInputs,
        lr: f64,
    ) -> Result<Vec<(String, f64, usize)>, TrainError> {
        self.set_step_inputs(inputs, lr)?;
        let prof = self.exec.profile()?;
        self.steps_done += 1;
        Ok(prof)
    }

    fn set_step_inputs(&mut self, inputs: &StepInputs, lr: f64) -> Result<(), TrainError> {
        if inputs.shape != self.graph.shape {
            return Err(TrainError::Shape {
                expected: self.graph.shape,
                found: inputs.shape,
            });
        }
        let ex = self.exec.as_mut();
        set_inputs(ex, inputs)?;
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

    /// Overwrites the parameters (trainable and frozen) with `params`' values.
    pub fn set_params(&mut self, params: &ParamSet) -> Result<(), TrainError> {
        load_state(self.exec.as_mut(), params, &self.graph.constants)?;
        Ok(())
    }

    fn optimizer(&self) -> &Optimizer {
        self.graph
            .optimizer
            .as_ref()
            .expect("a TrainStep is built with an optimizer")
    }

    /// The moments of every parameter the optimizer updates, in state-dict order.
    pub fn moments(&self) -> Result<Vec<Moments>, TrainError> {
        let g = &self.graph.graph;
        self.optimizer()
            .state
            .iter()
            .map(|(p, m, v)| {
                let id = g.by_name(p).expect("parameter of the graph");
                Ok(Moments {
                    name: p.clone(),
                    shape: g.shape(id).to_vec(),
                    exp_avg: self.exec.read_name(m)?,
                    exp_avg_sq: self.exec.read_name(v)?,
                })
            })
            .collect()
    }

    /// Restores the moments saved by [`TrainStep::moments`] and the number of steps taken.
    /// Every updated parameter must be present exactly once.
    pub fn restore(&mut self, moments: &[Moments], steps_done: usize) -> Result<(), TrainError> {
        let state = self.optimizer().state.clone();
        for (p, m, v) in &state {
            let found = moments
                .iter()
                .find(|x| &x.name == p)
                .ok_or_else(|| TrainError::MissingMoments(p.clone()))?;
            self.exec.set_any(m, &found.exp_avg)?;
            self.exec.set_any(v, &found.exp_avg_sq)?;
        }
        if let Some(extra) = moments
            .iter()
            .find(|x| !state.iter().any(|(p, _, _)| p == &x.name))
        {
            return Err(TrainError::ExtraMoments(extra.name.clone()));
        }
        self.steps_done = steps_done;
        Ok(())
    }
}
