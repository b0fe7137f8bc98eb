//! The AdamW state of a [`TrainStep`] as named tensors, to save and restore a run exactly:
//! `exp_avg` (m) and `exp_avg_sq` (v) of every trainable parameter, plus the step count.
use tessera_runtime::backend::BackendError;

use super::train::{TrainError, TrainStep};

/// Why saved moments do not fit a training step.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("the optimizer state has no moments for `{0}`")]
    Missing(String),
    #[error("the optimizer state has moments for `{0}`, which this model does not train")]
    Extra(String),
    #[error("{0}")]
    Backend(#[from] BackendError),
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

impl TrainStep {
    /// The moments of every parameter the optimizer updates, in state-dict order.
    pub fn moments(&self) -> Result<Vec<Moments>, TrainError> {
        let opt = self
            .graph
            .optimizer
            .as_ref()
            .expect("a TrainStep is built with an optimizer");
        let shape_of = |name: &str| {
            let id = self
                .graph
                .graph
                .by_name(name)
                .expect("parameter of the graph");
            self.graph.graph.shape(id).to_vec()
        };
        opt.state
            .iter()
            .map(|(p, m, v)| {
                Ok(Moments {
                    name: p.clone(),
                    shape: shape_of(p),
                    exp_avg: self.exec.read_name(m)?,
                    exp_avg_sq: self.exec.read_name(v)?,
                })
            })
            .collect()
    }

    /// Restores the moments saved by [`TrainStep::moments`] and the number of steps taken.
    /// Every updated parameter must be present exactly once, with its shape.
    pub fn restore(&mut self, moments: &[Moments], steps_done: usize) -> Result<(), RestoreError> {
        let opt = self
            .graph
            .optimizer
            .clone()
            .expect("a TrainStep is built with an optimizer");
        for (p, m, v) in &opt.state {
            let found = moments
                .iter()
                .find(|x| &x.name == p)
                .ok_or_else(|| RestoreError::Missing(p.clone()))?;
            self.exec.set_any(m, &found.exp_avg)?;
            self.exec.set_any(v, &found.exp_avg_sq)?;
        }
        if let Some(extra) = moments
            .iter()
            .find(|x| !opt.state.iter().any(|(p, _, _)| p == &x.name))
        {
            return Err(RestoreError::Extra(extra.name.clone()));
        }
        self.steps_done = steps_done;
        Ok(())
    }

    /// Overwrites the parameters (trainable and frozen) with `params`' values.
    pub fn set_params(&mut self, params: &super::ParamSet) -> Result<(), RestoreError> {
        for (spec, values) in params.specs.iter().zip(&params.values) {
            // A parameter the loss cannot reach is not in the plan (see `TrainStep::new`).
            if self.exec.plan().slot_by_name(&spec.name).is_none() {
                continue;
            } else if spec.trainable {
                self.exec.set_param(&spec.name, values)?;
            } else {
                self.exec.set_frozen(&spec.name, values)?;
            }
        }
        Ok(())
    }
}
