//! Shape helpers shared by the builders, autodiff and kernels.
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::GraphError;

/// Number of elements of a shape (`[]` has one).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// NumPy broadcast of two shapes, or `None` if they clash.
pub fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// True if `small` broadcasts to exactly `big`.
pub fn broadcasts_to(small: &[usize], big: &[usize]) -> bool {
    small.len() <= big.len() && broadcast(small, big).as_deref() == Some(big)
}

/// Row-major strides of `shape` viewed inside `out` (broadcast dims get stride 0); `shape`
/// must broadcast to `out`. Used by kernels to index broadcast operands.
pub fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let off = out.len() - shape.len();
    let mut strides = vec![0; out.len()];
    let mut s = 1;
    for i in (0..shape.len()).rev() {
        strides[i + off] = if shape[i] == 1 && out[i + off] != 1 {
            0
        } else {
            s
        };
        s *= shape[i];
    }
    strides
}

/// A shape error for `op` with the given input shapes.
pub fn shape_err(op: &'static str, shapes: &[&[usize]], expected: String) -> GraphError {
    GraphError::Shape {
        op,
        shapes: shapes.iter().map(|s| s.to_vec()).collect(),
        expected,
    }
}

/// An argument error for `op`.
pub fn arg_err(op: &'static str, message: String) -> GraphError {
    GraphError::Argument { op, message }
}
