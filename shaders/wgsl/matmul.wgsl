// Batched GEMM: c[z] = alpha · op(a[z]) · op(b[z]) (+ bias[n] on every row), z < batch.
//
// op(a) is [M, K]: `a` is stored [M, K] or, transposed, [K, M]; op(b) is [K, N]: `b` is stored
// [K, N] or, transposed, [N, K]. Transposes are index arithmetic in the tile loads, never
// copies. A 2-D `b` shared by every batch has stride_b = 0 (Linear layers).
//
// Tiling: a workgroup of WG_X × WG_Y threads computes a BM × BN tile of c, BM = WG_Y·TM and
// BN = WG_X·TN. The K loop stages a BK-deep slab of op(a) and op(b) in workgroup memory,
// k-major (as[k][m], bs[k][n]), and each thread accumulates TM × TN outputs in registers from
// TM + TN values read per k: that register blocking is what makes the kernel compute-bound
// rather than bound by workgroup-memory reads. The slabs are arrays of vec4 so that a thread
// reads 4 neighbouring values in one 16-byte access; a thread owns groups of 4 consecutive
// rows (columns) strided by WG_Y (WG_X) groups, so neighbouring threads read neighbouring
// vec4s (no bank conflicts) and write neighbouring runs of c. Edges are bounds-checked:
// out-of-range elements load as 0 and are not stored, so any M, N, K works.

// Threads along N and along M.
override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
// Outputs per thread along M and N: 4 or 8 (multiples of 4, at most MAX_T: the register
// arrays are sized by it, and loops bounded by these constants are unrolled by the driver
// after specialization).
override TM: u32 = 8u;
override TN: u32 = 8u;
// Depth of the K slab staged per iteration.
override BK: u32 = 8u;

const MAX_T: u32 = 8u;
// vec4s per accumulator row: acc[i·V + j/4] holds outputs (i, 4·(j/4) ..+4).
const V: u32 = MAX_T / 4u;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    // bit 0: a is transposed; bit 1: b is transposed; bit 2: add bias; bit 3: add to c
    // (a later step of K).
    flags: u32,
    // Elements between consecutive batches of a, b (0: shared) and c.
    stride_a: u32,
    stride_b: u32,
    stride_c: u32,
    // First batch of this dispatch (batches beyond the per-dimension grid limit are split
    // over several dispatches).
    z0: u32,
    alpha: f32,
    // Split K: the grid's z enumerates (split s, batch) as z = s · zb + batch-in-dispatch.
    // Split s owns K range [s · k_split, (s + 1) · k_split) and writes its partial product
    // to c at s · split_stride (scratch that matmul_split_sum adds up); one split writes c.
    // Within its range, this dispatch sums [k_off, k_off + k_len): a long range runs as
    // several dispatches accumulating into c (flags bit 3), so that a shader invocation's
    // loop stays short (lavapipe silently ends an invocation's loops after 65535 iterations
    // in all).
    zb: u32,
    k_split: u32,
    split_stride: u32,
    k_off: u32,
    k_len: u32,
    // matmul_split_sum: number of splits.
    splits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
// Bound to any valid view (and never read) when flags bit 2 is clear.
@group(0) @binding(3) var<storage, read_write> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

var<workgroup> as_: array<vec4<f32>, BK * WG_Y * TM / 4u>;
var<workgroup> bs: array<vec4<f32>, BK * WG_X * TN / 4u>;

