// fill: out[i] = value for i < n.
//
// Seeds the backward pass (d loss / d loss = 1) and zeroes tensors that a later kernel only
// partly writes (pad).

override WORKGROUP_SIZE: u32 = 64u;

struct Params {
    n: u32,
    value: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn fill(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    // Rows of the grid are `groups.x` workgroups wide (2-D grids for large n).
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if i >= params.n {
        return;
    }
    out[i] = params.value;
}
