//! M3AE's reconstruction picture: per pair, the four image columns of the MAE visualization
//! (original, masked, reconstruction, reconstruction with the visible patches pasted back)
//! and under them the caption with its masked word pieces in brackets, then each masked piece
//! with the model's prediction — green where it is right, red where it is wrong.
use crate::viz::canvas::{Canvas, Rgb, WHITE};
use crate::viz::font::{text_width, ADVANCE, GLYPH_H};
use crate::viz::recon_grid::blit;
use crate::viz::{Denormalize, ReconRow};

const TEXT: Rgb = [30, 30, 30];
const RIGHT: Rgb = [20, 130, 40];
const WRONG: Rgb = [190, 30, 30];
const MASKED: Rgb = [90, 90, 200];
const MARGIN: usize = 12;
const GAP: usize = 10;
const LINE: usize = GLYPH_H + 5;

/// One caption position: its piece, whether masking removed it, and (if removed and not
/// padding) the model's arg-max piece.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    pub piece: String,
    pub masked: bool,
    pub predicted: Option<String>,
}

/// A coloured run of text.
type Run = (String, Rgb);
/// Runs laid out in lines.
type Lines = Vec<Vec<Run>>;

/// Lays `runs` out in lines no wider than `width` pixels, breaking between runs.
fn lines(runs: &[Run], width: usize) -> Lines {
    let mut out: Lines = vec![Vec::new()];
    let mut used = 0;
    for (text, c) in runs {
        let w = text_width(text, 1) + ADVANCE;
        if used > 0 && used + w > width {
            out.push(Vec::new());
            used = 0;
        }
        out.last_mut()
            .expect("never empty")
            .push((text.clone(), *c));
        used += w;
    }
    out
}

/// The caption (`[masked]` pieces marked) and the guesses (`truth>guess`).
fn caption_runs(pieces: &[Piece]) -> (Vec<Run>, Vec<Run>) {
    let mut caption: Vec<Run> = vec![("caption:".into(), TEXT)];
    let mut guesses: Vec<Run> = vec![("masked > predicted:".into(), TEXT)];
    for p in pieces {
        if p.masked {
            caption.push((format!("[{}]", p.piece), MASKED));
        } else {
            caption.push((p.piece.clone(), TEXT));
        }
        if let Some(g) = &p.predicted {
            let colour = if *g == p.piece { RIGHT } else { WRONG };
            guesses.push((format!("{}>{g}", p.piece), colour));
        }
    }
    if guesses.len() == 1 {
        guesses.push(("(no masked word)".into(), TEXT));
    }
    (caption, guesses)
}

/// The picture of `rows` (images `size` px, drawn `scale` times larger).
pub fn draw(
    title: &str,
    rows: &[(ReconRow, Vec<Piece>)],
    denorm: &Denormalize,
    size: usize,
    scale: usize,
) -> Canvas {
    let cell = size * scale;
    let width = 2 * MARGIN + 4 * cell + 3 * GAP;
    let text_w = width - 2 * MARGIN;
    let laid: Vec<(Lines, Lines)> = rows
        .iter()
        .map(|(_, pieces)| {
            let (c, g) = caption_runs(pieces);
            (lines(&c, text_w), lines(&g, text_w))
        })
        .collect();
    let columns = ["original", "masked", "reconstruction", "+ visible"];
    let mut height = MARGIN + 2 * LINE;
    for (c, g) in &laid {
        height += cell + 4 + (c.len() + g.len()) * LINE + GAP;
    }
    height += MARGIN;
    let mut canvas = Canvas::new(width, height, WHITE);
    canvas.text(MARGIN as i64, MARGIN as i64, title, 1, TEXT);
    for (i, name) in columns.iter().enumerate() {
        let x = MARGIN + i * (cell + GAP);
        canvas.text(x as i64, (MARGIN + LINE) as i64, name, 1, TEXT);
    }
    let mut y = MARGIN + 2 * LINE;
    for ((recon, _), (cap, guess)) in rows.iter().zip(&laid) {
        let pictures = [
            &recon.original,
            &recon.masked,
            &recon.reconstruction,
            &recon.pasted,
        ];
        for (i, img) in pictures.iter().enumerate() {
            let x = MARGIN + i * (cell + GAP);
            let rgb = denorm.to_rgb(img, size);
            blit(&mut canvas, x as i64, y as i64, &rgb, size, scale);
        }
        y += cell + 4;
        for line in cap.iter().chain(guess) {
            let mut x = MARGIN;
            for (text, c) in line {
                canvas.text(x as i64, y as i64, text, 1, *c);
                x += text_width(text, 1) + ADVANCE;
            }
            y += LINE;
        }
        y += GAP;
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_pieces_are_bracketed_and_guesses_coloured_by_correctness() {
        let p = |piece: &str, masked: bool, predicted: Option<&str>| Piece {
            piece: piece.into(),
            masked,
            predicted: predicted.map(Into::into),
        };
        let (cap, guess) = caption_runs(&[
            p("red", false, None),
            p("apple", true, Some("apple")),
            p("tree", true, Some("cat")),
        ]);
        let words: Vec<&str> = cap.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(words, ["caption:", "red", "[apple]", "[tree]"]);
        assert_eq!(guess[1], ("apple>apple".to_string(), RIGHT));
        assert_eq!(guess[2], ("tree>cat".to_string(), WRONG));
        // A narrow width breaks between runs, never inside one.
        let l = lines(&cap, text_width("caption:", 1) + ADVANCE + 1);
        assert_eq!(l.len(), 4);
    }
}
