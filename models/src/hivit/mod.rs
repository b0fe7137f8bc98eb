//! HiViT masked autoencoders (zhangxiaosong18/hivit): MLP-only stages inside each patch, then a
//! plain ViT over the kept patches; the [`Model`] of the `hivit` family. Any token-dropping
//! mask works (random as official, block-wise, uniform sampling): no stage before the main one
//! mixes patches, so masked patches are dropped right after the patch embedding. Training and
//! evaluation batches use MAE's formats (an official batch holds `imgs`, `noise`,
//! `mask_ratio`).
mod graph;

use tessera_dsl::graph::GResult;
use tessera_dsl::mask::spec::sample_batch;
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{HiVitDims, HiVitSpec, MaskSpec, ModelSpec};

use crate::mae::batch;
use crate::model::{
    official_json, Extras, FeatureGraph, Geometry, Model, ModelError, StepGraph, StepInputs,
    StepShape,
};
use crate::params::ParamSpec;
use crate::sample::Samples;
use crate::tensors::TensorFile;

/// A HiViT masked autoencoder built from its spec.
#[derive(Clone, Debug)]
pub struct HiVitModel {
    spec: HiVitSpec,
    dims: HiVitDims,
    params: Vec<ParamSpec>,
}

impl HiVitModel {
    /// The model of `spec`, or the broken rule / what is not supported.
    pub fn new(spec: HiVitSpec) -> Result<HiVitModel, ModelError> {
        let dims = spec.validate()?;
        if spec.rpe {
            return Err(ModelError::Unsupported(
                "HiViT: rpe = true (a relative position bias in the main stage) is not \
                 supported; HiViT's MAE pre-training uses rpe = false"
                    .into(),
            ));
        }
        if let MaskSpec::Uniform {
            secondary: Some(_), ..
        } = spec.mask
        {
            return Err(ModelError::Unsupported(
                "HiViT: secondary masking needs a token that replaces visible patches, which \
                 HiViT does not have; use uniform(3 / 4) without it"
                    .into(),
            ));
        }
        let shape = StepShape::new(1, dims.keep);
        let (_, built) = graph::build(&spec, &dims, shape, &Extras::None)?;
        Ok(HiVitModel {
            spec,
            dims,
            params: built.params,
        })
    }
}

impl Model for HiVitModel {
    fn spec(&self) -> ModelSpec {
        ModelSpec::HiVit(self.spec)
    }

    fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    fn step_shape(&self, batch: usize) -> StepShape {
        StepShape::new(batch, self.dims.keep)
    }

    fn step_graph(&self, shape: StepShape, extras: &Extras) -> GResult<StepGraph> {
        Ok(graph::build(&self.spec, &self.dims, shape, extras)?.0)
    }

    fn step_inputs(&self, batch: &Samples<'_>, rng: &mut Rng) -> Result<StepInputs, ModelError> {
        let n = batch.count(&self.sample()).map_err(ModelError::Batch)?;
        let masks = sample_batch(&self.spec.mask, self.dims.grid, n, rng)?;
        Ok(batch::inputs(batch.pixels.to_vec(), masks))
    }

    fn eval_inputs(&self, file: &TensorFile) -> Result<StepInputs, ModelError> {
        let d = &self.dims;
        let inputs = batch::official_noise(file, self.spec.image.channels, d.image, d.tokens)?;
        if inputs.shape.keep == 0 {
            return Err(ModelError::Batch(format!(
                "{}: mask_ratio keeps none of the {} patches; HiViT's encoder needs at least one",
                file.path.display(),
                d.tokens
            )));
        }
        Ok(inputs)
    }

    fn feature_graph(&self, batch: usize) -> GResult<FeatureGraph> {
        graph::features(&self.spec, &self.dims, batch)
    }

    fn geometry(&self) -> Geometry {
        Geometry::new(&self.spec(), self.spec.patch)
    }

    fn official_config(&self) -> Option<String> {
        Some(official_json(&self.spec.to_official().ok()?))
    }
}
