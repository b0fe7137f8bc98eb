//! Launchers of `shaders/wgsl/attention.wgsl`: fused attention forward (`o`, `lse`), its
//! backward (`dq`, `dk`, `dv`) and the bias gradient, for the IR's `Attention`,
//! `AttentionGrad`, `AttentionGradBias` and their packed self-attention twins.
//!
//! Operands are strided views ([`Place`]; the geometry is the IR's, shared with the CPU
//! kernel) so that separate `[G, L, d]` tensors and the heads
//! of a packed qkv projection `[B, L, 3·H·d]` go through the same kernels without copies.
//! Tiles are picked per device from its workgroup-memory limit.

use tessera_dsl::graph::attention::AttentionGeometry;
pub use tessera_dsl::graph::attention::{AttentionDims, Place};
use tessera_dsl::graph::{Graph, Node};
use tessera_shaders::{self as kernels, Kernel};

use super::{check_view, grid_2d, word};
use crate::gpu::launch::{prepare, Dispatch, View, Word};
use crate::gpu::lowering::{GpuLowering, Lowering};
use crate::gpu::{BackendError, GpuContext, PipelineCache};

/// The uniform words of an operand's place (see `Place` in the WGSL).
fn place_words(p: &Place) -> Result<[Word; 4], BackendError> {
    Ok([
        Word::U(word("attention operand offset", p.off)?),
        Word::U(word("attention batch stride", p.bs)?),
        Word::U(word("attention head stride", p.hs)?),
        Word::U(word("attention row stride", p.rs)?),
    ])
}

/// Leading score dims the bias map supports (`[B, H]`, `[B, nW, H]`, ...).
pub const MAX_LEAD_DIMS: usize = 4;

/// How an additive bias of shape `bias` broadcasts to the scores `[lead.., lq, lk]`; the
/// groups of [`AttentionDims`] are the flattened `lead` dims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BiasMap {
    /// Score lead dims, padded with 1s in front.
    lead: [usize; MAX_LEAD_DIMS],
    /// Bias strides on them (0 where the bias broadcasts).
    strides: [usize; MAX_LEAD_DIMS],
    /// The bias's own sizes on them (1 where it broadcasts).
    sizes: [usize; MAX_LEAD_DIMS],
    si: usize,
    sj: usize,
    ni: usize,
    nj: usize,
    len: usize,
}

impl BiasMap {
    /// `bias` must broadcast (NumPy rules) to `scores`, which has at most
    /// [`MAX_LEAD_DIMS`] leading dims.
    pub fn new(bias: &[usize], scores: &[usize]) -> Result<Self, BackendError> {
        let r = scores.len();
        if !(2..=MAX_LEAD_DIMS + 2).contains(&r) || bias.len() > r {
            return Err(BackendError::Limit {
                what: format!("attention bias {bias:?} over scores {scores:?} (leading dims)"),
                needed: r.saturating_sub(2) as u64,
                allowed: MAX_LEAD_DIMS as u64,
            });
        }
        // Bias sizes and row-major strides on the score's axes, padded in front.
        let mut size = vec![1; r];
        size[r - bias.len()..].copy_from_slice(bias);
        let mut stride = vec![0; r];
        let mut s = 1;
        for a in (0..r).rev() {
            assert!(
                size[a] == scores[a] || size[a] == 1,
                "attention bias {bias:?} does not broadcast to {scores:?}"
            );
            stride[a] = if size[a] == 1 { 0 } else { s };
            s *= size[a];
        }
        let pad = MAX_LEAD_DIMS + 2 - r;
        let mut map = BiasMap {
            lead: [1; MAX_LEAD_DIMS],
            strides: [0; MAX_LEAD_DIMS],
            sizes: [1; MAX_LEAD_DIMS],
            si: stride[r - 2],
            sj: stride[r - 1],
            ni: size[r - 2],
            nj: size[r - 1],
            len: s,
        };
        map.lead[pad..].copy_from_slice(&scores[..r - 2]);
        map.strides[pad..].copy_from_slice(&stride[..r - 2]);
        map.sizes[pad..].copy_from_slice(&size[..r - 2]);
        Ok(map)
    }

    /// Number of bias elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn groups(&self) -> usize {
        self.lead.iter().product()
    }
}

