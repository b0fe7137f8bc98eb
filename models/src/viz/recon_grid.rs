//! The reconstruction picture: one row per image with the original, the masked input, the
//! reconstruction and the reconstruction with the visible patches pasted back, under column
//! titles, with a legend drawn underneath (so the picture explains itself when shared).
use super::canvas::{Canvas, Rgb, WHITE};
use super::font::{text_width, ADVANCE, GLYPH_H};
use super::recon::{PatchLayout, ReconRow};

/// Removed patches in the masked column are hatched with these two colours in diagonal
/// stripes: no image, grey or colour, looks like that, so a removed patch cannot be mistaken
/// for grey image content.
pub const HATCH: [Rgb; 2] = [[62, 92, 158], [156, 178, 222]];
/// Width of a hatch stripe in picture pixels.
pub const HATCH_STRIPE: usize = 3;
const TEXT: Rgb = [30, 30, 30];
const MARGIN: usize = 12;
const GAP: usize = 10;
const LINE: usize = 12;

/// The words on the picture.
#[derive(Clone, Debug, PartialEq)]
pub struct GridText {
    pub title: String,
    pub columns: [String; 4],
    /// Lines under the grid (wrapped to the picture's width).
    pub legend: Vec<String>,
}

/// How normalized values map back to pixels: `x * std + mean` per channel, in [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct Denormalize {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Denormalize {
    /// RGB pixels of a `[C, H, W]` image (1 channel is grey); `None` where a value is NaN
    /// (a removed patch).
    pub fn to_rgb(&self, img: &[f32], size: usize) -> Vec<Option<Rgb>> {
        let plane = size * size;
        let c = self.mean.len();
        (0..plane)
            .map(|p| {
                let v = |ch: usize| img[ch * plane + p] * self.std[ch] + self.mean[ch];
                if (0..c).any(|ch| img[ch * plane + p].is_nan()) {
                    return None;
                }
                let u = |x: f32| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
                Some(if c == 1 {
                    let g = u(v(0));
                    [g, g, g]
                } else {
                    [u(v(0)), u(v(1)), u(v(2))]
                })
            })
            .collect()
    }
}

/// The hatch colour at picture pixel (`x`, `y`).
pub fn hatch(x: i64, y: i64) -> Rgb {
    HATCH[((x + y).rem_euclid(2 * HATCH_STRIPE as i64) / HATCH_STRIPE as i64) as usize]
}

/// Draws `src` (`size x size`) enlarged `scale` times at (`x`, `y`), hatching missing pixels.
pub fn blit(c: &mut Canvas, x: i64, y: i64, src: &[Option<Rgb>], size: usize, scale: usize) {
    for sy in 0..size {
        for sx in 0..size {
            let (x0, y0) = (x + (sx * scale) as i64, y + (sy * scale) as i64);
            match src[sy * size + sx] {
                Some(colour) => c.fill_rect(x0, y0, scale, scale, colour),
                None => {
                    for dy in 0..scale as i64 {
                        for dx in 0..scale as i64 {
                            c.set(x0 + dx, y0 + dy, hatch(x0 + dx, y0 + dy));
                        }
                    }
                }
            }
        }
    }
}

