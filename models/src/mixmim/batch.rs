//! MixMIM's per-step inputs from one batch-shared mixing mask: the index tables that mix,
//! branch and un-mix, and each stage's sources in window order. The mask comes from `rng`
//! for training or, for an evaluation batch in the official format (`imgs`, `noise`
//! `[1, 1, L4]`, `mask_ratio`), from the noise as the official `random_masking` uses it.
//!
//! Pairing: mixed sample `i` takes the cells where the mask is 1 from image `N − 1 − i`
//! (`x.flip(0)`), so samples `i` and `N − 1 − i` hold complementary halves of the same two
//! images. An odd batch would pair its middle image with itself; it is refused.
use tessera_dsl::mask::mixed::upsample;
use tessera_dsl::mask::{stable_argsort, Grid};
use tessera_dsl::spec::MixMimDims;

use super::graph::inputs;
use crate::mae::batch::official_mask_ratio;
use crate::model::{InputValues, ModelError, StepInputs, StepShape};
use crate::tensors::TensorFile;

/// A batch-shared mixing mask on the last stage's grid (1 = the cell comes from the partner)
/// and its nearest upsampling to every stage, raster order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mixing {
    pub stages: Vec<Vec<u8>>,
}

impl Mixing {
    /// The mask on the last-stage grid.
    pub fn coarse(&self) -> &[u8] {
        self.stages.last().expect("four stages")
    }

    /// Upsamples `coarse` (on the `mask_grid x mask_grid` grid) to every stage.
    pub fn from_coarse(d: &MixMimDims, coarse: &[u8]) -> Result<Mixing, ModelError> {
        let from = Grid::new(d.mask_grid, d.mask_grid);
        let stages = (0..d.num_stages)
            .map(|s| {
                let g = d.stage_grids[s];
                upsample(coarse, from, Grid::new(g, g))
            })
            .collect::<Result<_, _>>()?;
        Ok(Mixing { stages })
    }

    /// The official mask from `noise` (one value per last-stage cell): the `masked` cells with
    /// the smallest noise come from the partner.
    pub fn from_noise(d: &MixMimDims, noise: &[f32], masked: usize) -> Result<Mixing, ModelError> {
        let mut coarse = vec![0u8; noise.len()];
        for &i in &stable_argsort(noise)?[..masked] {
            coarse[i] = 1;
        }
        Mixing::from_coarse(d, &coarse)
    }
}

/// The partner of sample `i` in a batch of `n`: the official `flip(0)`.
pub fn partner(i: usize, n: usize) -> usize {
    n - 1 - i
}

/// An error unless `n` pairs up.
pub fn check_even(n: usize) -> Result<(), ModelError> {
    if n == 0 || n % 2 == 1 {
        return Err(ModelError::Batch(format!(
            "MixMIM mixes sample i with sample N-1-i, so the batch must be even and non-empty; \
             a batch of {n} {}",
            if n == 0 {
                "has nothing to mix"
            } else {
                "would mix its middle image with itself"
            }
        )));
    }
    Ok(())
}

/// `mask` (raster over a `grid x grid` stage) in window-partition order: windows in raster
/// order, the `w x w` tokens of each in raster order.
pub fn window_order(mask: &[u8], grid: usize, w: usize) -> Vec<f32> {
    let per = grid / w;
    let mut out = Vec::with_capacity(mask.len());
    for wr in 0..per {
        for wc in 0..per {
            for r in 0..w {
                for c in 0..w {
                    out.push(f32::from(mask[(wr * w + r) * grid + wc * w + c]));
                }
            }
        }
    }
    out
}

/// `[N·L]` rows of `[N·L, C]` that mixed sample `i` copies at token `t`: its own or its
/// partner's token `t`.
pub fn mix_rows(mask: &[u8], n: usize) -> Vec<u32> {
    let l = mask.len();
    let mut out = Vec::with_capacity(n * l);
    for i in 0..n {
        for (t, &m) in mask.iter().enumerate() {
            let src = if m == 1 { partner(i, n) } else { i };
            out.push((src * l + t) as u32);
        }
    }
    out
}

