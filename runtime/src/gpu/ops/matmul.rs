//! Launcher of `shaders/wgsl/matmul.wgsl`: `c = alpha · op(a) · op(b) (+ bias)`, batched,
//! with transposes by indexing and a 2-D `b` shared by every batch.

use tessera_dsl::graph::{misrouted, Op};

use super::{check_view, grid_2d, word};
use crate::gpu::launch::{prepare, Dispatch, View, Word};
use crate::gpu::lowering::GpuLowering;
use crate::gpu::{BackendError, GpuContext, PipelineCache};
use tessera_shaders as kernels;

/// The geometry of one batched matmul: `batch` products of `op(a) [m, k]` by `op(b) [k, n]`.
/// `a` is stored `[batch, m, k]` (`[batch, k, m]` with `trans_a`), `b` `[batch, k, n]`
/// (`[batch, n, k]` with `trans_b`) or, with `b_shared`, one 2-D matrix for all batches; `c`
/// is `[batch, m, n]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatmulDims {
    pub batch: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub b_shared: bool,
    pub alpha: f32,
}

impl MatmulDims {
    /// The dims of the IR's `MatMul` over operands of shapes `sa` and `sb` (see
    /// `Graph::matmul`: `b` 2-D means shared; otherwise the leading dims agree).
    pub fn from_shapes(
        sa: &[usize],
        sb: &[usize],
        trans_a: bool,
        trans_b: bool,
        alpha: f64,
    ) -> Self {
        assert!(
            sa.len() >= 2 && sb.len() >= 2,
            "matmul operands need 2 dims"
        );
        let (ra, rb) = (sa.len(), sb.len());
        let (m, k) = if trans_a {
            (sa[ra - 1], sa[ra - 2])
        } else {
            (sa[ra - 2], sa[ra - 1])
        };
        let n = if trans_b { sb[rb - 2] } else { sb[rb - 1] };
        MatmulDims {
            batch: sa[..ra - 2].iter().product(),
            m,
            n,
            k,
            trans_a,
            trans_b,
            b_shared: rb == 2,
            alpha: alpha as f32,
        }
    }

    /// Floating-point operations of the product (a multiply-add counts 2).
    pub fn flops(&self) -> f64 {
        2.0 * self.batch as f64 * self.m as f64 * self.n as f64 * self.k as f64
    }

    /// A shared `b` under a non-transposed `a` is one GEMM with the batches stacked as rows:
    /// fewer, fuller tiles than `batch` separate products.
    fn folded(self) -> Self {
        if self.b_shared && !self.trans_a && self.batch > 1 {
            MatmulDims {
                m: self.batch * self.m,
                batch: 1,
                ..self
            }
        } else {
            self
        }
    }
}

/// The kernel's tiling: a workgroup of `wg_x × wg_y` threads computes a `(wg_y·tm) × (wg_x·tn)`
/// block of `c`, staging `bk`-deep slabs of the operands in workgroup memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulTile {
    pub wg_x: u32,
    pub wg_y: u32,
    pub tm: u32,
    pub tn: u32,
    pub bk: u32,
}

/// Depth of K one dispatch sums: longer products run
/// as several dispatches accumulating into c. Real GPUs would not mind longer loops; lavapipe
/// silently ends a shader invocation's loops after 65535 iterations in all, which a K loop
/// over 32768 reaches.
pub const K_CHUNK: usize = 8192;

/// The largest per-thread block the kernel's register arrays hold (`MAX_T` in the WGSL); `tm`
/// and `tn` are multiples of 4 (the kernel works on vec4s) up to this.
pub const MAX_THREAD_TILE: u32 = 8;

impl MatmulTile {
    /// 128 × 128 tiles, 256 threads of 8 × 8 outputs: for products large enough to fill a GPU.
    pub const LARGE: MatmulTile = MatmulTile {
        wg_x: 16,
        wg_y: 16,
        tm: 8,
        tn: 8,
        bk: 8,
    };
    /// 64 × 64 tiles, 64 threads of 8 × 8 outputs: more workgroups for small products.
    pub const SMALL: MatmulTile = MatmulTile {
        wg_x: 8,
        wg_y: 8,
        tm: 8,
        tn: 8,
        bk: 8,
    };

