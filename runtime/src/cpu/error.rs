//! Errors of the CPU backend.
use thiserror::Error;

/// What can go wrong when setting up or running a plan on the CPU.
#[derive(Debug, Error, PartialEq)]
pub enum CpuError {
    #[error("no tensor named {0:?} in the plan")]
    UnknownName(String),
    #[error("{name}: expected {expected} values, got {got}")]
    WrongLength {
        name: String,
        expected: usize,
        got: usize,
    },
    #[error("{name} is a {found}, not a {wanted}")]
    WrongKind {
        name: String,
        found: &'static str,
        wanted: &'static str,
    },
    #[error("node {0} is not readable in this plan (request it as an output of compile)")]
    NotReadable(u32),
    #[error("{op}: index {index} out of range 0..{len}")]
    IndexOutOfRange {
        op: &'static str,
        index: u32,
        len: usize,
    },
    #[error("invalid plan: {0}")]
    Plan(String),
}
