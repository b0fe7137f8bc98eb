//! `tessera mask`: generate masks with one of the masking strategies, write them to safetensors
//! (official conventions: f32 mask with 1 = removed, i64 `ids_keep` / `ids_restore`) and
//! optionally draw them; or, with `--verify`, check masks made elsewhere against a strategy's
//! invariants (`mask_verify.rs`).
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use safetensors::tensor::{Dtype, TensorView};
use tessera::mask_png::{self, colour, Cell, Header, Row, Tile, BLOCK_LINE};
use tessera_dsl::mask::{
    block::{block, BlockParams},
    builtin,
    mixed::{mixed, MixedMask, MIXED_RATIO},
    random::random_batch,
    tube,
    uniform::{secondary, uniform_batch},
    Grid, Layout, Mask, MaskError, MaskStrategy,
};
use tessera_dsl::{rng::Rng, Ratio};

use super::bad_input;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// MAE: per-sample random noise, the smallest floor(L(1-r)) noise values are kept.
    Random,
    /// BEiT-style random rectangles, exactly floor(L r) tokens masked.
    Block,
    /// UM-MAE uniform sampling: one visible token per 2x2 block (ratio 3/4), optional
    /// secondary masking.
    Uniform,
    /// VideoMAE tube masking: one spatial mask with floor(L r) masked, repeated over time.
    Tube,
    /// MixMIM: one mask on the coarsest stage grid shared by the batch, sample i mixed with
    /// image N-1-i, upsampled to every stage.
    Mixed,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::Block => "block",
            Strategy::Uniform => "uniform",
            Strategy::Tube => "tube",
            Strategy::Mixed => "mixed",
        }
    }

    /// The strategy behind the one interface, with the invariants `--verify` checks.
    fn builtin(self) -> Box<dyn MaskStrategy> {
        match self {
            Strategy::Random => Box::new(builtin::Random),
            Strategy::Block => Box::new(builtin::Block { cell: 1 }),
            Strategy::Uniform => Box::new(builtin::Uniform),
            Strategy::Tube => Box::new(builtin::Tube),
            Strategy::Mixed => Box::new(builtin::Mixed),
        }
    }

    /// The official default ratio of each strategy.
    fn default_ratio(self) -> Ratio {
        match self {
            Strategy::Random | Strategy::Block | Strategy::Uniform => Ratio::of(3, 4),
            Strategy::Tube => Ratio::of(9, 10),
            Strategy::Mixed => MIXED_RATIO,
        }
    }
}

#[derive(clap::Args)]
#[command(
    after_help = "Output tensors: `mask` f32 (1 = removed, raster order) [N, L], or \
    [N, T/tubelet, L] for tube; `ids_keep` and `ids_restore` i64 [N, K] and [N, L] (MAE \
    conventions). uniform adds `secondary` f32 [N, L] (1 = a kept token the encoder sees only \
    as the shared mask token). mixed writes `mask` on the coarsest grid (1 = the token comes \
    from partner image N-1-i), `mask_stage0`.. on every stage grid and `partner` i64 [N].\n\n\
    --verify FILE reads `mask` ([N, L], or [N, T/tubelet, L] for tube; any float, integer or bool \
    dtype holding 0 = kept, 1 = removed), and `ids_keep` [N, K] / `ids_restore` [N, L] (i64 or \
    i32) when present, checks them against the strategy's invariants at --mask-ratio (mixed: on \
    the coarsest grid) and the official index conventions, prints the first violations (sample, \
    token or window, rule) and exits 1 when there is any."
)]
pub struct Args {
    /// Masking strategy.
    #[arg(long, value_enum)]
    strategy: Strategy,
    /// Token grid HxW (for mixed: the stage-0 grid, halved at every further stage).
    #[arg(long, value_name = "HxW")]
    grid: String,
    /// Frames of the clip (tube only).
    #[arg(long, value_name = "T")]
    frames: Option<usize>,
    /// Frames per tubelet (tube only) [default: 2]
    #[arg(long, value_name = "t")]
    tubelet: Option<usize>,
    /// Mask ratio, a fraction in (0, 1) such as 3/4 or 0.75 [default: 3/4; tube 9/10;
    /// mixed 1/2]
    #[arg(long, value_name = "R", alias = "ratio")]
    mask_ratio: Option<String>,
    /// Secondary masking ratio of the kept tokens, e.g. 1/4 (uniform only).
    #[arg(long, value_name = "R")]
    secondary: Option<String>,
    /// Number of stages of the pyramid (mixed only) [default: 4]
    #[arg(long, value_name = "S")]
    stages: Option<usize>,
    /// Number of masks (one per sample) [default: 1; mixed 2, a pair of images]
    #[arg(long, value_name = "N", alias = "batch")]
    count: Option<usize>,
    /// Seed of the generator: the same seed gives the same masks [default: 0]
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    seed: u64,
    /// Write the masks and their index tensors to this safetensors file.
    #[arg(
        long,
        value_name = "FILE.safetensors",
        required_unless_present_any = ["png", "verify"]
    )]
    out: Option<PathBuf>,
    /// Instead of generating masks, check the masks in FILE (made elsewhere, e.g. by a PyTorch
    /// data pipeline) against the strategy's invariants; exit 1 if any mask breaks one.
    #[arg(
        long,
        value_name = "FILE.safetensors",
        conflicts_with_all = ["out", "png", "count", "secondary", "seed"]
    )]
    verify: Option<PathBuf>,
    /// Draw the masks, with a title and a colour key: one tile per sample (per time slice for
    /// tube, per stage for mixed; for uniform a row per sample: uniform sampling, plus
    /// secondary masking, and the compacted half-size map the encoder sees).
    #[arg(long, value_name = "FILE.png")]
    png: Option<PathBuf>,
}

