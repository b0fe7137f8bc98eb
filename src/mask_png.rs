//! Pictures of masks (`tessera mask --png`): one tile per mask, each token an enlarged square,
//! 1 px separator lines between tokens, tiles laid out in rows with a gutter between them.
use std::path::{Path, PathBuf};

/// What a token of a mask is, which decides its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Seen by the encoder (mask 0). Light.
    Visible,
    /// Removed (mask 1). Dark.
    Removed,
    /// Kept but shown to the encoder only as the shared mask token (UM-MAE secondary masking).
    Hidden,
}

const VISIBLE: [u8; 3] = [0xf2, 0xe8, 0xcf];
const REMOVED: [u8; 3] = [0x2b, 0x2d, 0x42];
const HIDDEN: [u8; 3] = [0xe0, 0x7a, 0x1f];
const SEPARATOR: [u8; 3] = [0x8d, 0x99, 0xae];
const BACKGROUND: [u8; 3] = [0xff, 0xff, 0xff];

/// Pixels between tiles.
pub const GUTTER: usize = 8;

/// Largest picture side we agree to write (a user asking for a 4096-sample picture gets an
/// error, not a gigabyte file).
pub const MAX_SIDE: usize = 16_384;

/// One mask drawn as an `h x w` grid of `cell_px`-pixel squares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tile {
    pub h: usize,
    pub w: usize,
    pub cell_px: usize,
    /// `h * w` cells in raster order.
    pub cells: Vec<Cell>,
}

impl Tile {
    /// Pixel size (height, width): every cell plus a separator line on each side.
    pub fn size(&self) -> (usize, usize) {
        (
            self.h * (self.cell_px + 1) + 1,
            self.w * (self.cell_px + 1) + 1,
        )
    }
}

/// An RGB8 picture, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Picture {
    /// The colour at (`x`, `y`).
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = 3 * (y * self.width + x);
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// Why a picture could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum MaskPngError {
    #[error(
        "the picture would be {width}x{height} pixels, over the {MAX_SIDE}-pixel limit; ask \
         for fewer samples or a smaller grid"
    )]
    TooLarge { width: usize, height: usize },
    #[error("a tile of {h}x{w} cells has {got} cells")]
    TileCells { h: usize, w: usize, got: usize },
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode {} as PNG: {source}", path.display())]
    Encode {
        path: PathBuf,
        source: png::EncodingError,
    },
}

/// The colour of a cell.
pub fn colour(cell: Cell) -> [u8; 3] {
    match cell {
        Cell::Visible => VISIBLE,
        Cell::Removed => REMOVED,
        Cell::Hidden => HIDDEN,
    }
}

/// A cell size that keeps a tile of `side` cells around 320 px, within 4..=16 px per cell.
pub fn cell_px_for(side: usize) -> usize {
    (320 / side.max(1)).clamp(4, 16)
}

/// Lays out `rows` of tiles (each row left to right, rows top to bottom, `GUTTER` px apart).
pub fn compose(rows: &[Vec<Tile>]) -> Result<Picture, MaskPngError> {
    for t in rows.iter().flatten() {
        if t.cells.len() != t.h * t.w {
            return Err(MaskPngError::TileCells {
                h: t.h,
                w: t.w,
                got: t.cells.len(),
            });
        }
    }
    let row_h: Vec<usize> = rows
        .iter()
        .map(|r| r.iter().map(|t| t.size().0).max().unwrap_or(0))
        .collect();
    let row_w: Vec<usize> = rows
        .iter()
        .map(|r| r.iter().map(|t| t.size().1 + GUTTER).sum::<usize>() + GUTTER)
        .collect();
    let width = row_w.iter().copied().max().unwrap_or(GUTTER);
    let height = row_h.iter().map(|h| h + GUTTER).sum::<usize>() + GUTTER;
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(MaskPngError::TooLarge { width, height });
    }
    let mut rgb: Vec<u8> = BACKGROUND
        .iter()
        .copied()
        .cycle()
        .take(3 * width * height)
        .collect();
    let mut y0 = GUTTER;
    for (row, h) in rows.iter().zip(&row_h) {
        let mut x0 = GUTTER;
        for tile in row {
            draw(&mut rgb, width, x0, y0, tile);
            x0 += tile.size().1 + GUTTER;
        }
        y0 += h + GUTTER;
    }
    Ok(Picture { width, height, rgb })
}

