//! `tessera demo` — the README's first command. With no arguments and no network it pre-trains
//! `mae_fmnist_small` on the Fashion-MNIST slice compiled into tessera (2048 training images,
//! MIT) for about two minutes on 2 cores, then shows what pre-training bought: a linear
//! probe of the pre-trained encoder against the same encoder at its random initialization, on
//! the same images. It also draws reconstructions of held-out images and the masking
//! strategies of the family, all into `tessera-demo/`. Every step is what a user can type: the
//! demo parses `tessera pretrain` / `tessera mask` command lines and runs the probe's code.
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use tessera_models::checkpoint;
use tessera_models::data::{
    default_workers, prepare, Fit, Loader, LoaderConfig, Preparation, Source, Split,
};

use super::probe::{self, Pool};
use super::reconstruct::{draw, Request};

/// The demo's pre-training recipe: the official augmentation, a learning rate a small model
/// takes, 24 passes over the 2048 images (768 steps of 64). Measured on 2 cores: shorter runs
/// (8 epochs, with or without augmentation) leave the encoder's probe at or below its random
/// initialization's; this one clears it (docs/experiments.md has the numbers).
const RECIPE: &str = "pretrain --model mae_fmnist_small --data fashion-mnist-embedded \
    --batch 64 --lr 1e-3 --warmup-steps 20 --augment --mask-ratio 3/4 --seed 0 --save-every 8";

#[derive(clap::Args)]
pub struct Args {
    /// Where the demo writes its files [default: tessera-demo]
    #[arg(long, default_value = "tessera-demo", hide_default_value = true)]
    out: PathBuf,
    /// Epochs over the embedded slice (24 take about two minutes on 2 cores); run
    /// again with more to continue the same run [default: 24]
    #[arg(long, default_value_t = 24, hide_default_value = true)]
    epochs: u64,
    /// Use only N images of the slice (classes balanced) for pre-training and the probe: a
    /// quicker, rougher demo.
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
        "--strategy random --grid 14x14 --mask-ratio 3/4 --count 4",
    ),
    (
        "block",
        "BEiT block-wise 3/4 on 14x14",
        "--strategy block --grid 14x14 --mask-ratio 3/4 --count 4",
    ),
    (
        "uniform",
        "UM-MAE uniform sampling + secondary 1/4 on 14x14",
        "--strategy uniform --grid 14x14 --mask-ratio 3/4 --secondary 1/4 --count 4",
    ),
    (
        "tube",
        "VideoMAE tube 9/10, 16 frames, tubelet 2",
        "--strategy tube --grid 14x14 --frames 16 --tubelet 2 --mask-ratio 9/10 --count 1",
    ),
    (
        "mixed",
        "MixMIM 1/2 mixing on Swin stages 56/28/14/7",
        "--strategy mixed --grid 56x56 --mask-ratio 1/2 --count 2",
    ),
];

/// The `tessera pretrain` command line of the demo run.
fn pretrain_line(args: &Args) -> Vec<String> {
    let mut line = format!("{RECIPE} --epochs {}", args.epochs);
    if let Some(n) = args.limit {
        line.push_str(&format!(" --limit {n}"));
    }
    let mut argv: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    argv.push("--out".into());
    argv.push(args.out.display().to_string());
    if args.out.join(checkpoint_name()).exists() {
        // A demo that ran (or was interrupted) before: continue it, or train it longer.
        argv.push("--resume".into());
    }
    argv
}

fn checkpoint_name() -> &'static str {
    tessera_models::train::checkpoint::MODEL_FILE
}

/// Reconstructions of held-out images of the slice, one of each class.
fn reconstruction(dir: &Path, out: &Path) -> anyhow::Result<Vec<String>> {
    let ckpt = checkpoint::load(&dir.join(checkpoint_name()), None)?;
    let model = ckpt.model();
    let n = 8;
    let prep = Preparation {
        split: Split::Test,
        image: model.image(),
        fit: Fit::default(),
        augment: false,
        limit: Some(n),
    };
    let prepared = prepare(&Source::FashionMnistEmbedded, &prep, default_workers())?;
    let normalize = prepared.transform.normalize.clone();
    let loader = Loader::new(prepared.dataset, prepared.transform, LoaderConfig::eval(n))?;
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
        prepared: "",
    };
    draw(&req, out)
}

