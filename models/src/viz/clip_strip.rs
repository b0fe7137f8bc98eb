//! The clip reconstruction picture: per clip, four strips of its frames left to right — the
//! original, the masked input (removed tubes hatched, as in the image picture), the reconstruction, and the reconstruction
//! with the visible tubes pasted back — with a title and a legend underneath.
use super::canvas::{Canvas, Rgb, WHITE};
use super::clip_recon::{ClipRecon, TubeLayout};
use super::font::{text_width, ADVANCE, GLYPH_H};
use super::recon_grid::{blit, wrap};

const TEXT: Rgb = [30, 30, 30];
const MARGIN: usize = 12;
const GAP: usize = 4;
const CLIP_GAP: usize = 14;
const LINE: usize = 12;

/// Names of the four strips of a clip.
pub const STRIPS: [&str; 4] = ["original", "masked", "reconstruction", "+ visible"];

/// RGB pixels of frame `f` of a `[C, T, H, W]` clip in [0, 1] (`None` where a value is NaN,
/// a removed tube).
pub fn frame_rgb(clip: &[f32], layout: &TubeLayout, f: usize) -> Vec<Option<Rgb>> {
    let plane = layout.size * layout.size;
    let at = |ch: usize, p: usize| clip[(ch * layout.frames + f) * plane + p];
    let u = |x: f32| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
    (0..plane)
        .map(|p| {
            if (0..layout.channels).any(|ch| at(ch, p).is_nan()) {
                None
            } else if layout.channels == 1 {
                let g = u(at(0, p));
                Some([g, g, g])
            } else {
                Some([u(at(0, p)), u(at(1, p)), u(at(2, p))])
            }
        })
        .collect()
}

/// Draws `clips` under `title`, with `legend` lines underneath.
pub fn draw_clip_strips(
    clips: &[ClipRecon],
    layout: &TubeLayout,
    title: &str,
    legend: &[String],
) -> Canvas {
    let scale = 96usize.div_ceil(layout.size).max(1);
    let panel = layout.size * scale;
    let label_w = STRIPS.iter().map(|s| text_width(s, 1)).max().unwrap_or(0) + 8;
    let frames_w = layout.frames * panel + (layout.frames - 1) * GAP;
    let width = (2 * MARGIN + label_w + frames_w).max(text_width(title, 2) + 2 * MARGIN);
    let max_chars = (width - 2 * MARGIN) / ADVANCE;
    let lines: Vec<String> = legend.iter().flat_map(|l| wrap(l, max_chars)).collect();
    let header = MARGIN + 2 * GLYPH_H + 12;
    let block = 4 * panel + 3 * GAP;
    let height = header + clips.len() * (block + CLIP_GAP) + lines.len() * LINE + MARGIN + GLYPH_H;
    let mut c = Canvas::new(width, height, WHITE);
    c.text(MARGIN as i64, MARGIN as i64, title, 2, TEXT);
    for (k, clip) in clips.iter().enumerate() {
        let y0 = header + k * (block + CLIP_GAP);
        let strips = [
            &clip.original,
            &clip.masked,
            &clip.reconstruction,
            &clip.pasted,
        ];
        for (r, (name, pixels)) in STRIPS.iter().zip(strips).enumerate() {
            let y = y0 + r * (panel + GAP);
            let ty = y + (panel - GLYPH_H) / 2;
            c.text(MARGIN as i64, ty as i64, name, 1, TEXT);
            for f in 0..layout.frames {
                let x = MARGIN + label_w + f * (panel + GAP);
                let rgb = frame_rgb(pixels, layout, f);
                blit(&mut c, x as i64, y as i64, &rgb, layout.size, scale);
            }
        }
    }
    let mut y = header + clips.len() * (block + CLIP_GAP);
    for line in &lines {
        c.text(MARGIN as i64, y as i64, line, 1, TEXT);
        y += LINE;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viz::clip_recon::reconstruct_clip;
    use crate::viz::recon_grid::HATCH;

    #[test]
    fn strips_show_frames_left_to_right_and_hatched_removed_tubes() {
        let layout = TubeLayout {
            channels: 3,
            frames: 2,
            size: 4,
            patch: 2,
            tubelet: 2,
        };
        // Frame 0 black, frame 1 white (normalised with mean 0.5, std 0.5).
        let plane = 16;
        let clip: Vec<f32> = (0..3 * 2 * plane)
            .map(|i| if (i / plane) % 2 == 0 { -1.0 } else { 1.0 })
            .collect();
        let (mean, std) = ([0.5; 3], [0.5; 3]);
        let mask = [1.0, 0.0, 0.0, 0.0];
        let pred = vec![0.5f32; 4 * layout.tube_dim()];
        let r = reconstruct_clip(&layout, &clip, &mean, &std, &pred, &mask, false);
        let c = draw_clip_strips(&[r], &layout, "T", &["legend".into()]);
        let scale = 24;
        let panel = 4 * scale;
        let label_w = STRIPS.iter().map(|s| text_width(s, 1)).max().unwrap() + 8;
        let header = MARGIN + 2 * GLYPH_H + 12;
        let at = |strip: usize, frame: usize, px: usize, py: usize| {
            let x = MARGIN + label_w + frame * (panel + GAP) + px * scale + scale / 2;
            let y = header + strip * (panel + GAP) + py * scale + scale / 2;
            c.pixel(x, y)
        };
        assert_eq!(at(0, 0, 1, 1), [0, 0, 0]);
        assert_eq!(at(0, 1, 1, 1), [255, 255, 255]);
        // Token 0 (top-left tube, both frames) is removed; token 1 (top right) is kept.
        assert!(HATCH.contains(&at(1, 0, 0, 0)));
        assert!(HATCH.contains(&at(1, 1, 0, 0)));
        assert_eq!(at(1, 1, 3, 0), [255, 255, 255]);
        // The reconstruction is 0.5 everywhere; pasting keeps the visible tubes.
        assert_eq!(at(2, 1, 3, 3), [128, 128, 128]);
        assert_eq!(at(3, 0, 0, 0), [128, 128, 128]);
        assert_eq!(at(3, 0, 3, 3), [0, 0, 0]);
    }
}
