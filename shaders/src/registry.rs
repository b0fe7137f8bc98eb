//! The kernel registry: every WGSL kernel family the backends can launch, with the facts a
//! launcher needs (entry point, default workgroup shape, `override` constants and defaults).
//!
//! One family is one file under `shaders/wgsl/`, compiled into the binary with `include_str!`
//! so that no kernel is ever looked up on disk at run time.

use crate::ShaderError;

/// A WGSL compute kernel family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kernel {
    /// Registry name; also the pipeline-cache key's first half.
    pub name: &'static str,
    /// Full WGSL source of the family.
    pub source: &'static str,
    /// The `@compute` function to launch.
    pub entry_point: &'static str,
    /// Workgroup shape with every override at its default (checked against naga in tests).
    pub workgroup_size: [u32; 3],
    /// Every WGSL `override` the kernel declares, with the default the registry launches it
    /// with. Pipeline constants are `f64` in WebGPU, whatever the WGSL type.
    pub overrides: &'static [(&'static str, f64)],
}

/// y = a·x + y over the first `n` elements; the smoke kernel.
pub const AXPY: Kernel = Kernel {
    name: "axpy",
    source: include_str!("../wgsl/axpy.wgsl"),
    entry_point: "axpy",
    workgroup_size: [64, 1, 1],
    overrides: &[("WORKGROUP_SIZE", 64.0)],
};

/// Batched, register-blocked GEMM with transposes, shared-B batches and an optional bias.
pub const MATMUL: Kernel = Kernel {
    name: "matmul",
    source: include_str!("../wgsl/matmul.wgsl"),
    entry_point: "matmul",
    workgroup_size: [16, 16, 1],
    overrides: &[
        ("WG_X", 16.0),
        ("WG_Y", 16.0),
        ("TM", 8.0),
        ("TN", 8.0),
        ("BK", 8.0),
    ],
};

/// Every registered kernel.
pub const KERNELS: &[Kernel] = &[AXPY, MATMUL];

/// The registered kernel called `name`.
pub fn kernel(name: &str) -> Option<&'static Kernel> {
    KERNELS.iter().find(|k| k.name == name)
}

impl Kernel {
    /// The full set of pipeline constants for a launch: the registry defaults, with the values
    /// in `set` replacing them. Naming an override the kernel does not declare is an error
    /// rather than being ignored, because a typo would otherwise silently launch the default.
    pub fn constants(&self, set: &[(&str, f64)]) -> Result<Vec<(&'static str, f64)>, ShaderError> {
        if let Some((unknown, _)) = set
            .iter()
            .find(|(name, _)| !self.overrides.iter().any(|(known, _)| known == name))
        {
            return Err(ShaderError::UnknownOverride {
                kernel: self.name,
                name: unknown.to_string(),
                known: self.overrides.iter().map(|(n, _)| *n).collect(),
            });
        }
        Ok(self
            .overrides
            .iter()
            .map(|&(name, default)| {
                // The last value given for a name wins, like repeated CLI flags.
                let value = set.iter().rev().find(|(n, _)| *n == name).map(|&(_, v)| v);
                (name, value.unwrap_or(default))
            })
            .collect())
    }
}
