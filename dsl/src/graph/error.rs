//! Typed errors of graph construction, differentiation and planning.
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::NodeId;

/// Why a graph could not be built, differentiated or planned. `Display` names the op and the
/// shapes involved, so a shape error reads like `matmul: inner dimensions differ: a [2, 3] b [4, 5]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GraphError {
    /// The input shapes of `op` do not fit together.
    Shape {
        op: &'static str,
        shapes: Vec<Vec<usize>>,
        expected: String,
    },
    /// An input has the wrong element type (data vs. index).
    DType { op: &'static str, input: usize },
    /// A node id that does not belong to this graph.
    UnknownNode { op: &'static str, id: NodeId },
    /// Two leaves declared with the same name.
    DuplicateName(String),
    /// No leaf with this name.
    UnknownName(String),
    /// A scalar argument out of range (axis, window, patch size, ...).
    Argument { op: &'static str, message: String },
    /// `grad` met an op that has no vector-Jacobian rule (fused kernels, optimizer updates).
    NotDifferentiable { op: &'static str },
    /// The loss handed to `grad` is not a scalar.
    NonScalarLoss(Vec<usize>),
}

fn write_shapes(f: &mut fmt::Formatter<'_>, shapes: &[Vec<usize>]) -> fmt::Result {
    for (i, s) in shapes.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{s:?}")?;
    }
    Ok(())
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::Shape {
                op,
                shapes,
                expected,
            } => {
                write!(f, "{op}: {expected}; got shapes ")?;
                write_shapes(f, shapes)
            }
            GraphError::DType { op, input } => {
                write!(
                    f,
                    "{op}: input {input} has the wrong element type (data vs. index)"
                )
            }
            GraphError::UnknownNode { op, id } => {
                write!(f, "{op}: node {} is not in this graph", id.0)
            }
            GraphError::DuplicateName(n) => write!(f, "a leaf named {n:?} already exists"),
            GraphError::UnknownName(n) => write!(f, "no leaf named {n:?} in the graph"),
            GraphError::Argument { op, message } => write!(f, "{op}: {message}"),
            GraphError::NotDifferentiable { op } => {
                write!(f, "{op} has no gradient rule (differentiate before fusion)")
            }
            GraphError::NonScalarLoss(s) => {
                write!(f, "grad: the loss must be a scalar (shape []), got {s:?}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for GraphError {}

/// Shorthand for results of graph builders.
pub type GResult<T> = Result<T, GraphError>;
