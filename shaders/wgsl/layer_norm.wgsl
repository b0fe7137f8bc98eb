// LayerNorm over the last dim D of `rows` rows, and its two gradients:
//
// layer_norm:            y  = (x − mean) · rstd · w + b,  rstd = 1 / sqrt(var + eps)
// layer_norm_grad_x:     dx = rstd · (g − mean(g) − x̂ · mean(g · x̂)),  g = dy · w
// layer_norm_grad_w:     part[c] = Σ_{rows r of chunk c} dy[r] · x̂[r]   (one row per chunk)
// layer_norm_grad_w_sum: dw = Σ_c part[c]
//
// The row statistics are recomputed everywhere (two passes, mean then biased variance, as
// the CPU oracle does) rather than stored by the forward: the IR keeps no statistics tensor.
//
// Bindings (each entry point uses 1..k, in the order its launcher binds them):
//   layer_norm:            1 x, 2 w, 3 b, 4 y
//   layer_norm_grad_x:     1 x, 2 w, 3 dy, 4 dx
//   layer_norm_grad_w:     1 x, 2 dy, 3 part [chunks, D] (or dw itself when chunks = 1)
//   layer_norm_grad_w_sum: 1 part, 2 dw

// Row kernels: a workgroup of T_ROW × ROWS threads handles ROWS rows, T_ROW threads per row
// (a power of two: the sums are fixed trees, so results do not depend on timing).
// layer_norm_grad_w runs T_ROW · ROWS threads over a chunk of rows and a block of columns.
override T_ROW: u32 = 64u;
override ROWS: u32 = 2u;

// Columns per thread in layer_norm_grad_w (accumulators in registers).
const CPT: u32 = 4u;