/// Tiling of the attention kernels: `bq` query rows and `bkv` key rows per step, `tpr`
/// threads per row, head dims up to `dmax`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionTile {
    pub bq: u32,
    pub bkv: u32,
    pub tpr: u32,
    pub dmax: u32,
}

/// The kernels of the family, for sizing their tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttentionKernel {
    Forward,
    GradKv,
    GradQ,
    GradBias,
}

/// Output columns a thread holds in registers (`MAX_COLS` in the WGSL).
pub const MAX_COLS: u32 = 16;
/// Scores a thread holds in registers per tile row (`MAX_S` in the WGSL): `bkv` and `bq`
/// are at most this many times `tpr`.
pub const MAX_S: u32 = 32;
/// Largest supported head dim.
pub const MAX_HEAD_DIM: usize = 128;

impl AttentionTile {
    /// Bytes of workgroup memory `kernel` uses with this tile (padded rows as in the WGSL).
    pub fn workgroup_bytes(&self, kernel: AttentionKernel) -> u64 {
        let (bq, bkv, w) = (
            u64::from(self.bq),
            u64::from(self.bkv),
            u64::from(self.dmax) + 1,
        );
        let s = bq * (bkv + 1);
        let floats = match kernel {
            AttentionKernel::Forward => (bq + 2 * bkv) * w + s,
            AttentionKernel::GradKv => 2 * (bq + bkv) * w + 2 * s + 2 * bq,
            AttentionKernel::GradQ => 2 * (bq + bkv) * w + s + 2 * bq,
            AttentionKernel::GradBias => 0,
        };
        floats * 4
    }

    /// Threads of a `kernel` workgroup.
    pub fn threads(&self, kernel: AttentionKernel) -> u32 {
        match kernel {
            AttentionKernel::GradKv => self.tpr * self.bkv,
            _ => self.tpr * self.bq,
        }
    }

    /// The largest tile for head dims `d`, `dv` that fits `limit` bytes of workgroup memory,
    /// or `None` if the head dims exceed [`MAX_HEAD_DIM`] or nothing fits.
    pub fn choose(kernel: AttentionKernel, d: usize, dv: usize, limit: u64) -> Option<Self> {
        let width = d.max(dv).max(1);
        if width > MAX_HEAD_DIM {
            return None;
        }
        let dmax = width.next_power_of_two().max(16) as u32;
        // 16 columns per thread: enough work per thread, few registers.
        let tpr = (dmax / MAX_COLS).max(1);
        let sizes: &[(u32, u32)] = match kernel {
            AttentionKernel::GradKv => &[(32, 32), (16, 32), (16, 16), (8, 16), (8, 8), (4, 8)],
            _ => &[(32, 32), (32, 16), (16, 16), (16, 8), (8, 8), (4, 8)],
        };
        sizes
            .iter()
            .map(|&(bq, bkv)| AttentionTile { bq, bkv, tpr, dmax })
            .find(|t| t.workgroup_bytes(kernel) <= limit && t.threads(kernel) <= 256)
    }

