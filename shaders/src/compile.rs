//! naga validation and cross-compilation of registered kernels.
//!
//! naga's backends cannot emit `override` declarations, so a kernel is first *specialized*:
//! parsed, validated, its override constants replaced by values
//! (`naga::back::pipeline_constants::process_overrides`) and re-validated. The result is what
//! a driver would compile for one pipeline, and is what gets translated.

use std::fmt;

use naga::back::{glsl, hlsl, msl, pipeline_constants, spv, PipelineConstants};
use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use naga::{Module, ShaderStage};

use crate::{Kernel, ShaderError};

/// A shading language naga can translate a compute kernel to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// SPIR-V 1.0, what wgpu's Vulkan backend consumes.
    SpirV,
    /// Metal Shading Language 2.1 (macOS 10.14 / iOS 12), wgpu's Metal backend.
    Msl,
    /// HLSL shader model 5.1, what FXC (wgpu's default DX12 compiler) accepts.
    Hlsl,
    /// GLSL ES 3.10, the first GLSL ES with compute shaders (wgpu's GL backend).
    Glsl,
}

impl Target {
    /// Every target, in the order reports list them.
    pub const ALL: [Target; 4] = [Target::SpirV, Target::Msl, Target::Hlsl, Target::Glsl];
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::SpirV => "SPIR-V",
            Target::Msl => "MSL",
            Target::Hlsl => "HLSL",
            Target::Glsl => "GLSL",
        })
    }
}

/// A kernel with its override constants fixed: a validated naga module with one entry point.
#[derive(Debug)]
pub struct Specialized {
    pub kernel: &'static Kernel,
    /// The pipeline constants that were applied (registry defaults merged with the caller's).
    pub constants: Vec<(&'static str, f64)>,
    /// The workgroup shape after overrides; launchers size their dispatch with it.
    pub workgroup_size: [u32; 3],
    pub module: Module,
    pub info: ModuleInfo,
}

/// One translated kernel.
#[derive(Debug, Clone)]
pub enum Output {
    SpirV(Vec<u32>),
    Text(String),
}

/// What [`cross_compile`] produced: each target with its output or its error.
#[derive(Debug)]
pub struct CrossCompiled {
    pub kernel: &'static str,
    pub workgroup_size: [u32; 3],
    pub outputs: Vec<(Target, Result<Output, ShaderError>)>,
}

impl CrossCompiled {
    /// The targets the kernel translated to.
    pub fn translated(&self) -> Vec<Target> {
        self.outputs
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(t, _)| *t)
            .collect()
    }

    /// The translation errors, if any.
    pub fn errors(&self) -> impl Iterator<Item = &ShaderError> {
        self.outputs.iter().filter_map(|(_, r)| r.as_ref().err())
    }
}

fn validate(kernel: &'static Kernel, module: &Module) -> Result<ModuleInfo, ShaderError> {
    Validator::new(ValidationFlags::all(), Capabilities::default())
        .validate(module)
        .map_err(|e| ShaderError::Validation {
            kernel: kernel.name,
            message: e.emit_to_string(kernel.source),
        })
}

/// Parses and validates `kernel`, checks that the registry lists exactly the overrides the
/// WGSL declares, and applies the registry defaults overridden by `set`.
pub fn specialize(
    kernel: &'static Kernel,
    set: &[(&str, f64)],
) -> Result<Specialized, ShaderError> {
    let module = naga::front::wgsl::parse_str(kernel.source).map_err(|e| ShaderError::Parse {
        kernel: kernel.name,
        message: e.emit_to_string(kernel.source),
    })?;
    let info = validate(kernel, &module)?;

    let mut declared: Vec<String> = module
        .overrides
        .iter()
        .filter_map(|(_, o)| o.name.clone())
        .collect();
    let mut listed: Vec<&'static str> = kernel.overrides.iter().map(|(n, _)| *n).collect();
    declared.sort();
    listed.sort_unstable();
    if declared != listed {
        return Err(ShaderError::OverrideMismatch {
            kernel: kernel.name,
            declared,
            listed,
        });
    }

    let ep_key = (ShaderStage::Compute, kernel.entry_point);
    if !module
        .entry_points
        .iter()
        .any(|ep| (ep.stage, ep.name.as_str()) == ep_key)
    {
        return Err(ShaderError::MissingEntryPoint {
            kernel: kernel.name,
            entry_point: kernel.entry_point,
        });
    }

    let constants = kernel.constants(set)?;
    let mut naga_constants = PipelineConstants::default();
    for &(name, value) in &constants {
        naga_constants.insert(name.to_string(), value);
    }
    let (module, info) =
        pipeline_constants::process_overrides(&module, &info, Some(ep_key), &naga_constants)
            .map_err(|e| ShaderError::Override {
                kernel: kernel.name,
                message: e.to_string(),
            })?;
    let (module, info) = (module.into_owned(), info.into_owned());
    let workgroup_size = module
        .entry_points
        .iter()
        .find(|ep| ep.name == kernel.entry_point)
        .map(|ep| ep.workgroup_size)
        .ok_or(ShaderError::MissingEntryPoint {
            kernel: kernel.name,
            entry_point: kernel.entry_point,
        })?;
    Ok(Specialized {
        kernel,
        constants,
        workgroup_size,
        module,
        info,
    })
}

