// Softmax over the last dim D of `rows` rows, and its gradient:
//
// softmax:      y  = exp(x − max x) / Σ exp(x − max x)
// softmax_grad: dx = y · (dy − Σ dy · y)
//
// Bindings (each entry point uses 1..k, in the order its launcher binds them):
//   softmax:      1 x, 2 y
//   softmax_grad: 1 y, 2 dy, 3 dx

// A workgroup of T_ROW × ROWS threads handles ROWS rows, T_ROW threads per row (a power of
// two: reductions are fixed trees, so results do not depend on timing).
override T_ROW: u32 = 64u;
override ROWS: u32 = 2u;

struct Params {
    rows: u32,
    d: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> t1: array<f32>;
@group(0) @binding(2) var<storage, read_write> t2: array<f32>;
@group(0) @binding(3) var<storage, read_write> t3: array<f32>;

var<workgroup> red: array<f32, T_ROW * ROWS>;

// Sum (or, with `take_max`, maximum) of `v` over the T_ROW threads of row slot `ly`; every
// thread of the workgroup must call it (barriers), also those whose row is past the end.
fn row_reduce(ly: u32, lx: u32, v: f32, take_max: bool) -> f32 {
    let base = ly * T_ROW;
    red[base + lx] = v;
    workgroupBarrier();
    for (var s = T_ROW / 2u; s > 0u; s = s / 2u) {
        if lx < s {
            let o = red[base + lx + s];
            red[base + lx] = select(red[base + lx] + o, max(red[base + lx], o), take_max);
        }
        workgroupBarrier();
    }
    let total = red[base];
    // The next reduction overwrites the slots.
    workgroupBarrier();
    return total;
}

fn row_of(wid: vec3<u32>, groups: vec3<u32>, ly: u32) -> u32 {
    return (wid.x + wid.y * groups.x) * ROWS + ly;
}

@compute @workgroup_size(T_ROW, ROWS, 1)
fn softmax(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let row = row_of(wid, groups, lid.y);
    let ok = row < p.rows;
    let base = row * p.d;
    // -inf is not a WGSL literal; the lowest finite f32 is as good a start for a maximum.
    var m = -3.4028235e38;
    if ok {
        for (var j = lid.x; j < p.d; j += T_ROW) {
            m = max(m, t1[base + j]);
        }
    }
    m = row_reduce(lid.y, lid.x, m, true);
    var s = 0.0;
    if ok {
        for (var j = lid.x; j < p.d; j += T_ROW) {
            s += exp(t1[base + j] - m);
        }
    }
    let inv = 1.0 / row_reduce(lid.y, lid.x, s, false);
    if !ok {
        return;
    }
    for (var j = lid.x; j < p.d; j += T_ROW) {
        t2[base + j] = exp(t1[base + j] - m) * inv;
    }
}

@compute @workgroup_size(T_ROW, ROWS, 1)
fn softmax_grad(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let row = row_of(wid, groups, lid.y);
    let ok = row < p.rows;
    let base = row * p.d;
    var s = 0.0;
    if ok {
        for (var j = lid.x; j < p.d; j += T_ROW) {
            s += t1[base + j] * t2[base + j];
        }
    }
    s = row_reduce(lid.y, lid.x, s, false);
    if !ok {
        return;
    }
    for (var j = lid.x; j < p.d; j += T_ROW) {
        t3[base + j] = t1[base + j] * (t2[base + j] - s);
    }
}
