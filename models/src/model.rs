//! The interface every model family implements, and the one place that turns a spec into a
//! model. Trainer, checkpoints, evaluation, probing, pictures, benchmarks and the CLI know only
//! [`Model`]: a new family is one folder that implements it plus its presets.
use tessera_dsl::graph::{
    adamw_grouped, grad, AdamWConfig, GResult, GraphError, NodeId, Optimizer, ParamGroup, Role,
};
use tessera_dsl::mask::MaskError;
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{ImageSpec, ModelSpec, ShapeError, Target};

use crate::blocks::{Builder, Built, Constant};
use crate::params::ParamSpec;
use crate::sample::{SampleSpec, Samples};
use crate::tensors::{TensorFile, TensorFileError};

/// What a step graph holds besides the forward pass and the loss.
#[derive(Clone, Debug, PartialEq)]
pub enum Extras {
    /// Forward and loss only.
    None,
    /// Plus the gradient of every trainable parameter.
    Grads,
    /// Plus gradients and an AdamW update of every trainable parameter.
    TrainStep(AdamWConfig),
}

/// The static sizes a step graph is planned for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepShape {
    pub batch: usize,
    /// Tokens each sample's encoder sees (0 only when evaluating a batch that masks
    /// everything, as the official code allows).
    pub keep: usize,
}

impl StepShape {
    pub const fn new(batch: usize, keep: usize) -> StepShape {
        StepShape { batch, keep }
    }
}

/// A built step and the nodes a caller reads.
#[derive(Debug)]
pub struct StepGraph {
    pub graph: tessera_dsl::graph::Graph,
    pub shape: StepShape,
    /// Scalar loss.
    pub loss: NodeId,
    /// `[N, L, P]`: the prediction of every patch token in the family's official row order
    /// (raster for MAE and HiViT; see [`Model::pred_in_raster_order`]), `P` values per patch in
    /// the layout of the model's [`Geometry`].
    pub pred: NodeId,
    /// `(official name, gradient node)` of every trainable parameter the loss reaches.
    pub grads: Vec<(String, NodeId)>,
    pub optimizer: Option<Optimizer>,
    /// Values the graph needs that are set once (index tables, fixed masks).
    pub constants: Vec<(String, Constant)>,
}

impl StepGraph {
    /// The step of a finished build whose forward pass ends in `loss` and `pred`, with the
    /// backward pass (and AdamW) that `extras` asks for.
    pub fn from_built(
        built: &Built,
        shape: StepShape,
        loss: NodeId,
        pred: NodeId,
        extras: &Extras,
    ) -> GResult<StepGraph> {
        let mut step = StepGraph {
            graph: built.graph.clone(),
            shape,
            loss,
            pred,
            grads: Vec::new(),
            optimizer: None,
            constants: built.constants.clone(),
        };
        step.add_extras(extras)?;
        Ok(step)
    }

    /// Finishes the build `b` into its step (see [`StepGraph::from_built`]), returned with the
    /// build itself, whose parameter list is the model's.
    pub fn finish(
        b: Builder,
        shape: StepShape,
        loss: NodeId,
        pred: NodeId,
        extras: &Extras,
    ) -> GResult<(StepGraph, Built)> {
        let built = b.finish();
        Ok((
            StepGraph::from_built(&built, shape, loss, pred, extras)?,
            built,
        ))
    }

    /// Appends the backward pass (and AdamW) that `extras` asks for.
    pub fn add_extras(&mut self, extras: &Extras) -> GResult<()> {
        self.add_extras_grouped(extras, &ParamGroup::official)
    }

    /// [`StepGraph::add_extras`] with the AdamW group of each parameter chosen by `group`
    /// (name, shape, config), for a family whose recipe exempts other parameters from weight
    /// decay than MAE's.
    pub fn add_extras_grouped(
        &mut self,
        extras: &Extras,
        group: &dyn Fn(&str, &[usize], &AdamWConfig) -> ParamGroup,
    ) -> GResult<()> {
        if matches!(extras, Extras::None) {
            return Ok(());
        }
        let params = self.graph.trainable_params();
        let grads = grad(&mut self.graph, self.loss, &params)?;
        for &pid in &params {
            let Role::Param { name, .. } = &self.graph.node(pid).role else {
                continue;
            };
            if let Some(gid) = grads.get(pid) {
                self.grads.push((name.clone(), gid));
            }
        }
        if let Extras::TrainStep(adam) = extras {
            let by_param = |name: &str, shape: &[usize]| group(name, shape, adam);
            self.optimizer = Some(adamw_grouped(&mut self.graph, &grads, adam, &by_param)?);
        }
        Ok(())
    }

