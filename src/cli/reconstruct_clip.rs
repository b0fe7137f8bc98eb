//! `tessera reconstruct` for clip models (VideoMAE): the held-out clips of the data source
//! through the model with tube masks of a fixed seed — the mean loss over all of them (the same
//! number for the same clips, masks and checkpoint, so checkpoints can be compared) — and a
//! picture of some of them: per clip, strips of its frames (original, masked input,
//! reconstruction, reconstruction with the visible tubes pasted back).
use std::path::Path;

use tessera_dsl::rng::Rng;
use tessera_dsl::spec::{ModelSpec, VideoMaeSpec};
use tessera_models::checkpoint::Checkpoint;
use tessera_models::data::{
    default_workers, open_clips, Loader, LoaderConfig, Normalize, Source, Split,
};
use tessera_models::eval::evaluate;
use tessera_models::sample::{SampleSpec, Samples};
use tessera_models::viz::{draw_clip_strips, reconstruct_clip, TubeLayout};
use tessera_runtime::backend::Device;

use super::bad_input;

/// Stream of the reconstruction masks (as the image pictures').
const RECON_STREAM: u64 = 0x5245_434f; // "RECO"
/// Clips per evaluation batch.
const EVAL_BATCH: usize = 32;

/// What to show and where.
pub struct ClipRequest<'a> {
    pub ckpt: &'a Checkpoint,
    /// `folder:DIR` of clip folders (its `val/` or `test/` split is used when present).
    pub data: &'a str,
    /// Clips drawn, from `first` on, in the split's order.
    pub first: usize,
    pub count: usize,
    pub seed: u64,
    pub name: &'a str,
    pub out: &'a Path,
}

/// The mean loss over the held-out clips and the picture; returns the lines it printed in the
/// picture's legend.
pub fn run(req: &ClipRequest<'_>) -> anyhow::Result<Vec<String>> {
    let model = req.ckpt.model();
    let SampleSpec::Clip { frames, image } = model.sample() else {
        return Err(bad_input("this checkpoint's model does not take clips"));
    };
    let source: Source = req
        .data
        .parse()
        .map_err(|e: tessera_models::data::DataError| bad_input(e.to_string()))?;
    let (split, opened) = match open_clips(&source, Split::Test, frames, image.height) {
        Ok(v) => (Split::Test, v),
        Err(_) => (
            Split::Train,
            open_clips(&source, Split::Train, frames, image.height)
                .map_err(|e| bad_input(e.to_string()))?,
        ),
    };
    let (dataset, transform) = opened;
    let normalize: Normalize = transform.normalize.clone();
    let names: Vec<String> = (0..dataset.len()).map(|i| dataset.describe(i)).collect();
    let loader = Loader::new(
        dataset,
        transform,
        LoaderConfig {
            workers: default_workers(),
            ..LoaderConfig::eval(EVAL_BATCH)
        },
    )
    .map_err(|e| bad_input(e.to_string()))?;
    let mut rng = Rng::for_stream(req.seed, &[RECON_STREAM]);
    let ModelSpec::VideoMae(spec) = model.spec() else {
        return Err(bad_input(
            "clip reconstructions are drawn for VideoMAE models",
        ));
    };
    let geo = model.geometry();
    let layout = TubeLayout {
        channels: image.channels,
        frames,
        size: image.height,
        patch: spec.patch,
        tubelet: spec.tubelet,
    };
    let (mut total, mut clips) = (0.0f64, 0usize);
    let (mut drawn, mut shown, mut first_mask) = (Vec::new(), Vec::new(), Vec::new());
    for batch in loader.epoch(0) {
        let batch = batch.map_err(|e| bad_input(e.to_string()))?;
        let n = batch.indices.len();
        let inputs = model.step_inputs(&Samples::pixels(&batch.images), &mut rng)?;
        let out = evaluate(
            model.as_ref(),
            &req.ckpt.params,
            &inputs,
            false,
            &mut Device::Cpu,
        )?;
        total += f64::from(out.loss) * n as f64;
        clips += n;
        let pred = model.pred_in_raster_order(&inputs, &out.pred.data);
        let (l, per) = (layout.tokens(), frames * image.numel());
        for (i, &index) in batch.indices.iter().enumerate() {
            if index < req.first || drawn.len() >= req.count {
                continue;
            }
            if drawn.is_empty() {
                first_mask = inputs.mask[i * l..(i + 1) * l].to_vec();
            }
            drawn.push(reconstruct_clip(
                &layout,
                &batch.images[i * per..(i + 1) * per],
                normalize.mean(),
                normalize.std(),
                &pred[i * l * layout.tube_dim()..(i + 1) * l * layout.tube_dim()],
                &inputs.mask[i * l..(i + 1) * l],
                geo.target.is_norm_pix(),
            ));
            shown.push(names[index].clone());
        }
    }
    if drawn.is_empty() {
        return Err(bad_input(format!(
            "{} has {clips} {split} clip(s); --first {} leaves none to draw",
            req.data, req.first
        )));
    }
    let mean = total / clips as f64;
    let removed = drawn_removed(&first_mask);
    let mut legend = vec![
        format!(
            "{}: {}; tube masks of seed {}: {removed} of the tubes removed (hatched).",
            req.name,
            describe_video(&spec),
            req.seed
        ),
        format!(
            "held-out loss (the training loss, masked tubes): {mean:.4} over {clips} {split} \
             clips of {}",
            req.data
        ),
    ];
    if geo.target.is_norm_pix() {
        legend.push(
            "normalised target: each masked tubelet's per-channel mean and std were taken from \
             the ORIGINAL clip and re-injected (this uses ground-truth statistics)."
                .into(),
        );
    }
    legend.push(format!("clips, top to bottom: {}", shown.join("; ")));
    let title = "VideoMAE reconstruction".to_string();
    let canvas = draw_clip_strips(&drawn, &layout, &title, &legend);
    canvas
        .save_png(req.out)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", req.out.display()))?;
    Ok(legend)
}

/// One line that says what a VideoMAE is.
fn describe_video(s: &VideoMaeSpec) -> String {
    format!(
        "VideoMAE ({} frames of {} px, tubelets {}x{}x{}, encoder {}x{}, decoder {}x{}, tube {}, \
         {} target)",
        s.frames,
        s.image.height,
        s.tubelet,
        s.patch,
        s.patch,
        s.encoder.dim,
        s.encoder.depth,
        s.decoder.dim,
        s.decoder.depth,
        s.ratio,
        s.target
    )
}

/// The share of tubes the first drawn clip has removed, as `removed/total`.
fn drawn_removed(mask: &[f32]) -> String {
    let removed = mask.iter().filter(|&&m| m > 0.5).count();
    format!("{removed}/{}", mask.len())
}
