//! MAE with a plain ViT (facebookresearch/mae) and every variant composed from a ViT encoder,
//! a token-dropping mask, a ViT decoder and a pixel target: the [`Model`] of the `mae` family.
mod batch;
mod graph;

pub use graph::inputs;

use tessera_dsl::graph::GResult;
use tessera_dsl::mask::spec::sample_batch;
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{ImageSpec, MaeDims, MaeSpec, MaskSpec, ModelSpec};

use crate::model::{
    Extras, FeatureGraph, Geometry, Model, ModelError, StepGraph, StepInputs, StepShape,
};
use crate::params::ParamSpec;
use crate::sample::Samples;
use crate::tensors::TensorFile;

/// A plain-ViT masked autoencoder built from its spec.
#[derive(Clone, Debug)]
pub struct MaeModel {
    spec: MaeSpec,
    dims: MaeDims,
    params: Vec<ParamSpec>,
}

impl MaeModel {
    /// The model of `spec`, or the broken rule / what is not supported yet.
    pub fn new(spec: MaeSpec) -> Result<MaeModel, ModelError> {
        let dims = spec.validate()?;
        if let MaskSpec::Uniform {
            secondary: Some(_), ..
        } = spec.mask
        {
            return Err(ModelError::Unsupported(
                "secondary masking on a plain ViT (UM-MAE's vis_mask_token) is not built yet; \
                 uniform(3 / 4) without it is"
                    .into(),
            ));
        }
        let shape = StepShape {
            batch: 1,
            keep: dims.keep,
        };
        let (_, built) = graph::build(&spec, &dims, shape, &Extras::None)?;
        Ok(MaeModel {
            spec,
            dims,
            params: built.params,
        })
    }

    pub fn dims(&self) -> &MaeDims {
        &self.dims
    }
}

impl Model for MaeModel {
    fn spec(&self) -> ModelSpec {
        ModelSpec::Mae(self.spec)
    }

    fn image(&self) -> ImageSpec {
        self.spec.image
    }

    fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    fn step_shape(&self, batch: usize) -> StepShape {
        StepShape {
            batch,
            keep: self.dims.keep,
        }
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
        batch::official(file, &self.spec, &self.dims)
    }

    fn feature_graph(&self, batch: usize) -> GResult<FeatureGraph> {
        graph::features(&self.spec, &self.dims, batch)
    }

    fn geometry(&self) -> Geometry {
        Geometry {
            image: self.dims.image,
            channels: self.spec.image.channels,
            patch: self.spec.patch,
            target: self.spec.target,
        }
    }

    fn official_config(&self) -> Option<String> {
        let args = self.spec.to_official().ok()?;
        Some(serde_json::to_string(&args).expect("plain struct serializes"))
    }
}