    /// The nodes to keep readable after a run: loss, pred and the gradients.
    pub fn outputs(&self) -> Vec<NodeId> {
        let mut out = vec![self.loss, self.pred];
        out.extend(self.grads.iter().map(|(_, g)| *g));
        if let Some(opt) = &self.optimizer {
            out.extend(&opt.updates);
        }
        out
    }
}

/// One per-step input's values.
#[derive(Clone, Debug, PartialEq)]
pub enum InputValues {
    F32(Vec<f32>),
    U32(Vec<u32>),
}

/// Everything a step uploads, made by [`Model::step_inputs`] or [`Model::eval_inputs`].
#[derive(Clone, Debug, PartialEq)]
pub struct StepInputs {
    pub shape: StepShape,
    /// `(input name, values)` for every per-step input of the step graph.
    pub tensors: Vec<(String, InputValues)>,
    /// `[N, L]`, 1.0 where a token was removed: what the loss averaged over and what the
    /// pictures grey out.
    pub mask: Vec<f32>,
}

/// Official constructor arguments as the JSON a checkpoint's `config` metadata holds.
pub fn official_json(args: &impl serde::Serialize) -> String {
    serde_json::to_string(args).expect("plain struct serializes")
}

impl StepInputs {
    /// The per-step `u32` input `name` (token ids, row orders), when the step has one.
    pub fn u32_input(&self, name: &str) -> Option<&[u32]> {
        self.tensors.iter().find_map(|(n, v)| match v {
            InputValues::U32(values) if n == name => Some(values.as_slice()),
            _ => None,
        })
    }
}

/// A prediction whose rows follow some token order, moved to raster order: row `r` of sample
/// `b` (`rows` rows a sample, `p` values a row) lands on token `order[b * rows + r]` of that
/// sample's `tokens`; tokens no row lands on stay zero. Families whose decoder does not predict
/// in raster order use it for `Model::pred_in_raster_order`.
pub fn rows_to_raster(
    pred: &[f32],
    order: &[u32],
    rows: usize,
    tokens: usize,
    p: usize,
) -> Vec<f32> {
    let samples = order.len() / rows.max(1);
    let mut out = vec![0.0; samples * tokens * p];
    for (i, &token) in order.iter().enumerate() {
        let to = ((i / rows) * tokens + token as usize) * p;
        out[to..to + p].copy_from_slice(&pred[i * p..(i + 1) * p]);
    }
    out
}

/// The encoder over every token, for probing: `cls` and `mean` are `[N, D]`.
#[derive(Debug)]
pub struct FeatureGraph {
    pub graph: tessera_dsl::graph::Graph,
    /// Name of the `[N, C, H, W]` image input.
    pub input: String,
    pub dim: usize,
    /// The final-norm class token, when the model has one.
    pub cls: Option<NodeId>,
    /// The mean of the final-norm patch tokens.
    pub mean: NodeId,
    pub constants: Vec<(String, Constant)>,
}

/// How a prediction maps back to pixels: `[N, L, p·p·C]` over a `grid x grid` patch grid,
/// values in MAE's `(p, q, c)` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub image: usize,
    pub channels: usize,
    pub patch: usize,
    pub target: Target,
}

impl Geometry {
    /// The geometry of a model of `spec` whose prediction rows each cover a `patch`-pixel
    /// square of the (square) image.
    pub fn new(spec: &ModelSpec, patch: usize) -> Geometry {
        let image = spec.image();
        Geometry {
            image: image.height,
            channels: image.channels,
            patch,
            target: spec.target(),
        }
    }

    pub fn grid(&self) -> usize {
        self.image / self.patch
    }
}

/// Why a model could not be built, fed or evaluated.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The spec breaks a shape rule. Boxed: `ShapeError` carries its message in a buffer.
    #[error("{0}")]
    Shape(Box<ShapeError>),
    #[error("{0}")]
    Unsupported(String),
    #[error("building the graph: {0}")]
    Graph(GraphError),
    #[error("masking: {0}")]
    Mask(MaskError),
    #[error(transparent)]
    File(#[from] TensorFileError),
    #[error("{path}: `{name}` has shape {found:?}; this model needs {expected}")]
    BatchShape {
        path: String,
        name: &'static str,
        expected: String,
        found: Vec<usize>,
    },
    #[error("{0}")]
    Batch(String),
}

