//! The baseline UM-MAE is measured against: SimMIM-style symmetric pre-training of the same
//! Swin. Every token of the full map goes through the encoder, masked ones replaced by a
//! learned mask token after the patch embedding (SimMIM's `SwinTransformerForSimMIM`); a
//! linear head turns each final token into the pixels of the 2x2 mask cells it covers, and the
//! loss is the spec's target over the masked cells, as UM-MAE's. The windows are the spec's
//! pre-training windows, now on the full map, so both pay the same attention per token and the
//! difference is the token count: what the asymmetric design saves.
//!
//! It differs from SimMIM's own recipe where that would not change the cost of a step: the
//! cells are masked by the spec's uniform sampling (SimMIM: random 32-px patches at 0.6) and
//! the loss is the spec's target (SimMIM: L1 on raw pixels). It exists for `tessera bench`;
//! there is no official checkpoint format to load into it.
use tessera_dsl::graph::GResult;
use tessera_dsl::mask::{uniform::uniform, Grid};
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{ModelSpec, UmSwinDims, UmSwinSpec};

use super::graph::{embed, full_map_coords, stages, Stages};
use crate::blocks::{linear, pixel_target, Builder, Built, Linear, LinearInit};
use crate::model::{
    Extras, FeatureGraph, Geometry, InputValues, Model, ModelError, StepGraph, StepInputs,
    StepShape,
};
use crate::params::{Init, ParamSpec};
use crate::sample::Samples;
use crate::tensors::TensorFile;

/// Names of the per-step inputs.
pub mod inputs {
    pub use super::super::graph::inputs::{IMGS, LOSS_ROWS};
    /// `[N, E², 1]` f32: 1 where the mask token replaces the patch token.
    pub const MASKED_TOKENS: &str = "masked_tokens";
}

/// A Swin pre-trained SimMIM-style (symmetric), with the encoder of a [`UmSwinSpec`].
#[derive(Clone, Debug)]
pub struct SimMimSwin {
    spec: UmSwinSpec,
    dims: UmSwinDims,
    params: Vec<ParamSpec>,
}

impl SimMimSwin {
    pub fn new(spec: UmSwinSpec) -> Result<SimMimSwin, ModelError> {
        let dims = spec.validate()?;
        let shape = StepShape::new(1, dims.token_grid * dims.token_grid);
        let (_, built) = build(&spec, &dims, shape, &Extras::None)?;
        Ok(SimMimSwin {
            spec,
            dims,
            params: built.params,
        })
    }
}

/// The step graph: embed, mask, every token through the stages, linear head, masked loss.
fn build(
    spec: &UmSwinSpec,
    d: &UmSwinDims,
    shape: StepShape,
    extras: &Extras,
) -> GResult<(StepGraph, Built)> {
    let mut b = Builder::new();
    let mut s = b.root();
    let n = shape.batch;
    let (c0, e, cells) = (spec.stages.items[0].dim, d.token_grid, d.mask_cells);
    let mask_token = s.param("mask_token", &[1, 1, c0], Init::Normal { std: 0.02 })?;
    let geometry = Stages::full_map_pretraining(spec, d);
    let coords = full_map_coords(&mut s, &geometry)?;
    let img = spec.image;
    let g = s.g();
    let imgs = g.input(inputs::IMGS, &[n, img.channels, img.height, img.width])?;
    let masked = g.input(inputs::MASKED_TOKENS, &[n, e * e, 1])?;
    let loss_rows = g.input(inputs::LOSS_ROWS, &[n, cells])?;

    let x = embed(&mut s, spec, imgs)?; // [N, E², C0]
    let g = s.g();
    let delta = g.sub(mask_token, x)?;
    let delta = g.mul(masked, delta)?;
    let x = g.add(x, delta)?;
    let x = g.reshape(x, &[n, e, e, c0])?;
    let x = stages(&mut s, spec, d, &geometry, x, &coords)?;

    // Each final token covers 2x2 mask cells (the final map is half the mask grid).
    let last = *geometry.grids.last().expect("at least one stage");
    let c_last = spec.stages.items[d.num_stages - 1].dim;
    let p = d.pred_dim;
    let y = linear(
        &mut s.pp("decoder"),
        x,
        Linear::new(c_last, 4 * p, LinearInit::Xavier),
    )?;
    let g = s.g();
    let y = g.reshape(y, &[n, last, last, 2, 2, p])?;
    let y = g.permute(y, &[0, 1, 3, 2, 4, 5])?;
    let pred = g.reshape(y, &[n, cells, p])?;
    let target = pixel_target(g, imgs, spec.mask_cell, spec.target)?;
    let loss = g.masked_mse(pred, target, loss_rows)?;
    StepGraph::finish(b, shape, loss, pred, extras)
}

