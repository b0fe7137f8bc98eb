//! MixMIM's reconstruction picture: one row per pair of images (sample `i` and its partner
//! `N − 1 − i`): both originals, both mixed inputs as the encoder sees them (the cells taken
//! from the partner outlined), and both un-mixed reconstructions. Every cell of an image is
//! predicted once, by the decoder branch in which that cell was a mask token.
use crate::viz::canvas::{Canvas, Rgb, WHITE};
use crate::viz::font::{text_width, ADVANCE, GLYPH_H};
use crate::viz::recon::PatchLayout;
use crate::viz::recon_grid::{blit, wrap, Denormalize};

const TEXT: Rgb = [30, 30, 30];
/// Outline of a cell that came from the partner image.
pub const PARTNER: Rgb = [230, 60, 40];
const MARGIN: usize = 12;
const GAP: usize = 10;
const LINE: usize = 12;
/// Column titles, in drawing order.
pub const COLUMNS: [&str; 6] = [
    "image A",
    "image B",
    "A mixed with B",
    "B mixed with A",
    "A rebuilt",
    "B rebuilt",
];

/// The pictures of one pair, each `[C, H, W]` in the model's normalized input units.
#[derive(Clone, Debug, PartialEq)]
pub struct PairRow {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    /// Sample `i`: A with B's pixels in the partner cells.
    pub a_mixed: Vec<f32>,
    /// Sample `N − 1 − i`: B with A's pixels in the same cells.
    pub b_mixed: Vec<f32>,
    pub a_rebuilt: Vec<f32>,
    pub b_rebuilt: Vec<f32>,
}

/// `own` with `other`'s pixels in every cell (`layout`'s patches) where `partner` is true.
pub fn mix(layout: &PatchLayout, own: &[f32], other: &[f32], partner: &[bool]) -> Vec<f32> {
    let (d, a, b) = (
        layout.patch_dim(),
        layout.patchify(own),
        layout.patchify(other),
    );
    let mut out = a;
    for (t, &p) in partner.iter().enumerate() {
        if p {
            out[t * d..(t + 1) * d].copy_from_slice(&b[t * d..(t + 1) * d]);
        }
    }
    layout.unpatchify(&out)
}

/// Draws the rows under `title`, with `legend` wrapped underneath; `partner` marks the cells
/// (of `layout`'s grid) the mixed samples take from their partner.
pub fn draw_pairs(
    rows: &[PairRow],
    layout: &PatchLayout,
    partner: &[bool],
    denorm: &Denormalize,
    title: &str,
    legend: &[String],
) -> Canvas {
    let size = layout.img;
    let scale = 96usize.div_ceil(size).max(1);
    let panel = size * scale;
    let col_w = COLUMNS
        .iter()
        .map(|t| text_width(t, 1))
        .max()
        .unwrap_or(0)
        .max(panel);
    let width = (2 * MARGIN + 6 * col_w + 5 * GAP).max(text_width(title, 2) + 2 * MARGIN);
    let max_chars = (width - 2 * MARGIN) / ADVANCE;
    let legend: Vec<String> = legend.iter().flat_map(|l| wrap(l, max_chars)).collect();
    let header = MARGIN + 2 * GLYPH_H + 10 + GLYPH_H + 8;
    let height = header + rows.len() * (panel + GAP) + legend.len() * LINE + MARGIN + 4;
    let mut c = Canvas::new(width, height, WHITE);
    c.text(MARGIN as i64, MARGIN as i64, title, 2, TEXT);
    let col_y = MARGIN + 2 * GLYPH_H + 10;
    for (k, t) in COLUMNS.iter().enumerate() {
        let x = MARGIN + k * (col_w + GAP) + (col_w - text_width(t, 1)) / 2;
        c.text(x as i64, col_y as i64, t, 1, TEXT);
    }
    let cell = layout.patch * scale;
    for (r, row) in rows.iter().enumerate() {
        let y = header + r * (panel + GAP);
        let pictures = [
            &row.a,
            &row.b,
            &row.a_mixed,
            &row.b_mixed,
            &row.a_rebuilt,
            &row.b_rebuilt,
        ];
        for (k, img) in pictures.iter().enumerate() {
            let x = MARGIN + k * (col_w + GAP) + (col_w - panel) / 2;
            blit(
                &mut c,
                x as i64,
                y as i64,
                &denorm.to_rgb(img, size),
                size,
                scale,
            );
            if k == 2 || k == 3 {
                for (t, _) in partner.iter().enumerate().filter(|(_, &p)| p) {
                    let (gi, gj) = (t / layout.grid(), t % layout.grid());
                    let (cx, cy) = ((x + gj * cell) as i64, (y + gi * cell) as i64);
                    c.stroke_rect(cx, cy, cell, cell, PARTNER);
                }
            }
        }
    }
    let mut y = header + rows.len() * (panel + GAP) + 4;
    for line in &legend {
        c.text(MARGIN as i64, y as i64, line, 1, TEXT);
        y += LINE;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_swaps_whole_cells() {
        let layout = PatchLayout {
            channels: 1,
            img: 4,
            patch: 2,
        };
        let a = vec![1.0; 16];
        let b = vec![-1.0; 16];
        // Cells 1 (top right) and 2 (bottom left) from the partner.
        let m = mix(&layout, &a, &b, &[false, true, true, false]);
        let at = |r: usize, c: usize| m[r * 4 + c];
        assert_eq!((at(0, 0), at(1, 1)), (1.0, 1.0));
        assert_eq!((at(0, 2), at(1, 3)), (-1.0, -1.0));
        assert_eq!((at(2, 0), at(3, 1)), (-1.0, -1.0));
        assert_eq!((at(2, 2), at(3, 3)), (1.0, 1.0));
    }

    #[test]
    fn partner_cells_are_outlined_in_the_mixed_columns_only() {
        let layout = PatchLayout {
            channels: 1,
            img: 4,
            patch: 2,
        };
        let grey = vec![0.0; 16];
        let row = PairRow {
            a: grey.clone(),
            b: grey.clone(),
            a_mixed: grey.clone(),
            b_mixed: grey.clone(),
            a_rebuilt: grey.clone(),
            b_rebuilt: grey,
        };
        let denorm = Denormalize {
            mean: vec![0.5],
            std: vec![0.5],
        };
        let partner = [false, true, false, false];
        let c = draw_pairs(&[row], &layout, &partner, &denorm, "T", &["legend".into()]);
        let scale = 24; // 96 / 4
        let panel = 4 * scale;
        let col_w = panel.max(text_width("A mixed with B", 1));
        let header = MARGIN + 2 * GLYPH_H + 10 + GLYPH_H + 8;
        // Top-left corner of cell 1 (row 0, column 1) in picture column k.
        let corner = |k: usize| {
            let x = MARGIN + k * (col_w + GAP) + (col_w - panel) / 2 + 2 * scale;
            c.pixel(x, header)
        };
        assert_eq!(corner(2), PARTNER);
        assert_eq!(corner(3), PARTNER);
        assert_eq!(corner(0), [128, 128, 128]);
        assert_eq!(corner(4), [128, 128, 128]);
    }
}
