//! The `tessera` command line: one module per subcommand.
pub mod bench;
pub mod bench_matmul;
pub mod check;
pub mod convert;
pub mod demo;
pub mod devices;
pub mod eval;
pub mod interrupt;
pub mod kernels;
pub mod m3ae;
pub mod mask;
pub mod mask_verify;
pub mod model_args;
pub mod pretrain;
pub mod probe;
pub mod progress;
pub mod reconstruct;
pub mod reconstruct_clip;
pub mod reconstruct_mixmim;

/// An error caused by what the user asked for (bad arguments, a spec that breaks a shape rule,
/// an unreadable input file). The CLI exits with status 2 for these and 1 for everything else.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Shorthand for returning a [`BadInput`] from a subcommand.
pub fn bad_input(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(msg.into()))
}