/// `[2N·L4]` rows of `[N·L4 tokens; mask_token]`: branch 1 (rows of samples `0..N`) keeps the
/// sample's own-image cells and puts the mask token where the partner is; branch 2 (samples
/// `N..2N`) the reverse.
pub fn decoder_rows(coarse: &[u8], n: usize) -> Vec<u32> {
    let l = coarse.len();
    let token = (n * l) as u32;
    let mut out = Vec::with_capacity(2 * n * l);
    for branch in 0..2u8 {
        for i in 0..n {
            for (t, &m) in coarse.iter().enumerate() {
                // Branch 1 hides m = 1, branch 2 hides m = 0.
                out.push(if m == 1 - branch {
                    token
                } else {
                    (i * l + t) as u32
                });
            }
        }
    }
    out
}

/// `[N·L4]` rows of the prediction `[2N·L4, P]` that reconstruct image `i` at cell `t`: where
/// the mixed sample `i` shows the partner (m = 1), its own branch 1 predicted image `i`;
/// elsewhere branch 2 of sample `N − 1 − i`, which holds image `i`'s cells there
/// (`x1_rec·m + x2_rec.flip(0)·(1 − m)`).
pub fn unmix_rows(coarse: &[u8], n: usize) -> Vec<u32> {
    let l = coarse.len();
    let mut out = Vec::with_capacity(n * l);
    for i in 0..n {
        for (t, &m) in coarse.iter().enumerate() {
            let row = if m == 1 {
                i * l + t
            } else {
                (n + partner(i, n)) * l + t
            };
            out.push(row as u32);
        }
    }
    out
}

/// The inputs of one step over `images` (`n` of them) mixed by `mixing`.
pub fn inputs(
    d: &MixMimDims,
    images: Vec<f32>,
    n: usize,
    mixing: &Mixing,
) -> Result<StepInputs, ModelError> {
    check_even(n)?;
    let coarse = mixing.coarse();
    let mut tensors = vec![
        (inputs::IMGS.to_string(), InputValues::F32(images)),
        (
            inputs::MIX_ROWS.into(),
            InputValues::U32(mix_rows(&mixing.stages[0], n)),
        ),
        (
            inputs::DECODER_ROWS.into(),
            InputValues::U32(decoder_rows(coarse, n)),
        ),
        (
            inputs::UNMIX_ROWS.into(),
            InputValues::U32(unmix_rows(coarse, n)),
        ),
    ];
    for (st, mask) in mixing.stages.iter().enumerate() {
        let values = window_order(mask, d.stage_grids[st], d.windows[st]);
        tensors.push((inputs::sources(st), InputValues::F32(values)));
    }
    let row: Vec<f32> = coarse.iter().map(|&m| f32::from(m)).collect();
    Ok(StepInputs {
        shape: step_shape(d, n),
        tensors,
        mask: row.repeat(n),
    })
}

/// Every stage-1 token goes through the encoder (MixMIM masks nothing out).
pub fn step_shape(d: &MixMimDims, batch: usize) -> StepShape {
    StepShape::new(batch, d.stage_grids[0] * d.stage_grids[0])
}

