//! Fashion-MNIST (Zalando, MIT): the four IDX files of a directory, or the slice embedded in
//! the binary (`data/fashion-mnist-slice`, first 2048 train / 512 test images).

use std::path::{Path, PathBuf};

use super::idx::{parse_idx_u8, read_idx_u8_file, IdxU8};
use super::{DataError, Dataset, Image, Split};

/// Label names, in label order.
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Mean and standard deviation of the training pixels scaled to [0, 1], the normalization
/// of the PyTorch reference run (`torch_fmnist_mae_probe.py`).
pub const MEAN: f32 = 0.2860;
pub const STD: f32 = 0.3530;

/// One split of an IDX data set held in memory: u8 images (N, rows, cols) and u8 labels.
#[derive(Clone, Debug)]
pub struct LabeledImages {
    name: String,
    rows: usize,
    cols: usize,
    images: Vec<u8>,
    labels: Vec<u8>,
    classes: Vec<String>,
}

impl LabeledImages {
    /// Pairs an images array (N, rows, cols) with a labels array (N); labels must be < 10.
    pub fn from_idx(
        name: String,
        images: IdxU8,
        images_path: &Path,
        labels: IdxU8,
        labels_path: &Path,
    ) -> Result<Self, DataError> {
        let (n, rows, cols) = match images.dims[..] {
            [n, r, c] => (n, r, c),
            _ => {
                return Err(DataError::Inconsistent {
                    path: images_path.to_path_buf(),
                    what: format!("expected 3 dimensions, found {:?}", images.dims),
                })
            }
        };
        if labels.dims != [n] {
            return Err(DataError::Inconsistent {
                path: labels_path.to_path_buf(),
                what: format!(
                    "holds {:?} labels but {} holds {n} images",
                    labels.dims,
                    images_path.display()
                ),
            });
        }
        if let Some(i) = labels
            .data
            .iter()
            .position(|&l| l as usize >= CLASS_NAMES.len())
        {
            return Err(DataError::Inconsistent {
                path: labels_path.to_path_buf(),
                what: format!(
                    "label {} at index {i} is out of range; expected 0..{}",
                    labels.data[i],
                    CLASS_NAMES.len()
                ),
            });
        }
        if n == 0 {
            return Err(DataError::Empty {
                what: name,
                why: format!("{} holds no images", images_path.display()),
            });
        }
        Ok(LabeledImages {
            name,
            rows,
            cols,
            images: images.data,
            labels: labels.data,
            classes: CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// All pixels, image after image, row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.images
    }

    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Pixels of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        let per = self.rows * self.cols;
        &self.images[index * per..(index + 1) * per]
    }

    /// The first `n` samples (all of them if `n` is larger).
    pub fn truncated(&self, n: usize) -> LabeledImages {
        let n = n.min(self.labels.len());
        let per = self.rows * self.cols;
        LabeledImages {
            name: format!("{} (first {n})", self.name),
            images: self.images[..n * per].to_vec(),
            labels: self.labels[..n].to_vec(),
            ..self.clone()
        }
    }
}

impl Dataset for LabeledImages {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn label(&self, index: usize) -> u32 {
        u32::from(self.labels[index])
    }

    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn channels(&self) -> usize {
        1
    }

    fn describe(&self, index: usize) -> String {
        format!("{}[{index}]", self.name)
    }

    fn load(&self, index: usize) -> Result<Image, DataError> {
        Image::new(self.cols, self.rows, 1, self.image(index).to_vec())
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

/// File stems of a split: (images, labels).
fn stems(split: Split) -> (&'static str, &'static str) {
    match split {
        Split::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        Split::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
}

/// `STEM.gz` if present, else `STEM`.
fn find(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{stem}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let plain = dir.join(stem);
    if plain.is_file() {
        return Ok(plain);
    }
    Err(DataError::MissingFile {
        dir: dir.to_path_buf(),
        tried: format!("{stem}.gz, {stem}"),
        expected: "the Fashion-MNIST IDX files there".into(),
    })
}

/// Both splits of Fashion-MNIST.
#[derive(Clone, Debug)]
pub struct FashionMnist {
    pub train: LabeledImages,
    pub test: LabeledImages,
}

/// Loads both splits from a directory holding the four IDX files, gzipped or not (Debian's
/// `dataset-fashion-mnist` installs them in `/usr/share/datasets/fashion-mnist`).
pub fn load_fashion_mnist(dir: &Path) -> Result<FashionMnist, DataError> {
    Ok(FashionMnist {
        train: load_fashion_mnist_split(dir, Split::Train)?,
        test: load_fashion_mnist_split(dir, Split::Test)?,
    })
}

/// Loads one split from a directory holding the IDX files, gzipped or not.
pub fn load_fashion_mnist_split(dir: &Path, split: Split) -> Result<LabeledImages, DataError> {
    if !dir.is_dir() {
        return Err(DataError::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        ));
    }
    let (img_stem, lbl_stem) = stems(split);
    let img_path = find(dir, img_stem)?;
    let lbl_path = find(dir, lbl_stem)?;
    let images = read_idx_u8_file(&img_path, 3)?;
    let labels = read_idx_u8_file(&lbl_path, 1)?;
    let name = format!("fashion-mnist:{} {split}", dir.display());
    LabeledImages::from_idx(name, images, &img_path, labels, &lbl_path)
}

const SLICE_TRAIN_IMAGES: &[u8] =
    include_bytes!("../../../data/fashion-mnist-slice/train-images-idx3-ubyte.gz");
const SLICE_TRAIN_LABELS: &[u8] =
    include_bytes!("../../../data/fashion-mnist-slice/train-labels-idx1-ubyte.gz");
const SLICE_TEST_IMAGES: &[u8] =
    include_bytes!("../../../data/fashion-mnist-slice/t10k-images-idx3-ubyte.gz");
const SLICE_TEST_LABELS: &[u8] =
    include_bytes!("../../../data/fashion-mnist-slice/t10k-labels-idx1-ubyte.gz");

/// The embedded slice: the first 2048 train and first 512 test images of Fashion-MNIST.
pub fn embedded_fashion_mnist() -> Result<FashionMnist, DataError> {
    Ok(FashionMnist {
        train: embedded_fashion_mnist_split(Split::Train)?,
        test: embedded_fashion_mnist_split(Split::Test)?,
    })
}

/// One split of the embedded slice.
pub fn embedded_fashion_mnist_split(split: Split) -> Result<LabeledImages, DataError> {
    let (img, lbl) = match split {
        Split::Train => (SLICE_TRAIN_IMAGES, SLICE_TRAIN_LABELS),
        Split::Test => (SLICE_TEST_IMAGES, SLICE_TEST_LABELS),
    };
    let (img_stem, lbl_stem) = stems(split);
    let img_path = PathBuf::from(format!("<embedded>/{img_stem}.gz"));
    let lbl_path = PathBuf::from(format!("<embedded>/{lbl_stem}.gz"));
    let images = parse_idx_u8(img, 3, &img_path)?;
    let labels = parse_idx_u8(lbl, 1, &lbl_path)?;
    let name = format!("fashion-mnist-embedded {split}");
    LabeledImages::from_idx(name, images, &img_path, labels, &lbl_path)
}
