//! `tessera reconstruct`: the official MAE visualization as a PNG grid. Per image: the
//! original, the masked input, the reconstruction, and the reconstruction with the visible
//! patches pasted back. For `norm_pix_loss` checkpoints each patch's mean and variance are
//! re-injected from the original, and the picture's legend says so.
use std::path::{Path, PathBuf};

use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{ImageSpec, ModelSpec};
use tessera_models::checkpoint::{self, Checkpoint};
use tessera_models::data::{
    default_workers, Augment, Image, Loader, LoaderConfig, Normalize, Source, Split, Transform,
};
use tessera_models::eval::evaluate;
use tessera_models::sample::Samples;
use tessera_models::tensors::TensorFile;
use tessera_models::train::RunConfig;
use tessera_models::viz::{draw_recon_grid, reconstruct_one, Denormalize, GridText, PatchLayout};
use tessera_runtime::backend::Device;

use super::bad_input;
use super::model_args::{describe, model_of, preset, with_mask_ratio};

/// Stream of the reconstruction masks (distinct from training's, which use the step number).
const RECON_STREAM: u64 = 0x5245_434f; // "RECO"

#[derive(clap::Args)]
pub struct Args {
    /// Checkpoint with its decoder (safetensors, official names).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Architecture overriding the checkpoint's metadata (official factory name or tessera
    /// preset).
    #[arg(long, value_name = "PRESET")]
    model: Option<String>,
    /// Image files (PNG/JPEG) of exactly the model's size.
    #[arg(long, num_args = 1.., value_name = "FILE", conflicts_with = "data")]
    image: Vec<PathBuf>,
    /// Data source to take the first --count test images from (default: the one the
    /// checkpoint was trained on, else the embedded Fashion-MNIST slice). M3AE:
    /// `captions:DIR`, image–caption pairs (default: the run's held-out pairs).
    #[arg(long, value_name = "SOURCE")]
    data: Option<String>,
    /// How many images (with --data).
    #[arg(long, default_value_t = 8)]
    count: usize,
    /// Exact mask ratio (`3/4`, `0.75`) instead of the model spec's.
    #[arg(long)]
    mask_ratio: Option<String>,
    /// Seed of the masks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The PNG to write.
    #[arg(long, value_name = "FILE.png")]
    out: PathBuf,
}

/// The recipe stored in a checkpoint written by `tessera pretrain`, if any.
fn recipe_of(path: &Path) -> Option<RunConfig> {
    let file = TensorFile::read(path).ok()?;
    tessera_models::train::checkpoint::state_of(&file)
        .ok()
        .map(|s| s.config)
}

/// Reads an image file as the model's channels (grey or RGB) at its native size.
fn read_image(path: &Path, channels: usize) -> anyhow::Result<Image> {
    let img = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?
        .decode()
        .map_err(|e| bad_input(format!("{} is not a readable image: {e}", path.display())))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let pixels = match channels {
        1 => img.to_luma8().into_raw(),
        3 => img.to_rgb8().into_raw(),
        c => {
            return Err(bad_input(format!(
                "the model takes {c} channels; image files give 1 (grey) or 3 (RGB)"
            )))
        }
    };
    Ok(Image::new(w, h, channels, pixels)?)
}

/// The normalized `[N, C, H, W]` images to show.
fn images(
    args: &Args,
    image: ImageSpec,
    recipe: Option<&RunConfig>,
) -> anyhow::Result<(Vec<f32>, usize, Normalize)> {
    let (size, channels) = (image.height, image.channels);
    let per = image.numel();
    let none = Augment::None {
        width: size,
        height: size,
    };
    if !args.image.is_empty() {
        // The statistics the checkpoint was trained with, else the usual ones per channel count.
        let normalize = match recipe.and_then(|r| r.data.parse::<Source>().ok()) {
            Some(src) if src.channels() == channels => src.default_normalize(),
            _ if channels == 1 => Normalize::fashion_mnist(),
            _ => Normalize::imagenet(),
        };
        let transform = Transform::new(none, normalize.clone())?;
        let mut out = vec![0.0; args.image.len() * per];
        let mut rng = Rng::seed_from_u64(0);
        for (i, path) in args.image.iter().enumerate() {
            let img = read_image(path, channels)?;
            // No resizing: a wrong size is the user's to fix, and the message says which.
            transform
                .apply_into(
                    &img,
                    &path.display().to_string(),
                    &mut rng,
                    &mut out[i * per..(i + 1) * per],
                )
                .map_err(|e| bad_input(format!("{e}; the model takes {size}x{size} images")))?;
        }
        return Ok((out, args.image.len(), normalize));
    }
    let spec = args
        .data
        .clone()
        .or_else(|| recipe.map(|r| r.data.clone()))
        .unwrap_or_else(|| "fashion-mnist-embedded".into());
    let source: Source = spec
        .parse()
        .map_err(|e: tessera_models::data::DataError| bad_input(e.to_string()))?;
    let split = Split::Test;
    let ds = source
        .open(split, default_workers())
        .or_else(|_| source.open(Split::Train, default_workers()))
        .map_err(|e| bad_input(e.to_string()))?;
    let augment = if source.native_size().is_some() {
        none
    } else {
        Augment::eval_center(size)
    };
    let normalize = source.default_normalize();
    let transform = Transform::new(augment, normalize.clone())?;
    let n = args.count.min(ds.len());
    if n == 0 {
        return Err(bad_input("--count must be at least 1"));
    }
    let loader =
        Loader::new(ds, transform, LoaderConfig::eval(n)).map_err(|e| bad_input(e.to_string()))?;
    let batch = loader
        .epoch(0)
        .next()
        .ok_or_else(|| bad_input(format!("{spec} has no images")))?
        .map_err(|e| bad_input(e.to_string()))?;
    if batch.shape[1] != channels {
        return Err(bad_input(format!(
            "{spec} has {} channel(s); the model takes {channels} (its image `channels`)",
            batch.shape[1]
        )));
    }
    Ok((batch.images, n, normalize))
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
    } = *req;
    let spec: ModelSpec = match mask_ratio {
        Some(text) => with_mask_ratio(ckpt.spec, text)?,
        None => ckpt.spec,
    };
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
    let mut legend = vec![format!(
        "{name}: {}; {removed} of {l} patches removed (grey), seed {seed}.",
        describe(&spec)
    )];
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
    let named = args.model.as_deref().map(preset).transpose()?;
    let ckpt =
        checkpoint::load(&args.checkpoint, named.as_ref()).map_err(|e| bad_input(e.to_string()))?;
    if let ModelSpec::M3ae(spec) = ckpt.spec {
        let data = args.data.as_deref();
        let (path, count, seed) = (&args.checkpoint, args.count, args.seed);
        return super::m3ae::reconstruct(path, &ckpt, spec, data, count, seed, &args.out);
    }
    let recipe = recipe_of(&args.checkpoint);
    let image = model_of(&ckpt.spec)?.image();
    let (imgs, n, normalize) = images(&args, image, recipe.as_ref())?;
    let name = args
        .checkpoint
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let req = Request {
        ckpt: &ckpt,
        imgs: &imgs,
        n,
        normalize: &normalize,
        mask_ratio: args.mask_ratio.as_deref(),
        seed: args.seed,
        name: &name,
    };
    let legend = draw(&req, &args.out)?;
    println!("wrote {} ({n} images)", args.out.display());
    for line in legend {
        println!("  {line}");
    }
    Ok(())
}