// Where element e of a slab `width` wide and BK deep comes from: (index across the slab, kk).
// The fastest-moving e walks the dimension that is contiguous in memory, so that the global
// loads coalesce either way: kk when the operand is stored k-fastest, else the other one.
fn slab_pos(e: u32, width: u32, k_fastest: bool) -> vec2<u32> {
    if k_fastest {
        return vec2<u32>(e / BK, e % BK);
    }
    return vec2<u32>(e % width, e / width);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmul(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let bm = WG_Y * TM;
    let bn = WG_X * TN;
    let threads = WG_X * WG_Y;
    let tid = lid.y * WG_X + lid.x;
    let trans_a = (p.flags & 1u) != 0u;
    let trans_b = (p.flags & 2u) != 0u;
    let split = wid.z / p.zb;
    let z = wid.z % p.zb + p.z0;
    let k_first = split * p.k_split + p.k_off;
    let k_last = min(min(k_first + p.k_len, (split + 1u) * p.k_split), p.k);
    let row0 = wid.y * bm;
    let col0 = wid.x * bn;
    let a0 = z * p.stride_a;
    let b0 = z * p.stride_b;

    // Function-scope variables start zeroed.
    var acc: array<vec4<f32>, MAX_T * V>;
    var bv: array<vec4<f32>, V>;

    for (var k0 = k_first; k0 < k_last; k0 += BK) {
        // Stage op(a)[row0.., k0..] as as_[kk][mm]. The fastest-moving thread index walks the
        // dimension that is contiguous in memory, so the global loads coalesce either way.
        for (var e = tid; e < bm * BK; e += threads) {
            let at = slab_pos(e, bm, !trans_a);
            let gm = row0 + at.x;
            let gk = k0 + at.y;
            var v = 0.0;
            if gm < p.m && gk < k_last {
                v = a[a0 + select(gm * p.k + gk, gk * p.m + gm, trans_a)];
            }
            as_[(at.y * bm + at.x) / 4u][at.x % 4u] = v;
        }
        for (var e = tid; e < bn * BK; e += threads) {
            let at = slab_pos(e, bn, trans_b);
            let gn = col0 + at.x;
            let gk = k0 + at.y;
            var v = 0.0;
            if gn < p.n && gk < k_last {
                v = b[b0 + select(gk * p.n + gn, gn * p.k + gk, trans_b)];
            }
            bs[(at.y * bn + at.x) / 4u][at.x % 4u] = v;
        }
        workgroupBarrier();

        for (var kk = 0u; kk < BK; kk++) {
            for (var jj = 0u; jj < TN / 4u; jj++) {
                bv[jj] = bs[kk * (bn / 4u) + lid.x + jj * WG_X];
            }
            for (var ii = 0u; ii < TM / 4u; ii++) {
                let av = as_[kk * (bm / 4u) + lid.y + ii * WG_Y];
                let r = ii * 4u * V;
                for (var jj = 0u; jj < TN / 4u; jj++) {
                    let q = r + jj;
                    acc[q] = fma(vec4<f32>(av.x), bv[jj], acc[q]);
                    acc[q + V] = fma(vec4<f32>(av.y), bv[jj], acc[q + V]);
                    acc[q + 2u * V] = fma(vec4<f32>(av.z), bv[jj], acc[q + 2u * V]);
                    acc[q + 3u * V] = fma(vec4<f32>(av.w), bv[jj], acc[q + 3u * V]);
                }
            }
        }
        // The next slab overwrites what slower threads may still be reading.
        workgroupBarrier();
    }

    let has_bias = (p.flags & 4u) != 0u;
    let accumulate = (p.flags & 8u) != 0u;
    let c0 = split * p.split_stride + z * p.stride_c;
    for (var i = 0u; i < TM; i++) {
        let row = row0 + (lid.y + (i / 4u) * WG_Y) * 4u + i % 4u;
        if row >= p.m {
            continue;
        }
        for (var j = 0u; j < TN; j++) {
            let col = col0 + (lid.x + (j / 4u) * WG_X) * 4u + j % 4u;
            if col < p.n {
                let at = c0 + row * p.n + col;
                var v = p.alpha * acc[i * V + j / 4u][j % 4u];
                if has_bias {
                    v += bias[col];
                }
                if accumulate {
                    v += c[at];
                }
                c[at] = v;
            }
        }
    }
}

// Split-K epilogue: c[e] = Σ_s part[s · split_stride + e] (+ bias[e mod n]), splits in order
// (deterministic). Bindings: 1 part, 2 bias (any valid view when flags bit 2 is clear), 3 c.
@group(0) @binding(1) var<storage, read_write> part_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> bias_in: array<f32>;
@group(0) @binding(3) var<storage, read_write> c_out: array<f32>;

@compute @workgroup_size(WG_X * WG_Y, 1, 1)
fn matmul_split_sum(
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let e = (wid.x + wid.y * groups.x) * (WG_X * WG_Y) + t;
    if e >= p.split_stride {
        return;
    }
    var v = 0.0;
    for (var s = 0u; s < p.splits; s++) {
        v += part_in[s * p.split_stride + e];
    }
    if (p.flags & 4u) != 0u {
        v += bias_in[e % p.n];
    }
    c_out[e] = v;
}
