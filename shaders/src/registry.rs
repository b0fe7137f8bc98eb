//! The kernel registry: every WGSL kernel the backends can launch, as a typed constant with
//! the facts a launcher needs (entry point, default workgroup shape, `override` constants and
//! defaults). Launchers name kernels by these constants, so a misspelled kernel does not
//! compile; [`KERNELS`] lists them all for validation and `tessera kernels`.
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

/// Split-K epilogue of the matmul: adds the partial products (and the bias) in order.
pub const MATMUL_SPLIT_SUM: Kernel = Kernel {
    name: "matmul_split_sum",
    entry_point: "matmul_split_sum",
    workgroup_size: [256, 1, 1],
    ..MATMUL
};

/// out[i] = value (backward seeds, zeroing before a partial write).
pub const FILL: Kernel = Kernel {
    name: "fill",
    source: include_str!("../wgsl/fill.wgsl"),
    entry_point: "fill",
    workgroup_size: [64, 1, 1],
    overrides: &[("WORKGROUP_SIZE", 64.0)],
};

/// Interpreter of elementwise programs (unary, unary grad, binary, fused) with broadcasting.
pub const ELEMENTWISE: Kernel = Kernel {
    name: "elementwise",
    source: include_str!("../wgsl/elementwise.wgsl"),
    entry_point: "elementwise",
    workgroup_size: [64, 1, 1],
    overrides: &[("WORKGROUP_SIZE", 64.0)],
};

/// Strided index map: concat, slice, pad, permute, roll, expand.
pub const STRIDED_COPY: Kernel = Kernel {
    name: "strided_copy",
    source: include_str!("../wgsl/layout.wgsl"),
    entry_point: "strided_copy",
    workgroup_size: [64, 1, 1],
    overrides: &[("WORKGROUP_SIZE", 64.0)],
};

/// Sum over broadcast dims, one workgroup per output element (fixed-tree, deterministic).
pub const SUM_TO: Kernel = Kernel {
    name: "sum_to",
    source: include_str!("../wgsl/reduce.wgsl"),
    entry_point: "sum_to",
    workgroup_size: [64, 1, 1],
    overrides: &[("WORKGROUP_SIZE", 64.0)],
};

/// Rows of x picked by u32 index.
pub const GATHER_ROWS: Kernel = Kernel {
    name: "gather_rows",
    source: include_str!("../wgsl/tokens.wgsl"),
    entry_point: "gather_rows",
    workgroup_size: [64, 1, 1],
    overrides: &[("WORKGROUP_SIZE", 64.0)],
};

/// Rows added at u32 indices into a zeroed table (no atomics).
pub const SCATTER_ROWS: Kernel = Kernel {
    name: "scatter_rows",
    source: include_str!("../wgsl/tokens.wgsl"),
    entry_point: "scatter_rows",
    workgroup_size: [64, 1, 1],
    overrides: &[("WORKGROUP_SIZE", 64.0)],
};

/// MAE's per-patch target normalization.
pub const NORM_PIX: Kernel = Kernel {
    name: "norm_pix",
    source: include_str!("../wgsl/norm_pix.wgsl"),
    entry_point: "norm_pix",
    workgroup_size: [64, 1, 1],
    overrides: &[("WORKGROUP_SIZE", 64.0)],
};

/// Per-row terms of MAE's masked mean-squared error (summed by `sum_to`).
pub const MASKED_MSE_ROWS: Kernel = Kernel {
    name: "masked_mse_rows",
    source: include_str!("../wgsl/masked_mse.wgsl"),
    entry_point: "masked_mse_rows",
    workgroup_size: [64, 1, 1],
    overrides: &[("WORKGROUP_SIZE", 64.0)],
};

/// Gradient of the masked MSE (elementwise, given Σ mask).
pub const MASKED_MSE_GRAD: Kernel = Kernel {
    name: "masked_mse_grad",
    source: include_str!("../wgsl/masked_mse.wgsl"),
    entry_point: "masked_mse_grad",
    workgroup_size: [64, 1, 1],
    overrides: &[("WORKGROUP_SIZE", 64.0)],
};

/// Per-row terms of the weighted cross-entropy (summed by `sum_to`).
pub const CROSS_ENTROPY_ROWS: Kernel = Kernel {
    name: "cross_entropy_rows",
    source: include_str!("../wgsl/cross_entropy.wgsl"),
    entry_point: "cross_entropy_rows",
    workgroup_size: [64, 1, 1],
    overrides: &[("WORKGROUP_SIZE", 64.0)],
};

