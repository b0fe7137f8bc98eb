// norm_pix: MAE's per-patch target normalization over the last dim, one invocation per row:
//   (x − mean) / sqrt(var_unbiased + eps)          (MAE)
//   (x − mean) / (sqrt(var_unbiased) + eps)        (VideoMAE, eps_on_std = 1)
// Sums run in the CPU kernel's order (two passes, sequential), so both backends round alike.

override WORKGROUP_SIZE: u32 = 64u;

struct Params {
    rows: u32,
    d: u32,
    eps_on_std: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn norm_pix(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let row = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if row >= params.rows {
        return;
    }
    let d = params.d;
    let base = row * d;
    var sum = 0.0;
    for (var j = 0u; j < d; j++) {
        sum += x[base + j];
    }
    let mean = sum / f32(d);
    var sq = 0.0;
    for (var j = 0u; j < d; j++) {
        let c = x[base + j] - mean;
        sq += c * c;
    }
    let var_u = sq / f32(d - 1u);
    var inv: f32;
    if params.eps_on_std != 0u {
        inv = 1.0 / (sqrt(var_u) + params.eps);
    } else {
        inv = 1.0 / sqrt(var_u + params.eps);
    }
    for (var j = 0u; j < d; j++) {
        out[base + j] = (x[base + j] - mean) * inv;
    }
}
