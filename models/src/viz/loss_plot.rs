//! `loss.png`: the training loss against the step, per step (light) and as a trailing mean
//! (dark), with a y label and a legend, epoch boundaries, marks where the run was resumed, and
//! the last step's loss and last epoch's mean printed as the console prints them.
use std::io;
use std::path::Path;

use super::canvas::{Canvas, Rgb, BLACK, WHITE};
use super::font::{text_width, GLYPH_H};
use crate::train::metrics::Row;

const W: usize = 760;
const H: usize = 440;
const LEFT: usize = 84;
const RIGHT: usize = 24;
const TOP: usize = 64;
const BOTTOM: usize = 76;
const RAW: Rgb = [176, 196, 222];
const SMOOTH: Rgb = [31, 78, 140];
const GRID: Rgb = [228, 228, 228];
const EPOCH: Rgb = [205, 205, 205];
const RESUME: Rgb = [214, 112, 24];
const TEXT: Rgb = [40, 40, 40];

/// What the plot marks besides the curve.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LossMarks {
    /// Epoch boundaries fall every this many steps (0: none drawn).
    pub steps_per_epoch: usize,
    /// Global steps at which the run was resumed.
    pub resumed_at: Vec<u64>,
}

/// A trailing mean over `window` values (shorter at the start).
pub fn moving_average(values: &[f32], window: usize) -> Vec<f64> {
    let window = window.max(1);
    let mut out = Vec::with_capacity(values.len());
    let mut sum = 0.0f64;
    for (i, &v) in values.iter().enumerate() {
        sum += v as f64;
        if i >= window {
            sum -= values[i - window] as f64;
        }
        out.push(sum / (i + 1).min(window) as f64);
    }
    out
}

