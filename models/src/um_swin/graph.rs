//! The UM-MAE Swin graph (implus/UM-MAE `models_mae_swin.py`): patch embedding with its norm,
//! the visible quarter compacted into a dense half-resolution map (secondary-masked cells
//! replaced by `patch_embed.norm(vis_mask_token)`), Swin stages on it (window attention with
//! the position MLP of the tokens' true coordinates, shifted windows, UM-MAE's conv patch
//! merge at the start of each later stage), the final norm; the decoder pixel-shuffles the
//! final map into one token per visible cell, appends mask tokens for the masked cells, adds
//! the decoder position table, runs ViT blocks and predicts each cell's pixels. The loss is the
//! MSE of the masked cells (secondary-masked cells count as visible, as official).
use tessera_dsl::graph::{GResult, NodeId};
use tessera_dsl::spec::{MaskSpec, UmSwinDims, UmSwinSpec};

use crate::blocks::{
    layer_norm, linear, patch_embed_2d, patch_merge_conv, pixel_target, swin_block, vit_stack,
    Activation, Builder, Built, ConvInit, Linear, LinearInit, Mlp, PatchInit, RelPos, Scope,
    SwinBlock, VitBlock, WindowAttention,
};
use crate::model::{Extras, FeatureGraph, StepGraph, StepShape};
use crate::params::Init;

/// Names of the per-step inputs.
pub mod inputs {
    /// `[N, C, H, W]` f32 images (already normalized).
    pub const IMGS: &str = "imgs";
    /// `[N, E²/4]` u32: the full-map token at each position of the compacted map.
    pub const COMPACT: &str = "compact";
    /// `[N, E²/4, 1]` f32: 1 where the secondary mask token replaces the token.
    pub const REPLACED: &str = "replaced";
    /// `[N, M²]` u32: the cell each decoder row predicts (visible in block order, then masked).
    pub const ROWS: &str = "rows";
    /// `[N, M²]` u32: the decoder position-embedding row of each decoder row.
    pub const DECODER_POSITIONS: &str = "decoder_positions";
    /// `[N, M²]` f32: 1 for the decoder rows the loss averages over (the masked cells).
    pub const LOSS_ROWS: &str = "loss_rows";

    /// `[N, windows·L²·2]` f32: the position MLP's input at `stage`, plain or shifted windows.
    pub fn coords(stage: usize, shifted: bool) -> String {
        format!(
            "coords.{stage}.{}",
            if shifted { "shifted" } else { "plain" }
        )
    }
}

/// The geometry of the Swin stages in one graph: per stage the map side, the window and the
/// shift of the odd blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stages {
    pub grids: Vec<usize>,
    pub windows: Vec<usize>,
    pub shifts: Vec<usize>,
}

impl Stages {
    /// Pre-training: the compacted map.
    pub fn pretraining(d: &UmSwinDims) -> Stages {
        let n = d.num_stages;
        Stages {
            grids: d.stage_grids[..n].to_vec(),
            windows: d.windows[..n].to_vec(),
            shifts: d.shifts[..n].to_vec(),
        }
    }

    /// The full map with the pre-training window (SimMIM's symmetric pre-training of the
    /// same Swin): twice the grid, the spec's window where it tiles the map, else the
    /// compacted map's effective window (which does).
    pub fn full_map_pretraining(spec: &UmSwinSpec, d: &UmSwinDims) -> Stages {
        let n = d.num_stages;
        let grids = d.finetune_grids[..n].to_vec();
        let windows: Vec<usize> = (0..n)
            .map(|st| {
                let (w, g) = (spec.stages.items[st].window, grids[st]);
                if w <= g && g.is_multiple_of(w) {
                    w
                } else {
                    d.windows[st]
                }
            })
            .collect();
        Stages::with_shifts(grids, windows)
    }

    fn with_shifts(grids: Vec<usize>, windows: Vec<usize>) -> Stages {
        let shifts = grids
            .iter()
            .zip(&windows)
            .map(|(&g, &w)| if g > w { w / 2 } else { 0 })
            .collect();
        Stages {
            grids,
            windows,
            shifts,
        }
    }

    /// The full map (features for probing; as fine-tuning): twice the grid and the window.
    pub fn full_map(d: &UmSwinDims) -> Stages {
        let n = d.num_stages;
        let grids = d.finetune_grids[..n].to_vec();
        Stages::with_shifts(grids, d.finetune_windows[..n].to_vec())
    }
}

/// Declares the per-stage coordinate leaves the position MLPs read: per-step inputs
/// (`per_sample`) or constants the caller provides values for.
pub type CoordLeaves = Vec<[Option<NodeId>; 2]>;