/// A tensor to write: name, dtype, shape, little-endian bytes.
struct Tensor {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn f32_tensor<'a>(name: &str, shape: Vec<usize>, rows: impl Iterator<Item = &'a [u8]>) -> Tensor {
    let bytes = rows
        .flatten()
        .flat_map(|&v| f32::from(v).to_le_bytes())
        .collect();
    Tensor {
        name: name.to_string(),
        dtype: Dtype::F32,
        shape,
        bytes,
    }
}

fn i64_tensor<'a>(
    name: &str,
    shape: Vec<usize>,
    rows: impl Iterator<Item = &'a [usize]>,
) -> Tensor {
    let bytes = rows
        .flatten()
        .flat_map(|&v| (v as i64).to_le_bytes())
        .collect();
    Tensor {
        name: name.to_string(),
        dtype: Dtype::I64,
        shape,
        bytes,
    }
}

/// What a run produces: tensors, picture rows and a one-line summary.
struct Generated {
    tensors: Vec<Tensor>,
    header: Header,
    rows: Vec<Row>,
    summary: String,
}

/// Parses `HxW` with positive sides.
fn parse_grid(text: &str) -> anyhow::Result<Grid> {
    let expected = || {
        bad_input(format!(
            "--grid {text:?} is not a grid: expected HxW with positive integers, e.g. 14x14"
        ))
    };
    let (h, w) = text.trim().split_once(['x', 'X']).ok_or_else(expected)?;
    let h: usize = h.trim().parse().map_err(|_| expected())?;
    let w: usize = w.trim().parse().map_err(|_| expected())?;
    if h == 0 || w == 0 {
        return Err(expected());
    }
    Ok(Grid::new(h, w))
}

fn parse_ratio(flag: &str, text: &str) -> anyhow::Result<Ratio> {
    Ratio::parse(text).map_err(|e| bad_input(format!("{flag} {text:?}: {e}")))
}

/// A mask error caused by the arguments, reported as bad input naming the strategy.
fn bad_mask(strategy: Strategy) -> impl Fn(MaskError) -> anyhow::Error {
    move |e| bad_input(format!("--strategy {}: {e}", strategy.name()))
}

