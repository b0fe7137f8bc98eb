// sum_to: out[o] = Σ over the reduced dims of x, one workgroup per output element.
//
// The input's dims are collapsed on the host into "kept" dims (those of the output) and
// "reduced" dims, each with its stride in x. The workgroup's invocations stride over the
// reduced index space, then add their partial sums in a fixed tree: the result does not
// depend on scheduling (deterministic, no atomics), and long reductions (a bias gradient over
// every token of the batch) still use a whole workgroup.
//
// A reduction longer than `part_len` is split into `parts` workgroups per output element,
// writing `out[o · parts + part]`; a second launch adds those parts in order. That bounds the
// loop work of one invocation (lavapipe silently stops a shader invocation's loops after
// 65535 iterations in all).

// A power of two, at most 256 (the size of `partial`).
override WORKGROUP_SIZE: u32 = 64u;

struct Params {
    // Output elements.
    n_out: u32,
    // Points of the reduced index space per output element.
    n_red: u32,
    rank_out: u32,
    rank_red: u32,
    // Workgroups per output element, and reduced points each of them sums.
    parts: u32,
    part_len: u32,
    // The arrays below start on 16 bytes.
    pad0: u32,
    pad1: u32,
    // Kept dims (row-major order of the output) and their strides in x.
    out_dims: array<vec4<u32>, 2>,
    out_strides: array<vec4<u32>, 2>,
    // Reduced dims and their strides in x.
    red_dims: array<vec4<u32>, 2>,
    red_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn sum_to(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    // The same for every invocation of the workgroup, so the early return is uniform.
    let w = wid.x + wid.y * groups.x;
    if w >= params.n_out * params.parts {
        return;
    }
    let o = w / params.parts;
    let start = (w % params.parts) * params.part_len;
    let end = min(start + params.part_len, params.n_red);
    var rem = o;
    var base = 0u;
    for (var d = params.rank_out; d > 0u; d--) {
        let dim = params.out_dims[(d - 1u) / 4u][(d - 1u) % 4u];
        base += (rem % dim) * params.out_strides[(d - 1u) / 4u][(d - 1u) % 4u];
        rem = rem / dim;
    }
    var acc = 0.0;
    for (var r = start + lid; r < end; r += WORKGROUP_SIZE) {
        var rr = r;
        var off = base;
        for (var d = params.rank_red; d > 0u; d--) {
            let dim = params.red_dims[(d - 1u) / 4u][(d - 1u) % 4u];
            off += (rr % dim) * params.red_strides[(d - 1u) / 4u][(d - 1u) % 4u];
            rr = rr / dim;
        }
        acc += x[off];
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var h = WORKGROUP_SIZE / 2u; h > 0u; h = h / 2u) {
        if lid < h {
            partial[lid] += partial[lid + h];
        }
        workgroupBarrier();
    }
    if lid == 0u {
        out[w] = partial[0];
    }
}
