//! `tessera demo` — the README's first command. With no arguments and no network it pre-trains
//! `mae_fmnist_small` on the Fashion-MNIST slice compiled into tessera (2048 training images,
//! MIT), for about a minute on 2 cores, then draws reconstructions of held-out images and the
//! masking strategies of the family, all into `tessera-demo/`. Every step is what a user can
//! type: the demo parses `tessera pretrain` / `tessera mask` command lines.
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use tessera_models::checkpoint;
use tessera_models::data::{embedded_fashion_mnist_split, Normalize, Split};
use tessera_models::data::{Augment, Loader, LoaderConfig, Transform};

use super::reconstruct::{draw, Request};

#[derive(clap::Args)]
pub struct Args {
    /// Where the demo writes its files.
    #[arg(long, default_value = "tessera-demo")]
    out: PathBuf,
    /// Epochs over the embedded slice (8 take about a minute on 2 cores).
    #[arg(long, default_value_t = 8)]
    epochs: u64,
    /// Use only the first N images of the slice (a quicker, rougher demo).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

/// Parses a `tessera pretrain` command line.
#[derive(Parser)]
struct PretrainLine {
    #[command(flatten)]
    args: super::pretrain::Args,
}

/// Parses a `tessera mask` command line.
#[derive(Parser)]
struct MaskLine {
    #[command(flatten)]
    args: super::mask::Args,
}

/// (file stem, what it shows, `tessera mask` arguments)
const SHOWCASE: &[(&str, &str, &str)] = &[
    (
        "random",
        "MAE random 3/4 on ViT-B/16's 14x14 grid",
        "--strategy random --grid 14x14 --ratio 3/4 --batch 4",
    ),
    (
        "block",
        "BEiT block-wise 3/4 on 14x14",
        "--strategy block --grid 14x14 --ratio 3/4 --batch 4",
    ),
    (
        "uniform",
        "UM-MAE uniform sampling + secondary 1/4 on 14x14",
        "--strategy uniform --grid 14x14 --ratio 3/4 --secondary 1/4 --batch 4",
    ),
    (
        "tube",
        "VideoMAE tube 9/10, 16 frames, tubelet 2",
        "--strategy tube --grid 14x14 --frames 16 --tubelet 2 --ratio 9/10 --batch 1",
    ),
    (
        "mixed",
        "MixMIM 1/2 mixing on Swin stages 56/28/14/7",
        "--strategy mixed --grid 56x56 --ratio 1/2 --batch 2",
    ),
];

/// The recipe of the demo run (batch 64 so the 2048-image slice gives 32 steps an epoch).
fn pretrain_line(args: &Args) -> Vec<String> {
    let mut line = format!(
        "pretrain --model mae_fmnist_small --data fashion-mnist-embedded --epochs {} \
         --batch 64 --lr 1e-3 --warmup-steps 20 --mask-ratio 3/4 --seed 0",
        args.epochs
    );
    if let Some(n) = args.limit {
        line.push_str(&format!(" --limit {n}"));
    }
    let mut argv: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    argv.push("--out".into());
    argv.push(args.out.display().to_string());
    if args.out.join(checkpoint_name()).exists() {
        // A demo that ran (or was interrupted) before: continue or reuse it.
        argv.push("--resume".into());
    }
    argv
}

fn checkpoint_name() -> &'static str {
    tessera_models::train::checkpoint::MODEL_FILE
}

/// Reconstructions of the first held-out images of the slice.
fn reconstruction(dir: &Path, out: &Path) -> anyhow::Result<Vec<String>> {
    let ckpt = checkpoint::load(&dir.join(checkpoint_name()), None)?;
    let test = embedded_fashion_mnist_split(Split::Test)?;
    let normalize = Normalize::fashion_mnist();
    let transform = Transform::new(
        Augment::None {
            width: 28,
            height: 28,
        },
        normalize.clone(),
    )?;
    let n = 8;
    let loader = Loader::new(std::sync::Arc::new(test), transform, LoaderConfig::eval(n))?;
    let batch = loader
        .epoch(0)
        .next()
        .context("the embedded test split is empty")??;
    let req = Request {
        ckpt: &ckpt,
        imgs: &batch.images,
        n,
        normalize: &normalize,
        mask_ratio: None,
        seed: 0,
        name: "tessera demo",
    };
    draw(&req, out)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the demo folder {}", args.out.display()))?;
    println!(
        "tessera demo: pre-training mae_fmnist_small (1.3M parameters) on the Fashion-MNIST \
         slice built into tessera (2048 training images; Zalando, MIT licence), on the CPU."
    );
    println!("  (Ctrl-C saves the run; `tessera demo` again continues it.)");
    let line = pretrain_line(&args);
    println!("  = tessera {}", line.join(" "));
    let parsed = PretrainLine::try_parse_from(&line).context("demo pretrain arguments")?;
    let stop = super::pretrain::stop_on_ctrl_c();
    let summary = super::pretrain::pretrain(&parsed.args, &stop)
        .with_context(|| format!("demo run in {}", args.out.display()))?;
    if summary.outcome != tessera_models::train::Outcome::Finished {
        println!("interrupted: run `tessera demo` again to continue");
        std::process::exit(130);
    }

    let recon = args.out.join("reconstruction.png");
    let legend = reconstruction(&args.out, &recon)?;

    let masks = args.out.join("masks");
    std::fs::create_dir_all(&masks)
        .with_context(|| format!("cannot create {}", masks.display()))?;
    for (stem, _, line) in SHOWCASE {
        let st = masks.join(format!("{stem}.safetensors"));
        let png = masks.join(format!("{stem}.png"));
        let mut argv = vec!["mask".to_string()];
        argv.extend(line.split_whitespace().map(str::to_string));
        argv.extend(["--seed", "1", "--out"].map(str::to_string));
        argv.push(st.display().to_string());
        argv.push("--png".into());
        argv.push(png.display().to_string());
        let parsed = MaskLine::try_parse_from(&argv).context("demo mask arguments")?;
        super::mask::run(parsed.args).with_context(|| format!("demo mask {stem}"))?;
    }

    let d = &args.out;
    println!();
    println!("Wrote to {}/:", d.display());
    println!(
        "  reconstruction.png      held-out images: original | masked 3/4 | reconstruction | \
         + visible patches"
    );
    for line in legend {
        println!("                          {line}");
    }
    println!("  loss.png, metrics.csv   the training loss, step by step");
    println!("  last.safetensors        the model (official MAE names; PyTorch can load it)");
    println!("  last.optim.safetensors  optimizer state, for --resume");
    println!(
        "  masks/*.png             the masking strategies of the family ({})",
        SHOWCASE
            .iter()
            .map(|(s, _, _)| *s)
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("Next:");
    println!(
        "  tessera probe --checkpoint {}   # linear-probe accuracy of the encoder",
        d.join(checkpoint_name()).display()
    );
    println!(
        "  tessera probe --random-init                          # the same for a random encoder"
    );
    Ok(())
}