/// Refuses an option given to a strategy that has no use for it.
fn only_for(strategy: Strategy, flag: &str, given: bool, wanted: Strategy) -> anyhow::Result<()> {
    if given && strategy != wanted {
        return Err(bad_input(format!(
            "{flag} only applies to --strategy {}, not {}",
            wanted.name(),
            strategy.name()
        )));
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let strategy = args.strategy;
    only_for(strategy, "--frames", args.frames.is_some(), Strategy::Tube)?;
    only_for(
        strategy,
        "--tubelet",
        args.tubelet.is_some(),
        Strategy::Tube,
    )?;
    only_for(
        strategy,
        "--secondary",
        args.secondary.is_some(),
        Strategy::Uniform,
    )?;
    only_for(strategy, "--stages", args.stages.is_some(), Strategy::Mixed)?;
    let grid = parse_grid(&args.grid)?;
    let ratio = match &args.mask_ratio {
        Some(text) => parse_ratio("--mask-ratio", text)?,
        None => strategy.default_ratio(),
    };
    if let Some(file) = &args.verify {
        let layout = match strategy {
            Strategy::Tube => {
                let frames = args.frames.ok_or_else(|| {
                    bad_input("--strategy tube needs --frames T (the clip length in frames)")
                })?;
                let slices =
                    tube::slices(frames, args.tubelet.unwrap_or(2)).map_err(bad_mask(strategy))?;
                Layout::video(grid, slices)
            }
            Strategy::Mixed => Layout::pyramid(grid, args.stages.unwrap_or(4)),
            Strategy::Random | Strategy::Block | Strategy::Uniform => Layout::image(grid),
        };
        return super::mask_verify::run(file, strategy.builtin().as_ref(), layout, ratio);
    }
    let secondary_ratio = match &args.secondary {
        Some(text) => Some(parse_ratio("--secondary", text)?),
        None => None,
    };
    let batch = args
        .count
        .unwrap_or(if strategy == Strategy::Mixed { 2 } else { 1 });
    if batch == 0 {
        return Err(bad_input("--count 0: at least one mask is needed"));
    }
    let mut rng = Rng::seed_from_u64(args.seed);
    // Settings travel as one JSON `config` entry of the metadata (the project's convention),
    // with sorted keys: a single entry keeps the file byte-identical for a given seed, which
    // several entries of a HashMap would not.
    let mut meta = serde_json::Map::new();
    meta.insert("strategy".into(), strategy.name().into());
    meta.insert("grid".into(), format!("{}x{}", grid.h, grid.w).into());
    meta.insert("ratio".into(), ratio.to_string().into());
    meta.insert("seed".into(), args.seed.into());
    meta.insert("count".into(), batch.into());
    meta.insert(
        "convention".into(),
        "mask: 1 = removed, 0 = kept, raster order; ids_keep = kept tokens in encoder order; \
         ids_restore = inverse of the kept-first token order"
            .into(),
    );
    let generated = match strategy {
        Strategy::Random | Strategy::Block => {
            let masks = if strategy == Strategy::Random {
                random_batch(batch, grid.len(), ratio, &mut rng)
            } else {
                (0..batch)
                    .map(|_| block(grid, ratio, BlockParams::default(), &mut rng))
                    .collect()
            }
            .map_err(bad_mask(strategy))?;
            let title = if strategy == Strategy::Random {
                format!("MAE random masking {ratio}, {}x{} tokens", grid.h, grid.w)
            } else {
                format!(
                    "BEiT block-wise masking {ratio}, {}x{} tokens",
                    grid.h, grid.w
                )
            };
            flat_output(grid, &masks, None, title, 1)
        }
        Strategy::Uniform => {
            let masks = uniform_batch(batch, grid, ratio, &mut rng).map_err(bad_mask(strategy))?;
            // Secondary masks are drawn after all primary masks, so adding --secondary does
            // not change the primary masks of a seed.
            let hidden = match secondary_ratio {
                Some(r2) => {
                    meta.insert("secondary".into(), r2.to_string().into());
                    let s = masks
                        .iter()
                        .map(|m| secondary(m, r2, &mut rng))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(bad_mask(strategy))?;
                    s.into_iter().map(|s| s.hidden().to_vec()).collect()
                }
                None => vec![vec![0u8; grid.len()]; masks.len()],
            };
            let title = match secondary_ratio {
                Some(r2) => format!(
                    "UM-MAE uniform sampling {ratio} + secondary {r2}, {}x{} tokens",
                    grid.h, grid.w
                ),
                None => format!(
                    "UM-MAE uniform sampling {ratio}, {}x{} tokens",
                    grid.h, grid.w
                ),
            };
            let mut generated = flat_output(grid, &masks, Some(&hidden), title, 2);
            generated.rows = uniform_steps(grid, &masks, &hidden, secondary_ratio.is_some());
            generated
        }
        Strategy::Tube => {
            let frames = args.frames.ok_or_else(|| {
                bad_input("--strategy tube needs --frames T (the clip length in frames)")
            })?;
            let tubelet = args.tubelet.unwrap_or(2);
            meta.insert("frames".into(), frames.into());
            meta.insert("tubelet".into(), tubelet.into());
            let masks = (0..batch)
                .map(|_| tube::tube(grid, frames, tubelet, ratio, &mut rng))
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad_mask(strategy))?;
            tube_output(grid, tubelet, frames / tubelet, &masks, ratio)
        }
        Strategy::Mixed => {
            let stages = args.stages.unwrap_or(4);
            meta.insert("stages".into(), stages.into());
            if !batch.is_multiple_of(2) {
                return Err(bad_input(format!(
                    "--strategy mixed pairs image i with image N-1-i, so --count must be even, \
                     not {batch}"
                )));
            }
            let m = mixed(grid, stages, ratio, &mut rng).map_err(bad_mask(strategy))?;
            mixed_output(&m, batch)?
        }
    };
    match &args.out {
        Some(out) => {
            write_safetensors(out, &generated.tensors, meta)?;
            println!("wrote {}: {}", out.display(), generated.summary);
        }
        None => println!("{}", generated.summary),
    }
    if let Some(png) = &args.png {
        let picture = mask_png::compose(&generated.header, &generated.rows)
            .map_err(|e| bad_input(e.to_string()))?;
        mask_png::write_png(png, &picture)?;
        println!(
            "drew {} ({}x{} px)",
            png.display(),
            picture.width,
            picture.height
        );
    }
    Ok(())
}