struct Params {
    rows: u32,
    d: u32,
    eps: f32,
    // layer_norm_grad_w: rows per chunk; layer_norm_grad_w_sum: number of chunks.
    chunk: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> t1: array<f32>;
@group(0) @binding(2) var<storage, read_write> t2: array<f32>;
@group(0) @binding(3) var<storage, read_write> t3: array<f32>;
@group(0) @binding(4) var<storage, read_write> t4: array<f32>;

var<workgroup> red_a: array<f32, T_ROW * ROWS>;
var<workgroup> red_b: array<f32, T_ROW * ROWS>;

// Sum of `v` over the T_ROW threads of row slot `ly`; every thread of the workgroup must call
// it (barriers), also those whose row is past the end.
fn row_sum(ly: u32, lx: u32, v: f32) -> f32 {
    let base = ly * T_ROW;
    red_a[base + lx] = v;
    workgroupBarrier();
    for (var s = T_ROW / 2u; s > 0u; s = s / 2u) {
        if lx < s {
            red_a[base + lx] += red_a[base + lx + s];
        }
        workgroupBarrier();
    }
    let total = red_a[base];
    // The next reduction overwrites the slots.
    workgroupBarrier();
    return total;
}

// Two sums at once (one set of barriers).
fn row_sum2(ly: u32, lx: u32, v: vec2<f32>) -> vec2<f32> {
    let base = ly * T_ROW;
    red_a[base + lx] = v.x;
    red_b[base + lx] = v.y;
    workgroupBarrier();
    for (var s = T_ROW / 2u; s > 0u; s = s / 2u) {
        if lx < s {
            red_a[base + lx] += red_a[base + lx + s];
            red_b[base + lx] += red_b[base + lx + s];
        }
        workgroupBarrier();
    }
    let total = vec2<f32>(red_a[base], red_b[base]);
    workgroupBarrier();
    return total;
}

// Row of this thread: workgroups are laid out on a 2-D grid when there are more than one
// dimension allows.
fn row_of(wid: vec3<u32>, groups: vec3<u32>, ly: u32) -> u32 {
    return (wid.x + wid.y * groups.x) * ROWS + ly;
}

// Mean and rstd of row `row` (0 for rows past the end, which still join the barriers).
fn stats(row: u32, lx: u32, ly: u32) -> vec2<f32> {
    let ok = row < p.rows;
    let base = row * p.d;
    var s = 0.0;
    if ok {
        for (var j = lx; j < p.d; j += T_ROW) {
            s += t1[base + j];
        }
    }
    let mean = row_sum(ly, lx, s) / f32(p.d);
    var v = 0.0;
    if ok {
        for (var j = lx; j < p.d; j += T_ROW) {
            let c = t1[base + j] - mean;
            v += c * c;
        }
    }
    let var_ = row_sum(ly, lx, v) / f32(p.d);
    return vec2<f32>(mean, 1.0 / sqrt(var_ + p.eps));
}

@compute @workgroup_size(T_ROW, ROWS, 1)
fn layer_norm(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let row = row_of(wid, groups, lid.y);
    let st = stats(row, lid.x, lid.y);
    if row >= p.rows {
        return;
    }
    let base = row * p.d;
    for (var j = lid.x; j < p.d; j += T_ROW) {
        t4[base + j] = (t1[base + j] - st.x) * st.y * t2[j] + t3[j];
    }
}

@compute @workgroup_size(T_ROW, ROWS, 1)
fn layer_norm_grad_x(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let row = row_of(wid, groups, lid.y);
    let st = stats(row, lid.x, lid.y);
    let base = row * p.d;
    var sums = vec2<f32>(0.0);
    if row < p.rows {
        for (var j = lid.x; j < p.d; j += T_ROW) {
            let g = t3[base + j] * t2[j];
            let xh = (t1[base + j] - st.x) * st.y;
            sums += vec2<f32>(g, g * xh);
        }
    }
    let means = row_sum2(lid.y, lid.x, sums) / f32(p.d);
    if row >= p.rows {
        return;
    }
    for (var j = lid.x; j < p.d; j += T_ROW) {
        let xh = (t1[base + j] - st.x) * st.y;
        t4[base + j] = st.y * (t3[base + j] * t2[j] - means.x - xh * means.y);
    }
}

// Workgroup (chunk c = wid.x, column block wid.y): each thread owns CPT columns strided by
// the workgroup width. Row statistics are computed T rows at a time, one row per thread
// (serially over D), staged in red_a/red_b, then every thread walks those rows for its
// columns; reads of dy and x then coalesce across threads.
@compute @workgroup_size(T_ROW * ROWS, 1, 1)
fn layer_norm_grad_w(
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let threads = T_ROW * ROWS;
    let r_begin = wid.x * p.chunk;
    let r_end = min(r_begin + p.chunk, p.rows);
    let col0 = wid.y * threads * CPT;
    var acc: array<f32, CPT>;
    for (var r0 = r_begin; r0 < r_end; r0 += threads) {
        let r = r0 + t;
        var mean = 0.0;
        var rstd = 0.0;
        if r < r_end {
            let base = r * p.d;
            var s = 0.0;
            for (var j = 0u; j < p.d; j++) {
                s += t1[base + j];
            }
            mean = s / f32(p.d);
            var v = 0.0;
            for (var j = 0u; j < p.d; j++) {
                let c = t1[base + j] - mean;
                v += c * c;
            }
            rstd = 1.0 / sqrt(v / f32(p.d) + p.eps);
        }
        red_a[t] = mean;
        red_b[t] = rstd;
        workgroupBarrier();
        let n = min(threads, r_end - r0);
        for (var i = 0u; i < n; i++) {
            let base = (r0 + i) * p.d;
            let m = red_a[i];
            let rs = red_b[i];
            for (var c = 0u; c < CPT; c++) {
                let col = col0 + t + c * threads;
                if col < p.d {
                    acc[c] += t2[base + col] * (t1[base + col] - m) * rs;
                }
            }
        }
        // The next batch of statistics overwrites the staged ones.
        workgroupBarrier();
    }
    for (var c = 0u; c < CPT; c++) {
        let col = col0 + t + c * threads;
        if col < p.d {
            t3[wid.x * p.d + col] = acc[c];
        }
    }
}

// dw[col] = Σ_c part[c, col], one thread per column, chunks in order (deterministic).
@compute @workgroup_size(T_ROW * ROWS, 1, 1)
fn layer_norm_grad_w_sum(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    if col >= p.d {
        return;
    }
    var s = 0.0;
    for (var c = 0u; c < p.chunk; c++) {
        s += t1[c * p.d + col];
    }
    t2[col] = s;
}
