//! UM-MAE uniform sampling (one visible token in every 2x2 block, ratio 3/4) and secondary
//! masking (a share of the visible tokens is shown to the encoder only as a shared mask token),
//! plus the window checks the pyramid encoders rely on.
//!
//! Sampling follows the official `RandomMaskingGenerator(regular=True)` (`mask_transform.py`):
//! a pool of `4 * ceil(L / 8)` block patterns, each of the 4 positions equally often, from which
//! one pattern per block is drawn without replacement. The choices are therefore balanced and
//! weakly anti-correlated, not i.i.d. per block — the distribution of the official generator (its
//! exact NumPy stream is not reproduced; pass explicit choices to
//! [`uniform_from_choices`] to rebuild a given mask).
use super::{draw_noise, keep_count, stable_argsort, Grid, Mask, MaskError};
use crate::{rng::Rng, Ratio};
use alloc::vec::Vec;

/// The only ratio uniform sampling supports: 3 of every 4 tokens masked.
pub const UNIFORM_RATIO: Ratio = Ratio::of(3, 4);

/// The grid of 2x2 blocks, or an error naming the grid or ratio uniform sampling cannot use.
pub fn block_grid(grid: Grid, ratio: Ratio) -> Result<Grid, MaskError> {
    let grid = grid.non_empty()?;
    if ratio != UNIFORM_RATIO {
        return Err(MaskError::UniformRatio { ratio });
    }
    if !grid.h.is_multiple_of(2) || !grid.w.is_multiple_of(2) {
        return Err(MaskError::OddGrid {
            h: grid.h,
            w: grid.w,
        });
    }
    Ok(Grid::new(grid.h / 2, grid.w / 2))
}

/// Raster index of position `choice` (0..4, row-major inside the block: `2 p1 + p2`) of block
/// `b` (raster over the block grid): `(2 bh + p1, 2 bw + p2)`, the official rearrange.
fn token_of(grid: Grid, b: usize, choice: u8) -> usize {
    let (bh, bw) = (b / (grid.w / 2), b % (grid.w / 2));
    let (p1, p2) = (choice as usize / 2, choice as usize % 2);
    (2 * bh + p1) * grid.w + 2 * bw + p2
}

/// The uniform mask that keeps position `choices[b]` (0..4) of every block `b`. Kept tokens are
/// listed in raster order (`ids_keep`), as UM-MAE takes `x[~mask]`; `ids_shuffle` is the kept
/// tokens then the masked tokens, each in raster order.
pub fn uniform_from_choices(grid: Grid, choices: &[u8]) -> Result<Mask, MaskError> {
    let blocks = block_grid(grid, UNIFORM_RATIO)?;
    if choices.len() != blocks.len() {
        return Err(MaskError::WrongLength {
            what: "block choices",
            expected: blocks.len(),
            got: choices.len(),
        });
    }
    if let Some(index) = choices.iter().position(|&c| c > 3) {
        return Err(MaskError::NotBinary {
            index,
            value: choices[index],
        });
    }
    let mut mask = alloc::vec![1u8; grid.len()];
    for (b, &c) in choices.iter().enumerate() {
        mask[token_of(grid, b, c)] = 0;
    }
    Mask::from_binary(&mask)
}

/// A uniform-sampling mask: exactly one visible token per 2x2 block. `ratio` must be 3/4 and
/// the grid even on both sides.
pub fn uniform(grid: Grid, ratio: Ratio, rng: &mut Rng) -> Result<Mask, MaskError> {
    let blocks = block_grid(grid, ratio)?.len();
    // The official pool: patterns 0,1,2,3 repeated until the pool holds >= L/2 of them.
    let pool_len = 4 * grid.len().div_ceil(8);
    let mut pool: Vec<u8> = (0..pool_len).map(|i| (i % 4) as u8).collect();
    // Partial Fisher-Yates: the first `blocks` entries are a uniform draw without replacement.
    for k in 0..blocks {
        let j = k + rng.index(pool_len - k);
        pool.swap(k, j);
    }
    uniform_from_choices(grid, &pool[..blocks])
}

/// Independent uniform masks for `batch` samples (the official loader draws one per image).
pub fn uniform_batch(
    batch: usize,
    grid: Grid,
    ratio: Ratio,
    rng: &mut Rng,
) -> Result<Vec<Mask>, MaskError> {
    (0..batch).map(|_| uniform(grid, ratio, rng)).collect()
}

/// How secondary-masking noise selects the hidden tokens. In spec files `"smallest"` (the
/// default) or `"official_vit"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum SecondaryRule {
    /// Keep the `floor(V (1 - r))` visible tokens with the smallest noise (MAE's rule; the
    /// official Swin and PVT variants, which sort `mask + noise`).
    #[default]
    Smallest,
    /// The official UM-MAE ViT quirk: with `ids = argsort(noise)`, visible token `j` is hidden
    /// iff `ids[j] >= floor(V (1 - r))` (it indexes with the argsort where the inverse was
    /// meant). Same count, different set; kept to reproduce official ViT checkpoints.
    OfficialVit,
}

