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
use tessera_dsl::spec::{ImageSpec, MaeDims, MaeSpec, MaskSpec, ModelSpec};

use crate::model::{
    Extras, FeatureGraph, Geometry, InputValues, Model, ModelError, StepGraph, StepInputs,
    StepShape,
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
        Geometry {
            image: self.dims.image,
            channels: self.spec.image.channels,
            patch: self.spec.patch,
            target: self.spec.target,
        }
    }

    fn official_config(&self) -> Option<String> {
        let json = match self.spec.mask {
            // UM-MAE's constructor: MAE's arguments plus its masking ones.
            MaskSpec::Uniform { .. } => serde_json::to_string(&self.spec.to_um_official().ok()?),
            MaskSpec::Random { .. } | MaskSpec::Block { .. } | MaskSpec::Custom { .. } => {
                serde_json::to_string(&self.spec.to_official().ok()?)
            }
        };
        Some(json.expect("plain struct serializes"))
    }

    fn pred_in_raster_order(&self, inputs: &StepInputs, pred: &[f32]) -> Vec<f32> {
        if DecoderOrder::of(&self.spec) == DecoderOrder::Raster {
            return pred.to_vec();
        }
        // Row r of sample b holds patch ids_shuffle[b, r].
        let Some(ids) = inputs.tensors.iter().find_map(|(name, v)| match v {
            InputValues::U32(ids) if name == graph::inputs::IDS_SHUFFLE => Some(ids),
            _ => None,
        }) else {
            return pred.to_vec();
        };
        let (n, l) = (inputs.shape.batch, self.dims.tokens);
        let p = pred.len() / (n * l).max(1);
        let mut out = vec![0.0; pred.len()];
        for b in 0..n {
            for r in 0..l {
                let patch = ids[b * l + r] as usize;
                let (src, dst) = ((b * l + r) * p, (b * l + patch) * p);
                out[dst..dst + p].copy_from_slice(&pred[src..src + p]);
            }
        }
        out
    }
}
