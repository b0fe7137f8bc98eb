//! Data sources and the input pipeline: Fashion-MNIST IDX files (gzipped or not, or the slice
//! embedded in the binary), ImageNet-style class folders of JPEG/PNG, MAE's augmentation, and
//! a deterministic, resumable mini-batch loader that decodes on worker threads ahead of the
//! consumer.

mod as_channels;
mod augment;
mod clips;
mod dataset;
mod error;
pub mod fashion_mnist;
mod fit;
mod folder;
pub mod idx;
mod loader;
mod normalize;
pub mod pixels;
mod prepare;
pub mod resize;
mod source;
mod subset;
mod transform;

pub use as_channels::AsChannels;
pub use augment::{flip_horizontal, random_resized_crop_rect, Augment};
pub use clips::{open_clips, samples_in, ClipFolder};
pub use dataset::{Dataset, Image, SkipLog, Skipped};
pub use error::DataError;
pub use fashion_mnist::{
    embedded_fashion_mnist, embedded_fashion_mnist_split, load_fashion_mnist,
    load_fashion_mnist_split, FashionMnist, LabeledImages,
};
pub use fit::Fit;
pub use folder::FolderDataset;
pub use loader::{default_workers, Batch, EpochIter, Loader, LoaderConfig};
pub use normalize::Normalize;
pub use prepare::{prepare, Preparation, Prepared};
pub use source::Source;
pub use subset::Subset;
pub use transform::Transform;

/// Which part of a data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Test,
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
        })
    }
}
