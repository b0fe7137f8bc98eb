// Weighted cross-entropy over logits [N, V], labels [N] (u32) and weights [N]:
//
// cross_entropy:      out[0] = Σ_i w_i (lse_i − logits[i, label_i]) / Σ w
// cross_entropy_grad: out[i, j] = dy · w_i / wsum[0] · (softmax_ij − [j = label_i])
//
// The loss is one workgroup (rows strided over invocations, fixed-tree sum); the gradient is
// one invocation per row; `wsum` (Σ w) is a one-element tensor the launcher fills first with
// `sum_to`. Labels are checked on the host when they are set.
//
// Bindings: 1 logits, 2 labels, 3 w; cross_entropy writes 4; cross_entropy_grad reads dy at 4
// and wsum at 5 and writes 6.

// Invocations of the loss workgroup: a power of two, at most 256.
override WORKGROUP_SIZE: u32 = 256u;

struct Params {
    rows: u32,
    // Classes V.
    v: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> slot4: array<f32>;
@group(0) @binding(5) var<storage, read_write> slot5: array<f32>;
@group(0) @binding(6) var<storage, read_write> slot6: array<f32>;

var<workgroup> num_part: array<f32, 256>;
var<workgroup> den_part: array<f32, 256>;

// log Σ exp over row r, shifted by its max (the CPU's `lse`).
fn lse(r: u32) -> f32 {
    let base = r * params.v;
    var mx = logits[base];
    for (var j = 1u; j < params.v; j++) {
        mx = max(mx, logits[base + j]);
    }
    var s = 0.0;
    for (var j = 0u; j < params.v; j++) {
        s += exp(logits[base + j] - mx);
    }
    return mx + log(s);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn cross_entropy(@builtin(local_invocation_index) lid: u32) {
    var num = 0.0;
    var den = 0.0;
    for (var r = lid; r < params.rows; r += WORKGROUP_SIZE) {
        let wr = w[r];
        num += wr * (lse(r) - logits[r * params.v + labels[r]]);
        den += wr;
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

// One invocation per row; launched with 64-wide workgroups over a 2-D grid.
@compute @workgroup_size(64)
fn cross_entropy_grad(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let r = gid.x + gid.y * groups.x * 64u;
    if r >= params.rows {
        return;
    }
    let k = slot4[0] / slot5[0];
    let s = lse(r);
    let base = r * params.v;
    let label = labels[r];
    let kw = k * w[r];
    for (var j = 0u; j < params.v; j++) {
        let onehot = select(0.0, 1.0, j == label);
        slot6[base + j] = kw * (exp(logits[base + j] - s) - onehot);
    }
}