/// The Swin encoder over `x [N, G, G, C0]` (after patch embedding), with `coords[s][shifted]`
/// the position MLP's input of stage `s`; returns the final-norm tokens `[N, L_last, C_last]`.
pub(super) fn stages(
    s: &mut Scope,
    spec: &UmSwinSpec,
    d: &UmSwinDims,
    geometry: &Stages,
    mut x: NodeId,
    coords: &CoordLeaves,
) -> GResult<NodeId> {
    let n = s.g().shape(x)[0];
    let eps = spec.layer_norm_eps;
    let mut index = 0;
    let mut blocks = s.pp("blocks");
    for (st, stage) in spec.stages.as_slice().iter().enumerate() {
        let c = stage.dim;
        for b in 0..stage.depth {
            let mut blk = blocks.pp(index);
            index += 1;
            if st > 0 && b == 0 {
                x = patch_merge_conv(&mut blk.pp("downsample"), x, eps, ConvInit::KaimingOut)?;
            }
            let shifted = b % 2 == 1 && geometry.shifts[st] > 0;
            let coords = coords[st][usize::from(shifted)].expect("declared for every stage");
            let block = SwinBlock {
                attn: WindowAttention {
                    dim: c,
                    heads: stage.heads,
                    window: geometry.windows[st],
                    shift: if shifted { geometry.shifts[st] } else { 0 },
                    rel_pos: RelPos::Mlp {
                        hidden: spec.posmlp_dim,
                        coords,
                    },
                    init: LinearInit::Xavier,
                },
                mlp: Mlp {
                    dim: c,
                    hidden: d.stage_mlp_hidden[st],
                    act: Activation::GeluErf,
                    init: LinearInit::Xavier,
                },
                eps,
            };
            x = swin_block(&mut blk, x, &block, None)?;
        }
    }
    drop(blocks);
    let last = *geometry.grids.last().expect("at least one stage");
    let c = spec
        .stages
        .as_slice()
        .last()
        .expect("at least one stage")
        .dim;
    let x = s.g().reshape(x, &[n, last * last, c])?;
    layer_norm(&mut s.pp("norm"), x, c, eps)
}

/// The patch embedding (conv + `patch_embed.norm`): `[N, E, E, C0]` tokens in raster order.
pub(super) fn embed(s: &mut Scope, spec: &UmSwinSpec, imgs: NodeId) -> GResult<NodeId> {
    let c0 = spec.stages.items[0].dim;
    let mut pe = s.pp("patch_embed");
    let x = patch_embed_2d(
        &mut pe,
        imgs,
        spec.image.channels,
        spec.patch,
        c0,
        PatchInit::XavierFlatZeroBias,
    )?;
    layer_norm(&mut pe.pp("norm"), x, c0, spec.layer_norm_eps)
}

fn has_secondary(spec: &UmSwinSpec) -> bool {
    matches!(
        spec.mask,
        MaskSpec::Uniform {
            secondary: Some(_),
            ..
        }
    )
}

