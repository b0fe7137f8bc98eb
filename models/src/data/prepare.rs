//! A data source as a model's input, in one place for every command (pre-training, probing,
//! reconstruction, the demo): the split read with the model's channels, the class-balanced
//! `--limit`, the geometry (MAE's random crops and flips, or one `Fit` for everything else),
//! the source's normalization, and a few lines telling the user what was done to the images.

use std::sync::Arc;

use tessera_dsl::spec::ImageSpec;

use super::{Augment, DataError, Dataset, Fit, Source, Split, Subset, Transform};

/// What the model needs from the data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preparation {
    pub split: Split,
    /// The model's input images.
    pub image: ImageSpec,
    /// How images are brought to the model's size when they are not randomly cropped.
    pub fit: Fit,
    /// MAE's pre-training augmentation (random resized crops, scale 0.2-1, and flips) instead
    /// of `fit`.
    pub augment: bool,
    /// Use this many images, classes balanced.
    pub limit: Option<usize>,
}

/// The data set and the per-sample transform that make the model's input.
pub struct Prepared {
    pub dataset: Arc<dyn Dataset>,
    pub transform: Transform,
    /// What the data is and what happens to each image, one line each.
    pub notes: Vec<String>,
}

/// Opens `source` as `prep` says, with `threads` threads for scanning a folder.
pub fn prepare(source: &Source, prep: &Preparation, threads: usize) -> Result<Prepared, DataError> {
    let image = prep.image;
    if image.height != image.width {
        return Err(DataError::BadConfig(format!(
            "the model's images are {}x{}; only square inputs are prepared",
            image.width, image.height
        )));
    }
    let size = image.height;
    let mut dataset = source.open_as(prep.split, threads, image.channels)?;
    let mut notes = vec![format!(
        "{}: {} images in {} class(es)",
        dataset.name(),
        dataset.len(),
        dataset.classes().len()
    )];
    if let Some(n) = prep.limit {
        let subset = Subset::balanced(dataset, n);
        notes.push(format!("--limit {n}: {}", subset.summary()));
        dataset = Arc::new(subset);
    }
    if let Some(note) = channel_note(source, image.channels) {
        notes.push(note);
    }
    let native = source.native_size();
    let augment = if prep.augment {
        notes.push(format!(
            "each image randomly cropped (scale 0.2-1, aspect 3/4-4/3), scaled to {size}x{size} \
             and flipped half the time, as official MAE pre-training (--augment)"
        ));
        Augment::mae_pretrain(size)
    } else if native == Some((size, size)) {
        Augment::None {
            width: size,
            height: size,
        }
    } else {
        notes.push(prep.fit.describe(size));
        prep.fit.augment(size)
    };
    let normalize = source.normalize_for(image.channels);
    let transform = Transform::new(augment, normalize)?;
    Ok(Prepared {
        dataset,
        transform,
        notes,
    })
}

/// Says how the files' channels were turned into the model's, where that can change them.
fn channel_note(source: &Source, channels: usize) -> Option<String> {
    match (source, channels) {
        (Source::Folder(_), 3) => Some(
            "decoded as RGB (grey files repeated into 3 channels, transparent pixels over white)"
                .into(),
        ),
        (Source::Folder(_), _) => Some(
            "decoded as grey (colour files converted with PIL's L weights, transparent pixels \
             over white)"
                .into(),
        ),
        (_, 3) => Some("grey images repeated into 3 channels for this RGB model".into()),
        _ => None,
    }
}
