//! `log.txt`, as the official MAE scripts write it beside their checkpoints: one JSON object per
//! finished epoch, `{"train_lr": ..., "train_loss": ..., "epoch": ...}`, with the epoch's mean
//! learning rate and mean loss (the official `MetricLogger` global averages) and the 0-based
//! epoch, in Python's `json.dumps` spelling, so tools written for the official logs read ours.
//! It is derived from the per-step rows of `metrics.csv`, so it always agrees with them (and
//! with the checkpoint after a resume).
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use super::metrics::Row;

/// File name of the per-epoch log in a run folder.
pub const LOG_FILE: &str = "log.txt";

/// The lines of every complete epoch of `rows` (`steps_per_epoch` steps each).
pub fn render(rows: &[Row], steps_per_epoch: usize) -> String {
    let spe = steps_per_epoch.max(1) as u64;
    let mut out = String::new();
    let mut epoch = 0u64;
    loop {
        let (first, last) = (epoch * spe + 1, (epoch + 1) * spe);
        let part: Vec<&Row> = rows
            .iter()
            .filter(|r| (first..=last).contains(&r.step))
            .collect();
        if part.len() as u64 != spe {
            break;
        }
        let n = part.len() as f64;
        let lr = part.iter().map(|r| r.lr).sum::<f64>() / n;
        let loss = part.iter().map(|r| r.loss as f64).sum::<f64>() / n;
        let _ = writeln!(
            out,
            "{{\"train_lr\": {}, \"train_loss\": {}, \"epoch\": {epoch}}}",
            python_float(lr),
            python_float(loss)
        );
        epoch += 1;
    }
    out
}

/// Writes the log of `rows` to `path` (temp file + rename).
pub fn write(rows: &[Row], steps_per_epoch: usize, path: &Path) -> io::Result<()> {
    let tmp = path.with_extension("txt.partial");
    fs::write(&tmp, render(rows, steps_per_epoch))?;
    fs::rename(&tmp, path)
}

/// `repr(x)` of a Python float: the shortest digits that read back to `x`, positional for
/// exponents from -4 to 15, otherwise `d.ddde-05` (at least two exponent digits).
pub fn python_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. `1.5e-5` or `2e0`.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    if (-4..16).contains(&exp) {
        let mut s = format!("{x}");
        if !s.contains('.') {
            s.push_str(".0");
        }
        s
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_spelled_as_python_repr() {
        for (x, py) in [
            (0.5, "0.5"),
            (1.0, "1.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (0.000123456789, "0.000123456789"),
            (3.0e-7, "3e-07"),
            (123456.0, "123456.0"),
            (1e16, "1e+16"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-2.5e-9, "-2.5e-09"),
        ] {
            assert_eq!(python_float(x), py, "{x}");
        }
    }

    #[test]
    fn one_line_per_complete_epoch_with_means() {
        let row = |step: u64, loss: f32, lr: f64| Row {
            step,
            epoch: step as f64 / 2.0,
            loss,
            lr,
            images_per_s: 1.0,
            elapsed_s: 1.0,
        };
        let rows = [
            row(1, 1.0, 0.0),
            row(2, 0.5, 1e-3),
            row(3, 0.25, 1e-3),
            row(4, 0.25, 5e-4),
            row(5, 0.1, 1e-4),
        ];
        assert_eq!(
            render(&rows, 2),
            "{\"train_lr\": 0.0005, \"train_loss\": 0.75, \"epoch\": 0}\n\
             {\"train_lr\": 0.00075, \"train_loss\": 0.25, \"epoch\": 1}\n"
        );
        // Every line is JSON a tool can read.
        for line in render(&rows, 2).lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v["train_loss"].is_f64() && v["epoch"].is_u64());
        }
    }
}