/// Builds the pre-training step graph for `shape`.
pub fn build(
    spec: &UmSwinSpec,
    d: &UmSwinDims,
    shape: StepShape,
    extras: &Extras,
) -> GResult<(StepGraph, Built)> {
    let mut b = Builder::new();
    let mut s = b.root();
    let n = shape.batch;
    let (c0, dec) = (spec.stages.items[0].dim, d.decoder.dim);
    let (cells, hc) = (d.mask_cells, d.compact_grid);
    let eps = spec.layer_norm_eps;
    let token = Init::Normal { std: 0.02 };
    let vis_mask_token = if has_secondary(spec) {
        Some(s.param("vis_mask_token", &[1, 1, c0], token)?)
    } else {
        None
    };
    let mask_token = s.param("mask_token", &[1, 1, dec], token)?;
    let dec_pos = s.frozen(
        "decoder_pos_embed",
        &[1, cells, dec],
        Init::SinCos2d {
            dim: dec,
            grid: d.mask_grid,
            cls: false,
        },
    )?;
    let img = spec.image;
    let g = s.g();
    let imgs = g.input(inputs::IMGS, &[n, img.channels, img.height, img.width])?;
    let compact = g.index_input(inputs::COMPACT, &[n, hc * hc])?;
    let rows = g.index_input(inputs::ROWS, &[n, cells])?;
    let dec_rows = g.index_input(inputs::DECODER_POSITIONS, &[n, cells])?;
    let loss_rows = g.input(inputs::LOSS_ROWS, &[n, cells])?;
    let geometry = Stages::pretraining(d);
    let mut coords = CoordLeaves::new();
    for st in 0..d.num_stages {
        let (grid, w) = (geometry.grids[st], geometry.windows[st]);
        let len = (grid / w) * (grid / w) * (w * w) * (w * w);
        let mut pair = [None, None];
        for (shifted, slot) in pair.iter_mut().enumerate() {
            if shifted == 0 || geometry.shifts[st] > 0 {
                *slot = Some(g.input(&inputs::coords(st, shifted == 1), &[n, len, 2])?);
            }
        }
        coords.push(pair);
    }

    // Encoder: embed, compact the visible quarter, replace the secondary-masked cells.
    let x = embed(&mut s, spec, imgs)?;
    let g = s.g();
    let mut x = g.gather_rows(x, compact)?; // [N, E²/4, C0]
    if let Some(tok) = vis_mask_token {
        let w = g
            .by_name("patch_embed.norm.weight")
            .expect("declared by embed");
        let bias = g
            .by_name("patch_embed.norm.bias")
            .expect("declared by embed");
        let tok = g.layer_norm(tok, w, bias, eps)?;
        let replaced = g.input(inputs::REPLACED, &[n, hc * hc, 1])?;
        let delta = g.sub(tok, x)?;
        let delta = g.mul(replaced, delta)?;
        x = g.add(x, delta)?;
    }
    let x = g.reshape(x, &[n, hc, hc, c0])?;
    let x = stages(&mut s, spec, d, &geometry, x, &coords)?;

    // Decoder: one token per visible cell out of the final map, in 2x2-block order.
    let last = d.stage_grids[d.num_stages - 1];
    let c_last = spec.stages.items[d.num_stages - 1].dim;
    let y = linear(
        &mut s.pp("decoder_embed"),
        x,
        Linear::new(c_last, 4 * dec, LinearInit::Xavier),
    )?;
    let g = s.g();
    // PixelShuffle(2): channel c·4 + i·2 + j of cell (h, w) goes to (2h + i, 2w + j).
    let y = g.reshape(y, &[n, last, last, dec, 2, 2])?;
    let y = g.permute(y, &[0, 1, 4, 2, 5, 3])?;
    let y = g.reshape(y, &[n, d.visible_cells, dec])?;
    let masked = g.expand(mask_token, &[n, d.masked_cells, dec])?;
    let y = g.concat(&[y, masked], 1)?;
    let pos = g.gather_rows(dec_pos, dec_rows)?; // [N, M², Dd]
    let y = g.add(y, pos)?;
    let block = VitBlock::of(&d.decoder, eps, LinearInit::Xavier);
    let y = vit_stack(&mut s.pp("decoder_blocks"), y, d.decoder.depth, &block)?;
    let y = layer_norm(&mut s.pp("decoder_norm"), y, dec, eps)?;
    let pred = linear(
        &mut s.pp("decoder_pred"),
        y,
        Linear::new(dec, d.pred_dim, LinearInit::Xavier),
    )?;

    // Loss over the masked rows, against each row's cell.
    let g = s.g();
    let target = pixel_target(g, imgs, spec.mask_cell, spec.target)?;
    let target = g.gather_rows(target, rows)?;
    let loss = g.masked_mse(pred, target, loss_rows)?;
    StepGraph::finish(b, shape, loss, pred, extras)
}

/// The encoder over the whole map (every token at its true position, windows as fine-tuning
/// uses them), features = the mean of the final tokens.
pub fn features(spec: &UmSwinSpec, d: &UmSwinDims, batch: usize) -> GResult<FeatureGraph> {
    let mut b = Builder::new();
    let mut s = b.root();
    let img = spec.image;
    let imgs = s
        .g()
        .input(inputs::IMGS, &[batch, img.channels, img.height, img.width])?;
    let geometry = Stages::full_map(d);
    let coords = full_map_coords(&mut s, &geometry)?;
    let x = embed(&mut s, spec, imgs)?;
    let (e, c0) = (geometry.grids[0], spec.stages.items[0].dim);
    let x = s.g().reshape(x, &[batch, e, e, c0])?;
    let x = stages(&mut s, spec, d, &geometry, x, &coords)?;
    let mean = s.g().mean(x, 1, false)?;
    let built = b.finish();
    Ok(FeatureGraph {
        graph: built.graph,
        input: inputs::IMGS.to_string(),
        dim: spec.stages.items[d.num_stages - 1].dim,
        cls: None,
        mean,
        constants: built.constants,
    })
}

/// The position MLPs' inputs of a full map (every token at its own place, the same for every
/// sample): constants `[1, windows·L², 2]` per stage, plain and (where shifted) shifted.
pub(super) fn full_map_coords(s: &mut Scope, geometry: &Stages) -> GResult<CoordLeaves> {
    let mut coords = CoordLeaves::new();
    let mut pos = super::layout::full_positions(geometry.grids[0]);
    for st in 0..geometry.grids.len() {
        let (grid, w, shift) = (
            geometry.grids[st],
            geometry.windows[st],
            geometry.shifts[st],
        );
        if st > 0 {
            pos = super::layout::merge_positions(&pos, geometry.grids[st - 1]);
        }
        let mut pair = [None, None];
        for (shifted, slot) in pair.iter_mut().enumerate() {
            if shifted == 0 || shift > 0 {
                let values = super::layout::window_coords(&pos, grid, w, shifted * shift);
                let len = values.len() / 2;
                let name = inputs::coords(st, shifted == 1);
                *slot = Some(s.constant_f32(&name, &[1, len, 2], values)?);
            }
        }
        coords.push(pair);
    }
    Ok(coords)
}