    /// The tile for `dims`: large tiles when there are enough of them to keep a big GPU busy
    /// (about a hundred workgroups), small ones otherwise.
    pub fn choose(dims: &MatmulDims) -> MatmulTile {
        let d = dims.folded();
        let (bm, bn) = (Self::LARGE.bm() as usize, Self::LARGE.bn() as usize);
        let large_tiles = d.batch * d.m.div_ceil(bm) * d.n.div_ceil(bn);
        if large_tiles >= 96 {
            Self::LARGE
        } else {
            Self::SMALL
        }
    }

    pub fn bm(&self) -> u32 {
        self.wg_y * self.tm
    }

    pub fn bn(&self) -> u32 {
        self.wg_x * self.tn
    }

    /// Bytes of workgroup memory the two staged slabs take.
    pub fn workgroup_bytes(&self) -> u64 {
        u64::from(self.bk) * u64::from(self.bm() + self.bn()) * 4
    }

    fn overrides(&self) -> [(&'static str, f64); 5] {
        [
            ("WG_X", self.wg_x.into()),
            ("WG_Y", self.wg_y.into()),
            ("TM", self.tm.into()),
            ("TN", self.tn.into()),
            ("BK", self.bk.into()),
        ]
    }

    fn check(&self, ctx: &GpuContext) -> Result<(), BackendError> {
        let t = self;
        let valid = t.wg_x > 0
            && t.wg_y > 0
            && t.bk > 0
            && [t.tm, t.tn]
                .iter()
                .all(|&v| v > 0 && v.is_multiple_of(4) && v <= MAX_THREAD_TILE);
        if !valid {
            return Err(BackendError::Limit {
                what: format!(
                    "matmul tile {t:?} (threads and depth ≥ 1; tm and tn multiples of 4, at most)"
                ),
                needed: t.tm.max(t.tn).into(),
                allowed: MAX_THREAD_TILE.into(),
            });
        }
        let allowed = ctx.device.limits().max_compute_workgroup_storage_size;
        if t.workgroup_bytes() > u64::from(allowed) {
            return Err(BackendError::Limit {
                what: format!("workgroup memory of matmul tile {t:?}"),
                needed: t.workgroup_bytes(),
                allowed: allowed.into(),
            });
        }
        Ok(())
    }
}

/// `c = alpha · op(a) · op(b)` with the tile [`MatmulTile::choose`] picks.
pub fn prepare_matmul(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    dims: &MatmulDims,
    a: View<'_>,
    b: View<'_>,
    c: View<'_>,
) -> Result<Vec<Dispatch>, BackendError> {
    prepare_matmul_scratch(ctx, cache, dims, a, b, None, c, None)
}

/// `c = alpha · op(a) · op(b) + bias` with `bias [n]` added to every row (the IR's
/// `MatMulBias`).
pub fn prepare_matmul_bias(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    dims: &MatmulDims,
    a: View<'_>,
    b: View<'_>,
    bias: View<'_>,
    c: View<'_>,
) -> Result<Vec<Dispatch>, BackendError> {
    prepare_matmul_scratch(ctx, cache, dims, a, b, Some(bias), c, None)
}

/// The matmul with an optional bias and optional scratch of [`matmul_scratch`] elements,
/// which lets products with few output tiles and a long K (weight gradients: K = tokens)
/// split K over parallel workgroups.
#[allow(clippy::too_many_arguments)]
pub fn prepare_matmul_scratch(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    dims: &MatmulDims,
    a: View<'_>,
    b: View<'_>,
    bias: Option<View<'_>>,
    c: View<'_>,
    scratch: Option<View<'_>>,
) -> Result<Vec<Dispatch>, BackendError> {
    let tile = MatmulTile::choose(dims);
    prepare_matmul_with(ctx, cache, dims, tile, a, b, bias, c, scratch)
}

/// Workgroups a split-K product aims at: enough to fill a large GPU twice over.
const SPLIT_TARGET_GROUPS: usize = 256;
/// Shallowest K range worth a split of its own.
const MIN_SPLIT_DEPTH: usize = 256;

/// Splits of K that would keep a large GPU busy: products with fewer output tiles than
/// [`SPLIT_TARGET_GROUPS`] and a K deep enough to share.
fn wanted_splits(folded: &MatmulDims, tile: &MatmulTile) -> usize {
    let d = folded;
    let tiles = d.batch * d.m.div_ceil(tile.bm() as usize) * d.n.div_ceil(tile.bn() as usize);
    let by_groups = SPLIT_TARGET_GROUPS.div_ceil(tiles.max(1));
    by_groups.min(d.k / MIN_SPLIT_DEPTH).max(1)
}

/// Scratch elements that let [`prepare_matmul_scratch`] split K over parallel workgroups
/// (0 when the product has enough output tiles without). At most about
/// `SPLIT_TARGET_GROUPS` tiles' worth of outputs.
pub fn matmul_scratch(dims: &MatmulDims) -> usize {
    let d = dims.folded();
    match wanted_splits(&d, &MatmulTile::choose(dims)) {
        1 => 0,
        s => s * d.batch * d.m * d.n,
    }
}

/// The general launcher: an explicit tile, an optional bias and optional split-K scratch.
/// Batches beyond the device's per-dimension grid limit are split over several dispatches,
/// K beyond [`K_CHUNK`] per split runs as dispatches accumulating into the output; an empty
/// product gives none.
#[allow(clippy::too_many_arguments)]
pub fn prepare_matmul_with(
    ctx: &GpuContext,
    cache: &mut PipelineCache,
    dims: &MatmulDims,
    tile: MatmulTile,
    a: View<'_>,
    b: View<'_>,
    bias: Option<View<'_>>,
    c: View<'_>,
    scratch: Option<View<'_>>,
) -> Result<Vec<Dispatch>, BackendError> {
    tile.check(ctx)?;
    let d = dims.folded();
    let b_batches = if d.b_shared { 1 } else { d.batch };
    let total = d.batch * d.m * d.n;
    check_view("matmul a", &a, d.batch * d.m * d.k);
    check_view("matmul b", &b, b_batches * d.k * d.n);
    check_view("matmul c", &c, total);
    if let Some(bias) = &bias {
        check_view("matmul bias", bias, d.n);
    }
    if d.batch == 0 || d.m == 0 || d.n == 0 {
        return Ok(Vec::new());
    }

    let max_z = ctx.device.limits().max_compute_workgroups_per_dimension as usize;
    let room = scratch.map_or(0, |s| s.len / total);
    // Splits need scratch, and all of them on the grid's z with at least one batch.
    let splits = wanted_splits(&d, &tile).min(room).min(max_z).max(1);
    let k_split = d.k.div_ceil(splits).max(1);
    let steps = k_split.div_ceil(K_CHUNK).max(1);
    let (out, split_stride) = match (splits, scratch) {
        (1, _) | (_, None) => (c, 0),
        (_, Some(s)) => (s, total),
    };
    let bias_in_kernel = bias.is_some() && splits == 1;
    let flags = u32::from(d.trans_a) | u32::from(d.trans_b) << 1;
    let stride_b = if d.b_shared { 0 } else { d.k * d.n };
    let shape = [
        Word::U(word("matmul rows", d.m)?),
        Word::U(word("matmul columns", d.n)?),
        Word::U(word("matmul depth", d.k)?),
    ];
    let strides = [
        Word::U(word("matmul a batch stride", d.m * d.k)?),
        Word::U(word("matmul b batch stride", stride_b)?),
        Word::U(word("matmul c batch stride", d.m * d.n)?),
    ];
    let gx = word("matmul column tiles", d.n.div_ceil(tile.bn() as usize))?;
    let gy = word("matmul row tiles", d.m.div_ceil(tile.bm() as usize))?;
    // Without a bias the binding still needs a valid view; the kernel never reads it.
    let bias_view = bias.unwrap_or(a);
    let views = [a, b, bias_view, out];
    let overrides = tile.overrides();
    let kernel = &kernels::MATMUL;

    let per_dispatch = (max_z / splits).max(1);
    let mut dispatches = Vec::new();
    let mut z0 = 0;
    while z0 < d.batch {
        let zb = per_dispatch.min(d.batch - z0);
        for step in 0..steps {
            // The first step writes (with the bias), later ones add to what it wrote.
            let step_flags = if step == 0 {
                flags | u32::from(bias_in_kernel) << 2
            } else {
                flags | 8
            };
            let mut params = shape.to_vec();
            params.push(Word::U(step_flags));
            params.extend(strides);
            params.extend([
                Word::U(word("matmul batch", z0)?),
                Word::F(d.alpha),
                Word::U(word("matmul batches per dispatch", zb)?),
                Word::U(word("matmul split depth", k_split)?),
                Word::U(word("matmul split stride", split_stride)?),
                Word::U(word("matmul depth", step * K_CHUNK)?),
                Word::U(word("matmul depth", K_CHUNK)?),
                Word::U(word("matmul splits", splits)?),
            ]);
            let grid = [gx, gy, word("matmul batches", zb * splits)?];
            dispatches.push(prepare(
                ctx, cache, kernel, &overrides, &params, &views, grid,
            )?);
        }
        z0 += zb;
    }
    if splits > 1 {
        let mut params = shape.to_vec();
        params.push(Word::U(u32::from(bias.is_some()) << 2));
        params.extend(strides);
        params.extend([
            Word::U(0),
            Word::F(d.alpha),
            Word::U(1),
            Word::U(word("matmul split depth", k_split)?),
            Word::U(word("matmul split stride", split_stride)?),
            Word::U(0),
            Word::U(0),
            Word::U(word("matmul splits", splits)?),
        ]);
        let threads = (tile.wg_x * tile.wg_y) as usize;
        let grid = grid_2d(ctx, "matmul split-sum workgroups", total.div_ceil(threads))?;
        let kernel = &kernels::MATMUL_SPLIT_SUM;
        let views = [out, bias_view, c];
        dispatches.push(prepare(
            ctx, cache, kernel, &overrides, &params, &views, grid,
        )?);
    }
    Ok(dispatches)
}

/// `MatMul` and `MatMulBias` (the bias is input 2).
pub(crate) const MATMUL: GpuLowering = GpuLowering::new(|l, cache| {
    let (trans_a, trans_b, alpha, bias) = match l.node.op {
        Op::MatMul {
            trans_a,
            trans_b,
            alpha,
        } => (trans_a, trans_b, alpha, None),
        Op::MatMulBias {
            trans_a,
            trans_b,
            alpha,
        } => (trans_a, trans_b, alpha, Some(l.input(2))),
        ref op => misrouted(op),
    };
    let dims = MatmulDims::from_shapes(l.in_shape(0), l.in_shape(1), trans_a, trans_b, alpha);
    let (a, b, c) = (l.input(0), l.input(1), l.output(0));
    prepare_matmul_scratch(l.ctx, cache, &dims, a, b, bias, c, None)
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_layer_shapes_share_b_and_fold_the_batch() {
        // x [B=4, L=197, K=768] · Wᵀ with W [N=2304, K=768].
        let d = MatmulDims::from_shapes(&[4, 197, 768], &[2304, 768], false, true, 1.0);
        assert_eq!((d.batch, d.m, d.n, d.k), (4, 197, 2304, 768));
        assert!(d.b_shared && d.trans_b && !d.trans_a);
        let f = d.folded();
        assert_eq!((f.batch, f.m), (1, 4 * 197));
        assert_eq!(f.flops(), d.flops());
        // Batched attention-style operands with a transposed a are not folded.
        let d = MatmulDims::from_shapes(&[2, 3, 5, 7], &[2, 3, 5, 11], true, false, 0.5);
        assert_eq!((d.batch, d.m, d.n, d.k, d.b_shared), (6, 7, 11, 5, false));
        assert_eq!(d.folded(), d);
    }

    #[test]
    fn large_tiles_only_when_there_are_enough_of_them() {
        let square = |n| MatmulDims::from_shapes(&[n, n], &[n, n], false, false, 1.0);
        assert_eq!(MatmulTile::choose(&square(4096)), MatmulTile::LARGE);
        assert_eq!(MatmulTile::choose(&square(256)), MatmulTile::SMALL);
        for t in [MatmulTile::LARGE, MatmulTile::SMALL] {
            // Both fit WebGPU's default 16 KiB of workgroup memory and 256 invocations.
            assert!(
                t.workgroup_bytes() <= 16 * 1024 && t.wg_x * t.wg_y <= 256,
                "{t:?}"
            );
        }
        assert_eq!((MatmulTile::LARGE.bm(), MatmulTile::LARGE.bn()), (128, 128));
    }

    #[test]
    fn only_few_tiles_over_a_long_k_split_k() {
        let square = MatmulDims::from_shapes(&[4096, 4096], &[4096, 4096], false, false, 1.0);
        assert_eq!(matmul_scratch(&square), 0);
        // ViT-B qkv weight gradient: dyᵀ [2304, B·L] · x [B·L, 768], 108 large tiles.
        let dw = MatmulDims::from_shapes(&[50_432, 2304], &[50_432, 768], true, false, 1.0);
        assert_eq!(MatmulTile::choose(&dw), MatmulTile::LARGE);
        assert_eq!(matmul_scratch(&dw), 3 * 2304 * 768);
        // A short K is not split however few the tiles.
        let short = MatmulDims::from_shapes(&[8, 300], &[300, 8], false, false, 1.0);
        assert_eq!(matmul_scratch(&short), 0);
    }
}
