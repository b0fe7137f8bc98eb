// strided_copy: every layout op as one strided index map. For each point c of an index space
// `dims` (row-major, up to 8 dims):
//
//   out[dst_off + Σ c[d]·dst_strides[d]]
//     = x[src_off + Σ ((c[d] + shifts[d]) mod dims[d])·src_strides[d]]
//
// concat (one launch per input, into its block of the output), slice, pad (after a fill),
// permute (permuted source strides), roll (shifts) and expand (zero source strides) are all
// this map with different numbers; the launcher in `runtime/src/gpu/ops/layout.rs` derives them.

override WORKGROUP_SIZE: u32 = 64u;

struct Params {
    // Points of the index space.
    n: u32,
    rank: u32,
    src_off: u32,
    dst_off: u32,
    // Dim d at [d / 4][d % 4].
    dims: array<vec4<u32>, 2>,
    src_strides: array<vec4<u32>, 2>,
    dst_strides: array<vec4<u32>, 2>,
    // Cyclic shift of the source coordinate (roll); 0 elsewhere.
    shifts: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn strided_copy(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if i >= params.n {
        return;
    }
    var rem = i;
    var s = params.src_off;
    var t = params.dst_off;
    for (var d = params.rank; d > 0u; d--) {
        let a = (d - 1u) / 4u;
        let b = (d - 1u) % 4u;
        let dim = params.dims[a][b];
        let c = rem % dim;
        rem = rem / dim;
        s += ((c + params.shifts[a][b]) % dim) * params.src_strides[a][b];
        t += c * params.dst_strides[a][b];
    }
    out[t] = x[s];
}
