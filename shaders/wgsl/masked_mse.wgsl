// MAE's loss and its gradient over pred, target [R, P] and mask [R] (1 = removed):
//
// masked_mse:      out[0] = Σ_r mask[r] · mean_p (pred − target)² / Σ mask
// masked_mse_grad: out = dy · mask[r] · 2 (pred − target) / (P · msum[0])
//
// The loss is one workgroup: invocations stride over rows, then add in a fixed tree
// (deterministic). The gradient is elementwise; `msum` (Σ mask) is a one-element tensor
// the launcher fills first with `sum_to`.
//
// Bindings: 1 pred, 2 tgt (target), 3 mask; masked_mse writes 4; masked_mse_grad reads dy
// at 4 and msum at 5 and writes 6. (Each entry point uses bindings 1..k, as launchers bind them.)

// Invocations of the loss workgroup: a power of two, at most 256.
override WORKGROUP_SIZE: u32 = 256u;

struct Params {
    // Elements (the gradient's invocations).
    n: u32,
    rows: u32,
    // Row length P.
    p: u32,
    // 2 / P, rounded once as the CPU rounds it.
    two_over_p: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> pred: array<f32>;
@group(0) @binding(2) var<storage, read_write> tgt: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;
@group(0) @binding(4) var<storage, read_write> slot4: array<f32>;
@group(0) @binding(5) var<storage, read_write> slot5: array<f32>;
@group(0) @binding(6) var<storage, read_write> slot6: array<f32>;

var<workgroup> num_part: array<f32, 256>;
var<workgroup> den_part: array<f32, 256>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn masked_mse(@builtin(local_invocation_index) lid: u32) {
    var num = 0.0;
    var den = 0.0;
    for (var r = lid; r < params.rows; r += WORKGROUP_SIZE) {
        let m = mask[r];
        den += m;
        if m != 0.0 {
            var s = 0.0;
            for (var j = r * params.p; j < (r + 1u) * params.p; j++) {
                let e = pred[j] - tgt[j];
                s += e * e;
            }
            num += m * s / f32(params.p);
        }
    }
    num_part[lid] = num;
    den_part[lid] = den;
    workgroupBarrier();
    for (var h = WORKGROUP_SIZE / 2u; h > 0u; h = h / 2u) {
        if lid < h {
            num_part[lid] += num_part[lid + h];
            den_part[lid] += den_part[lid + h];
        }
        workgroupBarrier();
    }
    if lid == 0u {
        slot4[0] = num_part[0] / den_part[0];
    }
}

// Elementwise gradient; launched with 64-wide workgroups over a 2-D grid.
@compute @workgroup_size(64)
fn masked_mse_grad(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.x + gid.y * groups.x * 64u;
    if i >= params.n {
        return;
    }
    let k = slot4[0] * params.two_over_p / slot5[0];
    slot6[i] = k * mask[i / params.p] * (pred[i] - tgt[i]);
}