/// Gradient of the weighted cross-entropy (one invocation per row, given Σ w).
pub const CROSS_ENTROPY_GRAD: Kernel = Kernel {
    name: "cross_entropy_grad",
    source: include_str!("../wgsl/cross_entropy.wgsl"),
    entry_point: "cross_entropy_grad",
    workgroup_size: [64, 1, 1],
    overrides: &[("WORKGROUP_SIZE", 64.0)],
};

/// AdamW update in place, as torch.optim.AdamW.
pub const ADAMW: Kernel = Kernel {
    name: "adamw",
    source: include_str!("../wgsl/adamw.wgsl"),
    entry_point: "adamw",
    workgroup_size: [64, 1, 1],
    overrides: &[("WORKGROUP_SIZE", 64.0)],
};

/// Row kernels over the last dim: LayerNorm and its input and weight gradients.
pub const LAYER_NORM: Kernel = row_kernel("layer_norm", LAYER_NORM_SRC, "layer_norm");
pub const LAYER_NORM_GRAD_X: Kernel =
    row_kernel("layer_norm_grad_x", LAYER_NORM_SRC, "layer_norm_grad_x");
pub const LAYER_NORM_GRAD_W: Kernel = Kernel {
    workgroup_size: [128, 1, 1],
    ..row_kernel("layer_norm_grad_w", LAYER_NORM_SRC, "layer_norm_grad_w")
};
pub const LAYER_NORM_GRAD_W_SUM: Kernel = Kernel {
    workgroup_size: [128, 1, 1],
    ..row_kernel(
        "layer_norm_grad_w_sum",
        LAYER_NORM_SRC,
        "layer_norm_grad_w_sum",
    )
};
const LAYER_NORM_SRC: &str = include_str!("../wgsl/layer_norm.wgsl");

/// Softmax over the last dim and its gradient.
pub const SOFTMAX: Kernel = row_kernel("softmax", SOFTMAX_SRC, "softmax");
pub const SOFTMAX_GRAD: Kernel = row_kernel("softmax_grad", SOFTMAX_SRC, "softmax_grad");
const SOFTMAX_SRC: &str = include_str!("../wgsl/softmax.wgsl");

/// A row kernel: `T_ROW` threads per row (default 64) × `ROWS` rows (default 2).
const fn row_kernel(name: &'static str, source: &'static str, entry: &'static str) -> Kernel {
    Kernel {
        name,
        source,
        entry_point: entry,
        workgroup_size: [64, 2, 1],
        overrides: &[("T_ROW", 64.0), ("ROWS", 2.0)],
    }
}

/// Fused attention (flash-style forward with the row log-sum-exp, backward over key tiles and
/// over query tiles, bias gradient).
pub const ATTENTION: Kernel = attention_kernel("attention", [4, 16, 1]);
pub const ATTENTION_GRAD_KV: Kernel = attention_kernel("attention_grad_kv", [4, 32, 1]);
pub const ATTENTION_GRAD_Q: Kernel = attention_kernel("attention_grad_q", [4, 16, 1]);
pub const ATTENTION_GRAD_BIAS: Kernel = attention_kernel("attention_grad_bias", [4, 16, 1]);
pub const ATTENTION_GRAD_BIAS_SUM: Kernel = attention_kernel("attention_grad_bias_sum", [4, 16, 1]);

/// An attention entry point with the family's tile overrides (BQ 16, BKV 32, TPR 4, DMAX 64).
const fn attention_kernel(entry: &'static str, workgroup_size: [u32; 3]) -> Kernel {
    Kernel {
        name: entry,
        source: include_str!("../wgsl/attention.wgsl"),
        entry_point: entry,
        workgroup_size,
        overrides: &[("BQ", 16.0), ("BKV", 32.0), ("TPR", 4.0), ("DMAX", 64.0)],
    }
}

/// Every registered kernel (a new kernel constant belongs here too: the naga validation and
/// cross-compilation tests and `tessera kernels --check` go through this list).
pub const KERNELS: &[Kernel] = &[
    AXPY,
    MATMUL,
    MATMUL_SPLIT_SUM,
    LAYER_NORM,
    LAYER_NORM_GRAD_X,
    LAYER_NORM_GRAD_W,
    LAYER_NORM_GRAD_W_SUM,
    SOFTMAX,
    SOFTMAX_GRAD,
    ATTENTION,
    ATTENTION_GRAD_KV,
    ATTENTION_GRAD_Q,
    ATTENTION_GRAD_BIAS,
    ATTENTION_GRAD_BIAS_SUM,
    FILL,
    ELEMENTWISE,
    STRIDED_COPY,
    SUM_TO,
    GATHER_ROWS,
    SCATTER_ROWS,
    NORM_PIX,
    MASKED_MSE_ROWS,
    MASKED_MSE_GRAD,
    CROSS_ENTROPY_ROWS,
    CROSS_ENTROPY_GRAD,
    ADAMW,
];

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