impl SecondaryRule {
    pub const fn is_smallest(&self) -> bool {
        matches!(self, SecondaryRule::Smallest)
    }

    /// As spec files write it.
    pub const fn name(self) -> &'static str {
        match self {
            SecondaryRule::Smallest => "smallest",
            SecondaryRule::OfficialVit => "official_vit",
        }
    }
}

impl core::fmt::Display for SecondaryRule {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SecondaryRule::Smallest => f.write_str("smallest (replaces the largest-noise tokens)"),
            SecondaryRule::OfficialVit => f.write_str(
                "official_vit (UM-MAE ViT's argsort index quirk, kept for its checkpoints)",
            ),
        }
    }
}

/// Secondary masking of one sample: which visible tokens the encoder sees only as the shared
/// mask token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secondary {
    hidden: Vec<u8>,
    len_real: usize,
}

impl Secondary {
    /// Over all L tokens, raster order: 1 = a kept token replaced by the mask token, 0 otherwise
    /// (masked tokens are 0 here: they are removed, not replaced).
    pub fn hidden(&self) -> &[u8] {
        &self.hidden
    }

    /// Visible tokens the encoder still sees as themselves: `floor(V (1 - r))`.
    pub fn len_real(&self) -> usize {
        self.len_real
    }

    /// Visible tokens replaced by the mask token: `V - floor(V (1 - r))`.
    pub fn len_hidden(&self) -> usize {
        self.hidden.iter().filter(|&&v| v == 1).count()
    }
}

/// Secondary masking from explicit noise, one value per visible token of `mask` in raster
/// order (what the official ViT code draws as `torch.rand(N, V)`; for the Swin/PVT code, which
/// draws one value per token, pass the values at the visible positions).
pub fn secondary_from_noise(
    mask: &Mask,
    noise: &[f32],
    ratio: Ratio,
    rule: SecondaryRule,
) -> Result<Secondary, MaskError> {
    let len_real = keep_count(mask.len_keep(), ratio)?;
    secondary_keeping(mask, noise, len_real, rule)
}

/// Secondary masking from explicit noise that keeps `len_real` visible tokens real, for counts
/// computed the official way (`int(V * (1 - vis_mask_ratio))` with a float ratio).
pub fn secondary_keeping(
    mask: &Mask,
    noise: &[f32],
    len_real: usize,
    rule: SecondaryRule,
) -> Result<Secondary, MaskError> {
    let visible: Vec<usize> = (0..mask.len()).filter(|&i| mask.mask()[i] == 0).collect();
    if noise.len() != visible.len() {
        return Err(MaskError::WrongLength {
            what: "secondary noise",
            expected: visible.len(),
            got: noise.len(),
        });
    }
    if len_real > visible.len() {
        return Err(MaskError::WrongLength {
            what: "real tokens of secondary masking (at most the visible count)",
            expected: visible.len(),
            got: len_real,
        });
    }
    let ids = stable_argsort(noise)?;
    let mut hidden = alloc::vec![0u8; mask.len()];
    match rule {
        SecondaryRule::Smallest => {
            for &j in &ids[len_real..] {
                hidden[visible[j]] = 1;
            }
        }
        SecondaryRule::OfficialVit => {
            for (j, &id) in ids.iter().enumerate() {
                if id >= len_real {
                    hidden[visible[j]] = 1;
                }
            }
        }
    }
    Ok(Secondary { hidden, len_real })
}

/// Secondary masking with noise drawn from `rng`: of the V visible tokens, `floor(V (1 - r))`
/// chosen uniformly at random stay real and the others are hidden.
pub fn secondary(mask: &Mask, ratio: Ratio, rng: &mut Rng) -> Result<Secondary, MaskError> {
    let visible = mask.len_keep();
    keep_count(visible, ratio)?;
    secondary_from_noise(
        mask,
        &draw_noise(visible, rng),
        ratio,
        SecondaryRule::Smallest,
    )
}

/// Visible (0) tokens in every `win` window tiling `grid`, windows in raster order.
pub fn window_visible_counts(mask: &[u8], grid: Grid, win: Grid) -> Result<Vec<usize>, MaskError> {
    grid.check_mask(mask)?;
    let Grid { h: nh, w: nw } = grid.windows(win)?;
    let mut counts = alloc::vec![0usize; nh * nw];
    for (i, &v) in mask.iter().enumerate() {
        if v == 0 {
            let (r, c) = (i / grid.w, i % grid.w);
            counts[(r / win.h) * nw + c / win.w] += 1;
        }
    }
    Ok(counts)
}

