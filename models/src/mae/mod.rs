//! MAE with a plain ViT (facebookresearch/mae) and every variant composed from a ViT encoder,
//! a token-dropping mask, a ViT decoder and a pixel target: the [`Model`] of the `mae` family.
//! With uniform masking it is UM-MAE's ViT (implus/UM-MAE), secondary masking included.
pub(crate) mod batch;
mod graph;

pub use graph::{inputs, DecoderOrder};

use tessera_dsl::graph::GResult;
use tessera_dsl::mask::draw_noise;
use tessera_dsl::mask::spec::sample_masks;
use tessera_dsl::mask::uniform::{secondary_from_noise, Secondary};
use tessera_dsl::mask::Mask;
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{MaeDims, MaeSpec, MaskSpec, ModelSpec};

use crate::model::{
    official_json, rows_to_raster, Extras, FeatureGraph, Geometry, Model, ModelError, StepGraph,
    StepInputs, StepShape,
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
        let shape = StepShape::new(1, dims.keep);
        let (_, built) = graph::build(&spec, &dims, shape, &Extras::None)?;
        Ok(MaeModel {
            spec,
            dims,
            params: built.params,
        })
    }
}

impl Model for MaeModel {
    fn spec(&self) -> ModelSpec {
        ModelSpec::Mae(self.spec)
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
        let images = batch.pixels;
        let masks: Vec<Mask> = sample_masks(&self.spec.mask, self.dims.grid, n, rng)?;
        match self.spec.mask {
            MaskSpec::Uniform { secondary, .. } => {
                // One secondary draw per sample, after the masks, from the same step stream.
                let secondary: Option<Vec<Secondary>> = secondary
                    .map(|ratio| {
                        masks
                            .iter()
                            .map(|m| {
                                let noise = draw_noise(m.len_keep(), rng);
                                secondary_from_noise(m, &noise, ratio, self.spec.secondary_rule)
                            })
                            .collect::<Result<_, _>>()
                    })
                    .transpose()?;
                batch::visible_first(images.to_vec(), &masks, secondary.as_deref())
            }
            MaskSpec::Random { .. } | MaskSpec::Block { .. } | MaskSpec::Custom { .. } => {
                Ok(batch::inputs(
                    images.to_vec(),
                    tessera_dsl::mask::MaskBatch::from_masks(&masks)?,
                ))
            }
        }
    }

    fn eval_inputs(&self, file: &TensorFile) -> Result<StepInputs, ModelError> {
        batch::official(file, &self.spec, &self.dims)
    }

    fn feature_graph(&self, batch: usize) -> GResult<FeatureGraph> {
        graph::features(&self.spec, &self.dims, batch)
    }

    fn geometry(&self) -> Geometry {
        Geometry::new(&self.spec(), self.spec.patch)
    }

    fn official_config(&self) -> Option<String> {
        Some(match self.spec.mask {
            // UM-MAE's constructor: MAE's arguments plus its masking ones.
            MaskSpec::Uniform { .. } => official_json(&self.spec.to_um_official().ok()?),
            MaskSpec::Random { .. } | MaskSpec::Block { .. } | MaskSpec::Custom { .. } => {
                official_json(&self.spec.to_official().ok()?)
            }
        })
    }

    fn pred_in_raster_order(&self, inputs: &StepInputs, pred: &[f32]) -> Vec<f32> {
        if DecoderOrder::of(&self.spec) == DecoderOrder::Raster {
            return pred.to_vec();
        }
        // Row r of sample b holds patch ids_shuffle[b, r].
        let Some(ids) = inputs.u32_input(graph::inputs::IDS_SHUFFLE) else {
            return pred.to_vec();
        };
        let (n, l) = (inputs.shape.batch, self.dims.tokens);
        rows_to_raster(pred, ids, l, l, pred.len() / (n * l).max(1))
    }
}
