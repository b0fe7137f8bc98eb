//! Data source specs as the CLI takes them: `fashion-mnist:DIR`, `folder:DIR`,
//! `fashion-mnist-embedded`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use super::as_channels::AsChannels;
use super::folder::FolderDataset;
use super::{
    embedded_fashion_mnist_split, load_fashion_mnist_split, DataError, Dataset, Normalize, Split,
};

const FORMS: &str = "expected `fashion-mnist:DIR`, `folder:DIR` or `fashion-mnist-embedded`";

/// Where images come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The four Fashion-MNIST IDX files (gzipped or not) in a directory.
    FashionMnist(PathBuf),
    /// The slice of Fashion-MNIST compiled into the binary.
    FashionMnistEmbedded,
    /// One sub-folder per class of JPEG/PNG files; `DIR/train` and `DIR/val` (or `DIR/test`)
    /// are used as splits when present.
    Folder(PathBuf),
}

impl FromStr for Source {
    type Err = DataError;

    fn from_str(spec: &str) -> Result<Self, DataError> {
        let bad = |why: String| DataError::BadSpec {
            spec: spec.to_string(),
            why,
        };
        if spec == "fashion-mnist-embedded" {
            return Ok(Source::FashionMnistEmbedded);
        }
        let (kind, dir) = spec
            .split_once(':')
            .ok_or_else(|| bad(format!("no `KIND:` prefix; {FORMS}")))?;
        if dir.is_empty() {
            return Err(bad(format!(
                "the directory after `{kind}:` is empty; {FORMS}"
            )));
        }
        match kind {
            "fashion-mnist" => Ok(Source::FashionMnist(PathBuf::from(dir))),
            "folder" => Ok(Source::Folder(PathBuf::from(dir))),
            _ => Err(bad(format!("unknown kind `{kind}`; {FORMS}"))),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::FashionMnist(d) => write!(f, "fashion-mnist:{}", d.display()),
            Source::FashionMnistEmbedded => f.write_str("fashion-mnist-embedded"),
            Source::Folder(d) => write!(f, "folder:{}", d.display()),
        }
    }
}

impl Source {
    /// Opens one split. `threads` is used to check a folder's files.
    pub fn open(&self, split: Split, threads: usize) -> Result<Arc<dyn Dataset>, DataError> {
        Ok(match self {
            Source::FashionMnist(dir) => Arc::new(load_fashion_mnist_split(dir, split)?),
            Source::FashionMnistEmbedded => Arc::new(embedded_fashion_mnist_split(split)?),
            Source::Folder(root) => {
                Arc::new(FolderDataset::open(&folder_split(root, split)?, threads)?)
            }
        })
    }

    /// Opens one split with its images read as `channels` (1: grey, 3: RGB), whatever the
    /// files hold.
    pub fn open_as(
        &self,
        split: Split,
        threads: usize,
        channels: usize,
    ) -> Result<Arc<dyn Dataset>, DataError> {
        match self {
            Source::Folder(root) => Ok(Arc::new(FolderDataset::open_as(
                &folder_split(root, split)?,
                threads,
                channels,
            )?)),
            _ => AsChannels::wrap(self.open(split, threads)?, channels),
        }
    }

    /// The number of images of a split, counted cheaply (file names for a folder, without
    /// reading the files; unreadable ones are still counted).
    pub fn count_images(&self, split: Split) -> Result<usize, DataError> {
        match self {
            Source::Folder(root) => FolderDataset::count_files(&folder_split(root, split)?),
            _ => Ok(self.open(split, 1)?.len()),
        }
    }

    /// Whether the source has a held-out split (a folder needs `val/` or `test/`).
    pub fn has_test_split(&self) -> bool {
        match self {
            Source::Folder(root) => folder_split(root, Split::Test).is_ok(),
            _ => true,
        }
    }

    /// The same source with its directory made absolute (and resolved, where it exists), so
    /// a saved run finds it again from any working directory.
    pub fn absolute(&self) -> Source {
        let abs = |dir: &Path| {
            std::fs::canonicalize(dir).unwrap_or_else(|_| {
                std::env::current_dir()
                    .map(|cwd| cwd.join(dir))
                    .unwrap_or_else(|_| dir.to_path_buf())
            })
        };
        match self {
            Source::FashionMnist(d) => Source::FashionMnist(abs(d)),
            Source::Folder(d) => Source::Folder(abs(d)),
            Source::FashionMnistEmbedded => Source::FashionMnistEmbedded,
        }
    }

    /// Channels of the decoded images.
    pub fn channels(&self) -> usize {
        match self {
            Source::FashionMnist(_) | Source::FashionMnistEmbedded => 1,
            Source::Folder(_) => 3,
        }
    }

    /// The size every image has, where the source fixes it (28 x 28 for Fashion-MNIST).
    pub fn native_size(&self) -> Option<(usize, usize)> {
        match self {
            Source::FashionMnist(_) | Source::FashionMnistEmbedded => Some((28, 28)),
            Source::Folder(_) => None,
        }
    }

    /// The usual normalization: the data set's own statistics for Fashion-MNIST, ImageNet's
    /// for photo folders (as the MAE recipes do).
    pub fn default_normalize(&self) -> Normalize {
        self.normalize_for(self.channels())
    }

    /// The usual normalization of the images read as `channels`: the source's statistics,
    /// repeated per channel for grey read as RGB, or their luma-weighted mean for RGB read as
    /// grey.
    pub fn normalize_for(&self, channels: usize) -> Normalize {
        let base = match self {
            Source::FashionMnist(_) | Source::FashionMnistEmbedded => Normalize::fashion_mnist(),
            Source::Folder(_) => Normalize::imagenet(),
        };
        base.with_channels(channels)
    }
}

/// The folder of a split: `train/` for training and `val/` or `test/` for testing when they
/// exist; a root without them is a training set only.
pub(crate) fn folder_split(root: &Path, split: Split) -> Result<PathBuf, DataError> {
    let names: &[&str] = match split {
        Split::Train => &["train"],
        Split::Test => &["val", "test"],
    };
    if let Some(dir) = names.iter().map(|n| root.join(n)).find(|d| d.is_dir()) {
        return Ok(dir);
    }
    match split {
        Split::Train => Ok(root.to_path_buf()),
        Split::Test => Err(DataError::MissingFile {
            dir: root.to_path_buf(),
            tried: "val/, test/".into(),
            expected: "a held-out split in the ImageNet layout (DIR/val/<class>/...)".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_three_forms() {
        for spec in [
            "fashion-mnist:/usr/share/x",
            "folder:imgs",
            "fashion-mnist-embedded",
        ] {
            assert_eq!(spec.parse::<Source>().unwrap().to_string(), spec);
        }
        assert_eq!(
            "folder:C:/data".parse::<Source>().unwrap(),
            Source::Folder(PathBuf::from("C:/data"))
        );
    }

    #[test]
    fn bad_specs_name_the_input() {
        for (spec, part) in [
            ("imagenet:/data", "unknown kind `imagenet`"),
            ("folder:", "is empty"),
            ("fashion-mnist", "no `KIND:` prefix"),
        ] {
            let err = spec.parse::<Source>().unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, DataError::BadSpec { .. }), "{msg}");
            assert!(msg.contains(spec) && msg.contains(part), "{msg}");
        }
    }
}
