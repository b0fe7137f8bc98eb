//! Encoder features for linear probing: the MAE encoder over ALL patch tokens (no masking), as
//! `forward_encoder(imgs, mask_ratio=0)` computes it, returning the final-norm [CLS] token and
//! the mean of the final-norm patch tokens. Only the encoder's parameters (official names)
//! are used, so an encoder-only checkpoint works too.
use super::model::{block, layer_norm};
use tessera_dsl::graph::{compile, GResult, Graph, GraphError, NodeId, PatchOrder, PlanOptions};
use tessera_runtime::backend::BackendError;
use tessera_runtime::cpu::CpuExecutor;

use super::config::{MaeConfig, MaeDims};
use super::params::{param_specs, ParamSet, ParamSpec};

/// Name of the `[N, C, H, W]` image input.
pub const IMGS: &str = "imgs";

/// Why features could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error("building the encoder graph: {0}")]
    Graph(#[from] GraphError),
    #[error("CPU backend: {0}")]
    Cpu(#[from] BackendError),
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
    /// `norm(x)[:, 0]`, the [CLS] token (the official linear probe's feature).
    pub cls: Vec<f32>,
    /// `norm(x)[:, 1:].mean(1)`, the mean of the patch tokens.
    pub mean: Vec<f32>,
}

impl Features {
    pub fn len(&self) -> usize {
        self.cls.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.cls.is_empty()
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
    exec: CpuExecutor<f32>,
    batch: usize,
    per_image: usize,
    dim: usize,
    cls: NodeId,
    mean: NodeId,
}

/// The state-dict entries the encoder uses, in state-dict order.
pub fn encoder_specs(cfg: &MaeConfig, dims: &MaeDims) -> Vec<ParamSpec> {
    param_specs(cfg, dims)
        .into_iter()
        .filter(|s| {
            let n = s.name.as_str();
            n == "cls_token"
                || n == "pos_embed"
                || n.starts_with("patch_embed.")
                || n.starts_with("blocks.")
                || n.starts_with("norm.")
        })
        .collect()
}

impl FeatureExtractor {
    /// Plans the encoder of `cfg` for `batch` images with the values in `params` (which may
    /// hold the decoder too; it is ignored).
    pub fn new(
        cfg: &MaeConfig,
        dims: &MaeDims,
        params: &ParamSet,
        batch: usize,
    ) -> Result<Self, FeatureError> {
        let specs = encoder_specs(cfg, dims);
        let (g, cls, mean) = build_encoder(cfg, dims, &specs, batch)?;
        let plan = compile(&g, &[cls, mean], &PlanOptions::default())?;
        let mut exec = CpuExecutor::<f32>::new(&plan)?;
        for spec in &specs {
            let values = params
                .get(&spec.name)
                .ok_or_else(|| FeatureError::MissingParam(spec.name.clone()))?;
            if spec.trainable {
                exec.set_param(&spec.name, values)?;
            } else {
                exec.set_frozen(&spec.name, values)?;
            }
        }
        Ok(FeatureExtractor {
            exec,
            batch,
            per_image: cfg.in_chans * cfg.img_size * cfg.img_size,
            dim: cfg.embed_dim,
            cls,
            mean,
        })
    }

    /// Largest number of images one call takes.
    pub fn batch(&self) -> usize {
        self.batch
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
            self.exec.set_input(IMGS, imgs)?;
        } else {
            let mut padded = vec![0.0; self.batch * self.per_image];
            padded[..imgs.len()].copy_from_slice(imgs);
            self.exec.set_input(IMGS, &padded)?;
        }
        self.exec.run()?;
        let rows = n * self.dim;
        Ok(Features {
            dim: self.dim,
            cls: self.exec.view(self.cls)?[..rows].to_vec(),
            mean: self.exec.view(self.mean)?[..rows].to_vec(),
        })
    }
}

/// The encoder graph: patch embedding, sin-cos positions, [CLS], blocks, final norm; outputs
/// the [CLS] row and the mean over patch rows, both `[N, D]`.
fn build_encoder(
    cfg: &MaeConfig,
    dims: &MaeDims,
    specs: &[ParamSpec],
    batch: usize,
) -> GResult<(Graph, NodeId, NodeId)> {
    let mut g = Graph::new();
    let (n, l, d, p) = (batch, dims.num_patches, cfg.embed_dim, cfg.patch_size);
    let eps = cfg.layer_norm_eps;
    let imgs = g.input(IMGS, &[n, cfg.in_chans, cfg.img_size, cfg.img_size])?;
    for spec in specs {
        if spec.trainable {
            g.param(&spec.name, &spec.shape, true)?;
        } else {
            g.frozen(&spec.name, &spec.shape)?;
        }
    }
    let leaf = |g: &Graph, name: &str| g.by_name(name).expect("declared above");
    // Conv2d(k = s = p) as a Linear over (c, pi, pj)-ordered patches.
    let patches = g.patchify(imgs, p, PatchOrder::Cpq)?;
    let w = g.reshape(leaf(&g, "patch_embed.proj.weight"), &[d, dims.patch_dim])?;
    let x = g.linear(patches, w, Some(leaf(&g, "patch_embed.proj.bias")))?;
    let pos = leaf(&g, "pos_embed");
    let pos_patches = g.slice(pos, 1, 1, l)?;
    let x = g.add(x, pos_patches)?;
    let pos_cls = g.slice(pos, 1, 0, 1)?;
    let cls = g.add(leaf(&g, "cls_token"), pos_cls)?;
    let cls = g.expand(cls, &[n, 1, d])?;
    let mut x = g.concat(&[cls, x], 1)?;
    for i in 0..cfg.depth {
        x = block(&mut g, &format!("blocks.{i}"), x, cfg.num_heads, eps)?;
    }
    let x = layer_norm(&mut g, "norm", x, eps)?;
    let cls = g.slice(x, 1, 0, 1)?;
    let cls = g.reshape(cls, &[n, d])?;
    let patches = g.slice(x, 1, 1, l)?;
    let mean = g.mean(patches, 1, false)?;
    Ok((g, cls, mean))
}