impl Model for SimMimSwin {
    /// The spec of the encoder (and of the UM-MAE model this is the baseline of).
    fn spec(&self) -> ModelSpec {
        ModelSpec::UmSwin(self.spec)
    }

    fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    fn step_shape(&self, batch: usize) -> StepShape {
        StepShape::new(batch, self.dims.token_grid * self.dims.token_grid)
    }

    fn step_graph(&self, shape: StepShape, extras: &Extras) -> GResult<StepGraph> {
        Ok(build(&self.spec, &self.dims, shape, extras)?.0)
    }

    fn step_inputs(&self, batch: &Samples<'_>, rng: &mut Rng) -> Result<StepInputs, ModelError> {
        let n = batch.count(&self.sample()).map_err(ModelError::Batch)?;
        let (m, e) = (self.dims.mask_grid, self.dims.token_grid);
        let k = self.spec.mask_cell / self.spec.patch;
        let (mut masks, mut tokens) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let mask = uniform(Grid::new(m, m), self.spec.mask.ratio(), rng)?;
            let mask: Vec<f32> = mask.mask().iter().map(|&v| v as f32).collect();
            tokens.extend((0..e * e).map(|t| mask[(t / e / k) * m + (t % e) / k]));
            masks.push(mask);
        }
        let mask = masks.concat();
        Ok(StepInputs {
            shape: self.step_shape(masks.len()),
            tensors: vec![
                (
                    inputs::IMGS.to_string(),
                    InputValues::F32(batch.pixels.to_vec()),
                ),
                (inputs::MASKED_TOKENS.into(), InputValues::F32(tokens)),
                (inputs::LOSS_ROWS.into(), InputValues::F32(mask.clone())),
            ],
            mask,
        })
    }

    fn eval_inputs(&self, _file: &TensorFile) -> Result<StepInputs, ModelError> {
        Err(ModelError::Unsupported(
            "the SimMIM-style Swin is tessera's benchmark baseline; it reads no official batches"
                .into(),
        ))
    }

    fn feature_graph(&self, batch: usize) -> GResult<FeatureGraph> {
        super::graph::features(&self.spec, &self.dims, batch)
    }

    fn geometry(&self) -> Geometry {
        Geometry::new(&self.spec(), self.spec.mask_cell)
    }

    fn official_config(&self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Extras;
    use tessera_dsl::presets::UmSwinTiny32;

    /// Every token is processed: the masked ones carry the mask token, and exactly the masked
    /// cells' tokens are marked.
    #[test]
    fn masks_whole_cells_and_processes_every_token() {
        let model = SimMimSwin::new(UmSwinTiny32::SPEC).unwrap();
        let d = model.dims;
        let images = vec![0.5f32; 2 * model.image().numel()];
        let inputs = model
            .step_inputs(&Samples::pixels(&images), &mut Rng::seed_from_u64(3))
            .unwrap();
        let InputValues::F32(tokens) = &inputs.tensors[1].1 else {
            panic!("masked tokens are f32")
        };
        let per_cell = (UmSwinTiny32::SPEC.mask_cell / UmSwinTiny32::SPEC.patch).pow(2);
        let masked: f32 = tokens.iter().sum();
        assert_eq!(masked as usize, 2 * d.masked_cells * per_cell);
        let step = model
            .step_graph(model.step_shape(2), &Extras::Grads)
            .unwrap();
        assert_eq!(step.graph.shape(step.pred), &[2, d.mask_cells, d.pred_dim]);
        assert!(model.params().iter().any(|p| p.name == "mask_token"));
    }
}
