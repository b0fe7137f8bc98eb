//! Errors of the linear probe.

/// Bad probe input: shapes, labels or values that make the fit meaningless.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{what}: {rows} x {dim} features need {} values, got {got}", rows * dim)]
    Shape {
        what: &'static str,
        rows: usize,
        dim: usize,
        got: usize,
    },
    #[error("{what}: {features} feature rows but {labels} labels")]
    Count {
        what: &'static str,
        features: usize,
        labels: usize,
    },
    #[error("{what}: label {label} at row {row} is outside 0..{classes}")]
    Label {
        what: &'static str,
        row: usize,
        label: u32,
        classes: usize,
    },
    #[error("{what}: feature {col} of row {row} is {value}; features must be finite")]
    NonFinite {
        what: &'static str,
        row: usize,
        col: usize,
        value: f32,
    },
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("bad probe setting: {0}")]
    Config(String),
    #[error("the optimizer produced a non-finite loss after {iterations} iterations")]
    Diverged { iterations: usize },
}
