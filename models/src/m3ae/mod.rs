//! M3AE, the multimodal masked autoencoder (young-geng/m3ae_public, JAX/Flax): one encoder over
//! `[cls | kept image patches | kept caption tokens]` with modality type embeddings, each
//! modality masked at its own ratio by one permutation shared by the batch, and a decoder with
//! two heads — pixels with an MSE over removed patches, caption tokens with a cross-entropy
//! over removed non-padding tokens. The [`Model`] of the `m3ae` family; parameters carry their
//! Flax paths and layouts (see [`flax`]).
mod batch;
pub mod captions;
pub mod eval;
pub mod flax;
mod graph;
mod official;
pub mod picture;
pub mod pretrain;
pub mod reconstruct;
pub mod run_state;
pub mod tokenizer;

pub use batch::{official as official_batch, text_loss_weights, train as train_batch, Batch};
pub use graph::{decays, inputs, TextNodes, PADDING_LOGIT};
pub use official::M3aeConfig;

use tessera_dsl::graph::GResult;
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{M3aeDims, M3aeSpec, ModelSpec};

use crate::model::{
    official_json, Extras, FeatureGraph, Geometry, Model, ModelError, StepGraph, StepInputs,
    StepShape,
};
use crate::params::ParamSpec;
use crate::sample::{SampleSpec, Samples};
use crate::tensors::TensorFile;

/// An M3AE built from its spec.
#[derive(Clone, Debug)]
pub struct M3aeModel {
    spec: M3aeSpec,
    dims: M3aeDims,
    params: Vec<ParamSpec>,
}

impl M3aeModel {
    /// The model of `spec`, or the broken rule.
    pub fn new(spec: M3aeSpec) -> Result<M3aeModel, ModelError> {
        let dims = spec.validate()?;
        for (what, w) in [
            ("image", spec.image_loss_weight),
            ("text", spec.text_loss_weight),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(ModelError::Unsupported(format!(
                    "M3AE: the {what} loss weight is {w}; it must be a finite number >= 0"
                )));
            }
        }
        let shape = StepShape::new(1, dims.image_keep);
        let (_, _, built) = graph::build(&spec, &dims, shape, &Extras::None)?;
        Ok(M3aeModel {
            spec,
            dims,
            params: built.params,
        })
    }

    pub fn m3ae_spec(&self) -> &M3aeSpec {
        &self.spec
    }

    pub fn dims(&self) -> &M3aeDims {
        &self.dims
    }

    /// The step graph with the text head's logits and the two losses as nodes.
    pub fn step_graph_with_text(
        &self,
        shape: StepShape,
        extras: &Extras,
    ) -> GResult<(StepGraph, TextNodes)> {
        let (step, text, _) = graph::build(&self.spec, &self.dims, shape, extras)?;
        Ok((step, text))
    }

    /// The tensors of a step over `batch`.
    pub fn inputs(&self, batch: Batch) -> StepInputs {
        batch::inputs(&self.spec, &self.dims, batch)
    }
}

impl Model for M3aeModel {
    fn spec(&self) -> ModelSpec {
        ModelSpec::M3ae(self.spec)
    }

    fn sample(&self) -> SampleSpec {
        SampleSpec::ImageText {
            image: self.spec.image,
            text_len: self.spec.text_len,
            vocab: self.spec.vocab,
        }
    }

    fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    fn step_shape(&self, batch: usize) -> StepShape {
        StepShape::new(batch, self.dims.image_keep)
    }

    fn step_graph(&self, shape: StepShape, extras: &Extras) -> GResult<StepGraph> {
        Ok(self.step_graph_with_text(shape, extras)?.0)
    }

    fn step_inputs(&self, batch: &Samples<'_>, rng: &mut Rng) -> Result<StepInputs, ModelError> {
        batch.count(&self.sample()).map_err(ModelError::Batch)?;
        let b = batch::train(&self.spec, &self.dims, batch, rng)?;
        Ok(self.inputs(b))
    }

    fn eval_inputs(&self, file: &TensorFile) -> Result<StepInputs, ModelError> {
        Ok(self.inputs(batch::official(file, &self.spec, &self.dims)?))
    }

    fn feature_graph(&self, batch: usize) -> GResult<FeatureGraph> {
        graph::features(&self.spec, &self.dims, batch)
    }

    fn geometry(&self) -> Geometry {
        Geometry::new(&self.spec(), self.spec.patch)
    }

    fn official_config(&self) -> Option<String> {
        Some(official_json(&M3aeConfig::of(&self.spec)?))
    }
}
