//! `loss.png`: the training loss against the step, raw (light) and smoothed (dark), with axis
//! labels in the built-in font.
use std::io;
use std::path::Path;

use super::canvas::{Canvas, Rgb, BLACK, WHITE};
use super::font::{text_width, GLYPH_H};
use crate::train::metrics::Row;

const W: usize = 720;
const H: usize = 400;
const LEFT: usize = 84;
const RIGHT: usize = 24;
const TOP: usize = 44;
const BOTTOM: usize = 56;
const RAW: Rgb = [176, 196, 222];
const SMOOTH: Rgb = [31, 78, 140];
const GRID: Rgb = [228, 228, 228];
const TEXT: Rgb = [40, 40, 40];

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

/// Draws the plot of `rows` (empty rows give an empty frame with a note).
pub fn draw_loss_plot(rows: &[Row]) -> Canvas {
    let mut c = Canvas::new(W, H, WHITE);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let title = "TRAINING LOSS (MSE ON MASKED PATCHES)";
    c.text(((W - text_width(title, 2)) / 2) as i64, 12, title, 2, TEXT);
    c.text(
        (LEFT + (pw - text_width("STEP", 2)) / 2) as i64,
        (H - 20) as i64,
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
    let smooth = moving_average(&losses, (losses.len() / 40).max(1));
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
    c.stroke_rect(LEFT as i64, TOP as i64, pw, ph, BLACK);
    let last_text = format!("LAST {}", label(smooth[smooth.len() - 1]));
    let x = (LEFT + pw) as i64 - 8 - text_width(&last_text, 1) as i64;
    c.text(x, TOP as i64 + 6, &last_text, 1, TEXT);
    c
}

/// Draws and writes the plot.
pub fn write_loss_plot(rows: &[Row], path: &Path) -> io::Result<()> {
    draw_loss_plot(rows).save_png(path)
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
        let c = draw_loss_plot(&rows);
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
        assert_eq!(draw_loss_plot(&[]).width, W);
    }
}
