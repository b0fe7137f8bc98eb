//! Builder methods on [`Graph`](super::Graph), one file per op family. Each checks shapes and
//! returns a typed [`GraphError`](super::GraphError) instead of panicking.
mod attention;
mod elementwise;
mod layout;
mod linalg;
mod loss;
mod norm;
mod reduce;
mod tokens;
mod vision;

pub use vision::PatchOrder;
