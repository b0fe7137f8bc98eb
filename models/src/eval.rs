//! One batch through a model on a backend (CPU or wgpu), as the official forward (and
//! backward) pass computes it: loss, prediction, mask and, optionally, the gradient of every
//! trainable parameter under its official name.
use tessera_dsl::graph::{compile, GraphError, NodeId};
use tessera_runtime::backend::{BackendError, Device};

use crate::model::{Extras, Model, StepGraph, StepInputs};
use crate::params::ParamSet;
use crate::step::{load_state, set_inputs};
use crate::tensors::Tensor;

/// Everything an evaluation produces.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalOutput {
    pub loss: f32,
    /// `[N, L, P]`.
    pub pred: Tensor,
    /// `[N, L]`, 1 = removed.
    pub mask: Tensor,
    /// `(official name, gradient)` of every trainable parameter, in state-dict order.
    pub grads: Vec<(String, Tensor)>,
}

/// Why an evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("building the graph: {0}")]
    Graph(GraphError),
    #[error("{0}")]
    Backend(BackendError),
}

impl From<GraphError> for EvalError {
    fn from(e: GraphError) -> Self {
        EvalError::Graph(e)
    }
}

impl From<BackendError> for EvalError {
    fn from(e: BackendError) -> Self {
        EvalError::Backend(e)
    }
}

/// Runs `inputs` through `model` with `params` in f32 on `device`.
pub fn evaluate(
    model: &dyn Model,
    params: &ParamSet,
    inputs: &StepInputs,
    grads: bool,
    device: &mut Device,
) -> Result<EvalOutput, EvalError> {
    let extras = if grads { Extras::Grads } else { Extras::None };
    let sg = model.step_graph(inputs.shape, &extras)?;
    Ok(evaluate_step(&sg, &[], params, inputs, device)?.0)
}

/// Runs the built step `sg` (with gradients if it has them) on `inputs`, and reads back the
/// nodes `also` besides the usual outputs (a family's outputs beyond loss and prediction).
pub fn evaluate_step(
    sg: &StepGraph,
    also: &[NodeId],
    params: &ParamSet,
    inputs: &StepInputs,
    device: &mut Device,
) -> Result<(EvalOutput, Vec<Vec<f32>>), EvalError> {
    let grads = !sg.grads.is_empty();
    let mut outputs = sg.outputs();
    outputs.extend_from_slice(also);
    let plan = compile(&sg.graph, &outputs, &device.plan_options())?;
    let n = inputs.shape.batch;
    let label = format!(
        "evaluation (batch {n}, {} visible tokens)",
        inputs.shape.keep
    );
    let mut ex = device.compile(&plan, &label)?;
    load_state(ex.as_mut(), params, &sg.constants)?;
    set_inputs(ex.as_mut(), inputs)?;
    ex.run()?;
    let loss = ex.read(sg.loss)?[0];
    let also = ex.read_many(also)?;
    let pred = Tensor {
        shape: sg.graph.shape(sg.pred).to_vec(),
        data: ex.read(sg.pred)?,
    };
    let l = inputs.mask.len() / n.max(1);
    // One transfer for every gradient (one copy submission on a GPU).
    let ids: Vec<_> = sg.grads.iter().map(|(_, id)| *id).collect();
    let mut values = ex.read_many(&ids)?.into_iter();
    let mut found: Vec<(&str, Vec<f32>)> = sg
        .grads
        .iter()
        .map(|(n, _)| (n.as_str(), values.next().unwrap_or_default()))
        .collect();
    let mut out_grads = Vec::new();
    for spec in params.specs.iter().filter(|s| s.trainable && grads) {
        // No gradient node means the loss does not reach the parameter through any nonempty
        // tensor; PyTorch still back-propagates through the empty gather and reports zeros.
        let data = match found.iter_mut().find(|(n, _)| *n == spec.name) {
            Some((_, v)) => std::mem::take(v),
            None => vec![0.0; spec.numel()],
        };
        out_grads.push((
            spec.name.clone(),
            Tensor {
                shape: spec.shape.clone(),
                data,
            },
        ));
    }
    let out = EvalOutput {
        loss,
        pred,
        mask: Tensor {
            shape: vec![n, l],
            data: inputs.mask.clone(),
        },
        grads: out_grads,
    };
    Ok((out, also))
}