/// Splits `text` into lines of at most `max_chars` characters at spaces.
pub fn wrap(text: &str, max_chars: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max_chars {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Draws the grid.
pub fn draw_recon_grid(
    rows: &[ReconRow],
    layout: &PatchLayout,
    denorm: &Denormalize,
    text: &GridText,
) -> Canvas {
    let size = layout.img;
    let scale = 112usize.div_ceil(size).max(1);
    let panel = size * scale;
    let col_w = text
        .columns
        .iter()
        .map(|t| text_width(t, 1))
        .max()
        .unwrap_or(0)
        .max(panel);
    let width = (2 * MARGIN + 4 * col_w + 3 * GAP).max(text_width(&text.title, 2) + 2 * MARGIN);
    let max_chars = (width - 2 * MARGIN) / ADVANCE;
    let legend: Vec<String> = text
        .legend
        .iter()
        .flat_map(|l| wrap(l, max_chars))
        .collect();
    let header = MARGIN + 2 * GLYPH_H + 10 + GLYPH_H + 8;
    let height = header + rows.len() * (panel + GAP) + legend.len() * LINE + MARGIN + 4;
    let mut c = Canvas::new(width, height, WHITE);
    c.text(MARGIN as i64, MARGIN as i64, &text.title, 2, TEXT);
    let col_y = MARGIN + 2 * GLYPH_H + 10;
    for (k, title) in text.columns.iter().enumerate() {
        let x0 = MARGIN + k * (col_w + GAP);
        let x = x0 + (col_w - text_width(title, 1)) / 2;
        c.text(x as i64, col_y as i64, title, 1, TEXT);
    }
    for (r, row) in rows.iter().enumerate() {
        let y = header + r * (panel + GAP);
        let pictures = [&row.original, &row.masked, &row.reconstruction, &row.pasted];
        for (k, img) in pictures.iter().enumerate() {
            let x = MARGIN + k * (col_w + GAP) + (col_w - panel) / 2;
            let rgb = denorm.to_rgb(img, size);
            blit(&mut c, x as i64, y as i64, &rgb, size, scale);
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
    use crate::viz::recon::reconstruct_one;

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(wrap("aa bb cc dd", 5), ["aa bb", "cc dd"]);
        assert_eq!(wrap("toolongword x", 4), ["toolongword", "x"]);
        assert!(wrap("   ", 10).is_empty());
    }

    #[test]
    fn panels_show_the_image_the_mask_and_the_prediction() {
        let layout = PatchLayout {
            channels: 1,
            img: 4,
            patch: 2,
        };
        // A left-dark, right-light image; a prediction of 0 (mid-grey after denormalizing).
        let img: Vec<f32> = (0..16)
            .map(|i| if i % 4 < 2 { -1.0 } else { 1.0 })
            .collect();
        let mask = [0.0, 1.0, 1.0, 0.0];
        let row = reconstruct_one(&layout, &img, &[0.0; 16], &mask, false);
        let denorm = Denormalize {
            mean: vec![0.5],
            std: vec![0.5],
        };
        let text = GridText {
            title: "T".into(),
            columns: ["A".into(), "B".into(), "C".into(), "D".into()],
            legend: vec!["legend".into()],
        };
        let c = draw_recon_grid(&[row], &layout, &denorm, &text);
        let scale = 28; // 112 / 4
        let panel = 4 * scale;
        let header = MARGIN + 2 * GLYPH_H + 10 + GLYPH_H + 8;
        let at = |col: usize, px: usize, py: usize| {
            let x = MARGIN + col * (panel + GAP) + px * scale + scale / 2;
            c.pixel(x, header + py * scale + scale / 2)
        };
        assert_eq!(at(0, 0, 0), [0, 0, 0]);
        assert_eq!(at(0, 3, 0), [255, 255, 255]);
        // Token 1 (top right) is removed: hatched in the masked column (both stripe colours
        // within one pixel's block), visible token 0 kept.
        assert!(HATCH.contains(&at(1, 3, 0)));
        let x0 = MARGIN + (panel + GAP) + 3 * scale;
        let block: Vec<Rgb> = (0..scale).map(|d| c.pixel(x0 + d, header)).collect();
        assert!(HATCH.iter().all(|h| block.contains(h)), "{block:?}");
        assert_eq!(at(1, 0, 0), [0, 0, 0]);
        // Prediction 0 is 0.5 after denormalizing; pasting keeps token 3 (bottom right).
        assert_eq!(at(2, 0, 0), [128, 128, 128]);
        assert_eq!(at(3, 3, 3), [255, 255, 255]);
        assert_eq!(at(3, 0, 3), [128, 128, 128]);
    }
}
