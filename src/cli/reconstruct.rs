//! `tessera reconstruct`: the official MAE visualization as a PNG grid. Per image: the
//! original, the masked input, the reconstruction, and the reconstruction with the visible
//! patches pasted back. For `norm_pix_loss` checkpoints each patch's mean and variance are
//! re-injected from the original, and the picture's legend says so.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{ImageSpec, ModelSpec};
use tessera_models::checkpoint::{self, Checkpoint};
use tessera_models::data::pixels::to_channels;
use tessera_models::data::{
    default_workers, prepare, Fit, Loader, LoaderConfig, Normalize, Preparation, Source, Split,
    Transform,
};
use tessera_models::eval::evaluate;
use tessera_models::sample::{SampleSpec, Samples};
use tessera_models::train::RunConfig;
use tessera_models::viz::{draw_recon_grid, reconstruct_one, Denormalize, GridText, PatchLayout};
use tessera_runtime::backend::Device;

use super::bad_input;
use super::model_args::{
    checkpoint_recipe, describe, model_of, with_mask_ratio, DataChoice, ModelChoice, DEFAULT_DATA,
};
use super::reconstruct_clip::ClipRequest;

/// Stream of the reconstruction masks (distinct from training's, which use the step number).
const RECON_STREAM: u64 = 0x5245_434f; // "RECO"

#[derive(clap::Args)]
#[command(mut_arg("model", |a| a.help(
    "Architecture overriding the checkpoint's metadata (official factory name or tessera \
     preset) [default: the checkpoint's]"
)))]
#[command(mut_arg("data", |a| a.help(
    "Images to show, from the test split (the training split when there is none): \
     `folder:DIR`, `fashion-mnist:DIR` or `fashion-mnist-embedded` [default: the data the \
     checkpoint was pre-trained on, else fashion-mnist-embedded]"
)))]
#[command(mut_arg("limit", |a| a
    .long("count")
    .value_name("N")
    .default_value("8")
    .hide_default_value(true)
    .help("How many images, taking the classes in turns [default: 8]")))]
pub struct Args {
    /// Checkpoint with its decoder: tessera's safetensors or an official PyTorch `.pth`.
    #[arg(long)]
    checkpoint: PathBuf,
    #[command(flatten)]
    model: ModelChoice,
    /// Image files (PNG/JPEG) of any size, brought to the model's as --fit says, instead of
    /// --data.
    #[arg(long, num_args = 1.., value_name = "FILE", conflicts_with = "data")]
    image: Vec<PathBuf>,
    #[command(flatten)]
    data: DataChoice,
    /// Clip models: draw the clips from this index of the held-out split on (the loss is
    /// over all of them).
    #[arg(long, default_value_t = 0)]
    first: usize,
    /// Exact mask ratio (`3/4`, `0.75`) instead of the model spec's.
    #[arg(long)]
    mask_ratio: Option<String>,
    /// Seed of the masks [default: 0]
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    seed: u64,
    /// The PNG to write.
    #[arg(long, value_name = "FILE.png")]
    out: PathBuf,
}

/// The normalized `[N, C, H, W]` images to show, their normalization, and what was done to
/// them (for the legend).
struct Shown {
    imgs: Vec<f32>,
    n: usize,
    normalize: Normalize,
    prepared: String,
}

/// The statistics the checkpoint was trained with, else the usual ones of its channel count.
fn normalization(recipe: Option<&RunConfig>, channels: usize) -> Normalize {
    match recipe.and_then(|r| r.data.parse::<Source>().ok()) {
        Some(src) => src.normalize_for(channels),
        None if channels == 1 => Normalize::fashion_mnist(),
        None => Normalize::imagenet().with_channels(channels),
    }
}

/// `--image` files, each decoded to the model's channels and fitted to its size.
fn image_files(
    args: &Args,
    image: ImageSpec,
    fit: Fit,
    normalize: Normalize,
) -> anyhow::Result<Shown> {
    let size = image.height;
    let transform = Transform::new(fit.augment(size), normalize.clone())?;
    let per = image.numel();
    let mut imgs = vec![0.0; args.image.len() * per];
    let mut rng = Rng::seed_from_u64(0);
    for (i, path) in args.image.iter().enumerate() {
        let decoded = image::ImageReader::open(path)
            .and_then(|r| r.with_guessed_format())
            .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?
            .decode()
            .map_err(|e| bad_input(format!("{} is not a readable image: {e}", path.display())))?;
        let img = to_channels(&decoded, image.channels).ok_or_else(|| {
            bad_input(format!(
                "the model takes {} channels; image files give 1 (grey) or 3 (RGB)",
                image.channels
            ))
        })?;
        transform
            .apply_into(
                &img,
                &path.display().to_string(),
                &mut rng,
                &mut imgs[i * per..(i + 1) * per],
            )
            .map_err(|e| bad_input(e.to_string()))?;
    }
    Ok(Shown {
        imgs,
        n: args.image.len(),
        normalize,
        prepared: fit.describe(size),
    })
}