/// Translates a specialized kernel to one target.
pub fn translate(spec: &Specialized, target: Target) -> Result<Output, ShaderError> {
    let entry = spec.kernel.entry_point.to_string();
    let fail = |message: String| ShaderError::Translate {
        kernel: spec.kernel.name,
        target,
        message,
    };
    let (module, info) = (&spec.module, &spec.info);
    match target {
        Target::SpirV => {
            let pipeline = spv::PipelineOptions {
                shader_stage: ShaderStage::Compute,
                entry_point: entry,
            };
            spv::write_vec(module, info, &spv::Options::default(), Some(&pipeline))
                .map(Output::SpirV)
                .map_err(|e| fail(e.to_string()))
        }
        Target::Msl => {
            let options = msl::Options {
                lang_version: (2, 1),
                ..Default::default()
            };
            let pipeline = msl::PipelineOptions {
                entry_point: Some((ShaderStage::Compute, entry)),
                ..Default::default()
            };
            msl::write_string(module, info, &options, &pipeline)
                .map(|(text, _)| Output::Text(text))
                .map_err(|e| fail(e.to_string()))
        }
        Target::Hlsl => {
            let options = hlsl::Options {
                // wgpu's DX12 backend binds the `num_workgroups` builtin here; naga refuses to
                // emit it without a slot.
                special_constants_binding: Some(hlsl::BindTarget {
                    space: 0,
                    register: 0,
                    binding_array_size: None,
                    dynamic_storage_buffer_offsets_index: None,
                    restrict_indexing: false,
                }),
                ..Default::default()
            };
            let pipeline = hlsl::PipelineOptions {
                entry_point: Some((ShaderStage::Compute, entry)),
            };
            let mut text = String::new();
            hlsl::Writer::new(&mut text, &options, &pipeline)
                .write(module, info, None)
                .map(|_| Output::Text(text))
                .map_err(|e| fail(e.to_string()))
        }
        Target::Glsl => {
            let options = glsl::Options {
                version: glsl::Version::new_gles(310),
                ..Default::default()
            };
            let pipeline = glsl::PipelineOptions {
                shader_stage: ShaderStage::Compute,
                entry_point: entry,
                multiview: None,
            };
            let mut text = String::new();
            glsl::Writer::new(
                &mut text,
                module,
                info,
                &options,
                &pipeline,
                Default::default(),
            )
            .and_then(|mut w| w.write())
            .map(|_| Output::Text(text))
            .map_err(|e| fail(e.to_string()))
        }
    }
}

/// Specializes `kernel` with `set` and translates it to every [`Target`]. A kernel that does
/// not parse, validate or specialize is an `Err`; per-target failures are in the outputs.
pub fn cross_compile(
    kernel: &'static Kernel,
    set: &[(&str, f64)],
) -> Result<CrossCompiled, ShaderError> {
    let spec = specialize(kernel, set)?;
    Ok(CrossCompiled {
        kernel: kernel.name,
        workgroup_size: spec.workgroup_size,
        outputs: Target::ALL
            .iter()
            .map(|&t| (t, translate(&spec, t)))
            .collect(),
    })
}