/// Tiles per row in pictures of flat masks.
const COLUMNS: usize = 8;

fn tile(grid: Grid, cell_px: usize, mask: &[u8], hidden: Option<&[u8]>) -> Tile {
    let cells = (0..mask.len())
        .map(|i| match (mask[i], hidden.map_or(0, |h| h[i])) {
            (1, _) => Cell::Removed,
            (_, 1) => Cell::Hidden,
            _ => Cell::Visible,
        })
        .collect();
    Tile {
        h: grid.h,
        w: grid.w,
        cell_px,
        cells,
        caption: String::new(),
        block: 1,
    }
}

/// The colour key of masks that keep and remove tokens.
fn keep_remove_key(hidden: bool) -> Vec<([u8; 3], String)> {
    let mut key = vec![
        (colour(Cell::Visible), "visible: the encoder sees it".into()),
        (
            colour(Cell::Removed),
            "removed: the decoder predicts it".into(),
        ),
    ];
    if hidden {
        key.push((
            colour(Cell::Hidden),
            "kept, but the encoder sees the shared mask token (secondary masking)".into(),
        ));
    }
    key
}

/// random / block / uniform: `mask` [N, L], ids, and `secondary` when given. `block` > 1
/// draws the borders of the `block x block` cells the strategy samples in.
fn flat_output(
    grid: Grid,
    masks: &[Mask],
    hidden: Option<&Vec<Vec<u8>>>,
    title: String,
    block: usize,
) -> Generated {
    let n = masks.len();
    let keep = masks[0].len_keep();
    let mut tensors = vec![
        f32_tensor("mask", vec![n, grid.len()], masks.iter().map(Mask::mask)),
        i64_tensor("ids_keep", vec![n, keep], masks.iter().map(Mask::ids_keep)),
        i64_tensor(
            "ids_restore",
            vec![n, grid.len()],
            masks.iter().map(Mask::ids_restore),
        ),
    ];
    let mut summary = format!(
        "{n} mask(s) over a {}x{} grid, {keep} of {} tokens kept",
        grid.h,
        grid.w,
        grid.len()
    );
    let mut key = keep_remove_key(false);
    if let Some(hidden) = hidden {
        tensors.push(f32_tensor(
            "secondary",
            vec![n, grid.len()],
            hidden.iter().map(Vec::as_slice),
        ));
        let count = hidden[0].iter().filter(|&&v| v == 1).count();
        summary += &format!(", {count} of them hidden by secondary masking");
        key = keep_remove_key(count > 0);
    }
    if block > 1 {
        key.push((
            BLOCK_LINE,
            format!("the {block}x{block} cells, one token kept in each"),
        ));
    }
    let cell_px = mask_png::cell_px_for(grid.h.max(grid.w));
    let tiles: Vec<Tile> = masks
        .iter()
        .enumerate()
        .map(|(i, m)| Tile {
            caption: format!("sample {i}"),
            block,
            ..tile(grid, cell_px, m.mask(), hidden.map(|h| h[i].as_slice()))
        })
        .collect();
    Generated {
        tensors,
        header: Header {
            title,
            key,
            note: None,
        },
        rows: tiles
            .chunks(COLUMNS)
            .map(|t| Row {
                label: None,
                tiles: t.to_vec(),
            })
            .collect(),
        summary,
    }
}

