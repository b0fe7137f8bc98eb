// Fused scaled-dot-product attention, FlashAttention-style: the Lq × Lk score matrix is never
// stored; tiles of it live in workgroup memory only.
//
// attention:           o = softmax(scale · q kᵀ + bias) v, and lse = the row log-sum-exp
// attention_grad_kv:   dk = scale · dSᵀ q, dv = Pᵀ dO        (one workgroup per key tile)
// attention_grad_q:    dq = scale · dS k                    (one workgroup per query tile)
// attention_grad_bias: dbias = dS summed to the bias's own (broadcast) shape
//
// with P = exp(scale · q kᵀ + bias − lse) recomputed from the saved lse, and
// dS = P ∘ (dO vᵀ − D), D = rowsum(dO ∘ o) (FlashAttention's backward).
//
// Groups are (b, h), g = b · heads + h. Row i of operand X ∈ {q, k, v, o} in group (b, h)
// starts at X.off + b·X.bs + h·X.hs + i·X.rs (elements; the columns are contiguous), so the
// same kernels read separate [G, L, d] tensors and the heads of a packed qkv projection.
// dO shares o's layout; dq, dk, dv share q's, k's and v's. lse is [G, Lq], contiguous.
// The bias element of (g, i, j) is at base(g) + i·si + j·sj, base(g) from g's digits over the
// score's leading dims (`lead`, padded with 1s in front) times the bias strides on them
// (`bias_lead`, 0 where the bias broadcasts).
//
// Bindings (each entry point uses 1..k in order; all but the last one agree up to 7):
//   1 q, 2 k, 3 v, 4 bias (any valid view when flags bit 0 is clear), 5 o, 6 lse,
//   7 dO, 8 dq (grad_q) | dk (grad_kv) | dbias or its partial sums (grad_bias), 9 dv
//   (grad_kv); attention_grad_bias_sum: 1 partial sums, 2 dbias.

// Tiles: BQ query rows and BKV key rows per step; TPR threads share each row (a workgroup is
// TPR × BQ threads, or TPR × BKV for attention_grad_kv); DMAX ≥ the head dims d and dv.
// Each thread owns DMAX / TPR output columns (at most MAX_COLS).
override BQ: u32 = 16u;
override BKV: u32 = 32u;
override TPR: u32 = 4u;
override DMAX: u32 = 64u;

const MAX_COLS: u32 = 16u;
// Scores a thread computes per tile row, in registers: ceil(BKV / TPR) (forward, dq) or
// ceil(BQ / TPR) (dk, dv), at most MAX_S.
const MAX_S: u32 = 32u;
// "Minus infinity" for masked keys: exp(NEG − m) is 0 for any finite row maximum m, and
// WGSL has no infinity literal.
const NEG: f32 = -3.0e38;