/// The token-grid footprint of each stage's attention windows in a UM-MAE pyramid.
///
/// The pyramid runs on the compacted map (one cell per 2x2 block, grid/2) and halves it at each
/// of `stages` stages: stage `s` has resolution `R_s = (grid/2) / 2^s` and windows of
/// `w_s = min(window, R_s)` cells (Swin's clamp), each cell covering `2^(s+1)` tokens a side. A
/// uniform mask puts the same number of visible tokens, `(w_s 2^s)^2`, in every such window.
pub fn stage_windows(grid: Grid, stages: usize, window: usize) -> Result<Vec<Grid>, MaskError> {
    let blocks = block_grid(grid, UNIFORM_RATIO)?;
    if stages == 0 {
        return Err(MaskError::NoStages);
    }
    let step = 1usize << (stages - 1);
    if !blocks.h.is_multiple_of(step) || !blocks.w.is_multiple_of(step) {
        return Err(MaskError::StageGrid {
            h: blocks.h,
            w: blocks.w,
            stages,
        });
    }
    (0..stages)
        .map(|s| {
            let res = Grid::new(blocks.h >> s, blocks.w >> s);
            let win = Grid::new(window.min(res.h), window.min(res.w));
            res.windows(win)?;
            Ok(Grid::new(win.h << (s + 1), win.w << (s + 1)))
        })
        .collect()
}

/// The compaction of the pyramid variants: for every 2x2 block (raster over grid/2), the raster
/// index of its one visible token. An error names the first block that is not uniform.
pub fn compact(mask: &[u8], grid: Grid) -> Result<Vec<usize>, MaskError> {
    let blocks = block_grid(grid, UNIFORM_RATIO)?;
    grid.check_mask(mask)?;
    (0..blocks.len())
        .map(|b| {
            let visible: Vec<usize> = (0..4u8)
                .map(|c| token_of(grid, b, c))
                .filter(|&i| mask[i] == 0)
                .collect();
            match visible[..] {
                [i] => Ok(i),
                _ => Err(MaskError::NotUniform {
                    bh: b / blocks.w,
                    bw: b % blocks.w,
                    visible: visible.len(),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn choices_map_to_the_official_block_layout() {
        // 4x2 grid = 2 blocks stacked; block 0 keeps (0,1), block 1 keeps (3,0).
        let m = uniform_from_choices(Grid::new(4, 2), &[1, 2]).unwrap();
        assert_eq!(m.mask(), &[1, 0, 1, 1, 1, 1, 0, 1]);
        assert_eq!(m.ids_keep(), &[1, 6]);
        assert_eq!(compact(m.mask(), Grid::new(4, 2)).unwrap(), vec![1, 6]);
    }

    #[test]
    fn rejects_what_uniform_sampling_cannot_do() {
        let mut rng = Rng::seed_from_u64(0);
        assert_eq!(
            uniform(Grid::new(14, 13), UNIFORM_RATIO, &mut rng),
            Err(MaskError::OddGrid { h: 14, w: 13 })
        );
        assert!(matches!(
            uniform(Grid::new(14, 14), Ratio::of(1, 2), &mut rng),
            Err(MaskError::UniformRatio { .. })
        ));
        assert!(matches!(
            compact(&[0, 0, 1, 1], Grid::new(2, 2)),
            Err(MaskError::NotUniform {
                bh: 0,
                bw: 0,
                visible: 2
            })
        ));
        // 16x16 tokens -> 8x8 compacted: 3 stages need 8 % 4 == 0, 5 stages 8 % 16 != 0.
        assert_eq!(stage_windows(Grid::new(16, 16), 3, 2).unwrap().len(), 3);
        assert!(stage_windows(Grid::new(16, 16), 5, 2).is_err());
        // 24x24 -> 12x12 compacted, window 8 does not tile 12.
        assert!(stage_windows(Grid::new(24, 24), 1, 8).is_err());
    }

    #[test]
    fn stage_windows_match_the_um_mae_swin_layout() {
        // UM-MAE Swin @256: 16x16 cells -> compacted 8x8, 4 stages, pre-training window 8.
        // Stage resolutions 8, 4, 2, 1 all fit in one clamped window: 16x16 tokens each.
        let w = stage_windows(Grid::new(16, 16), 4, 8).unwrap();
        assert_eq!(w, vec![Grid::new(16, 16); 4]);
        // A 32x32 grid with window 4: stage resolutions 16, 8, 4, 2 -> windows 4, 4, 4, 2
        // cells of 2, 4, 8, 16 tokens.
        let w = stage_windows(Grid::new(32, 32), 4, 4).unwrap();
        assert_eq!(
            w,
            vec![
                Grid::new(8, 8),
                Grid::new(16, 16),
                Grid::new(32, 32),
                Grid::new(32, 32)
            ]
        );
    }
}
