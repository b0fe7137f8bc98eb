//! Pictures of masks (`tessera mask --png`): a title, a colour key, then rows of tiles under
//! their labels. Each tile is one mask (one sample, one time slice, one stage), each token an
//! enlarged square with 1 px separator lines; where the strategy works in blocks (UM-MAE's
//! 2x2 sampling cells) the block borders are drawn darker, so the rule can be seen.
use std::path::{Path, PathBuf};

use tessera_models::viz::canvas::{Canvas, Rgb};
use tessera_models::viz::font::{text_width, GLYPH_H};

/// What a token of a mask is, which decides its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Seen by the encoder (mask 0). Light.
    Visible,
    /// Removed (mask 1). Dark.
    Removed,
    /// Kept but shown to the encoder only as the shared mask token (UM-MAE secondary masking).
    Hidden,
    /// Taken from image number `k` of the batch (MixMIM's mixed input).
    Source(usize),
}

const VISIBLE: Rgb = [0xf2, 0xe8, 0xcf];
const REMOVED: Rgb = [0x2b, 0x2d, 0x42];
const HIDDEN: Rgb = [0xe0, 0x7a, 0x1f];
/// One colour per source image of a mixed batch (cycled past the end).
const SOURCES: [Rgb; 6] = [
    [0xe0, 0x7a, 0x1f],
    [0x2a, 0x9d, 0x8f],
    [0x6a, 0x4c, 0x93],
    [0x8a, 0xb1, 0x7d],
    [0xc0, 0x39, 0x2b],
    [0x45, 0x7b, 0x9d],
];
const SEPARATOR: Rgb = [0x8d, 0x99, 0xae];
/// Borders of the cells a strategy samples in: a colour no cell has, visible against both
/// light and dark cells.
pub const BLOCK_LINE: Rgb = [0x1e, 0x78, 0xff];
const BACKGROUND: Rgb = [0xff, 0xff, 0xff];
const TEXT: Rgb = [0x20, 0x20, 0x20];

/// Pixels between tiles and around the picture.
pub const GUTTER: usize = 8;
/// Height of the title line (2x text) and the colour key line, with their spacing: the first
/// row's label starts this far from the top.
pub const HEADER_H: usize = GUTTER + 2 * GLYPH_H + 8 + GLYPH_H + 10;
/// Height of a tile's caption line, above the tile.
pub const CAPTION_H: usize = GLYPH_H + 5;

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
    /// Words above the tile (`sample 0`, `frames 2-3`, `stage 1 28x28`).
    pub caption: String,
    /// Darker lines every `block` cells (1: none).
    pub block: usize,
}

impl Tile {
    /// Pixel size (height, width) of the grid: every cell plus a separator line on each side.
    pub fn size(&self) -> (usize, usize) {
        (
            self.h * (self.cell_px + 1) + 1,
            self.w * (self.cell_px + 1) + 1,
        )
    }
}

/// A row of tiles, with an optional label line above their captions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Row {
    pub label: Option<String>,
    pub tiles: Vec<Tile>,
}

/// The words of a picture: the title, the colour key and a note.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub title: String,
    /// `(colour, meaning)` in the order shown ([`colour`] of a cell, or [`BLOCK_LINE`]).
    pub key: Vec<(Rgb, String)>,
    /// Words after the key, without a swatch.
    pub note: Option<String>,
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
}

/// The colour of a cell.
pub fn colour(cell: Cell) -> Rgb {
    match cell {
        Cell::Visible => VISIBLE,
        Cell::Removed => REMOVED,
        Cell::Hidden => HIDDEN,
        Cell::Source(k) => SOURCES[k % SOURCES.len()],
    }
}

/// A cell size that keeps a tile of `side` cells around 320 px, within 4..=16 px per cell.
pub fn cell_px_for(side: usize) -> usize {
    (320 / side.max(1)).clamp(4, 16)
}