struct Params {
    lq: u32,
    lk: u32,
    d: u32,
    dv: u32,
    heads: u32,
    // bit 0: a bias is bound. bit 1 (bias gradient): add into the destination instead of
    // writing it (every round after the first).
    flags: u32,
    // First group (or bias element, for attention_grad_bias) of this dispatch.
    g0: u32,
    scale: f32,
    // (off, bs, hs, rs) of q, k, v, o.
    q: vec4<u32>,
    k: vec4<u32>,
    v: vec4<u32>,
    o: vec4<u32>,
    // The score's leading dims (4 slots, 1s in front) and the bias strides on them.
    lead: vec4<u32>,
    bias_lead: vec4<u32>,
    // (si, sj, bias size along i, bias size along j).
    bias_ij: vec4<u32>,
    // The bias's own sizes on the leading dims (1 where it broadcasts).
    bias_sizes: vec4<u32>,
    // Groups (forward, grads) or bias elements (grad_bias) in all.
    count: u32,
    // attention_grad_bias: partial sums per bias element in all (`g0` is then the
    // broadcast positions each part sums).
    parts: u32,
    // attention_grad_bias: the first part of this launch, which computes parts
    // part0 .. part0 + round (`round` = its partial-sum slots).
    part0: u32,
    round: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q_: array<f32>;
@group(0) @binding(2) var<storage, read_write> k_: array<f32>;
@group(0) @binding(3) var<storage, read_write> v_: array<f32>;
@group(0) @binding(4) var<storage, read_write> bias_: array<f32>;
@group(0) @binding(5) var<storage, read_write> o_: array<f32>;
@group(0) @binding(6) var<storage, read_write> lse_: array<f32>;
@group(0) @binding(7) var<storage, read_write> do_: array<f32>;
@group(0) @binding(8) var<storage, read_write> out1: array<f32>;
@group(0) @binding(9) var<storage, read_write> out2: array<f32>;

// Row strides in workgroup memory are padded by one word so that threads reading the same
// column of different rows hit different banks.
const PAD: u32 = 1u;
var<workgroup> tile_q: array<f32, BQ * (DMAX + PAD)>;
var<workgroup> tile_do: array<f32, BQ * (DMAX + PAD)>;
var<workgroup> tile_k: array<f32, BKV * (DMAX + PAD)>;
var<workgroup> tile_v: array<f32, BKV * (DMAX + PAD)>;
var<workgroup> tile_s: array<f32, BQ * (BKV + PAD)>;
var<workgroup> tile_ds: array<f32, BQ * (BKV + PAD)>;
var<workgroup> row_lse: array<f32, BQ>;
var<workgroup> row_d: array<f32, BQ>;

// Index of column c of row r in a head tile (tile_q, tile_do, tile_k, tile_v) and of key
// column j of query row r in a score tile (tile_s, tile_ds).
fn head_slot(r: u32, c: u32) -> u32 {
    return r * (DMAX + PAD) + c;
}

fn score_slot(r: u32, j: u32) -> u32 {
    return r * (BKV + PAD) + j;
}

// Start of row `i` of group g's operand with layout `x`.
fn row_at(x: vec4<u32>, g: u32, i: u32) -> u32 {
    return x.x + (g / p.heads) * x.y + (g % p.heads) * x.z + i * x.w;
}

fn has_bias() -> bool {
    return (p.flags & 1u) != 0u;
}

// Bias offset of group g (row and column terms excluded).
fn bias_base(g: u32) -> u32 {
    var rem = g;
    var off = 0u;
    for (var a = 3i; a >= 0i; a--) {
        off += (rem % p.lead[a]) * p.bias_lead[a];
        rem /= p.lead[a];
    }
    return off;
}

fn bias_at(base: u32, i: u32, j: u32) -> f32 {
    return bias_[base + i * p.bias_ij.x + j * p.bias_ij.y];
}

// rowsum(dO ∘ o) of row i of group g.
fn row_delta(g: u32, i: u32) -> f32 {
    let at = row_at(p.o, g, i);
    var s = 0.0;
    for (var c = 0u; c < p.dv; c++) {
        s += do_[at + c] * o_[at + c];
    }
    return s;
}

// Where a thread of a tiled entry point (a workgroup of TPR × `rows` threads over one tile of
// `rows` rows of group g) stands: its lane within its row, its row of the tile, its index t
// among the workgroup's `threads`, the group, the tile's first row and the group's bias offset.
struct Place {
    lane: u32,
    row: u32,
    t: u32,
    threads: u32,
    g: u32,
    first: u32,
    bias: u32,
}

fn place(lid: vec3<u32>, wid: vec3<u32>, rows: u32) -> Place {
    let g = p.g0 + wid.y;
    return Place(lid.x, lid.y, lid.y * TPR + lid.x, TPR * rows, g, wid.x * rows, bias_base(g));
}

// Staging of one operand's rows into its tile, by all `threads` threads of the workgroup:
// rows past the operand's length and columns past its width are zero. One function per
// tile: an entry point then only binds the operands it really reads. Q and dO tiles hold BQ
// query rows from i0, the K and V tiles BKV key rows from j0 (K and V always go together).
fn stage_q(here: Place, i0: u32) {
    let g = here.g;
    for (var e = here.t; e < BQ * DMAX; e += here.threads) {
        let r = e / DMAX;
        let c = e % DMAX;
        var x = 0.0;
        if i0 + r < p.lq && c < p.d {
            x = q_[row_at(p.q, g, i0 + r) + c];
        }
        tile_q[head_slot(r, c)] = x;
    }
}

fn stage_kv(here: Place, j0: u32) {
    let g = here.g;
    for (var e = here.t; e < BKV * DMAX; e += here.threads) {
        let r = e / DMAX;
        let c = e % DMAX;
        let inside = j0 + r < p.lk;
        var k = 0.0;
        var v = 0.0;
        if inside && c < p.d {
            k = k_[row_at(p.k, g, j0 + r) + c];
        }
        if inside && c < p.dv {
            v = v_[row_at(p.v, g, j0 + r) + c];
        }
        tile_k[head_slot(r, c)] = k;
        tile_v[head_slot(r, c)] = v;
    }
}

fn stage_do(here: Place, i0: u32) {
    let g = here.g;
    for (var e = here.t; e < BQ * DMAX; e += here.threads) {
        let r = e / DMAX;
        let c = e % DMAX;
        var x = 0.0;
        if i0 + r < p.lq && c < p.dv {
            x = do_[row_at(p.o, g, i0 + r) + c];
        }
        tile_do[head_slot(r, c)] = x;
    }
}

// Forward. Workgroup (query tile wid.x, group g0 + wid.y); thread (lane, row) = lid.
@compute @workgroup_size(TPR, BQ, 1)
fn attention(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let here = place(lid, wid, BQ);
    let lane = here.lane;
    let r = here.row;
    let g = here.g;
    let i0 = here.first;
    let i = i0 + r;

    stage_q(here, i0);
    var m = NEG;
    var l = 0.0;
    var acc: array<f32, MAX_COLS>;

    for (var j0 = 0u; j0 < p.lk; j0 += BKV) {
        // Everyone is done with the previous K, V and scores.
        workgroupBarrier();
        stage_kv(here, j0);
        workgroupBarrier();
        // Scores of this thread's keys jr = lane + u·TPR, register-blocked: each q value is
        // read once for all of them. Columns past d are zero in both tiles, so the constant
        // trip count DMAX is exact (and lets the driver unroll).
        var dots: array<f32, MAX_S>;
        for (var c = 0u; c < DMAX; c++) {
            let qc = tile_q[head_slot(r, c)];
            for (var u = 0u; u < (BKV + TPR - 1u) / TPR; u++) {
                let jr = min(lane + u * TPR, BKV - 1u);
                dots[u] = fma(qc, tile_k[head_slot(jr, c)], dots[u]);
            }
        }
        for (var u = 0u; u < (BKV + TPR - 1u) / TPR; u++) {
            let jr = lane + u * TPR;
            let j = j0 + jr;
            if jr < BKV {
                var s = NEG;
                if j < p.lk {
                    s = p.scale * dots[u];
                    if has_bias() && i < p.lq {
                        s += bias_at(here.bias, i, j);
                    }
                }
                tile_s[score_slot(r, jr)] = s;
            }
        }
        workgroupBarrier();
        // Online softmax: every thread of the row computes the same maximum and sum.
        var mt = NEG;
        for (var jr = 0u; jr < BKV; jr++) {
            mt = max(mt, tile_s[score_slot(r, jr)]);
        }
        let m_new = max(m, mt);
        // A row masked to -inf so far keeps a finite base, so exp gives 0 rather than NaN.
        let base = select(m_new, 0.0, m_new <= NEG);
        let corr = exp(m - base);
        l *= corr;
        for (var c = 0u; c < DMAX / TPR; c++) {
            acc[c] *= corr;
        }
        for (var jr = 0u; jr < BKV; jr++) {
            let pj = exp(tile_s[score_slot(r, jr)] - base);
            l += pj;
            for (var c = 0u; c < DMAX / TPR; c++) {
                acc[c] = fma(pj, tile_v[head_slot(jr, lane + c * TPR)], acc[c]);
            }
        }
        m = m_new;
    }

    if i >= p.lq {
        return;
    }
    // A row with every key masked has l = 0: its output is 0 (and its lse −inf).
    let inv = select(1.0 / l, 0.0, l == 0.0);
    let at = row_at(p.o, g, i);
    for (var c = 0u; c < DMAX / TPR; c++) {
        let col = lane + c * TPR;
        if col < p.dv {
            o_[at + col] = acc[c] * inv;
        }
    }
    if lane == 0u {
        lse_[g * p.lq + i] = m + log(l);
    }
}

// dk and dv. Workgroup (key tile wid.x, group g0 + wid.y); thread (lane, key row) = lid.
// Loops over every query tile: P and dS of the (query tile × key tile) block are staged as
// tile_s[i][j] and tile_ds[i][j], then each thread accumulates its key row over them.
@compute @workgroup_size(TPR, BKV, 1)
fn attention_grad_kv(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let here = place(lid, wid, BKV);
    let lane = here.lane;
    let jr = here.row;
    let g = here.g;
    let j0 = here.first;
    let j = j0 + jr;

    stage_kv(here, j0);
    var dk: array<f32, MAX_COLS>;
    var dv: array<f32, MAX_COLS>;

    for (var i0 = 0u; i0 < p.lq; i0 += BQ) {
        workgroupBarrier();
        stage_q(here, i0);
        stage_do(here, i0);
        for (var ir = here.t; ir < BQ; ir += here.threads) {
            let i = i0 + ir;
            var lse = 0.0;
            var dd = 0.0;
            if i < p.lq {
                lse = lse_[g * p.lq + i];
                dd = row_delta(g, i);
            }
            row_lse[ir] = lse;
            row_d[ir] = dd;
        }
        workgroupBarrier();
        // P and dS for (query ir, this thread's key jr), queries ir = lane + u·TPR spread
        // over the lanes; both dot products register-blocked over them (zero-padded columns).
        var dots: array<f32, MAX_S>;
        var dps: array<f32, MAX_S>;
        for (var c = 0u; c < DMAX; c++) {
            let kc = tile_k[head_slot(jr, c)];
            let vc = tile_v[head_slot(jr, c)];
            for (var u = 0u; u < (BQ + TPR - 1u) / TPR; u++) {
                let ir = min(lane + u * TPR, BQ - 1u);
                dots[u] = fma(tile_q[head_slot(ir, c)], kc, dots[u]);
                dps[u] = fma(tile_do[head_slot(ir, c)], vc, dps[u]);
            }
        }
        for (var u = 0u; u < (BQ + TPR - 1u) / TPR; u++) {
            let ir = lane + u * TPR;
            let i = i0 + ir;
            if ir < BQ {
                var pij = 0.0;
                var ds = 0.0;
                if i < p.lq && j < p.lk {
                    var s = p.scale * dots[u];
                    if has_bias() {
                        s += bias_at(here.bias, i, j);
                    }
                    pij = exp(s - row_lse[ir]);
                    ds = pij * (dps[u] - row_d[ir]);
                }
                tile_s[score_slot(ir, jr)] = pij;
                tile_ds[score_slot(ir, jr)] = ds;
            }
        }
        workgroupBarrier();
        for (var ir = 0u; ir < BQ; ir++) {
            let pij = tile_s[score_slot(ir, jr)];
            let ds = tile_ds[score_slot(ir, jr)];
            for (var c = 0u; c < DMAX / TPR; c++) {
                let col = lane + c * TPR;
                dv[c] = fma(pij, tile_do[head_slot(ir, col)], dv[c]);
                dk[c] = fma(ds, tile_q[head_slot(ir, col)], dk[c]);
            }
        }
    }

    if j >= p.lk {
        return;
    }
    let at_k = row_at(p.k, g, j);
    let at_v = row_at(p.v, g, j);
    for (var c = 0u; c < DMAX / TPR; c++) {
        let col = lane + c * TPR;
        if col < p.d {
            out1[at_k + col] = p.scale * dk[c];
        }
        if col < p.dv {
            out2[at_v + col] = dv[c];
        }
    }
}

// dq. Workgroup (query tile wid.x, group g0 + wid.y); thread (lane, query row) = lid.
@compute @workgroup_size(TPR, BQ, 1)
fn attention_grad_q(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let here = place(lid, wid, BQ);
    let lane = here.lane;
    let r = here.row;
    let g = here.g;
    let i0 = here.first;
    let i = i0 + r;

    stage_q(here, i0);
    stage_do(here, i0);
    for (var ir = here.t; ir < BQ; ir += here.threads) {
        var lse = 0.0;
        var dd = 0.0;
        if i0 + ir < p.lq {
            lse = lse_[g * p.lq + i0 + ir];
            dd = row_delta(g, i0 + ir);
        }
        row_lse[ir] = lse;
        row_d[ir] = dd;
    }
    var dq: array<f32, MAX_COLS>;

    for (var j0 = 0u; j0 < p.lk; j0 += BKV) {
        workgroupBarrier();
        stage_kv(here, j0);
        workgroupBarrier();
        // dS for (this thread's query r, keys jr = lane + u·TPR), register-blocked.
        var dots: array<f32, MAX_S>;
        var dps: array<f32, MAX_S>;
        for (var c = 0u; c < DMAX; c++) {
            let qc = tile_q[head_slot(r, c)];
            let doc = tile_do[head_slot(r, c)];
            for (var u = 0u; u < (BKV + TPR - 1u) / TPR; u++) {
                let jr = min(lane + u * TPR, BKV - 1u);
                dots[u] = fma(qc, tile_k[head_slot(jr, c)], dots[u]);
                dps[u] = fma(doc, tile_v[head_slot(jr, c)], dps[u]);
            }
        }
        for (var u = 0u; u < (BKV + TPR - 1u) / TPR; u++) {
            let jr = lane + u * TPR;
            let j = j0 + jr;
            if jr < BKV {
                var ds = 0.0;
                if i < p.lq && j < p.lk {
                    var s = p.scale * dots[u];
                    if has_bias() {
                        s += bias_at(here.bias, i, j);
                    }
                    ds = exp(s - row_lse[r]) * (dps[u] - row_d[r]);
                }
                tile_s[score_slot(r, jr)] = ds;
            }
        }
        workgroupBarrier();
        for (var jr = 0u; jr < BKV; jr++) {
            let ds = tile_s[score_slot(r, jr)];
            for (var c = 0u; c < DMAX / TPR; c++) {
                dq[c] = fma(ds, tile_k[head_slot(jr, lane + c * TPR)], dq[c]);
            }
        }
    }

    if i >= p.lq {
        return;
    }
    let at = row_at(p.q, g, i);
    for (var c = 0u; c < DMAX / TPR; c++) {
        let col = lane + c * TPR;
        if col < p.d {
            out1[at + col] = p.scale * dq[c];
        }
    }
}

// dbias, in parts: thread (e, slot) sums dS over the `g0` broadcast positions
// [part·g0, (part + 1)·g0) of bias element e, part = part0 + slot, in a fixed order, into
// out1[slot·count + e] (out1 = dbias itself when a launch computes one part; then flags
// bit 1 adds to it after the first round). attention_grad_bias_sum then adds the launch's
// partial sums of each element in order. Deterministic, no atomics, and the work of one
// thread is bounded (lavapipe silently ends a shader invocation's loops after 65535
// iterations in all; real GPUs want the parallelism anyway).
// Launched with TPR × BQ-thread workgroups on a 2-D grid.
@compute @workgroup_size(TPR, BQ, 1)
fn attention_grad_bias(
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let f = (wid.x + wid.y * groups.x) * (TPR * BQ) + t;
    let e = f % p.count;
    let slot = f / p.count;
    let part = p.part0 + slot;
    if slot >= p.round || part >= p.parts {
        return;
    }
    // The element's index on every axis of the bias (row-major; lead axes 0..3, then i, j).
    let bi_n = p.bias_ij.z;
    let bj_n = p.bias_ij.w;
    var rem = e;
    let bj = rem % bj_n;
    rem /= bj_n;
    let bi = rem % bi_n;
    rem /= bi_n;
    var blead: vec4<u32>;
    for (var a = 3i; a >= 0i; a--) {
        blead[a] = rem % p.bias_sizes[a];
        rem /= p.bias_sizes[a];
    }
    // Axes where the bias broadcasts are summed over; the others are fixed by the element.
    let ni = select(1u, p.lq, bi_n == 1u && p.lq != 1u);
    let nj = select(1u, p.lk, bj_n == 1u && p.lk != 1u);
    var nlead = 1u;
    for (var a = 0; a < 4; a++) {
        if p.bias_sizes[a] == 1u {
            nlead *= p.lead[a];
        }
    }
    let first = part * p.g0;
    let last = min(first + p.g0, nlead * ni * nj);
    var total = 0.0;
    for (var pos = first; pos < last; pos++) {
        let jj = pos % nj;
        let ii = (pos / nj) % ni;
        // Group g: the fixed lead digits from the element, the summed ones from u (every
        // combination once).
        var ur = pos / (nj * ni);
        var g = 0u;
        for (var a = 0; a < 4; a++) {
            var digit = blead[a];
            if p.bias_sizes[a] == 1u {
                digit = ur % p.lead[a];
                ur /= p.lead[a];
            }
            g = g * p.lead[a] + digit;
        }
        let i = select(bi, ii, ni > 1u);
        let j = select(bj, jj, nj > 1u);
        let at_q = row_at(p.q, g, i);
        let at_o = row_at(p.o, g, i);
        let at_k = row_at(p.k, g, j);
        let at_v = row_at(p.v, g, j);
        var dot = 0.0;
        for (var c = 0u; c < p.d; c++) {
            dot += q_[at_q + c] * k_[at_k + c];
        }
        var dp = 0.0;
        for (var c = 0u; c < p.dv; c++) {
            dp += do_[at_o + c] * v_[at_v + c];
        }
        let s = p.scale * dot + bias_at(bias_base(g), i, j);
        total += exp(s - lse_[g * p.lq + i]) * (dp - row_delta(g, i));
    }
    if (p.flags & 2u) != 0u {
        total += out1[slot * p.count + e];
    }
    out1[slot * p.count + e] = total;
}

// dbias[e] (+)= Σ_slot part[slot·count + e] over the launch's `round` slots, in order
// (flags bit 1: add to dbias). Bindings 1 partial sums, 2 dbias.
@compute @workgroup_size(TPR, BQ, 1)
fn attention_grad_bias_sum(
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let e = (wid.x + wid.y * groups.x) * (TPR * BQ) + t;
    if e >= p.count {
        return;
    }
    var s = 0.0;
    for (var slot = 0u; slot < p.round; slot++) {
        s += q_[slot * p.count + e];
    }
    if (p.flags & 2u) != 0u {
        s = k_[e] + s;
    }
    k_[e] = s;
}
