//! `tessera` — the command line of the masked-image-modeling workbench.
#![forbid(unsafe_code)]
use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Masked image modeling workbench: shape-checked MAE-family models on any GPU or the CPU"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The main job on its embedded default: writes its results to ./tessera-demo/.
    Demo(cli::demo::Args),
    /// Validate a model spec (TOML) and print its derived sizes; exit 2 if it breaks a shape rule.
    Check(cli::check::Args),
    /// Generate masks with one of the masking strategies and write them to safetensors (and PNG).
    Mask(cli::mask::Args),
    /// List the GPU adapters wgpu can see, with their features and key limits.
    Devices(cli::devices::Args),
    /// Run one batch through an MAE checkpoint; write loss, prediction, mask (and gradients).
    Eval(cli::eval::Args),
    /// Pre-train an MAE on the CPU: progress bar, metrics.csv, loss.png, a checkpoint every
    /// epoch, exact --resume, Ctrl-C saves.
    Pretrain(cli::pretrain::Args),
    /// Draw the official MAE visualization (original, masked, reconstruction, pasted) as a PNG.
    Reconstruct(cli::reconstruct::Args),
    /// Linear probe of an encoder ([CLS] or mean-pooled features); prints {"top1": ...}.
    Probe(cli::probe::Args),
    /// Time an MAE pre-training step (forward + backward + AdamW) on random input.
    Bench(cli::bench::Args),
    /// List the WGSL kernels; with --check, validate and translate each to SPIR-V/MSL/HLSL/GLSL.
    Kernels(cli::kernels::Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => cli::demo::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Mask(args) => cli::mask::run(args),
        Command::Devices(args) => cli::devices::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Pretrain(args) => cli::pretrain::run(args),
        Command::Reconstruct(args) => cli::reconstruct::run(args),
        Command::Probe(args) => cli::probe::run(args),
        Command::Bench(args) => cli::bench::run(args),
        Command::Kernels(args) => cli::kernels::run(args),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        let bad_input = err.chain().any(|e| e.is::<cli::BadInput>());
        std::process::exit(if bad_input { 2 } else { 1 });
    }
}