/// Where the tile `col` of row `row` starts (its grid's top-left pixel), for rows of tiles of
/// `tile_h` x `tile_w` pixels without row labels.
pub fn tile_origin(row: usize, col: usize, tile_h: usize, tile_w: usize) -> (usize, usize) {
    (
        GUTTER + col * (tile_w + GUTTER),
        HEADER_H + row * (CAPTION_H + tile_h + GUTTER) + CAPTION_H,
    )
}

fn row_label_h(row: &Row) -> usize {
    if row.label.is_some() {
        GLYPH_H + 6
    } else {
        0
    }
}

/// Lays out the header and the rows (each row left to right, rows top to bottom).
pub fn compose(header: &Header, rows: &[Row]) -> Result<Canvas, MaskPngError> {
    for t in rows.iter().flat_map(|r| &r.tiles) {
        if t.cells.len() != t.h * t.w {
            return Err(MaskPngError::TileCells {
                h: t.h,
                w: t.w,
                got: t.cells.len(),
            });
        }
    }
    let tile_h = |r: &Row| r.tiles.iter().map(|t| t.size().0).max().unwrap_or(0);
    let row_w = |r: &Row| {
        let tiles: usize = r
            .tiles
            .iter()
            .map(|t| t.size().1.max(text_width(&t.caption, 1)) + GUTTER)
            .sum();
        let label = r.label.as_ref().map_or(0, |l| text_width(l, 1) + GUTTER);
        (tiles + GUTTER).max(label + GUTTER)
    };
    let key_w: usize = header
        .key
        .iter()
        .map(|(_, t)| 12 + 6 + text_width(t, 1) + 16)
        .sum::<usize>()
        + header.note.as_ref().map_or(0, |n| text_width(n, 1));
    let width = rows
        .iter()
        .map(row_w)
        .chain([
            text_width(&header.title, 2) + 2 * GUTTER,
            key_w + 2 * GUTTER,
        ])
        .max()
        .unwrap_or(GUTTER);
    let height = HEADER_H
        + rows
            .iter()
            .map(|r| row_label_h(r) + CAPTION_H + tile_h(r) + GUTTER)
            .sum::<usize>();
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(MaskPngError::TooLarge { width, height });
    }
    let mut c = Canvas::new(width, height, BACKGROUND);
    c.text(GUTTER as i64, GUTTER as i64, &header.title, 2, TEXT);
    let mut x = GUTTER as i64;
    let key_y = (GUTTER + 2 * GLYPH_H + 8) as i64;
    for (swatch, text) in &header.key {
        c.fill_rect(x, key_y - 1, 12, GLYPH_H + 2, *swatch);
        c.stroke_rect(x, key_y - 1, 12, GLYPH_H + 2, SEPARATOR);
        c.text(x + 18, key_y, text, 1, TEXT);
        x += (12 + 6 + text_width(text, 1) + 16) as i64;
    }
    if let Some(note) = &header.note {
        c.text(x, key_y, note, 1, TEXT);
    }
    let mut y0 = HEADER_H;
    for row in rows {
        if let Some(label) = &row.label {
            c.text(GUTTER as i64, y0 as i64, label, 1, TEXT);
        }
        let top = y0 + row_label_h(row);
        let mut x0 = GUTTER;
        for tile in &row.tiles {
            c.text(x0 as i64, top as i64, &tile.caption, 1, TEXT);
            draw(&mut c, x0, top + CAPTION_H, tile);
            x0 += tile.size().1.max(text_width(&tile.caption, 1)) + GUTTER;
        }
        y0 = top + CAPTION_H + tile_h(row) + GUTTER;
    }
    Ok(c)
}