    fn overrides(&self) -> [(&'static str, f64); 4] {
        [
            ("BQ", self.bq.into()),
            ("BKV", self.bkv.into()),
            ("TPR", self.tpr.into()),
            ("DMAX", self.dmax.into()),
        ]
    }

    /// The tile for `kernel` on this device: `tile` if given (checked), else [`Self::choose`].
    fn resolve(
        tile: Option<Self>,
        kernel: AttentionKernel,
        dims: &AttentionDims,
        ctx: &GpuContext,
    ) -> Result<Self, BackendError> {
        let limit = u64::from(ctx.device.limits().max_compute_workgroup_storage_size);
        let width = dims.d.max(dims.dv);
        let t = match tile {
            Some(t) => t,
            None => Self::choose(kernel, dims.d, dims.dv, limit).ok_or(BackendError::Limit {
                what: format!("attention head dims {} and {}", dims.d, dims.dv),
                needed: width as u64,
                allowed: MAX_HEAD_DIM as u64,
            })?,
        };
        let valid = [t.bq, t.bkv, t.tpr].iter().all(|&v| v > 0)
            && t.dmax as usize >= width
            && t.dmax.is_multiple_of(t.tpr)
            && t.dmax / t.tpr <= MAX_COLS
            && t.bq.div_ceil(t.tpr) <= MAX_S
            && t.bkv.div_ceil(t.tpr) <= MAX_S;
        if !valid {
            return Err(BackendError::Limit {
                what: format!(
                    "attention tile {t:?} for head dims {} and {} (dmax ≥ both, a multiple of \
                     tpr; dmax / tpr columns and bq / tpr, bkv / tpr scores per thread at most)",
                    dims.d, dims.dv
                ),
                needed: u64::from(t.dmax / t.tpr.max(1)),
                allowed: MAX_COLS.into(),
            });
        }
        if t.workgroup_bytes(kernel) > limit {
            return Err(BackendError::Limit {
                what: format!("workgroup memory of attention tile {t:?} ({kernel:?})"),
                needed: t.workgroup_bytes(kernel),
                allowed: limit,
            });
        }
        Ok(t)
    }
}

/// The bias operand of a launch: its view and how it broadcasts.
pub type Bias<'a, 'm> = Option<(View<'a>, &'m BiasMap)>;

/// One launch of the bias gradient: of the `parts` partial sums of every bias element it
/// computes parts `part0 .. part0 + round`, adding to its destination if `accumulate`.
#[derive(Clone, Copy, Debug)]
struct BiasRound {
    parts: usize,
    part0: usize,
    round: usize,
    accumulate: bool,
}

/// What the launches other than the bias gradient's pass: one part, written.
const NO_ROUND: BiasRound = BiasRound {
    parts: 1,
    part0: 0,
    round: 1,
    accumulate: false,
};

/// Uniform words shared by the family (see `Params` in the WGSL); `g0` is the dispatch's
/// first group (the positions per part for the bias gradient), `count` the groups (or bias
/// elements) in all and `round` the bias gradient's partial sums.
fn params(
    dims: &AttentionDims,
    bias: Option<&BiasMap>,
    g0: usize,
    count: usize,
    round: BiasRound,
) -> Result<Vec<Word>, BackendError> {
    let u = |what: &str, n: usize| word(what, n).map(Word::U);
    let flags = u32::from(bias.is_some()) | if round.accumulate { 2 } else { 0 };
    let mut w = vec![
        u("attention query length", dims.lq)?,
        u("attention key length", dims.lk)?,
        u("attention head dim", dims.d)?,
        u("attention value dim", dims.dv)?,
        u("attention heads", dims.heads.max(1))?,
        Word::U(flags),
        u("attention first group", g0)?,
        Word::F(dims.scale as f32),
    ];
    for place in [dims.q, dims.k, dims.v, dims.o] {
        w.extend(place_words(&place)?);
    }
    let none = BiasMap {
        lead: [1; MAX_LEAD_DIMS],
        strides: [0; MAX_LEAD_DIMS],
        sizes: [1; MAX_LEAD_DIMS],
        si: 0,
        sj: 0,
        ni: 1,
        nj: 1,
        len: 1,
    };
    let b = bias.unwrap_or(&none);
    for values in [b.lead, b.strides] {
        for v in values {
            w.push(u("attention bias layout", v)?);
        }
    }
    for v in [b.si, b.sj, b.ni, b.nj] {
        w.push(u("attention bias layout", v)?);
    }
    for v in b.sizes {
        w.push(u("attention bias layout", v)?);
    }
    w.push(u("attention groups", count)?);
    w.push(u("attention bias-gradient parts", round.parts)?);
    w.push(u("attention bias-gradient first part", round.part0)?);
    w.push(u("attention bias-gradient parts per launch", round.round)?);
    Ok(w)
}

/// Checks the views against the dims (a short view is a planner bug).
fn check_operands(dims: &AttentionDims, q: &View<'_>, k: &View<'_>, v: &View<'_>) {
    let (b, h) = (dims.batch, dims.heads);
    check_view("attention q", q, dims.q.extent(b, h, dims.lq, dims.d));
    check_view("attention k", k, dims.k.extent(b, h, dims.lk, dims.d));
    check_view("attention v", v, dims.v.extent(b, h, dims.lk, dims.dv));
}

fn check_bias(dims: &AttentionDims, bias: &Bias<'_, '_>) {
    if let Some((view, map)) = bias {
        check_view("attention bias", view, map.len());
        assert!(
            map.groups() == dims.groups()
                && (map.ni == 1 || map.ni == dims.lq)
                && (map.nj == 1 || map.nj == dims.lk),
            "attention bias map {map:?} does not match {dims:?}"
        );
    }
}

/// One launch per chunk of at most the grid limit of groups (grid y), `x` workgroups wide.
#[allow(clippy::too_many_arguments)]
fn per_groups(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    kernel: &'static Kernel,
    tile: &AttentionTile,
    dims: &AttentionDims,
    bias: Option<&BiasMap>,
    views: &[View<'_>],
    x: usize,
) -> Result<Vec<Dispatch>, BackendError> {
    let max = ctx.device.limits().max_compute_workgroups_per_dimension as usize;
    let x = word("attention tiles", x)?;
    let groups = dims.groups();
    let mut out = Vec::new();
    let mut g0 = 0;
    while g0 < groups {
        let n = max.min(groups - g0);
        let params = params(dims, bias, g0, groups, NO_ROUND)?;
        let grid = [x, n as u32, 1];
        out.push(prepare(
            ctx,
            cache,
            kernel,
            &tile.overrides(),
            &params,
            views,
            grid,
        )?);
        g0 += n;
    }
    Ok(out)
}

/// Forward: `o = softmax(scale · q kᵀ + bias) v` and the row log-sum-exp `lse [groups, lq]`.
/// `tile` overrides the device's choice (tests use it to cover several tilings).
#[allow(clippy::too_many_arguments)]
pub fn prepare_attention(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    dims: &AttentionDims,
    tile: Option<AttentionTile>,
    q: View<'_>,
    k: View<'_>,
    v: View<'_>,
    bias: Bias<'_, '_>,
    o: View<'_>,
    lse: View<'_>,
) -> Result<Vec<Dispatch>, BackendError> {
    check_operands(dims, &q, &k, &v);
    check_bias(dims, &bias);
    let (b, h) = (dims.batch, dims.heads);
    check_view("attention o", &o, dims.o.extent(b, h, dims.lq, dims.dv));
    check_view("attention lse", &lse, dims.groups() * dims.lq);
    if dims.groups() == 0 || dims.lq == 0 {
        return Ok(Vec::new());
    }
    let tile = AttentionTile::resolve(tile, AttentionKernel::Forward, dims, ctx)?;
    // Without a bias the binding still needs a valid view; the kernel never reads it.
    let (bias_view, map) = match bias {
        Some((view, map)) => (view, Some(map)),
        None => (q, None),
    };
    let views = [q, k, v, bias_view, o, lse];
    let x = dims.lq.div_ceil(tile.bq as usize);
    per_groups(ctx, cache, &kernels::ATTENTION, &tile, dims, map, &views, x)
}

/// Storage buffers `attention_grad_kv` binds (q, k, v, bias, o, lse, dO, dk, dv): one more
/// than WebGPU's default limit of 8, which native adapters exceed.
pub const GRAD_KV_STORAGE_BUFFERS: u32 = 9;

/// Backward: `dq`, `dk`, `dv` (laid out like `q`, `k`, `v`; for the packed layout the three
/// views are the one `dqkv` view). Two launches: key tiles (dk, dv), then query tiles (dq).
#[allow(clippy::too_many_arguments)]
pub fn prepare_attention_grad(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    dims: &AttentionDims,
    tile: Option<AttentionTile>,
    q: View<'_>,
    k: View<'_>,
    v: View<'_>,
    bias: Bias<'_, '_>,
    o: View<'_>,
    lse: View<'_>,
    d_o: View<'_>,
    dq: View<'_>,
    dk: View<'_>,
    dv: View<'_>,
) -> Result<Vec<Dispatch>, BackendError> {
    check_operands(dims, &q, &k, &v);
    check_operands(dims, &dq, &dk, &dv);
    check_bias(dims, &bias);
    let (b, h) = (dims.batch, dims.heads);
    check_view("attention o", &o, dims.o.extent(b, h, dims.lq, dims.dv));
    check_view("attention dO", &d_o, dims.o.extent(b, h, dims.lq, dims.dv));
    check_view("attention lse", &lse, dims.groups() * dims.lq);
    if dims.groups() == 0 || dims.lk == 0 {
        return Ok(Vec::new());
    }
    let allowed = ctx.device.limits().max_storage_buffers_per_shader_stage;
    if allowed < GRAD_KV_STORAGE_BUFFERS {
        return Err(BackendError::Limit {
            what: "storage buffers of the attention backward".into(),
            needed: GRAD_KV_STORAGE_BUFFERS.into(),
            allowed: allowed.into(),
        });
    }
    let (bias_view, map) = match bias {
        Some((view, map)) => (view, Some(map)),
        None => (q, None),
    };
    let kv_tile = AttentionTile::resolve(tile, AttentionKernel::GradKv, dims, ctx)?;
    let views = [q, k, v, bias_view, o, lse, d_o, dk, dv];
    let x = dims.lk.div_ceil(kv_tile.bkv as usize);
    let mut out = per_groups(
        ctx,
        cache,
        &kernels::ATTENTION_GRAD_KV,
        &kv_tile,
        dims,
        map,
        &views,
        x,
    )?;
    if dims.lq > 0 {
        let q_tile = AttentionTile::resolve(tile, AttentionKernel::GradQ, dims, ctx)?;
        let views = [q, k, v, bias_view, o, lse, d_o, dq];
        let x = dims.lq.div_ceil(q_tile.bq as usize);
        out.extend(per_groups(
            ctx,
            cache,
            &kernels::ATTENTION_GRAD_Q,
            &q_tile,
            dims,
            map,
            &views,
            x,
        )?);
    }
    Ok(out)
}

/// Loop iterations one thread of the bias gradient may spend (a dot product of d and two of
/// dv per broadcast position): bounded for parallelism, and because lavapipe silently ends a
/// shader invocation's loops after 65535 iterations in all.
const GRAD_BIAS_WORK: usize = 16_384;

/// Broadcast positions each bias element sums over, and how many per partial sum.
fn grad_bias_split(dims: &AttentionDims, map: &BiasMap) -> (usize, usize) {
    let summed_lead: usize = (0..MAX_LEAD_DIMS)
        .filter(|&a| map.sizes[a] == 1)
        .map(|a| map.lead[a])
        .product();
    let ni = if map.ni == 1 { dims.lq } else { 1 };
    let nj = if map.nj == 1 { dims.lk } else { 1 };
    let positions = summed_lead * ni * nj;
    let per_part = (GRAD_BIAS_WORK / (dims.d + 2 * dims.dv).max(1)).max(1);
    (positions, per_part)
}

/// Scratch elements [`prepare_attention_grad_bias_with_scratch`] uses to compute all parts of
/// each bias element's sum in parallel (0 when one part per element is enough).
pub fn attention_grad_bias_scratch(dims: &AttentionDims, map: &BiasMap) -> usize {
    let (positions, per_part) = grad_bias_split(dims, map);
    match positions.div_ceil(per_part) {
        0 | 1 => 0,
        parts => parts * map.len(),
    }
}

/// Gradient of the additive bias: dS summed to the bias's own shape (`AttentionGradBias`).
/// Each bias element's broadcast positions are summed in parts of bounded length (a thread
/// sums one part; lavapipe cuts longer loops short), all at once into `scratch`
/// ([`attention_grad_bias_scratch`] elements) and then added in order into `dbias`. With
/// less scratch the parts keep their length and run in rounds of as many as the scratch
/// holds, each round added to `dbias`; without room for two, one part per round goes
/// straight into `dbias`. One part in all: one launch, no scratch.
#[allow(clippy::too_many_arguments)]
pub fn prepare_attention_grad_bias_with_scratch(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    dims: &AttentionDims,
    q: View<'_>,
    k: View<'_>,
    v: View<'_>,
    bias: (View<'_>, &BiasMap),
    o: View<'_>,
    lse: View<'_>,
    d_o: View<'_>,
    dbias: View<'_>,
    scratch: Option<View<'_>>,
) -> Result<Vec<Dispatch>, BackendError> {
    check_operands(dims, &q, &k, &v);
    check_bias(dims, &Some(bias));
    let (b, h) = (dims.batch, dims.heads);
    check_view("attention o", &o, dims.o.extent(b, h, dims.lq, dims.dv));
    check_view("attention dO", &d_o, dims.o.extent(b, h, dims.lq, dims.dv));
    check_view("attention lse", &lse, dims.groups() * dims.lq);
    let (bias_view, map) = bias;
    let len = map.len();
    check_view("attention dbias", &dbias, len);
    if len == 0 {
        return Ok(Vec::new());
    }
    let (positions, per_part) = grad_bias_split(dims, map);
    let parts = positions.div_ceil(per_part).max(1);
    // Parts of equal length, none longer than the bound.
    let per_part = positions.div_ceil(parts).max(1);
    let room = scratch.map_or(0, |s| s.len / len);
    let (partial, per_round, in_scratch) = match scratch {
        Some(s) if parts > 1 && room >= 2 => (s, room.min(parts), true),
        _ => (dbias, 1, false),
    };
    // The thread shape only; these kernels use no workgroup memory.
    let tile = AttentionTile {
        bq: 16,
        bkv: 16,
        tpr: 4,
        dmax: 64,
    };
    let threads = tile.threads(AttentionKernel::GradBias) as usize;
    let what = "attention bias-gradient workgroups";
    let overrides = tile.overrides();
    let sums: [View<'_>; 8] = [q, k, v, bias_view, o, lse, d_o, partial];
    let adds = [partial, dbias];
    let mut out = Vec::new();
    for part0 in (0..parts).step_by(per_round) {
        let round = BiasRound {
            parts,
            part0,
            round: per_round.min(parts - part0),
            accumulate: part0 > 0,
        };
        // This round's parts of every element, then (in scratch) added in order to dbias.
        let mut launches = vec![(&kernels::ATTENTION_GRAD_BIAS, &sums[..], len * round.round)];
        if in_scratch {
            launches.push((&kernels::ATTENTION_GRAD_BIAS_SUM, &adds[..], len));
        }
        let params = params(dims, Some(map), per_part, len, round)?;
        for (kernel, views, items) in launches {
            let grid = grid_2d(ctx, what, items.div_ceil(threads))?;
            out.push(prepare(
                ctx, cache, kernel, &overrides, &params, views, grid,
            )?);
        }
    }
    Ok(out)
}

/// The geometry of an attention node with its bias's broadcast map (the bias input's
/// number and how it broadcasts to the scores).
fn geometry(g: &Graph, node: &Node) -> Result<(AttentionGeometry, Option<BiasMap>), BackendError> {
    let geo = AttentionGeometry::of(g, node);
    let map = match geo.bias {
        Some(j) => Some(BiasMap::new(g.shape(node.inputs[j]), geo.scores())?),
        None => None,
    };
    Ok((geo, map))
}

/// The views of q, k, v (one packed qkv view three times) and of the bias.
fn operands<'a, 'm>(
    l: &Lowering<'a>,
    geo: &AttentionGeometry,
    map: &'m Option<BiasMap>,
) -> ([View<'a>; 3], Bias<'a, 'm>) {
    let qkv = if geo.packed {
        [l.input(0); 3]
    } else {
        [l.input(0), l.input(1), l.input(2)]
    };
    let bias = geo.bias.zip(map.as_ref()).map(|(j, m)| (l.input(j), m));
    (qkv, bias)
}

/// The forward's outputs and the incoming gradient: the saved inputs of a backward op.
fn saved<'a>(l: &Lowering<'a>, geo: &AttentionGeometry) -> [View<'a>; 3] {
    [0, 1, 2].map(|i| l.input(geo.saved + i))
}

/// `Attention` and `SelfAttention`: `o` and the row log-sum-exp.
pub(crate) const FORWARD: GpuLowering = GpuLowering::new(|l, cache| {
    let (geo, map) = geometry(l.graph, l.node)?;
    let ([q, k, v], bias) = operands(l, &geo, &map);
    let (o, lse) = (l.output(0), l.output(1));
    prepare_attention(l.ctx, cache, &geo.dims, None, q, k, v, bias, o, lse)
});

/// `AttentionGrad` (dq, dk, dv) and `SelfAttentionGrad` (dq, dk and dv written into their
/// thirds of one dqkv tensor).
pub(crate) const BACKWARD: GpuLowering = GpuLowering::new(|l, cache| {
    let (geo, map) = geometry(l.graph, l.node)?;
    let ([q, k, v], bias) = operands(l, &geo, &map);
    let [o, lse, d_o] = saved(l, &geo);
    let [dq, dk, dv] = if geo.packed {
        [l.output(0); 3]
    } else {
        [l.output(0), l.output(1), l.output(2)]
    };
    let dims = &geo.dims;
    prepare_attention_grad(
        l.ctx, cache, dims, None, q, k, v, bias, o, lse, d_o, dq, dk, dv,
    )
});

/// `AttentionGradBias` and `SelfAttentionGradBias`, the sums split into parts in parallel
/// through scratch.
pub(crate) const BACKWARD_BIAS: GpuLowering = GpuLowering::new(|l, cache| {
    let (geo, map) = geometry(l.graph, l.node)?;
    let ([q, k, v], bias) = operands(l, &geo, &map);
    let bias = bias.expect("a bias gradient has a bias");
    let [o, lse, d_o] = saved(l, &geo);
    let (dbias, scratch) = (l.output(0), l.scratch.first().copied());
    let dims = &geo.dims;
    prepare_attention_grad_bias_with_scratch(
        l.ctx, cache, dims, q, k, v, bias, o, lse, d_o, dbias, scratch,
    )
})
.with_scratch(|g, node| match geometry(g, node) {
    // A bias that does not broadcast fails again, with its message, when the step is lowered.
    Ok((geo, Some(map))) => match attention_grad_bias_scratch(&geo.dims, &map) {
        0 => vec![],
        n => vec![n],
    },
    _ => vec![],
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_maps_follow_numpy_broadcasting() {
        let scores = [2, 3, 5, 7];
        // Relative-position bias [H, Lq, Lk]: shared by the batch.
        let m = BiasMap::new(&[3, 5, 7], &scores).unwrap();
        assert_eq!(
            (m.lead, m.strides, m.sizes),
            ([1, 1, 2, 3], [0, 0, 0, 35], [1, 1, 1, 3])
        );
        assert_eq!((m.si, m.sj, m.ni, m.nj, m.len()), (7, 1, 5, 7, 105));
        // Key mask [B, 1, 1, Lk].
        let m = BiasMap::new(&[2, 1, 1, 7], &scores).unwrap();
        assert_eq!(
            (m.strides, m.si, m.sj, m.ni, m.len()),
            ([0, 0, 7, 0], 0, 1, 1, 14)
        );
        assert_eq!(m.groups(), 6);
        // Too many leading dims for the kernel's uniform.
        let deep = [1, 1, 1, 1, 1, 5, 7];
        assert!(matches!(
            BiasMap::new(&[5, 7], &deep),
            Err(BackendError::Limit { .. })
        ));
    }

    #[test]
    fn chosen_tiles_fit_the_limit_and_cover_the_head_dims() {
        use AttentionKernel::*;
        for limit in [16 * 1024, 32 * 1024, 48 * 1024] {
            for (d, dv) in [(1, 1), (17, 8), (64, 64), (100, 128), (128, 128)] {
                for kernel in [Forward, GradKv, GradQ] {
                    let t = AttentionTile::choose(kernel, d, dv, limit).expect("a tile fits");
                    assert!(
                        t.workgroup_bytes(kernel) <= limit,
                        "{t:?} {kernel:?} {limit}"
                    );
                    assert!(t.dmax as usize >= d.max(dv) && t.dmax / t.tpr <= MAX_COLS);
                    assert!(t.bq.div_ceil(t.tpr) <= MAX_S && t.bkv.div_ceil(t.tpr) <= MAX_S);
                    assert!(t.threads(kernel) <= 256);
                }
            }
        }
        assert_eq!(AttentionTile::choose(Forward, 129, 64, 1 << 20), None);
    }

    #[test]
    fn bias_gradient_parts_bound_the_work_per_thread() {
        let dm = AttentionDims::split(12, 17, 17, 128, 128, 0.1);
        let key_mask = BiasMap::new(&[1, 1, 1, 17], &[1, 12, 17, 17]).unwrap();
        let (positions, per_part) = grad_bias_split(&dm, &key_mask);
        assert_eq!(positions, 12 * 17);
        assert!(per_part * (128 + 2 * 128) <= GRAD_BIAS_WORK);
        assert_eq!(
            attention_grad_bias_scratch(&dm, &key_mask),
            positions.div_ceil(per_part) * 17
        );
        // A bias as large as the scores sums one position per element: no scratch.
        let full = BiasMap::new(&[1, 12, 17, 17], &[1, 12, 17, 17]).unwrap();
        assert_eq!(attention_grad_bias_scratch(&dm, &full), 0);
    }
}
