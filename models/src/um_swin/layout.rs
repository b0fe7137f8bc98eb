//! Where each sample's visible quarter goes: UM-MAE's compaction, worked out on the host from
//! the mask. With `K = mask_cell / patch` tokens per cell side, every 2x2 block of cells keeps
//! exactly one visible cell, whose `K x K` tokens fill the block's `K x K` tile of a dense map
//! of half the token grid (the official depthwise 2x2 dilated all-ones convolution does the
//! same sum, of which only the visible cell is nonzero). The tokens keep their true positions,
//! which the relative-position MLP reads, and the decoder's visible tokens come out of the
//! final map in 2x2-block order.
use tessera_dsl::spec::DecoderPositions;

/// The cell geometry of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cells {
    /// Mask cells per side `M`.
    pub grid: usize,
    /// Tokens per cell side `K`.
    pub k: usize,
}

impl Cells {
    /// Tokens per side of the full map, `E = M·K`.
    pub fn tokens(&self) -> usize {
        self.grid * self.k
    }

    /// Tokens per side of the compacted map, `E / 2`.
    pub fn compact(&self) -> usize {
        self.tokens() / 2
    }
}

/// One sample's mask as the model uses it.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub cells: Cells,
    /// The visible cell of every 2x2 block, blocks in raster order.
    pub visible: Vec<usize>,
    /// The masked cells in raster order.
    pub masked: Vec<usize>,
    /// Per cell: a visible cell whose tokens the secondary mask token replaces.
    pub replaced: Vec<bool>,
}

impl Layout {
    /// The layout of `mask` (`M²` values, 1 = masked) with `replaced` visible cells. `None`
    /// unless every 2x2 block holds exactly one visible cell.
    pub fn new(cells: Cells, mask: &[f32], replaced: Vec<bool>) -> Option<Layout> {
        let m = cells.grid;
        if mask.len() != m * m || replaced.len() != m * m || !m.is_multiple_of(2) {
            return None;
        }
        let mut visible = Vec::with_capacity(m * m / 4);
        for b in 0..(m / 2) * (m / 2) {
            let (bh, bw) = (b / (m / 2), b % (m / 2));
            let in_block = [(0, 0), (0, 1), (1, 0), (1, 1)]
                .map(|(i, j)| (2 * bh + i) * m + 2 * bw + j)
                .into_iter()
                .filter(|&c| mask[c] < 0.5);
            let v: Vec<usize> = in_block.collect();
            if v.len() != 1 {
                return None;
            }
            visible.push(v[0]);
        }
        let masked = (0..m * m).filter(|&c| mask[c] >= 0.5).collect();
        Some(Layout {
            cells,
            visible,
            masked,
            replaced,
        })
    }

    /// The token of the full `E x E` map at each position of the compacted map (raster), and
    /// its true `(row, column)`.
    fn compact_tokens(&self) -> impl Iterator<Item = (usize, (usize, usize))> + '_ {
        let (m, k) = (self.cells.grid, self.cells.k);
        let (e, hc) = (self.cells.tokens(), self.cells.compact());
        (0..hc * hc).map(move |p| {
            let (ci, cj) = (p / hc, p % hc);
            let block = (ci / k) * (m / 2) + cj / k;
            let cell = self.visible[block];
            let (r, c) = ((cell / m) * k + ci % k, (cell % m) * k + cj % k);
            (r * e + c, (r, c))
        })
    }

    /// `[E²/4]` gather indices into the `E x E` token map.
    pub fn compact_index(&self) -> Vec<u32> {
        self.compact_tokens().map(|(t, _)| t as u32).collect()
    }

    /// `[E²/4]`: 1 where a compacted token belongs to a replaced cell.
    pub fn compact_replaced(&self) -> Vec<f32> {
        let (m, k) = (self.cells.grid, self.cells.k);
        self.compact_tokens()
            .map(|(_, (r, c))| f32::from(u8::from(self.replaced[(r / k) * m + c / k])))
            .collect()
    }

    /// `[E/2, E/2]` true `(row, column)` positions of the compacted map.
    pub fn compact_positions(&self) -> Vec<[f64; 2]> {
        self.compact_tokens()
            .map(|(_, (r, c))| [r as f64, c as f64])
            .collect()
    }

    /// Decoder rows: the visible cells in block order, then the masked cells in raster order
    /// (which target row each prediction row is compared with).
    pub fn rows(&self) -> Vec<u32> {
        self.visible
            .iter()
            .chain(&self.masked)
            .map(|&c| c as u32)
            .collect()
    }

    /// The decoder position-embedding row of each decoder row.
    pub fn decoder_positions(&self, how: DecoderPositions) -> Vec<u32> {
        match how {
            DecoderPositions::Cells => self.rows(),
            DecoderPositions::OfficialRaster => {
                let mut raster = self.visible.clone();
                raster.sort_unstable();
                raster
                    .iter()
                    .chain(&self.masked)
                    .map(|&c| c as u32)
                    .collect()
            }
        }
    }
}

/// The positions of the next stage: every other row and column, halved (the official
/// `pos_hw[:, 0::2, 0::2] / 2` of each patch merge).
pub fn merge_positions(pos: &[[f64; 2]], grid: usize) -> Vec<[f64; 2]> {
    let half = grid / 2;
    (0..half * half)
        .map(|p| {
            let [r, c] = pos[(2 * (p / half)) * grid + 2 * (p % half)];
            [r / 2.0, c / 2.0]
        })
        .collect()
}

