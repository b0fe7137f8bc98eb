//! `metrics.csv`: one row per optimizer step. The file is rewritten whole (atomically) at each
//! checkpoint, so after a crash or Ctrl-C it matches the checkpoint; a resumed run first drops
//! the rows past the step it resumes from.
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The header line.
pub const HEADER: &str = "step,epoch,loss,lr,images_per_s,elapsed_s";

/// One optimizer step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// 1-based global step.
    pub step: u64,
    /// Fractional epoch at the end of the step.
    pub epoch: f64,
    pub loss: f32,
    pub lr: f64,
    pub images_per_s: f64,
    /// Training seconds since the run began (summed over resumes).
    pub elapsed_s: f64,
}

/// The rows of a run and the file they go to.
#[derive(Clone, Debug)]
pub struct MetricsLog {
    path: PathBuf,
    rows: Vec<Row>,
}

impl MetricsLog {
    /// An empty log for a new run.
    pub fn new(path: &Path) -> Self {
        MetricsLog {
            path: path.to_path_buf(),
            rows: Vec::new(),
        }
    }

    /// The rows of an existing file up to and including `through_step` (a missing file gives
    /// none; unparsable lines are skipped: the file is a report, not state).
    pub fn resume(path: &Path, through_step: u64) -> Self {
        let rows = fs::read_to_string(path)
            .map(|text| parse(&text))
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.step <= through_step)
            .collect();
        MetricsLog {
            path: path.to_path_buf(),
            rows,
        }
    }

    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes every row (temp file + rename).
    pub fn write(&self) -> io::Result<()> {
        let mut text = String::with_capacity(48 * (self.rows.len() + 1));
        text.push_str(HEADER);
        text.push('\n');
        for r in &self.rows {
            let _ = writeln!(
                text,
                "{},{:.6},{:.6},{:.6e},{:.1},{:.2}",
                r.step, r.epoch, r.loss, r.lr, r.images_per_s, r.elapsed_s
            );
        }
        let tmp = self.path.with_extension("csv.partial");
        fs::write(&tmp, text)?;
        fs::rename(&tmp, &self.path)
    }
}

/// Parses the rows of a metrics file.
pub fn parse(text: &str) -> Vec<Row> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 6 {
                return None;
            }
            Some(Row {
                step: f[0].parse().ok()?,
                epoch: f[1].parse().ok()?,
                loss: f[2].parse().ok()?,
                lr: f[3].parse().ok()?,
                images_per_s: f[4].parse().ok()?,
                elapsed_s: f[5].parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_parses_and_truncates_on_resume() {
        let guard = tempfile::tempdir().unwrap();
        let dir = guard.path();
        let path = dir.join("metrics.csv");
        let mut log = MetricsLog::new(&path);
        for step in 1..=5u64 {
            log.push(Row {
                step,
                epoch: step as f64 / 4.0,
                loss: 1.0 / step as f32,
                lr: 1e-3 * step as f64,
                images_per_s: 100.0 + step as f64,
                elapsed_s: 0.5 * step as f64,
            });
        }
        log.write().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(HEADER));
        let back = parse(&text);
        assert_eq!(back.len(), 5);
        assert_eq!(back[2].step, 3);
        assert!((back[2].loss - 1.0 / 3.0).abs() < 1e-6);
        assert!((back[4].lr - 5e-3).abs() < 1e-9);
        let resumed = MetricsLog::resume(&path, 3);
        assert_eq!(
            resumed.rows().iter().map(|r| r.step).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(MetricsLog::resume(&dir.join("none.csv"), 3)
            .rows()
            .is_empty());
    }
}
