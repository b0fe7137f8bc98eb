//! An RGB8 picture to draw on: rectangles, lines, text in the built-in font, and PNG output.
use std::io;
use std::path::Path;

use super::font::{ink, ADVANCE, GLYPH_H, GLYPH_W};

pub type Rgb = [u8; 3];

pub const WHITE: Rgb = [255, 255, 255];
pub const BLACK: Rgb = [0, 0, 0];

/// Pixels, rows top to bottom, RGB interleaved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Canvas {
    pub fn new(width: usize, height: usize, background: Rgb) -> Self {
        let mut rgb = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            rgb.extend_from_slice(&background);
        }
        Canvas { width, height, rgb }
    }

    pub fn pixel(&self, x: usize, y: usize) -> Rgb {
        let i = 3 * (y * self.width + x);
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Sets a pixel; outside the canvas nothing happens (shapes may be clipped).
    pub fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return;
        }
        let i = 3 * (y as usize * self.width + x as usize);
        self.rgb[i..i + 3].copy_from_slice(&c);
    }

    pub fn fill_rect(&mut self, x: i64, y: i64, w: usize, h: usize, c: Rgb) {
        for yy in y..y + h as i64 {
            for xx in x..x + w as i64 {
                self.set(xx, yy, c);
            }
        }
    }

    /// A 1-pixel rectangle outline.
    pub fn stroke_rect(&mut self, x: i64, y: i64, w: usize, h: usize, c: Rgb) {
        let (w, h) = (w as i64, h as i64);
        for xx in x..x + w {
            self.set(xx, y, c);
            self.set(xx, y + h - 1, c);
        }
        for yy in y..y + h {
            self.set(x, yy, c);
            self.set(x + w - 1, yy, c);
        }
    }

    /// A straight line (Bresenham), `thick` pixels wide.
    pub fn line(&mut self, from: (i64, i64), to: (i64, i64), c: Rgb, thick: usize) {
        let (mut x0, mut y0) = from;
        let (x1, y1) = to;
        let dx = (x1 - x0).abs();
        let dy = -(y1 - y0).abs();
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let mut err = dx + dy;
        let r = thick as i64 / 2;
        loop {
            for oy in -r..=(thick as i64 - 1 - r) {
                for ox in -r..=(thick as i64 - 1 - r) {
                    self.set(x0 + ox, y0 + oy, c);
                }
            }
            if x0 == x1 && y0 == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x0 += sx;
            }
            if e2 <= dx {
                err += dx;
                y0 += sy;
            }
        }
    }

    /// Draws `text` with its top-left corner at (`x`, `y`), each font pixel `scale` wide.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: usize, c: Rgb) {
        for (i, ch) in text.chars().enumerate() {
            let gx = x + (i * ADVANCE * scale) as i64;
            for fy in 0..GLYPH_H {
                for fx in 0..GLYPH_W {
                    if ink(ch, fx, fy) {
                        let (px, py) = (gx + (fx * scale) as i64, y + (fy * scale) as i64);
                        self.fill_rect(px, py, scale, scale, c);
                    }
                }
            }
        }
    }

    /// Encodes the picture as PNG bytes.
    pub fn to_png(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let encoder = image::codecs::png::PngEncoder::new(&mut out);
        image::ImageEncoder::write_image(
            encoder,
            &self.rgb,
            self.width as u32,
            self.height as u32,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(io::Error::other)?;
        Ok(out)
    }

    /// Writes the picture as a PNG file (temp file + rename, so a reader never sees half).
    pub fn save_png(&self, path: &Path) -> io::Result<()> {
        let bytes = self.to_png()?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.partial"));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_clips_and_round_trips_through_png() {
        let mut c = Canvas::new(40, 20, WHITE);
        c.fill_rect(-5, -5, 10, 10, [10, 20, 30]);
        assert_eq!(c.pixel(0, 0), [10, 20, 30]);
        assert_eq!(c.pixel(5, 5), WHITE);
        c.line((0, 19), (39, 19), [200, 0, 0], 1);
        assert!((0..40).all(|x| c.pixel(x, 19) == [200, 0, 0]));
        c.line((10, 0), (20, 10), BLACK, 1);
        assert_eq!(c.pixel(15, 5), BLACK);
        c.text(20, 2, "T", 2, BLACK);
        // The top bar of `T` spans 10 pixels at scale 2; its stem is 2 wide in the middle.
        assert!((20..30).all(|x| c.pixel(x, 2) == BLACK));
        assert_eq!(c.pixel(24, 10), BLACK);
        assert_eq!(c.pixel(22, 12), WHITE);
        let png = c.to_png().unwrap();
        let back = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!((back.width(), back.height()), (40, 20));
        assert_eq!(back.as_raw(), &c.rgb);
    }
}