/// An evaluation batch in the official format, checked against the model's sizes.
pub fn official(file: &TensorFile, d: &MixMimDims) -> Result<StepInputs, ModelError> {
    let path = file.path.display().to_string();
    let imgs = file.require("imgs")?;
    let (c, side) = (d.spec.image.channels, d.image);
    if imgs.shape.len() != 4 || imgs.shape[1..] != [c, side, side] {
        return Err(ModelError::BatchShape {
            path,
            name: "imgs",
            expected: format!("[N, {c}, {side}, {side}] (f32, N even)"),
            found: imgs.shape.clone(),
        });
    }
    let n = imgs.shape[0];
    check_even(n).map_err(|e| ModelError::Batch(format!("{path}: {e}")))?;
    let l = d.mask_tokens;
    let noise = file.require("noise")?;
    if noise.shape != [1, 1, l] {
        return Err(ModelError::BatchShape {
            path,
            name: "noise",
            expected: format!("[1, 1, {l}] (one value per last-stage cell, shared by the batch)"),
            found: noise.shape.clone(),
        });
    }
    let mask_ratio = official_mask_ratio(file)?;
    let masked = float_masked_count(l, mask_ratio).ok_or_else(|| {
        ModelError::Batch(format!(
            "{path}: mask_ratio {mask_ratio} must be a number in [0, 1]"
        ))
    })?;
    let mixing = Mixing::from_noise(d, &noise.data, masked)?;
    inputs(d, imgs.data.clone(), n, &mixing)
}

/// `int(L4 · mask_ratio)` as the official `random_masking` computes it with the ratio as a
/// float (`f32` widened to a Python float); `None` unless the ratio lies in `[0, 1]`.
pub fn float_masked_count(len: usize, mask_ratio: f32) -> Option<usize> {
    (0.0..=1.0)
        .contains(&mask_ratio)
        .then(|| (len as f64 * mask_ratio as f64).floor() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_fill_complementary_halves_and_unmixing_finds_every_cell_once() {
        // Two cells of four from the partner, a batch of 4: image i's cells live in sample i
        // (m = 0) and sample 3 - i (m = 1).
        let coarse = [1u8, 0, 0, 1];
        let n = 4;
        let mix = mix_rows(&coarse, n);
        // Sample 0 token 0 is image 3's token 0; token 1 is its own.
        assert_eq!(&mix[..4], &[12, 1, 2, 15]);
        let dec = decoder_rows(&coarse, n);
        let token = 16;
        // Branch 1 of sample 1: mask token where the partner is.
        assert_eq!(&dec[4..8], &[token, 5, 6, token]);
        // Branch 2 of sample 1: the reverse.
        assert_eq!(&dec[20..24], &[4, token, token, 7]);
        let unmix = unmix_rows(&coarse, n);
        // Image 0 at cell 0 (m = 1): branch 1 of sample 0; at cell 1 (m = 0): branch 2 of
        // sample 3, whose row block starts at (4 + 3) * 4.
        assert_eq!(&unmix[..4], &[0, 29, 30, 3]);
        // Every prediction row that predicts a hidden cell is used exactly once.
        let mut seen = unmix.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), n * coarse.len());
        for &r in &unmix {
            assert_eq!(dec[r as usize], token, "row {r} predicts a hidden cell");
        }
    }

    #[test]
    fn windows_are_read_in_partition_order() {
        // 4x4 grid, window 2: the first window holds (0,0) (0,1) (1,0) (1,1).
        let mask: Vec<u8> = (0..16).map(|i| (i % 3 == 0) as u8).collect();
        let w = window_order(&mask, 4, 2);
        let expect = |r: usize, c: usize| f32::from(mask[r * 4 + c]);
        assert_eq!(
            &w[..4],
            &[expect(0, 0), expect(0, 1), expect(1, 0), expect(1, 1)]
        );
        assert_eq!(
            &w[4..8],
            &[expect(0, 2), expect(0, 3), expect(1, 2), expect(1, 3)]
        );
    }

    #[test]
    fn odd_and_empty_batches_are_refused() {
        assert!(check_even(4).is_ok());
        for n in [0, 1, 3] {
            let e = check_even(n).unwrap_err().to_string();
            assert!(e.contains("even"), "{e}");
        }
    }

    #[test]
    fn the_float_ratio_truncates_like_python() {
        assert_eq!(float_masked_count(49, 0.5), Some(24));
        assert_eq!(float_masked_count(4, 0.5), Some(2));
        // f32 0.7 is 0.699999988: int(10 * 0.699999988) = 6, as the official code computes.
        assert_eq!(float_masked_count(10, 0.7), Some(6));
        assert_eq!(float_masked_count(4, 1.5), None);
    }
}