/// A short decimal for an axis label.
fn label(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The mean loss of the last complete epoch and its 1-based number, as the console prints it.
fn last_epoch_mean(rows: &[Row], steps_per_epoch: usize) -> Option<(u64, f64)> {
    let spe = steps_per_epoch as u64;
    let last = rows.last()?.step;
    if spe == 0 || last < spe {
        return None;
    }
    let epochs = last / spe;
    let part: Vec<f64> = rows
        .iter()
        .filter(|r| r.step > (epochs - 1) * spe && r.step <= epochs * spe)
        .map(|r| r.loss as f64)
        .collect();
    (part.len() as u64 == spe).then(|| (epochs, part.iter().sum::<f64>() / part.len() as f64))
}

/// A dashed vertical line.
fn dashed(c: &mut Canvas, x: i64, y0: i64, y1: i64, colour: Rgb) {
    let mut y = y0;
    while y < y1 {
        c.line((x, y), (x, (y + 3).min(y1)), colour, 1);
        y += 7;
    }
}

/// Draws the plot of `rows` (empty rows give an empty frame with a note).
pub fn draw_loss_plot(rows: &[Row], marks: &LossMarks) -> Canvas {
    let mut c = Canvas::new(W, H, WHITE);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let title = "TRAINING LOSS (MSE ON MASKED PATCHES)";
    c.text(((W - text_width(title, 2)) / 2) as i64, 10, title, 2, TEXT);
    c.text(8, (TOP - 16) as i64, "LOSS", 1, TEXT);
    c.text(
        (LEFT + (pw - text_width("STEP", 2)) / 2) as i64,
        (H - BOTTOM + 24) as i64,
        "STEP",
        2,
        TEXT,
    );
    let losses: Vec<f32> = rows
        .iter()
        .map(|r| r.loss)
        .filter(|l| l.is_finite())
        .collect();
    if losses.is_empty() {
        c.stroke_rect(LEFT as i64, TOP as i64, pw, ph, BLACK);
        c.text(LEFT as i64 + 10, TOP as i64 + 10, "NO STEPS YET", 2, TEXT);
        return c;
    }
    let window = (losses.len() / 40).max(1);
    let smooth = moving_average(&losses, window);
    let lo = losses.iter().fold(f32::MAX, |a, &b| a.min(b)) as f64;
    let hi = losses.iter().fold(f32::MIN, |a, &b| a.max(b)) as f64;
    let pad = ((hi - lo) * 0.05).max(1e-6);
    let (lo, hi) = (lo - pad, hi + pad);
    let first = rows.first().map(|r| r.step).unwrap_or(1) as f64;
    let last = rows.last().map(|r| r.step).unwrap_or(1) as f64;
    let span = (last - first).max(1.0);
    let px = |step: f64| LEFT as i64 + ((step - first) / span * (pw - 1) as f64).round() as i64;
    let py = |v: f64| TOP as i64 + ((hi - v) / (hi - lo) * (ph - 1) as f64).round() as i64;
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let y = py(v);
        c.line((LEFT as i64, y), ((LEFT + pw - 1) as i64, y), GRID, 1);
        let t = label(v);
        let x = LEFT as i64 - 8 - text_width(&t, 1) as i64;
        c.text(x, y - (GLYPH_H / 2) as i64, &t, 1, TEXT);
    }
    // Epoch boundaries: a light line after each epoch, labelled at a readable spacing.
    let spe = marks.steps_per_epoch as u64;
    if let Some(epochs) = (last as u64).checked_div(spe) {
        let label_every = (epochs / 10).max(1);
        for e in 1..=epochs {
            let step = (e * spe) as f64;
            if step <= first || step > last {
                continue;
            }
            let x = px(step);
            if step < last {
                c.line((x, TOP as i64), (x, (TOP + ph - 1) as i64), EPOCH, 1);
            }
            if e % label_every == 0 {
                let t = format!("E{e}");
                c.text(x - text_width(&t, 1) as i64, TOP as i64 - 10, &t, 1, TEXT);
            }
        }
    }
    for step in [first, ((first + last) / 2.0).round(), last] {
        let t = format!("{step:.0}");
        let x = px(step) - (text_width(&t, 1) / 2) as i64;
        c.text(x, (TOP + ph + 8) as i64, &t, 1, TEXT);
    }
    let steps: Vec<f64> = rows
        .iter()
        .filter(|r| r.loss.is_finite())
        .map(|r| r.step as f64)
        .collect();
    for i in 1..losses.len() {
        let a = (px(steps[i - 1]), py(losses[i - 1] as f64));
        let b = (px(steps[i]), py(losses[i] as f64));
        c.line(a, b, RAW, 1);
    }
    for i in 1..smooth.len() {
        let a = (px(steps[i - 1]), py(smooth[i - 1]));
        let b = (px(steps[i]), py(smooth[i]));
        c.line(a, b, SMOOTH, 2);
    }
    if losses.len() == 1 {
        c.fill_rect(px(steps[0]) - 2, py(losses[0] as f64) - 2, 5, 5, SMOOTH);
    }
    for &r in &marks.resumed_at {
        // A resume after step r: the line sits between steps r and r + 1.
        let step = r as f64 + 0.5;
        if step > first && step < last {
            dashed(&mut c, px(step), TOP as i64, (TOP + ph) as i64, RESUME);
        }
    }
    c.stroke_rect(LEFT as i64, TOP as i64, pw, ph, BLACK);
    // The last values as the console prints them (the raw last step; the epoch's mean).
    let last_loss = rows
        .iter()
        .rev()
        .find(|r| r.loss.is_finite())
        .map(|r| r.loss);
    let mut last_text = format!("LAST STEP {:.4}", last_loss.unwrap_or(f32::NAN));
    if let Some((e, mean)) = last_epoch_mean(rows, marks.steps_per_epoch) {
        last_text += &format!("   EPOCH {e} MEAN {mean:.4}");
    }
    let x = (LEFT + pw) as i64 - 8 - text_width(&last_text, 1) as i64;
    c.text(x, TOP as i64 + 6, &last_text, 1, TEXT);
    // Legend under the axis.
    let y = (H - 18) as i64;
    let mut x = LEFT as i64;
    let key = |c: &mut Canvas, colour: Rgb, thick: usize, text: &str, x: &mut i64| {
        c.line((*x, y + 3), (*x + 18, y + 3), colour, thick);
        c.text(*x + 24, y, text, 1, TEXT);
        *x += 24 + text_width(text, 1) as i64 + 20;
    };
    key(&mut c, RAW, 1, "EACH STEP", &mut x);
    let smooth_text = if window == 1 {
        "SAME (ONE STEP)".to_string()
    } else {
        format!("MEAN OF THE LAST {window} STEPS")
    };
    key(&mut c, SMOOTH, 2, &smooth_text, &mut x);
    if spe > 0 {
        key(&mut c, EPOCH, 1, "EPOCH END (E1 = EPOCH 1)", &mut x);
    }
    if !marks.resumed_at.is_empty() {
        key(&mut c, RESUME, 1, "RESUMED", &mut x);
    }
    c
}

