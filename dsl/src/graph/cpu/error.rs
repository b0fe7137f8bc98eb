//! What a CPU kernel can fail with. Shapes were checked when the graph was built, so only the
//! values the host writes each step (indices) and a broken plan remain.
use alloc::string::String;
use core::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelError {
    /// An index input holds a value outside the table it indexes.
    IndexOutOfRange {
        op: &'static str,
        index: u32,
        len: usize,
    },
    /// The plan breaks what a kernel relies on (overlapping operands, too many of them).
    Plan(String),
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::IndexOutOfRange { op, index, len } => {
                write!(f, "{op}: index {index} out of range 0..{len}")
            }
            KernelError::Plan(m) => write!(f, "invalid plan: {m}"),
        }
    }
}

impl std::error::Error for KernelError {}

/// Fails with [`KernelError::IndexOutOfRange`] unless every index is below `len`.
pub(crate) fn check_indices(op: &'static str, idx: &[u32], len: usize) -> Result<(), KernelError> {
    match idx.iter().find(|&&i| i as usize >= len) {
        Some(&index) => Err(KernelError::IndexOutOfRange { op, index, len }),
        None => Ok(()),
    }
}
