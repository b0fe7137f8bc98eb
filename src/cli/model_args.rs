//! The vocabulary every model-building command shares, in one place so each family inherits
//! it: `--model PRESET` or `--config SPEC.toml` names a model of any family, `--backend` and
//! `--adapter` name where it runs. Families whose model is not built yet stop here with one
//! line that says so.
use std::path::PathBuf;

use tessera::spec_file;
use tessera_dsl::spec::{MaskSpec, ModelSpec, Target};
use tessera_dsl::{presets, Ratio};
use tessera_models::{build, Model, ModelError};
use tessera_runtime::backend::{BackendChoice, BackendError, Device};

use super::bad_input;

/// Which model: a preset or a spec file.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ModelChoice {
    /// Model preset (`tessera check --preset NAME` shows one): an official factory
    /// (mae_vit_base_patch16, hivit_base_224, ...) or tessera's (mae_tiny_32, mae_fmnist_small,
    /// mae_block_tiny_32, um_vit_tiny_32, um_vit_fmnist_small, hivit_tiny_32, hivit_fmnist_small).
    #[arg(long, value_name = "PRESET", conflicts_with = "config")]
    pub model: Option<String>,
    /// Model spec in TOML, of any family (see examples/specs/), instead of --model.
    #[arg(long, value_name = "SPEC.toml")]
    pub config: Option<PathBuf>,
}

impl ModelChoice {
    /// The spec named, if any.
    pub fn spec(&self) -> anyhow::Result<Option<ModelSpec>> {
        match (&self.model, &self.config) {
            (Some(name), _) => Ok(Some(preset(name)?)),
            (None, Some(path)) => {
                let spec = spec_file::load(path)
                    .map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
                spec.validate()
                    .map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
                Ok(Some(spec))
            }
            (None, None) => Ok(None),
        }
    }

    /// The spec named, or the preset `default`.
    pub fn spec_or(&self, default: &str) -> anyhow::Result<ModelSpec> {
        Ok(match self.spec()? {
            Some(s) => s,
            None => preset(default)?,
        })
    }
}

/// The preset `name`, or an error listing the presets.
pub fn preset(name: &str) -> anyhow::Result<ModelSpec> {
    presets::by_name(name).ok_or_else(|| {
        bad_input(format!(
            "unknown model `{name}`; presets: {}",
            presets::names()
        ))
    })
}

/// The model of `spec`; a family without a model, or a variant not supported yet, is the
/// user's to change.
pub fn model_of(spec: &ModelSpec) -> anyhow::Result<Box<dyn Model>> {
    build(spec).map_err(|e| match e {
        ModelError::Shape(_) | ModelError::NotBuilt { .. } | ModelError::Unsupported(_) => {
            bad_input(e.to_string())
        }
        other => anyhow::Error::new(other),
    })
}

/// `spec` with its mask ratio replaced by `text` (`3/4`, `0.75`).
pub fn with_mask_ratio(spec: ModelSpec, text: &str) -> anyhow::Result<ModelSpec> {
    let r = Ratio::parse(text).map_err(|e| bad_input(format!("--mask-ratio `{text}`: {e}")))?;
    let mut spec = spec;
    let mask = match &mut spec {
        ModelSpec::Mae(s) => &mut s.mask,
        ModelSpec::HiVit(s) => &mut s.mask,
        other => {
            return Err(bad_input(format!(
                "--mask-ratio applies to the mae and hivit families; set the ratio of a {} \
                 spec in its file",
                other.family().name()
            )))
        }
    };
    *mask = match *mask {
        MaskSpec::Random { .. } => MaskSpec::Random { ratio: r },
        MaskSpec::Block { cell, .. } => MaskSpec::Block { ratio: r, cell },
        MaskSpec::Uniform { secondary, .. } => MaskSpec::Uniform {
            ratio: r,
            secondary,
        },
    };
    spec.validate()
        .map_err(|e| bad_input(format!("--mask-ratio {text}: {e}")))?;
    Ok(spec)
}

/// `spec` with its reconstruction target set.
pub fn with_target(spec: ModelSpec, target: Target) -> anyhow::Result<ModelSpec> {
    match spec {
        ModelSpec::Mae(s) => Ok(ModelSpec::Mae(tessera_dsl::spec::MaeSpec { target, ..s })),
        ModelSpec::HiVit(s) => Ok(ModelSpec::HiVit(tessera_dsl::spec::HiVitSpec {
            target,
            ..s
        })),
        other => Err(bad_input(format!(
            "--norm-pix/--no-norm-pix apply to the mae and hivit families; set `target` in the \
             {} spec file",
            other.family().name()
        ))),
    }
}

/// One line that says what a model is.
pub fn describe(spec: &ModelSpec) -> String {
    match spec {
        ModelSpec::Mae(s) => format!(
            "{} (img {} patch {}, encoder {}x{}, decoder {}x{}, mask {}, {} target)",
            spec.family().name(),
            s.image.height,
            s.patch,
            s.encoder.dim,
            s.encoder.depth,
            s.decoder.dim,
            s.decoder.depth,
            s.mask,
            s.target
        ),
        ModelSpec::HiVit(s) => format!(
            "{} (img {} patch {}, MLP stages {:?} x2, main {}x{}, decoder {}x{}, mask {}, {} \
             target)",
            spec.family().name(),
            s.image.height,
            s.patch,
            s.mlp_depths.as_slice(),
            s.main.dim,
            s.main.depth,
            s.decoder.dim,
            s.decoder.depth,
            s.mask,
            s.target
        ),
        other => other.family().name().to_string(),
    }
}

/// Where the numbers are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Cpu,
    Wgpu,
}

/// `--backend` and `--adapter`.
#[derive(clap::Args, Clone, Debug)]
pub struct DeviceChoice {
    /// Where the steps run: the CPU backend, or wgpu on a GPU (Vulkan, Metal, DX12).
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// With --backend wgpu: the adapter whose name contains NAME (see `tessera devices`).
    #[arg(long, value_name = "NAME")]
    pub adapter: Option<String>,
}

impl DeviceChoice {
    pub fn open(&self) -> anyhow::Result<Device> {
        open_device(self.backend, self.adapter.as_deref())
    }
}

/// Opens `backend` (on the adapter whose name contains `adapter`, for wgpu). Asking for an
/// adapter that does not exist, or naming one for the CPU, is the user's input.
pub fn open_device(backend: Backend, adapter: Option<&str>) -> anyhow::Result<Device> {
    let choice = match (backend, adapter) {
        (Backend::Cpu, Some(_)) => {
            return Err(bad_input(
                "--adapter chooses a GPU; it needs --backend wgpu",
            ))
        }
        (Backend::Cpu, None) => BackendChoice::Cpu,
        (Backend::Wgpu, a) => BackendChoice::Wgpu {
            adapter: a.map(str::to_string),
        },
    };
    Device::open(&choice).map_err(|e| match e {
        BackendError::NoMatchingAdapter { .. } => bad_input(e.to_string()),
        other => anyhow::Error::new(other).context("opening the wgpu backend"),
    })
}
