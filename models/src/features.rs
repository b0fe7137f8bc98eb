//! Encoder features for linear probing, on either backend: a model's encoder over ALL patch
//! tokens (no masking), as `forward_encoder(imgs, mask_ratio=0)` computes it, giving the
//! final-norm [CLS] token (when the model has one) and the mean of the final-norm patch
//! tokens. The graph is the model's own encoder, so only the encoder's parameters are read and
//! an encoder-only checkpoint works too.
use tessera_dsl::graph::{compile, GraphError, NodeId};
use tessera_runtime::backend::{BackendError, Device, Executor};

use crate::model::Model;
use crate::params::ParamSet;
use crate::step::load_state;

/// Why features could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error("building the encoder graph: {0}")]
    Graph(#[from] GraphError),
    #[error("{0}")]
    Backend(#[from] BackendError),
    #[error("the encoder needs parameter `{0}`, which the checkpoint does not hold")]
    MissingParam(String),
    #[error("{found} images were given; this extractor takes 1 to {batch} at a time")]
    Count { batch: usize, found: usize },
    #[error("the images hold {found} values; {count} images of {per} values were expected")]
    Values {
        count: usize,
        per: usize,
        found: usize,
    },
}

/// Features of a batch, `[n, D]` each, row-major.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Features {
    pub dim: usize,
    /// `norm(x)[:, 0]`, the [CLS] token (the official linear probe's feature); empty for a
    /// model without one.
    pub cls: Vec<f32>,
    /// `norm(x)[:, 1:].mean(1)`, the mean of the patch tokens.
    pub mean: Vec<f32>,
}

impl Features {
    pub fn len(&self) -> usize {
        self.mean.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// Appends another batch's rows.
    pub fn extend(&mut self, other: &Features) {
        self.dim = other.dim;
        self.cls.extend_from_slice(&other.cls);
        self.mean.extend_from_slice(&other.mean);
    }
}

/// The encoder planned once for batches of up to `batch` images.
pub struct FeatureExtractor {
    exec: Box<dyn Executor>,
    input: String,
    batch: usize,
    per_image: usize,
    dim: usize,
    cls: Option<NodeId>,
    mean: NodeId,
}

impl FeatureExtractor {
    /// Plans `model`'s encoder for `batch` images on `device` with the values in `params`
    /// (which may hold the decoder too; it is ignored).
    pub fn new(
        model: &dyn Model,
        params: &ParamSet,
        batch: usize,
        device: &mut Device,
    ) -> Result<Self, FeatureError> {
        let fg = model.feature_graph(batch)?;
        let mut outputs = vec![fg.mean];
        outputs.extend(fg.cls);
        let plan = compile(&fg.graph, &outputs, &device.plan_options())?;
        // Every parameter the encoder reads (what survives in the plan) must be in the
        // checkpoint; the decoder's are not read.
        for (name, id) in plan.graph.leaves() {
            let is_param = matches!(
                plan.graph.node(id).role,
                tessera_dsl::graph::Role::Param { .. } | tessera_dsl::graph::Role::Frozen { .. }
            );
            let constant = fg.constants.iter().any(|(n, _)| n == name);
            let read = plan.slot_by_name(name).is_some();
            if is_param && read && !constant && params.get(name).is_none() {
                return Err(FeatureError::MissingParam(name.to_string()));
            }
        }
        let label = format!("encoder features (batch {batch})");
        let mut exec = device.compile(&plan, &label)?;
        load_state(exec.as_mut(), params, &fg.constants)?;
        Ok(FeatureExtractor {
            exec,
            input: fg.input,
            batch,
            per_image: model.image().numel(),
            dim: fg.dim,
            cls: fg.cls,
            mean: fg.mean,
        })
    }

    /// Largest number of images one call takes.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Width of a feature row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Whether the model has a [CLS] feature.
    pub fn has_cls(&self) -> bool {
        self.cls.is_some()
    }

    /// Features of `imgs` (`[n, C, H, W]` normalized, `1 <= n <= batch`). A short batch is
    /// padded with zeros, whose rows are dropped (every image is computed independently).
    pub fn run(&mut self, imgs: &[f32]) -> Result<Features, FeatureError> {
        let n = imgs.len() / self.per_image;
        if n == 0 || n > self.batch {
            return Err(FeatureError::Count {
                batch: self.batch,
                found: n,
            });
        }
        if imgs.len() != n * self.per_image {
            return Err(FeatureError::Values {
                count: n,
                per: self.per_image,
                found: imgs.len(),
            });
        }
        if n == self.batch {
            self.exec.set_input(&self.input, imgs)?;
        } else {
            let mut padded = vec![0.0; self.batch * self.per_image];
            padded[..imgs.len()].copy_from_slice(imgs);
            self.exec.set_input(&self.input, &padded)?;
        }
        self.exec.run()?;
        let rows = n * self.dim;
        let cls = match self.cls {
            Some(id) => self.exec.read(id)?[..rows].to_vec(),
            None => Vec::new(),
        };
        Ok(Features {
            dim: self.dim,
            cls,
            mean: self.exec.read(self.mean)?[..rows].to_vec(),
        })
    }
}
