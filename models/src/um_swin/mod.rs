//! UM-MAE on Swin (implus/UM-MAE): uniform sampling keeps one mask cell of every 2x2 block,
//! the visible quarter is compacted into a dense map the Swin stages run on, and secondary
//! masking replaces a share of the visible cells by a learned token. The [`Model`] of the
//! `um_swin` family.
mod batch;
mod graph;
mod layout;
mod simmim;

pub use batch::secondary_replaced;
pub use graph::inputs;
pub use layout::{Cells, Layout};
pub use simmim::SimMimSwin;

use tessera_dsl::graph::GResult;
use tessera_dsl::mask::spec::sample;
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{MaskSpec, ModelSpec, UmSwinDims, UmSwinSpec};

use crate::model::{
    official_json, rows_to_raster, Extras, FeatureGraph, Geometry, Model, ModelError, StepGraph,
    StepInputs, StepShape,
};
use crate::params::ParamSpec;
use crate::sample::Samples;
use crate::tensors::TensorFile;

/// A Swin encoder pre-trained with UM-MAE, built from its spec.
#[derive(Clone, Debug)]
pub struct UmSwinModel {
    spec: UmSwinSpec,
    dims: UmSwinDims,
    params: Vec<ParamSpec>,
}

impl UmSwinModel {
    pub fn new(spec: UmSwinSpec) -> Result<UmSwinModel, ModelError> {
        let dims = spec.validate()?;
        let shape = StepShape::new(1, dims.compact_grid * dims.compact_grid);
        let (_, built) = graph::build(&spec, &dims, shape, &Extras::None)?;
        Ok(UmSwinModel {
            spec,
            dims,
            params: built.params,
        })
    }

    /// Visible cells that keep their tokens, `floor(V · (1 − secondary))`.
    fn vis_final(&self) -> usize {
        match self.spec.mask {
            MaskSpec::Uniform {
                secondary: Some(r), ..
            } => r.keep_of(self.dims.visible_cells),
            _ => self.dims.visible_cells,
        }
    }
}

impl Model for UmSwinModel {
    fn spec(&self) -> ModelSpec {
        ModelSpec::UmSwin(self.spec)
    }

    fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    fn step_shape(&self, batch: usize) -> StepShape {
        StepShape::new(batch, self.dims.compact_grid * self.dims.compact_grid)
    }

    fn step_graph(&self, shape: StepShape, extras: &Extras) -> GResult<StepGraph> {
        Ok(graph::build(&self.spec, &self.dims, shape, extras)?.0)
    }

    fn step_inputs(&self, batch: &Samples<'_>, rng: &mut Rng) -> Result<StepInputs, ModelError> {
        let n = batch.count(&self.sample()).map_err(ModelError::Batch)?;
        let m = self.dims.mask_grid;
        let mut masks = Vec::new();
        let mut replaced = Vec::new();
        for _ in 0..n {
            // Through the spec: uniform sampling, or a custom strategy checked against the
            // one-per-block promise its spec was validated with.
            let mask = sample(&self.spec.mask, m, rng)?;
            let mask: Vec<f32> = mask.mask().iter().map(|&v| v as f32).collect();
            let noise = tessera_dsl::mask::draw_noise(m * m, rng);
            replaced.push(secondary_replaced(&mask, &noise, self.vis_final())?);
            masks.push(mask);
        }
        batch::inputs(
            &self.spec,
            &self.dims,
            batch.pixels.to_vec(),
            &masks,
            replaced,
        )
    }

    fn eval_inputs(&self, file: &TensorFile) -> Result<StepInputs, ModelError> {
        let path = file.path.display().to_string();
        let imgs = file.require("imgs")?;
        let (c, side) = (self.spec.image.channels, self.dims.image);
        if imgs.shape.len() != 4 || imgs.shape[0] == 0 || imgs.shape[1..] != [c, side, side] {
            return Err(ModelError::BatchShape {
                path,
                name: "imgs",
                expected: format!("[N, {c}, {side}, {side}] (f32, N >= 1)"),
                found: imgs.shape.clone(),
            });
        }
        let (n, cells) = (imgs.shape[0], self.dims.mask_cells);
        let mut rows = Vec::new();
        for name in ["mask", "secondary_noise"] {
            let t = file.require(name)?;
            if t.shape != [n, cells] {
                return Err(ModelError::BatchShape {
                    path: path.clone(),
                    name: if name == "mask" {
                        "mask"
                    } else {
                        "secondary_noise"
                    },
                    expected: format!("[{n}, {cells}] (one value per image and mask cell)"),
                    found: t.shape.clone(),
                });
            }
            rows.push(
                t.data
                    .chunks(cells)
                    .map(<[f32]>::to_vec)
                    .collect::<Vec<_>>(),
            );
        }
        let (masks, noise) = (&rows[0], &rows[1]);
        let replaced = masks
            .iter()
            .zip(noise)
            .map(|(m, r)| secondary_replaced(m, r, self.vis_final()))
            .collect::<Result<_, _>>()?;
        batch::inputs(&self.spec, &self.dims, imgs.data.clone(), masks, replaced)
    }

    fn feature_graph(&self, batch: usize) -> GResult<FeatureGraph> {
        graph::features(&self.spec, &self.dims, batch)
    }

    fn geometry(&self) -> Geometry {
        Geometry::new(&self.spec(), self.spec.mask_cell)
    }

    fn official_config(&self) -> Option<String> {
        Some(official_json(&self.spec.to_official().ok()?))
    }

    fn pred_in_raster_order(&self, inputs: &StepInputs, pred: &[f32]) -> Vec<f32> {
        let Some(rows) = inputs.u32_input(inputs::ROWS) else {
            return pred.to_vec();
        };
        let (cells, p) = (self.dims.mask_cells, self.dims.pred_dim);
        rows_to_raster(pred, rows, cells, cells, p)
    }
}
