// axpy: y[i] = a * x[i] + y[i] for i < n.
//
// The smoke kernel: small enough to check by hand, yet it exercises what every later kernel
// needs: a uniform, a read-only and a read-write storage binding, an `override` workgroup
// size, a bounds check for n not a multiple of the workgroup size, and a two-dimensional grid
// for n that needs more than `max_compute_workgroups_per_dimension` workgroups.

override WORKGROUP_SIZE: u32 = 64u;

struct Params {
    // Number of valid elements; the buffers may be longer (an arena slot), never shorter.
    n: u32,
    a: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn axpy(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    // Rows of the grid are `groups.x` workgroups wide; a 1-D dispatch has gid.y == 0.
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if i >= params.n {
        return;
    }
    y[i] = params.a * x[i] + y[i];
}
