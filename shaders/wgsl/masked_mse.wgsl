// MAE's loss and its gradient over pred, target [R, P] and mask [R] (1 = removed):
//
// masked_mse_rows: rows[r] = mask[r] · mean_p (pred − target)²   (the loss is Σ rows / Σ mask,
//                  which the launcher adds up with `sum_to` and divides elementwise)
// masked_mse_grad: out = dy · mask[r] · 2 (pred − target) / (P · msum[0])
//
// One invocation per row or element, so no invocation loops longer than a row (lavapipe
// stops an invocation's loops after 65535 iterations); `msum` (Σ mask) is a one-element
// tensor the launcher fills first with `sum_to`.
//
// Bindings: 1 pred, 2 tgt (target), 3 mask; masked_mse_rows writes 4; masked_mse_grad reads dy
// at 4 and msum at 5 and writes 6. (Each entry point uses bindings 1..k, as launchers bind
// them.)

override WORKGROUP_SIZE: u32 = 64u;

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

@compute @workgroup_size(WORKGROUP_SIZE)
fn masked_mse_rows(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let r = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if r >= params.rows {
        return;
    }
    let m = mask[r];
    var v = 0.0;
    // Rows the loss ignores are skipped, as the CPU skips them (their pred may be anything).
    if m != 0.0 {
        var s = 0.0;
        for (var j = r * params.p; j < (r + 1u) * params.p; j++) {
            let e = pred[j] - tgt[j];
            s += e * e;
        }
        v = m * s / f32(params.p);
    }
    slot4[r] = v;
}

// Elementwise gradient over a 2-D grid.
@compute @workgroup_size(WORKGROUP_SIZE)
fn masked_mse_grad(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if i >= params.n {
        return;
    }
    let k = slot4[0] * params.two_over_p / slot5[0];
    slot6[i] = k * mask[i / params.p] * (pred[i] - tgt[i]);
}
