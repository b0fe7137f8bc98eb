//! `tessera demo` — the README's first command. Until pre-training lands it shows every masking
//! strategy of the family on the grids their reference models use, writing the masks
//! (safetensors) and pictures (PNG) to `tessera-demo/`.
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

#[derive(clap::Args)]
pub struct Args {
    /// Where the demo writes its files.
    #[arg(long, default_value = "tessera-demo")]
    out: PathBuf,
}

/// Parses a `tessera mask` command line so the demo runs exactly what a user can type.
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

pub fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the demo folder {}", args.out.display()))?;
    println!("tessera demo: the masking strategies of the MAE family (seed 1)");
    for (stem, what, line) in SHOWCASE {
        let st = args.out.join(format!("{stem}.safetensors"));
        let png = args.out.join(format!("{stem}.png"));
        let mut argv = vec!["mask".to_string()];
        argv.extend(line.split_whitespace().map(str::to_string));
        argv.extend(["--seed", "1", "--out"].map(str::to_string));
        argv.push(st.display().to_string());
        argv.push("--png".into());
        argv.push(png.display().to_string());
        let parsed = MaskLine::try_parse_from(&argv).context("demo mask arguments")?;
        super::mask::run(parsed.args).with_context(|| format!("demo step {stem}"))?;
        println!("  {what:<50} -> {}", png.display());
    }
    println!("Masks (mask, ids_keep, ids_restore, ...) are next to each picture as safetensors.");
    Ok(())
}