/// Draws and writes the plot.
pub fn write_loss_plot(rows: &[Row], marks: &LossMarks, path: &Path) -> io::Result<()> {
    draw_loss_plot(rows, marks).save_png(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_matches_direct_means() {
        let v = [4.0f32, 2.0, 6.0, 8.0, 1.0];
        let m = moving_average(&v, 3);
        assert_eq!(m, vec![4.0, 3.0, 4.0, 16.0 / 3.0, 5.0]);
        assert_eq!(moving_average(&v, 1), v.map(f64::from).to_vec());
    }

    #[test]
    fn a_falling_loss_is_drawn_from_upper_left_to_lower_right() {
        let rows: Vec<Row> = (1..=100u64)
            .map(|s| Row {
                step: s,
                epoch: s as f64 / 100.0,
                loss: 1.0 / s as f32 + 0.2,
                lr: 1e-3,
                images_per_s: 1.0,
                elapsed_s: s as f64,
            })
            .collect();
        let marks = LossMarks {
            steps_per_epoch: 25,
            resumed_at: vec![60],
        };
        let c = draw_loss_plot(&rows, &marks);
        let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        // Dark curve pixels in the left tenth sit higher than those in the right tenth.
        let mean_y = |x0: usize, x1: usize| {
            let ys: Vec<usize> = (TOP..TOP + ph)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .filter(|&(x, y)| c.pixel(x, y) == SMOOTH)
                .map(|(_, y)| y)
                .collect();
            assert!(!ys.is_empty());
            ys.iter().sum::<usize>() as f64 / ys.len() as f64
        };
        let left = mean_y(LEFT + 1, LEFT + pw / 10);
        let right = mean_y(LEFT + pw * 9 / 10, LEFT + pw - 1);
        assert!(left + 50.0 < right, "{left} vs {right}");
        assert_eq!(draw_loss_plot(&[], &marks).width, W);
        // Epoch ends (steps 25, 50, 75) and the resume after step 60 are drawn.
        let column = |step: f64, colour: Rgb| {
            let x = LEFT + ((step - 1.0) / 99.0 * (pw - 1) as f64).round() as usize;
            (TOP..TOP + ph).filter(|&y| c.pixel(x, y) == colour).count()
        };
        assert!(column(50.0, EPOCH) > ph / 4, "epoch line");
        assert!(column(60.5, RESUME) > ph / 4, "resume line");
        assert!(column(37.0, RESUME) == 0);
    }

    #[test]
    fn the_last_epoch_mean_is_the_consoles() {
        let rows: Vec<Row> = (1..=7u64)
            .map(|s| Row {
                step: s,
                epoch: s as f64 / 3.0,
                loss: s as f32,
                lr: 1e-3,
                images_per_s: 1.0,
                elapsed_s: s as f64,
            })
            .collect();
        // Epochs of 3 steps: epoch 2 is steps 4..=6, mean 5; step 7 starts epoch 3.
        assert_eq!(last_epoch_mean(&rows, 3), Some((2, 5.0)));
        assert_eq!(last_epoch_mean(&rows[..2], 3), None);
    }
}