/// UM-MAE's mask in its steps, one row per sample: uniform sampling alone, then with the
/// secondary mask (when drawn), then the compacted half-size map the encoder runs on (each
/// 2x2 block's visible cell, real or hidden).
fn uniform_steps(grid: Grid, masks: &[Mask], hidden: &[Vec<u8>], secondary: bool) -> Vec<Row> {
    let cell_px = mask_png::cell_px_for(grid.h.max(grid.w));
    let (h, w) = (grid.h / 2, grid.w / 2);
    masks
        .iter()
        .zip(hidden)
        .enumerate()
        .map(|(i, (m, hid))| {
            let mut tiles = vec![Tile {
                caption: format!("sample {i}"),
                block: 2,
                ..tile(grid, cell_px, m.mask(), None)
            }];
            if secondary {
                tiles.push(Tile {
                    caption: "+ secondary".into(),
                    block: 2,
                    ..tile(grid, cell_px, m.mask(), Some(hid))
                });
            }
            let compact = (0..h * w)
                .map(|b| {
                    let (r, c) = (2 * (b / w), 2 * (b % w));
                    let visible = [(r, c), (r, c + 1), (r + 1, c), (r + 1, c + 1)]
                        .into_iter()
                        .map(|(r, c)| r * grid.w + c)
                        .find(|&i| m.mask()[i] == 0)
                        .expect("uniform sampling keeps one cell per block");
                    if hid[visible] == 1 {
                        Cell::Hidden
                    } else {
                        Cell::Visible
                    }
                })
                .collect();
            tiles.push(Tile {
                h,
                w,
                cell_px,
                cells: compact,
                caption: format!("compacted {h}x{w}"),
                block: 1,
            });
            Row { label: None, tiles }
        })
        .collect()
}

/// tube: `mask` [N, T/t, L]; ids over the flattened (slice, h, w) tokens.
fn tube_output(
    grid: Grid,
    tubelet: usize,
    slices: usize,
    masks: &[Mask],
    ratio: Ratio,
) -> Generated {
    let n = masks.len();
    let keep = masks[0].len_keep();
    let total = slices * grid.len();
    let tensors = vec![
        f32_tensor(
            "mask",
            vec![n, slices, grid.len()],
            masks.iter().map(Mask::mask),
        ),
        i64_tensor("ids_keep", vec![n, keep], masks.iter().map(Mask::ids_keep)),
        i64_tensor(
            "ids_restore",
            vec![n, total],
            masks.iter().map(Mask::ids_restore),
        ),
    ];
    let cell_px = mask_png::cell_px_for(grid.h.max(grid.w));
    let rows = masks
        .iter()
        .enumerate()
        .map(|(i, m)| Row {
            label: (n > 1).then(|| format!("sample {i}")),
            tiles: m
                .mask()
                .chunks(grid.len())
                .enumerate()
                .map(|(k, slice)| Tile {
                    caption: format!("frames {}-{}", k * tubelet, (k + 1) * tubelet - 1),
                    ..tile(grid, cell_px, slice, None)
                })
                .collect(),
        })
        .collect();
    Generated {
        tensors,
        header: Header {
            title: format!(
                "VideoMAE tube masking {ratio}, {} frames in slices of {tubelet}",
                slices * tubelet
            ),
            key: keep_remove_key(false),
            note: Some("the same tokens in every slice: a tube through time".into()),
        },
        rows,
        summary: format!(
            "{n} tube mask(s), {slices} slice(s) of {}x{}, {} of {} tokens kept per slice",
            grid.h,
            grid.w,
            keep / slices,
            grid.len()
        ),
    }
}