fn draw(rgb: &mut [u8], width: usize, x0: usize, y0: usize, tile: &Tile) {
    let (th, tw) = tile.size();
    let step = tile.cell_px + 1;
    for dy in 0..th {
        for dx in 0..tw {
            // Lines sit on multiples of `step`; everything else belongs to a cell.
            let c = if dy % step == 0 || dx % step == 0 {
                SEPARATOR
            } else {
                colour(tile.cells[(dy / step) * tile.w + dx / step])
            };
            let i = 3 * ((y0 + dy) * width + x0 + dx);
            rgb[i..i + 3].copy_from_slice(&c);
        }
    }
}

/// Writes `picture` as an 8-bit RGB PNG at `path`.
pub fn write_png(path: &Path, picture: &Picture) -> Result<(), MaskPngError> {
    let io = |source| MaskPngError::Io {
        path: path.to_path_buf(),
        source,
    };
    let encode = |source| MaskPngError::Encode {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut encoder = png::Encoder::new(
        std::io::BufWriter::new(file),
        picture.width as u32,
        picture.height as u32,
    );
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(encode)?;
    writer.write_image_data(&picture.rgb).map_err(encode)?;
    writer.finish().map_err(encode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_land_where_the_layout_says() {
        let tile = Tile {
            h: 2,
            w: 3,
            cell_px: 4,
            cells: vec![
                Cell::Visible,
                Cell::Removed,
                Cell::Hidden,
                Cell::Removed,
                Cell::Visible,
                Cell::Visible,
            ],
        };
        assert_eq!(tile.size(), (11, 16));
        let second = Tile {
            h: 1,
            w: 1,
            cell_px: 9,
            cells: vec![Cell::Hidden],
        };
        let p = compose(&[vec![tile.clone(), second], vec![tile]]).unwrap();
        assert_eq!(p.width, GUTTER + 16 + GUTTER + 11 + GUTTER);
        assert_eq!(p.height, GUTTER + 11 + GUTTER + 11 + GUTTER);
        // Centre of cell (r, c) of the first tile: x = 8 + 5c + 3, y = 8 + 5r + 3.
        let at = |r: usize, c: usize| p.pixel(GUTTER + 5 * c + 3, GUTTER + 5 * r + 3);
        assert_eq!(at(0, 0), VISIBLE);
        assert_eq!(at(0, 1), REMOVED);
        assert_eq!(at(0, 2), HIDDEN);
        assert_eq!(at(1, 0), REMOVED);
        assert_eq!(p.pixel(GUTTER + 5, GUTTER + 2), SEPARATOR);
        assert_eq!(p.pixel(GUTTER + 16 + GUTTER + 5, GUTTER + 5), HIDDEN);
        assert_eq!(p.pixel(0, 0), BACKGROUND);
        // Second row, cell (1, 2).
        assert_eq!(p.pixel(GUTTER + 13, GUTTER + 11 + GUTTER + 8), VISIBLE);
    }

    #[test]
    fn refuses_wrong_cell_counts_and_huge_pictures() {
        let bad = Tile {
            h: 2,
            w: 2,
            cell_px: 4,
            cells: vec![Cell::Visible; 3],
        };
        assert!(matches!(
            compose(&[vec![bad]]),
            Err(MaskPngError::TileCells { got: 3, .. })
        ));
        let huge = Tile {
            h: 1,
            w: 5000,
            cell_px: 4,
            cells: vec![Cell::Visible; 5000],
        };
        assert!(matches!(
            compose(&[vec![huge]]),
            Err(MaskPngError::TooLarge { .. })
        ));
    }
}
