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
use tessera_dsl::spec::{ImageSpec, MaskSpec, ModelSpec, UmSwinDims, UmSwinSpec};

use crate::model::{
    Extras, FeatureGraph, Geometry, InputValues, Model, ModelError, StepGraph, StepInputs,
    StepShape,
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
        let shape = StepShape {
            batch: 1,
            keep: dims.compact_grid * dims.compact_grid,
        };
        let (_, built) = graph::build(&spec, &dims, shape, &Extras::None)?;
        Ok(UmSwinModel {
            spec,
            dims,
            params: built.params,
        })
    }

    pub fn dims(&self) -> &UmSwinDims {
        &self.dims
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

    fn image(&self) -> ImageSpec {
        self.spec.image
    }

    fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    fn step_shape(&self, batch: usize) -> StepShape {
        StepShape {
            batch,
            keep: self.dims.compact_grid * self.dims.compact_grid,
        }
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
        Geometry {
            image: self.dims.image,
            channels: self.spec.image.channels,
            patch: self.spec.mask_cell,
            target: self.spec.target,
        }
    }

    fn official_config(&self) -> Option<String> {
        let args = self.spec.to_official().ok()?;
        Some(serde_json::to_string(&args).expect("plain struct serializes"))
    }

    fn pred_in_raster_order(&self, inputs: &StepInputs, pred: &[f32]) -> Vec<f32> {
        let rows = inputs.tensors.iter().find_map(|(name, v)| match v {
            InputValues::U32(r) if name == inputs::ROWS => Some(r),
            _ => None,
        });
        let Some(rows) = rows else {
            return pred.to_vec();
        };
        let (cells, p) = (self.dims.mask_cells, self.dims.pred_dim);
        let mut out = vec![0.0; pred.len()];
        for (i, &cell) in rows.iter().enumerate() {
            let (sample, row) = (i / cells, i % cells);
            let from = (sample * cells + row) * p;
            let to = (sample * cells + cell as usize) * p;
            out[to..to + p].copy_from_slice(&pred[from..from + p]);
        }
        out
    }
}