/// mixed: `mask` on the coarsest grid, `mask_stage{s}` on every stage, ids on the coarse grid
/// (kept = tokens of the sample's own image), `partner`.
fn mixed_output(m: &MixedMask, batch: usize) -> anyhow::Result<Generated> {
    let coarse = m.coarse_grid();
    let own = Mask::from_binary(m.coarse()).context("the mixing mask is not binary")?;
    let rows = |s: &[u8]| vec![s.to_vec(); batch];
    let coarse_rows = rows(m.coarse());
    let mut tensors = vec![
        f32_tensor(
            "mask",
            vec![batch, coarse.len()],
            coarse_rows.iter().map(Vec::as_slice),
        ),
        i64_tensor(
            "ids_keep",
            vec![batch, own.len_keep()],
            (0..batch).map(|_| own.ids_keep()),
        ),
        i64_tensor(
            "ids_restore",
            vec![batch, coarse.len()],
            (0..batch).map(|_| own.ids_restore()),
        ),
    ];
    let partners: Vec<usize> = (0..batch).map(|i| MixedMask::partner(i, batch)).collect();
    tensors.push(i64_tensor(
        "partner",
        vec![batch],
        std::iter::once(&partners[..]),
    ));
    for (s, g) in m.stage_grids().iter().enumerate() {
        let stage_rows = rows(m.stage(s));
        tensors.push(f32_tensor(
            &format!("mask_stage{s}"),
            vec![batch, g.len()],
            stage_rows.iter().map(Vec::as_slice),
        ));
    }
    // Every stage drawn at the same pixel size: cell_s = 2^s (cell_0 + 1) - 1. Sample i takes
    // a token from its own image where the mask is 0 and from image N-1-i where it is 1; each
    // image has its own colour, so the two rows show the same tokens swapped.
    let finest = m.stage_grids()[0];
    let cell0 = mask_png::cell_px_for(finest.h.max(finest.w));
    let rows = (0..batch)
        .map(|i| {
            let partner = MixedMask::partner(i, batch);
            let tiles = m
                .stage_grids()
                .iter()
                .enumerate()
                .map(|(s, &g)| Tile {
                    h: g.h,
                    w: g.w,
                    cell_px: (cell0 + 1) * (1 << s) - 1,
                    cells: m
                        .stage(s)
                        .iter()
                        .map(|&v| Cell::Source(if v == 1 { partner } else { i }))
                        .collect(),
                    caption: format!("stage {s}, {}x{}", g.h, g.w),
                    block: 1,
                })
                .collect();
            Row {
                label: Some(format!(
                    "sample {i}: its own image {i} mixed with image {partner}"
                )),
                tiles,
            }
        })
        .collect();
    let key = (0..batch.min(6))
        .map(|k| (colour(Cell::Source(k)), format!("token from image {k}")))
        .collect();
    let from_partner = format!("{}/{}", coarse.len() - own.len_keep(), coarse.len());
    Ok(Generated {
        tensors,
        header: Header {
            title: format!(
                "MixMIM mixed input: {from_partner} of the tokens from the partner image"
            ),
            key,
            note: (batch > 6).then(|| "(colours repeat after image 5)".to_string()),
        },
        rows,
        summary: format!(
            "mixing mask shared by {batch} samples on a {}x{} coarsest grid ({} stages), {} of \
             {} tokens from the partner",
            coarse.h,
            coarse.w,
            m.stage_grids().len(),
            coarse.len() - own.len_keep(),
            coarse.len()
        ),
    })
}

/// Serializes `tensors` and writes them atomically (temporary file in the same folder, then
/// rename), so an interrupted run never leaves a truncated file under the requested name.
fn write_safetensors(
    path: &Path,
    tensors: &[Tensor],
    config: serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let meta = HashMap::from([(
        "config".to_string(),
        serde_json::Value::Object(config).to_string(),
    )]);
    let views = tensors
        .iter()
        .map(|t| {
            TensorView::new(t.dtype, t.shape.clone(), &t.bytes)
                .map(|v| (t.name.as_str(), v))
                .with_context(|| format!("tensor `{}` has the wrong size", t.name))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bytes =
        safetensors::tensor::serialize(views, Some(meta)).context("cannot serialize the masks")?;
    let name = path
        .file_name()
        .ok_or_else(|| bad_input(format!("--out {} is not a file name", path.display())))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_parse_only_as_positive_h_by_w() {
        assert_eq!(parse_grid("14x14").unwrap(), Grid::new(14, 14));
        assert_eq!(parse_grid(" 8X6 ").unwrap(), Grid::new(8, 6));
        for bad in ["14x", "x14", "0x0", "14", "14x14x2", "-2x4", "axb", ""] {
            let err = parse_grid(bad).unwrap_err();
            assert!(err.is::<super::super::BadInput>(), "{bad}");
            assert!(err.to_string().contains("HxW"), "{err}");
        }
    }
}