/// The position MLP's input for a `grid x grid` map cut into `w x w` windows after a cyclic
/// shift of `shift`: per window, per (query, key) pair, `sign(d)·ln(1 + |d|)` of `key −
/// query` in rows and columns. `[windows · w² · w² · 2]`, window-major.
pub fn window_coords(pos: &[[f64; 2]], grid: usize, w: usize, shift: usize) -> Vec<f32> {
    let per_side = grid / w;
    let n = w * w;
    let mut out = Vec::with_capacity(per_side * per_side * n * n * 2);
    let at = |win: usize, t: usize| {
        let (wr, wc) = (win / per_side, win % per_side);
        let (r, c) = (
            (wr * w + t / w + shift) % grid,
            (wc * w + t % w + shift) % grid,
        );
        pos[r * grid + c]
    };
    let log_spaced = |d: f64| (d.signum() * (1.0 + d.abs()).ln()) as f32;
    for win in 0..per_side * per_side {
        for i in 0..n {
            for j in 0..n {
                let (q, k) = (at(win, i), at(win, j));
                out.push(log_spaced(k[0] - q[0]));
                out.push(log_spaced(k[1] - q[1]));
            }
        }
    }
    out
}

/// The positions of a full `grid x grid` map (no masking): every token at its own place.
pub fn full_positions(grid: usize) -> Vec<[f64; 2]> {
    (0..grid * grid)
        .map(|p| [(p / grid) as f64, (p % grid) as f64])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 4x4 cells of 2x2 tokens; visible cells 1, 6, 8, 15 (one per block).
    fn layout() -> Layout {
        let mut mask = [1.0f32; 16];
        for c in [1, 6, 8, 15] {
            mask[c] = 0.0;
        }
        let mut replaced = vec![false; 16];
        replaced[6] = true;
        Layout::new(Cells { grid: 4, k: 2 }, &mask, replaced).unwrap()
    }

    #[test]
    fn compaction_moves_each_visible_cell_into_its_block_tile() {
        let l = layout();
        assert_eq!(l.visible, [1, 6, 8, 15]);
        // Compact map 4x4; tile (0, 0) holds cell 1 = tokens rows 0-1, columns 2-3 of the
        // 8x8 map; tile (0, 1) holds cell 6 = rows 2-3, columns 4-5.
        let idx = l.compact_index();
        assert_eq!(&idx[..4], &[2, 3, 2 * 8 + 4, 2 * 8 + 5]);
        assert_eq!(idx[4], 10); // row 1 of tile (0, 0): token (1, 2)
        let rep = l.compact_replaced();
        assert_eq!(&rep[..4], &[0.0, 0.0, 1.0, 1.0]);
        assert_eq!(l.compact_positions()[2], [2.0, 4.0]);
        // The same sum the official dilated all-ones convolution computes: each compact
        // position gathers the one nonzero of its four dilated candidates.
        let (e, k) = (8, 2);
        for (p, &t) in idx.iter().enumerate() {
            let (ci, cj) = (p / 4, p % 4);
            let (ti, tj) = (ci / k, cj / k); // tile = block
            let (a, b) = (ci % k, cj % k);
            let candidates: Vec<usize> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                .iter()
                .map(|(di, dj)| (ti * 2 * k + di * k + a) * e + tj * 2 * k + dj * k + b)
                .collect();
            assert!(candidates.contains(&(t as usize)));
        }
    }

    #[test]
    fn decoder_rows_and_the_official_position_order() {
        let l = layout();
        assert_eq!(&l.rows()[..4], &[1, 6, 8, 15]);
        assert_eq!(l.rows()[4], 0);
        // Blocks (0, 0), (0, 1) keep cells in rows 0 and 1: raster order swaps nothing here,
        // but (1, 0) keeps row 2 and (1, 1) row 3, so raster order is 1, 6, 8, 15 too; swap
        // a block's choice to see the quirk.
        let mut mask = [1.0f32; 16];
        for c in [4, 3, 8, 15] {
            mask[c] = 0.0;
        }
        let l = Layout::new(Cells { grid: 4, k: 2 }, &mask, vec![false; 16]).unwrap();
        assert_eq!(
            &l.decoder_positions(DecoderPositions::Cells)[..4],
            &[4, 3, 8, 15]
        );
        assert_eq!(
            &l.decoder_positions(DecoderPositions::OfficialRaster)[..4],
            &[3, 4, 8, 15]
        );
        // Two visible cells in one block, or none, is not a uniform mask.
        let mut bad = mask;
        bad[5] = 0.0;
        assert!(Layout::new(l.cells, &bad, vec![false; 16]).is_none());
    }

    #[test]
    fn window_coordinates_are_log_spaced_offsets_after_the_shift() {
        let pos = full_positions(4);
        let c = window_coords(&pos, 4, 2, 0);
        assert_eq!(c.len(), 4 * 4 * 4 * 2);
        // Window 0, query 0 = (0, 0), key 3 = (1, 1): offsets (1, 1) → ln 2.
        let ln2 = 2f64.ln() as f32;
        assert_eq!(&c[(3) * 2..(3) * 2 + 2], &[ln2, ln2]);
        // Shifted by 1, window 3 wraps: its query 0 is (3, 3), key 3 is (0, 0): offsets -3.
        let s = window_coords(&pos, 4, 2, 1);
        let base = 3 * 16 * 2;
        let ln4 = -(4f64.ln()) as f32;
        assert_eq!(&s[base + 3 * 2..base + 3 * 2 + 2], &[ln4, ln4]);
        // Merging keeps every other position, halved.
        assert_eq!(merge_positions(&pos, 4)[3], [1.0, 1.0]);
    }
}
