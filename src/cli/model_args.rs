//! The vocabulary every command shares, in one place so each family and each command inherits
//! it and a flag means the same thing everywhere:
//!
//! - `--model PRESET` or `--config SPEC.toml`: a model of any family ([`ModelChoice`]);
//! - `--backend` and `--adapter`: where it runs ([`DeviceChoice`]);
//! - `--data SOURCE`, `--limit N`, `--fit MODE`: which images, how many (classes balanced) and
//!   how they are brought to the model's size ([`DataChoice`]);
//! - `--batch N`: images per step, whatever the step is ([`BatchChoice`]);
//! - `--mask-ratio R`: the exact mask ratio replacing the spec's ([`with_mask_ratio`]);
//! - `--out`: what a command writes (a run folder for `pretrain` and `demo`, a file otherwise).
//!
//! A command states its own default for a shared flag with `mut_arg`, so `--help` shows every
//! default the same way (`[default: ...]`). A spec that breaks a rule, or a variant not
//! supported yet, stops here with one line that says so.
use std::path::PathBuf;

use tessera::spec_file;
use tessera_dsl::spec::{MaskSpec, ModelSpec, Target};
use tessera_dsl::{presets, Ratio};
use tessera_models::data::{DataError, Fit, Source};
use tessera_models::{build, Model, ModelError};
use tessera_runtime::backend::{BackendChoice, BackendError, Device};

use super::bad_input;

/// What `--data` says without a value where no run or checkpoint names one.
pub const DEFAULT_DATA: &str = "fashion-mnist-embedded";

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

/// The model of `spec`; a broken rule or a variant not supported yet is the user's to change.
pub fn model_of(spec: &ModelSpec) -> anyhow::Result<Box<dyn Model>> {
    build(spec).map_err(|e| match e {
        ModelError::Shape(_) | ModelError::Unsupported(_) => bad_input(e.to_string()),
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
        MaskSpec::Custom { strategy, .. } => MaskSpec::Custom { strategy, ratio: r },
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
    /// Where the steps run: tessera's CPU backend, or wgpu on a GPU (Vulkan, Metal, DX12)
    /// [default: cpu]
    #[arg(long, value_enum, default_value = "cpu", hide_default_value = true)]
    pub backend: Backend,
    /// With --backend wgpu: the adapter whose name contains NAME (see `tessera devices`).
    #[arg(long, value_name = "NAME")]
    pub adapter: Option<String>,
}

impl Default for DeviceChoice {
    fn default() -> Self {
        DeviceChoice {
            backend: Backend::Cpu,
            adapter: None,
        }
    }
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
    let device = Device::open(&choice).map_err(|e| match e {
        BackendError::NoMatchingAdapter { .. } => bad_input(e.to_string()),
        other => anyhow::Error::new(other).context("opening the wgpu backend"),
    })?;
    if let Some(warning) = software_adapter_warning(&device) {
        eprintln!("{warning}");
    }
    Ok(device)
}

/// A warning when wgpu runs on a software rasterizer (lavapipe/llvmpipe, WARP): it emulates a
/// GPU on the CPU, far slower than tessera's own CPU backend, so nobody should meet it unaware.
pub fn software_adapter_warning(device: &Device) -> Option<String> {
    let Device::Wgpu(gpu) = device else {
        return None;
    };
    let report = &gpu.context().report;
    report.is_software().then(|| {
        format!(
            "warning: the wgpu adapter is {} ({}), a software renderer that emulates a GPU on \
             the CPU: expect it to be much slower than `--backend cpu`. `tessera devices` lists \
             the adapters; install your GPU's Vulkan driver to use it",
            report.name,
            report.device_type_name()
        )
    })
}

/// `--fit`: how images whose size is not the model's are brought to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FitArg {
    /// Scale the shorter side to the model's size and keep the central square.
    CenterCrop,
    /// Scale the whole image to the model's size (the aspect ratio is not kept).
    Stretch,
    /// Use images as they are; any other size is an error.
    Exact,
}

impl From<FitArg> for Fit {
    fn from(f: FitArg) -> Fit {
        match f {
            FitArg::CenterCrop => Fit::CenterCrop,
            FitArg::Stretch => Fit::Stretch,
            FitArg::Exact => Fit::Exact,
        }
    }
}

/// `--data`, `--limit` and `--fit`: which images, how many, at what size.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct DataChoice {
    /// Images: `folder:DIR` (DIR/<class>/<image>.png|jpg, or the images straight in DIR;
    /// DIR/train and DIR/val are the splits when present), `fashion-mnist:DIR` (its four IDX
    /// files) or `fashion-mnist-embedded` (2,048 + 512 images built into tessera).
    #[arg(long, value_name = "SOURCE")]
    pub data: Option<String>,
    /// Use N images, taking the classes in turns so they stay balanced.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// How images whose size is not the model's reach it (when not augmented)
    /// [default: center-crop, or the run's]
    #[arg(long, value_enum, value_name = "MODE")]
    pub fit: Option<FitArg>,
}

impl DataChoice {
    /// The source `--data` names (absolute), else `default` (a spec string).
    pub fn source_or(&self, default: &str) -> anyhow::Result<Source> {
        parse_source(self.data.as_deref().unwrap_or(default))
    }
}

/// A data source spec, with its directory made absolute so a saved run finds it from anywhere.
pub fn parse_source(text: &str) -> anyhow::Result<Source> {
    let source: Source = text
        .parse()
        .map_err(|e: DataError| bad_input(e.to_string()))?;
    Ok(source.absolute())
}

/// `--batch`: images per step (a training step, a timed step, one encoder call).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct BatchChoice {
    /// Images per step.
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
}

impl BatchChoice {
    /// The batch, refusing 0.
    pub fn get_or(&self, default: usize) -> anyhow::Result<usize> {
        match self.batch.unwrap_or(default) {
            0 => Err(bad_input("--batch must be at least 1")),
            n => Ok(n),
        }
    }
}

/// The recipe a checkpoint written by `tessera pretrain` carries, if any (its data, fit,
/// normalization are the defaults of the commands that read it).
pub fn checkpoint_recipe(path: &std::path::Path) -> Option<tessera_models::train::RunConfig> {
    let file = tessera_models::tensors::TensorFile::read(path).ok()?;
    tessera_models::train::checkpoint::state_of(&file)
        .ok()
        .map(|s| s.config)
}