fn draw(c: &mut Canvas, x0: usize, y0: usize, tile: &Tile) {
    let (th, tw) = tile.size();
    let step = tile.cell_px + 1;
    let block = tile.block.max(1) * step;
    for dy in 0..th {
        for dx in 0..tw {
            // Lines sit on multiples of `step`; block borders on multiples of `block`.
            let on_block = (tile.block > 1) && (dy % block == 0 || dx % block == 0);
            let colour = if on_block {
                BLOCK_LINE
            } else if dy % step == 0 || dx % step == 0 {
                SEPARATOR
            } else {
                colour(tile.cells[(dy / step) * tile.w + dx / step])
            };
            c.set((x0 + dx) as i64, (y0 + dy) as i64, colour);
        }
    }
}

/// Writes `picture` as an 8-bit RGB PNG at `path` (atomically).
pub fn write_png(path: &Path, picture: &Canvas) -> Result<(), MaskPngError> {
    picture.save_png(path).map_err(|source| MaskPngError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(h: usize, w: usize, cells: Vec<Cell>, block: usize) -> Tile {
        Tile {
            h,
            w,
            cell_px: 4,
            cells,
            caption: "s".into(),
            block,
        }
    }

    #[test]
    fn cells_land_where_the_layout_says() {
        let t = tile(
            2,
            3,
            vec![
                Cell::Visible,
                Cell::Removed,
                Cell::Hidden,
                Cell::Removed,
                Cell::Visible,
                Cell::Source(1),
            ],
            1,
        );
        assert_eq!(t.size(), (11, 16));
        let rows = [
            Row {
                label: None,
                tiles: vec![t.clone(), t.clone()],
            },
            Row {
                label: None,
                tiles: vec![t],
            },
        ];
        let header = Header {
            title: "T".into(),
            key: vec![(colour(Cell::Removed), "removed".into())],
            note: Some("a note".into()),
        };
        let p = compose(&header, &rows).unwrap();
        let (tw, th) = (16, 11);
        // Centre of cell (r, c) of a tile: origin + 5c + 3, origin + 5r + 3.
        let at = |row: usize, col: usize, r: usize, c: usize| {
            let (x, y) = tile_origin(row, col, th, tw);
            p.pixel(x + 5 * c + 3, y + 5 * r + 3)
        };
        assert_eq!(at(0, 0, 0, 0), VISIBLE);
        assert_eq!(at(0, 0, 0, 1), REMOVED);
        assert_eq!(at(0, 0, 0, 2), HIDDEN);
        assert_eq!(at(0, 1, 1, 2), SOURCES[1]);
        assert_eq!(at(1, 0, 1, 0), REMOVED);
        let (x, y) = tile_origin(0, 0, th, tw);
        assert_eq!(p.pixel(x + 5, y + 2), SEPARATOR);
        assert_eq!(p.pixel(0, p.height - 1), BACKGROUND);
        // The title is drawn in text colour somewhere in the header.
        assert!((0..HEADER_H).any(|y| (0..p.width).any(|x| p.pixel(x, y) == TEXT)));
    }

    #[test]
    fn block_borders_are_drawn_every_block_cells() {
        let t = tile(4, 4, vec![Cell::Visible; 16], 2);
        let p = compose(
            &Header::default(),
            &[Row {
                label: None,
                tiles: vec![t],
            }],
        )
        .unwrap();
        let (x, y) = tile_origin(0, 0, 21, 21);
        // Column 10 (between cells 1 and 2) is a block border; column 5 a plain separator.
        assert_eq!(p.pixel(x + 10, y + 3), BLOCK_LINE);
        assert_eq!(p.pixel(x + 5, y + 3), SEPARATOR);
    }

    #[test]
    fn refuses_wrong_cell_counts_and_huge_pictures() {
        let bad = tile(2, 2, vec![Cell::Visible; 3], 1);
        let row = |t| Row {
            label: None,
            tiles: vec![t],
        };
        assert!(matches!(
            compose(&Header::default(), &[row(bad)]),
            Err(MaskPngError::TileCells { got: 3, .. })
        ));
        let huge = tile(1, 5000, vec![Cell::Visible; 5000], 1);
        assert!(matches!(
            compose(&Header::default(), &[row(huge)]),
            Err(MaskPngError::TooLarge { .. })
        ));
    }
}