/// The probe's top-1 for [CLS] and mean-pooled features of `checkpoint` (random init when
/// `None`), on the slice (its first `limit` training images, and a quarter as many test
/// images, when given).
fn probe_top1(checkpoint: Option<&Path>, limit: Option<usize>) -> anyhow::Result<(f64, f64)> {
    let mut args = probe::args_for(checkpoint, Pool::Both, 0);
    args.model.model = Some("mae_fmnist_small".into()).filter(|_| checkpoint.is_none());
    args.data.data = Some(super::model_args::DEFAULT_DATA.into());
    args.data.limit = limit;
    args.limit_test = limit.map(|n| (n / 4).max(10));
    let out = probe::probe(&args)?;
    let get = |k: &str| out.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    Ok((get("top1"), get("top1_meanpool")))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the demo folder {}", args.out.display()))?;
    println!(
        "tessera demo: pre-training mae_fmnist_small (1.3M parameters) on the Fashion-MNIST \
         slice built into tessera (2048 training images; Zalando, MIT licence), on the CPU, \
         then a linear probe of its encoder against the same encoder at random \
         initialization."
    );
    println!("  (Ctrl-C saves the run; `tessera demo` again continues it.)");
    let line = pretrain_line(&args);
    println!("  = tessera {}", line.join(" "));
    let parsed = PretrainLine::try_parse_from(&line).context("demo pretrain arguments")?;
    let stop = super::interrupt::stop_on_ctrl_c();
    let summary = super::pretrain::pretrain(&parsed.args, &stop).with_context(|| {
        format!(
            "demo run in {} (to start a new demo instead, choose another --out)",
            args.out.display()
        )
    })?;
    if summary.outcome != tessera_models::train::Outcome::Finished {
        println!("interrupted: run `tessera demo` again to continue");
        std::process::exit(130);
    }
    let trained_on = summary.state.config.limit;

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

    println!();
    println!("Did pre-training pay off? A linear probe of each encoder's features:");
    let ckpt = args.out.join(checkpoint_name());
    let random = probe_top1(None, trained_on)?;
    let trained = probe_top1(Some(&ckpt), trained_on)?;
    let d = &args.out;
    println!();
    println!("                              [CLS] token   mean of patch tokens");
    println!(
        "  random init (seed 0)        {:>8.1} %   {:>8.1} %",
        100.0 * random.0,
        100.0 * random.1
    );
    println!(
        "  pre-trained ({} steps)      {:>8.1} %   {:>8.1} %",
        summary.state.global_step,
        100.0 * trained.0,
        100.0 * trained.1
    );
    let gain = (
        100.0 * (trained.0 - random.0),
        100.0 * (trained.1 - random.1),
    );
    println!(
        "  gain                        {:>+8.1}     {:>+8.1}     points",
        gain.0, gain.1
    );
    // A point is about the spread of these probes between seeds (docs/experiments.md); less
    // is not a result worth claiming.
    let (best, which) = if gain.1 >= gain.0 {
        (gain.1, "mean-pooled")
    } else {
        (gain.0, "[CLS]")
    };
    if best >= 1.0 {
        println!(
            "  Pre-training pays off: the {which} features of the pre-trained encoder beat the \
             same encoder at random initialization by {best:.1} points on the same images. \
             (MAE's loss trains the patch tokens; the [CLS] token learns only through \
             attention, so it gains less in a short run.) A longer run on the full 60,000 \
             images widens the gap (docs/experiments.md)."
        );
    } else {
        println!(
            "  This run is too short for pre-training to beat the random encoder here; the \
             real experiment (docs/experiments.md: 4 epochs on the full 60,000 images) does, \
             and `tessera demo --epochs N` trains this one longer."
        );
    }
    println!();
    println!("Wrote to {}/:", d.display());
    println!(
        "  reconstruction.png      held-out images: original | masked 3/4 | reconstruction | \
         + visible patches"
    );
    for line in legend {
        println!("                          {line}");
    }
    println!("  loss.png, metrics.csv   the training loss, step by step; log.txt per epoch");
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
    println!("Next: your own images (README, \"Your own images\"), or the same probe by hand:");
    println!(
        "  tessera probe --checkpoint {} --features both",
        d.join(checkpoint_name()).display()
    );
    println!("  tessera probe --random-init --features both");
    Ok(())
}