/// `--count` images of the data set, classes balanced.
fn data_images(
    args: &Args,
    image: ImageSpec,
    fit: Fit,
    recipe: Option<&RunConfig>,
) -> anyhow::Result<Shown> {
    let default = recipe.map_or(DEFAULT_DATA.to_string(), |r| r.data.clone());
    let source = args.data.source_or(&default)?;
    let count = args.data.limit.unwrap_or(8);
    if count == 0 {
        return Err(bad_input("--count must be at least 1"));
    }
    let split = if source.has_test_split() {
        Split::Test
    } else {
        Split::Train
    };
    let prep = Preparation {
        split,
        image,
        fit,
        augment: false,
        limit: Some(count),
    };
    let prepared =
        prepare(&source, &prep, default_workers()).map_err(|e| bad_input(e.to_string()))?;
    let n = prepared.dataset.len();
    let normalize = prepared.transform.normalize.clone();
    let notes: Vec<String> = prepared
        .notes
        .iter()
        .skip(1)
        .filter(|n| !n.starts_with("--limit"))
        .cloned()
        .collect();
    let loader = Loader::new(
        Arc::clone(&prepared.dataset),
        prepared.transform,
        LoaderConfig::eval(n),
    )
    .map_err(|e| bad_input(e.to_string()))?;
    let batch = loader
        .epoch(0)
        .next()
        .ok_or_else(|| bad_input(format!("{source} has no images")))?
        .map_err(|e| bad_input(e.to_string()))?;
    Ok(Shown {
        imgs: batch.images,
        n,
        normalize,
        prepared: if notes.is_empty() {
            format!("{split} images of {source}, one class after another")
        } else {
            format!("{split} images of {source}: {}", notes.join("; "))
        },
    })
}

/// What one reconstruction picture shows.
pub struct Request<'a> {
    pub ckpt: &'a Checkpoint,
    /// `[n, C, H, W]`, normalized with `normalize`.
    pub imgs: &'a [f32],
    pub n: usize,
    pub normalize: &'a Normalize,
    /// The mask ratio, when not the model spec's own.
    pub mask_ratio: Option<&'a str>,
    pub seed: u64,
    /// What to call the checkpoint in the legend.
    pub name: &'a str,
    /// What was done to the images before the model saw them (resizing, cropping), for the
    /// legend; empty when nothing was.
    pub prepared: &'a str,
}

