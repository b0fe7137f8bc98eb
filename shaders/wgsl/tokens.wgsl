// Row gather and scatter by u32 index (MAE's shuffle / unshuffle of tokens, and their
// gradients). Both kernels share one binding layout: x (f32), idx (u32), out (f32).
//
// gather_rows:  x [bx, L, D], idx [bi, K] -> out [B, K, D],  out[b, k] = x[b', idx[b'', k]]
// scatter_rows: x [bs, K, D], idx [bi, K] -> out [bo, L, D], zeroed, then
//               out[b, idx[b, k]] += x[b, k] (bo = 1 adds every batch into one table)
//
// A batch of size 1 is shared by every b. Scatter runs without atomics: each invocation owns
// a block of columns of one output row and scans the indices for that row, adding matches in
// increasing (b, k) — the CPU's order, so the sums are deterministic. Indices are checked on
// the host when they are set; an index out of range here would give NaN, never a wild write.

override WORKGROUP_SIZE: u32 = 64u;

// Columns per scatter invocation.
const COLS: u32 = 32u;

struct Params {
    // Invocations doing work.
    n: u32,
    // Output batch, rows per output batch (K for gather, L for scatter) and row length.
    b_out: u32,
    rows_out: u32,
    d: u32,
    // Input batch and rows per input batch (L for gather, K for scatter).
    b_in: u32,
    rows_in: u32,
    // Index batch and index row length K.
    b_idx: u32,
    k: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn shared_or(batch: u32, b: u32) -> u32 {
    return select(b, 0u, batch == 1u);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn gather_rows(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if i >= params.n {
        return;
    }
    let j = i % params.d;
    let row = i / params.d;
    let k = row % params.k;
    let b = row / params.k;
    let r = idx[shared_or(params.b_idx, b) * params.k + k];
    if r >= params.rows_in {
        out[i] = bitcast<f32>(0x7fc00000u);
        return;
    }
    out[i] = x[(shared_or(params.b_in, b) * params.rows_in + r) * params.d + j];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn scatter_rows(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if i >= params.n {
        return;
    }
    let blocks = (params.d + COLS - 1u) / COLS;
    let j0 = (i % blocks) * COLS;
    let j1 = min(j0 + COLS, params.d);
    let row = i / blocks;
    let r = row % params.rows_out;
    let bo = row / params.rows_out;
    let dst = row * params.d;
    for (var j = j0; j < j1; j++) {
        out[dst + j] = 0.0;
    }
    // One output batch per input batch, or every input batch into a single table.
    var b0 = 0u;
    var b1 = params.b_in;
    if params.b_out == params.b_in {
        b0 = bo;
        b1 = bo + 1u;
    }
    for (var b = b0; b < b1; b++) {
        let ib = shared_or(params.b_idx, b) * params.k;
        for (var k = 0u; k < params.k; k++) {
            if idx[ib + k] == r {
                let src = (b * params.rows_in + k) * params.d;
                for (var j = j0; j < j1; j++) {
                    out[dst + j] += x[src + j];
                }
            }
        }
    }
}
