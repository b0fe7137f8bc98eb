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
    /// Run one input file through a checkpoint; write loss, prediction, mask (and gradients).
    Eval(cli::eval::Args),
    /// Convert an official PyTorch checkpoint (.pth) to safetensors with the official names and
    /// the architecture in its metadata.
    Convert(cli::convert::Args),
    /// Pre-train a model (CPU backend or a GPU): progress bar, metrics.csv, log.txt, loss.png,
    /// checkpoints, exact --resume, Ctrl-C saves.
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
    // Mesa's device-select Vulkan layer only reorders adapters (tessera picks its own) and
    // prints `error: XDG_RUNTIME_DIR is invalid ...` on every device open where that variable
    // is unset (containers, CI), which reads like tessera's own error. Set before any thread
    // starts; a user's own setting wins.
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => cli::demo::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Mask(args) => cli::mask::run(args),
        Command::Devices(args) => cli::devices::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Convert(args) => cli::convert::run(args),
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