/// Writes the grid to `out`; returns the legend lines (also drawn in the picture).
pub fn draw(req: &Request<'_>, out: &Path) -> anyhow::Result<Vec<String>> {
    let Request {
        ckpt,
        imgs,
        n,
        normalize,
        mask_ratio,
        seed,
        name,
        prepared,
    } = *req;
    let spec: ModelSpec = match mask_ratio {
        Some(text) => with_mask_ratio(ckpt.spec, text)?,
        None => ckpt.spec,
    };
    if let ModelSpec::MixMim(_) = spec {
        return super::reconstruct_mixmim::draw(req, &spec, out);
    }
    let model = model_of(&spec)?;
    let mut rng = Rng::for_stream(seed, &[RECON_STREAM]);
    let inputs = model.step_inputs(&Samples::pixels(imgs), &mut rng)?;
    let result = evaluate(
        model.as_ref(),
        &ckpt.params,
        &inputs,
        false,
        &mut Device::Cpu,
    )?;
    let geo = model.geometry();
    let layout = PatchLayout {
        channels: geo.channels,
        img: geo.image,
        patch: geo.patch,
    };
    let per = model.image().numel();
    let (l, pd) = (layout.tokens(), layout.patch_dim());
    let norm_pix = geo.target.is_norm_pix();
    // The pictures read pred by patch position; UM-MAE lists visible patches first.
    let pred = model.pred_in_raster_order(&inputs, &result.pred.data);
    let rows: Vec<_> = (0..n)
        .map(|i| {
            reconstruct_one(
                &layout,
                &imgs[i * per..(i + 1) * per],
                &pred[i * l * pd..(i + 1) * l * pd],
                &result.mask.data[i * l..(i + 1) * l],
                norm_pix,
            )
        })
        .collect();
    let removed = result.mask.data[..l].iter().filter(|&&m| m > 0.5).count();
    let mut legend = vec![
        format!(
            "{name}: {}; {removed} of {l} patches removed (hatched blue in the masked input), \
             seed {seed}.",
            describe(&spec)
        ),
        "reconstruction: the decoder's output at every patch. Only removed patches are \
         trained (the loss covers them alone), so at visible patches the output is untrained \
         speckle; the last column pastes the visible patches back over it."
            .into(),
    ];
    if !prepared.is_empty() {
        legend.push(format!("{prepared}."));
    }
    if norm_pix {
        legend.push(
            "norm-pix model: its prediction is per-patch normalized; each patch's mean and \
             variance were taken from the ORIGINAL image and re-injected (this uses \
             ground-truth statistics)."
                .into(),
        );
    } else {
        legend.push("pixel-target model: the prediction is shown as it is.".into());
    }
    let text = GridText {
        title: format!("{} reconstruction", spec.family().name()),
        columns: [
            "original".into(),
            "masked input".into(),
            "reconstruction".into(),
            "+ visible patches".into(),
        ],
        legend: legend.clone(),
    };
    let denorm = Denormalize {
        mean: normalize.mean().to_vec(),
        std: normalize.std().to_vec(),
    };
    let canvas = draw_recon_grid(&rows, &layout, &denorm, &text);
    canvas
        .save_png(out)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    Ok(legend)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let named = args.model.spec()?;
    let ckpt =
        checkpoint::load(&args.checkpoint, named.as_ref()).map_err(|e| bad_input(e.to_string()))?;
    if let ModelSpec::M3ae(spec) = ckpt.spec {
        let data = args.data.data.as_deref();
        let (path, count, seed) = (&args.checkpoint, args.data.limit.unwrap_or(8), args.seed);
        return super::m3ae::reconstruct(path, &ckpt, spec, data, count, seed, &args.out);
    }
    let recipe = checkpoint_recipe(&args.checkpoint);
    let name = args
        .checkpoint
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let SampleSpec::Clip { .. } = model_of(&ckpt.spec)?.sample() {
        return clips(&args, &ckpt, recipe.as_ref(), &name);
    }
    let image = model_of(&ckpt.spec)?.image();
    let fit = args
        .data
        .fit
        .map(Fit::from)
        .or(recipe.as_ref().map(|r| r.fit))
        .unwrap_or_default();
    let shown = if args.image.is_empty() {
        data_images(&args, image, fit, recipe.as_ref())?
    } else {
        let normalize = normalization(recipe.as_ref(), image.channels);
        image_files(&args, image, fit, normalize)?
    };
    let req = Request {
        ckpt: &ckpt,
        imgs: &shown.imgs,
        n: shown.n,
        normalize: &shown.normalize,
        mask_ratio: args.mask_ratio.as_deref(),
        seed: args.seed,
        name: &name,
        prepared: &shown.prepared,
    };
    let legend = draw(&req, &args.out)?;
    println!("wrote {} ({} images)", args.out.display(), shown.n);
    for line in legend {
        println!("  {line}");
    }
    Ok(())
}

/// Clip models: held-out clips as strips of frames, with their mean loss.
fn clips(
    args: &Args,
    ckpt: &Checkpoint,
    recipe: Option<&RunConfig>,
    name: &str,
) -> anyhow::Result<()> {
    if !args.image.is_empty() || args.mask_ratio.is_some() {
        return Err(bad_input(
            "a clip model reconstructs clips of --data folder:DIR; --image and --mask-ratio \
             are for image models",
        ));
    }
    let data = args
        .data
        .data
        .clone()
        .or_else(|| recipe.map(|r| r.data.clone()))
        .ok_or_else(|| bad_input("name the clips with --data folder:DIR"))?;
    let req = ClipRequest {
        ckpt,
        data: &data,
        first: args.first,
        count: args.data.limit.unwrap_or(8),
        seed: args.seed,
        name,
        out: &args.out,
    };
    let legend = super::reconstruct_clip::run(&req)?;
    println!("wrote {}", args.out.display());
    for line in legend {
        println!("  {line}");
    }
    Ok(())
}
