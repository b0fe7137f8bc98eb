//! VideoMAE (MCG-NJU/VideoMAE): clips cut into `tubelet x patch x patch` tubes, tube masking
//! (one spatial pattern masked through every temporal slice), a ViT encoder with BEiT-style
//! attention on the visible tubes, a narrow decoder that predicts the pixels of the masked
//! tubes only. The [`Model`] of the `videomae` family.
mod batch;
mod block;
mod graph;
mod sinusoid;

#[cfg(test)]
mod tests;

pub use graph::{inputs, IMAGENET_MEAN, IMAGENET_STD, TARGET_EPS};
pub use sinusoid::{sinusoid_table, sinusoid_table_f32};

use tessera_dsl::graph::GResult;
use tessera_dsl::mask::tube::tube;
use tessera_dsl::mask::Grid;
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{ModelSpec, VideoMaeDims, VideoMaeSpec};

use crate::model::{
    official_json, rows_to_raster, Extras, FeatureGraph, Geometry, Model, ModelError, StepGraph,
    StepInputs, StepShape,
};
use crate::params::ParamSpec;
use crate::sample::{SampleSpec, Samples};
use crate::tensors::TensorFile;

/// A VideoMAE built from its spec.
#[derive(Clone, Debug)]
pub struct VideoMaeModel {
    spec: VideoMaeSpec,
    dims: VideoMaeDims,
    params: Vec<ParamSpec>,
}

/// Where a parameter sits in the official state dict: the model's own `mask_token`, then the
/// `encoder`, the `decoder` and `encoder_to_decoder` (PyTorch lists a module's own parameters
/// first, then its children in the order the constructor assigned them).
fn official_rank(name: &str) -> u8 {
    if name == "mask_token" {
        0
    } else if name.starts_with("encoder.") {
        1
    } else if name.starts_with("decoder.") {
        2
    } else {
        3
    }
}

impl VideoMaeModel {
    pub fn new(spec: VideoMaeSpec) -> Result<VideoMaeModel, ModelError> {
        let dims = spec.validate()?;
        let shape = StepShape::new(1, dims.visible);
        let (_, built) = graph::build(&spec, &dims, shape, &Extras::None)?;
        let mut params = built.params;
        params.sort_by_key(|p| official_rank(&p.name));
        Ok(VideoMaeModel { spec, dims, params })
    }

    pub fn dims(&self) -> &VideoMaeDims {
        &self.dims
    }
}

impl Model for VideoMaeModel {
    fn spec(&self) -> ModelSpec {
        ModelSpec::VideoMae(self.spec)
    }

    fn sample(&self) -> SampleSpec {
        SampleSpec::Clip {
            frames: self.spec.frames,
            image: self.spec.image,
        }
    }

    fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    fn step_shape(&self, batch: usize) -> StepShape {
        StepShape::new(batch, self.dims.visible)
    }

    fn step_graph(&self, shape: StepShape, extras: &Extras) -> GResult<StepGraph> {
        Ok(graph::build(&self.spec, &self.dims, shape, extras)?.0)
    }

    fn step_inputs(&self, batch: &Samples<'_>, rng: &mut Rng) -> Result<StepInputs, ModelError> {
        let n = batch.count(&self.sample()).map_err(ModelError::Batch)?;
        let g = self.dims.grid;
        let masks = (0..n)
            .map(|_| {
                tube(
                    Grid::new(g, g),
                    self.spec.frames,
                    self.spec.tubelet,
                    self.spec.ratio,
                    rng,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        batch::inputs(batch.pixels.to_vec(), &masks)
    }

    fn eval_inputs(&self, file: &TensorFile) -> Result<StepInputs, ModelError> {
        batch::official(file, &self.spec, &self.dims)
    }

    fn feature_graph(&self, batch: usize) -> GResult<FeatureGraph> {
        graph::features(&self.spec, &self.dims, batch)
    }

    /// Each frame's spatial patch grid; a prediction row holds `tubelet · patch² · C` values
    /// (tubelet frame, row, column, channel; channel fastest).
    fn geometry(&self) -> Geometry {
        Geometry::new(&self.spec(), self.spec.patch)
    }

    fn official_config(&self) -> Option<String> {
        Some(official_json(&self.spec.to_official().ok()?))
    }

    /// The official prediction covers the masked tokens only (`[N, M, P]`, raster order of the
    /// masked tokens); here it is spread to `[N, L, P]` with zero rows for the visible tokens,
    /// which the pictures paste from the clip.
    fn pred_in_raster_order(&self, inputs: &StepInputs, pred: &[f32]) -> Vec<f32> {
        let Some(masked) = inputs.u32_input(inputs::IDS_MASKED) else {
            return pred.to_vec();
        };
        let (l, p) = (self.dims.tokens, self.dims.pred_dim);
        rows_to_raster(pred, masked, l - inputs.shape.keep, l, p)
    }
}