impl From<ShapeError> for ModelError {
    fn from(e: ShapeError) -> Self {
        ModelError::Shape(Box::new(e))
    }
}

impl From<GraphError> for ModelError {
    fn from(e: GraphError) -> Self {
        ModelError::Graph(e)
    }
}

impl From<MaskError> for ModelError {
    fn from(e: MaskError) -> Self {
        ModelError::Mask(e)
    }
}

/// A masked-image model of any family.
pub trait Model: Send + Sync {
    /// The spec the model was built from.
    fn spec(&self) -> ModelSpec;
    /// The image a sample holds (each frame of a clip).
    fn image(&self) -> ImageSpec {
        self.spec().image()
    }
    /// What one sample holds: an image unless the family says otherwise.
    fn sample(&self) -> SampleSpec {
        SampleSpec::Image(self.image())
    }
    /// Every state-dict entry, in official order, with its initialisation.
    fn params(&self) -> &[ParamSpec];
    /// The step shape of a training batch of `batch` samples.
    fn step_shape(&self, batch: usize) -> StepShape;
    /// The graph of one step: forward and loss, plus what `extras` asks for.
    fn step_graph(&self, shape: StepShape, extras: &Extras) -> GResult<StepGraph>;
    /// The inputs of one training step over a batch of [`Model::sample`]s, with the masks
    /// drawn from `rng`.
    fn step_inputs(&self, batch: &Samples<'_>, rng: &mut Rng) -> Result<StepInputs, ModelError>;
    /// The inputs of one evaluation batch in the family's official format (for MAE and HiViT:
    /// `imgs`, the masking `noise` and `mask_ratio`; for UM-MAE: `imgs`, `mask` and
    /// `secondary_noise`; for MixMIM: `imgs`, one `noise` row for the batch and `mask_ratio`;
    /// for VideoMAE: `videos` and `mask`), used as the official forward pass uses them.
    fn eval_inputs(&self, file: &TensorFile) -> Result<StepInputs, ModelError>;
    /// The encoder over every token of a batch of `batch` images.
    fn feature_graph(&self, batch: usize) -> GResult<FeatureGraph>;
    /// How predictions map back to pixels.
    fn geometry(&self) -> Geometry;
    /// The official constructor's arguments as JSON (a checkpoint's `config` metadata), when
    /// the official code can express this model.
    fn official_config(&self) -> Option<String>;
    /// `pred` (`[N, L, P]` as the step graph computes it for `inputs`) with its rows in raster
    /// order over the patch grid, for pictures. Families whose official layout is not raster
    /// (UM-MAE: visible patches first, then masked) reorder it.
    fn pred_in_raster_order(&self, inputs: &StepInputs, pred: &[f32]) -> Vec<f32> {
        let _ = inputs; // raster already; overriders read the masks from it
        pred.to_vec()
    }
}

/// The model of `spec`, after checking its rules.
pub fn build(spec: &ModelSpec) -> Result<Box<dyn Model>, ModelError> {
    spec.validate()?;
    match spec {
        ModelSpec::Mae(s) => Ok(Box::new(crate::mae::MaeModel::new(*s)?)),
        ModelSpec::UmSwin(s) => Ok(Box::new(crate::um_swin::UmSwinModel::new(*s)?)),
        ModelSpec::HiVit(s) => Ok(Box::new(crate::hivit::HiVitModel::new(*s)?)),
        ModelSpec::MixMim(s) => Ok(Box::new(crate::mixmim::MixMimModel::new(*s)?)),
        ModelSpec::VideoMae(s) => Ok(Box::new(crate::videomae::VideoMaeModel::new(*s)?)),
        ModelSpec::M3ae(s) => Ok(Box::new(crate::m3ae::M3aeModel::new(*s)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::rows_to_raster;

    #[test]
    fn rows_land_on_their_tokens_and_uncovered_tokens_stay_zero() {
        // Two samples of three tokens, two rows each, two values a row: sample 0's rows are
        // tokens 2 and 0, sample 1's tokens 1 and 2.
        let pred = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let out = rows_to_raster(&pred, &[2, 0, 1, 2], 2, 3, 2);
        assert_eq!(
            out,
            [3.0, 4.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 5.0, 6.0, 7.0, 8.0]
        );
    }
}
