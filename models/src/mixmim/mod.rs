//! MixMIM / MixMAE (Sense-X/MixMIM): two images of a batch are mixed by one batch-shared mask
//! on the last stage's grid, a Swin encoder without shifted windows keeps each token's
//! attention inside its source image, and a two-branch decoder reconstructs both images. The
//! [`Model`] of the `mixmim` family.
mod batch;
mod graph;
pub mod picture;

pub use batch::{check_even, float_masked_count, partner, Mixing};
pub use graph::{inputs, CROSS_IMAGE_LOGIT};

use tessera_dsl::graph::GResult;
use tessera_dsl::mask::{mixed::mixed, Grid};
use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{MixMimDims, MixMimSpec, ModelSpec};

use crate::model::{
    official_json, Extras, FeatureGraph, Geometry, Model, ModelError, StepGraph, StepInputs,
    StepShape,
};
use crate::params::ParamSpec;
use crate::sample::Samples;
use crate::tensors::TensorFile;

/// A MixMIM model built from its spec.
#[derive(Clone, Debug)]
pub struct MixMimModel {
    spec: MixMimSpec,
    dims: MixMimDims,
    params: Vec<ParamSpec>,
}

impl MixMimModel {
    pub fn new(spec: MixMimSpec) -> Result<MixMimModel, ModelError> {
        let dims = spec.validate()?;
        let (_, built) = graph::build(&spec, &dims, batch::step_shape(&dims, 2), &Extras::None)?;
        Ok(MixMimModel {
            spec,
            dims,
            params: built.params,
        })
    }

    /// The un-mixed reconstruction `[N, L4, P]` from a step's prediction `[2N, L4, P]` (both
    /// branches), each image's cells taken from the branch that predicted them.
    pub fn unmix(&self, inputs: &StepInputs, pred: &[f32]) -> Option<Vec<f32>> {
        let rows = inputs.u32_input(inputs::UNMIX_ROWS)?;
        let p = self.dims.pred_dim;
        if pred.len() != 2 * rows.len() * p {
            return None;
        }
        let mut out = Vec::with_capacity(rows.len() * p);
        for &r in rows {
            let r = r as usize;
            out.extend_from_slice(&pred[r * p..(r + 1) * p]);
        }
        Some(out)
    }
}

impl Model for MixMimModel {
    fn spec(&self) -> ModelSpec {
        ModelSpec::MixMim(self.spec)
    }

    fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    fn step_shape(&self, batch: usize) -> StepShape {
        batch::step_shape(&self.dims, batch)
    }

    fn step_graph(&self, shape: StepShape, extras: &Extras) -> GResult<StepGraph> {
        Ok(graph::build(&self.spec, &self.dims, shape, extras)?.0)
    }

    fn step_inputs(&self, batch: &Samples<'_>, rng: &mut Rng) -> Result<StepInputs, ModelError> {
        let n = batch.count(&self.sample()).map_err(ModelError::Batch)?;
        // Refuse an odd batch before drawing, so the error consumes no randomness.
        check_even(n)?;
        let g = self.dims.stage_grids[0];
        let m = mixed(Grid::new(g, g), self.dims.num_stages, self.spec.ratio, rng)?;
        let mixing = Mixing::from_coarse(&self.dims, m.coarse())?;
        batch::inputs(&self.dims, batch.pixels.to_vec(), n, &mixing)
    }

    fn eval_inputs(&self, file: &TensorFile) -> Result<StepInputs, ModelError> {
        batch::official(file, &self.dims)
    }

    fn feature_graph(&self, batch: usize) -> GResult<FeatureGraph> {
        graph::features(&self.spec, &self.dims, batch)
    }

    fn geometry(&self) -> Geometry {
        Geometry::new(&self.spec(), self.dims.pred_patch)
    }

    fn official_config(&self) -> Option<String> {
        Some(official_json(&self.spec.to_official().ok()?))
    }

    /// The step's prediction holds both branches of every mixed sample (`[2N, L4, P]`, as the
    /// official `x_rec`); pictures show each image's reconstruction, un-mixed.
    fn pred_in_raster_order(&self, inputs: &StepInputs, pred: &[f32]) -> Vec<f32> {
        self.unmix(inputs, pred).unwrap_or_else(|| pred.to_vec())
    }
}
