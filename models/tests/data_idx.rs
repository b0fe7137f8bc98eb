//! The IDX reader on real Fashion-MNIST: the embedded slice, a plain (non-gzipped) copy of it,
//! broken copies, and the full set when Debian's `dataset-fashion-mnist` is installed.
//!
//! The expected numbers were computed independently with Python's gzip module on
//! data/fashion-mnist-slice (see its README):
//!     im = gzip.open("train-images-idx3-ubyte.gz").read()[16:]
//!     lb = gzip.open("train-labels-idx1-ubyte.gz").read()[8:]
//!     sum(im); sum((i % 251 + 1) * p for i, p in enumerate(im)); [list(lb).count(k) ...]

mod common;
use common::temp_dir;
use std::path::Path;

use tessera_models::data::idx::{encode_idx_u8, read_idx_u8_file};
use tessera_models::data::{
    embedded_fashion_mnist, load_fashion_mnist, load_fashion_mnist_split, DataError, Dataset,
    LabeledImages, Source, Split,
};

fn histogram(set: &LabeledImages) -> [usize; 10] {
    let mut h = [0; 10];
    for &l in set.labels() {
        h[l as usize] += 1;
    }
    h
}

fn weighted_sum(px: &[u8]) -> u64 {
    px.iter()
        .enumerate()
        .map(|(i, &p)| (i as u64 % 251 + 1) * u64::from(p))
        .sum()
}

#[test]
fn embedded_slice_matches_python_reading() {
    let fm = embedded_fashion_mnist().unwrap();
    assert_eq!(
        (fm.train.len(), fm.train.rows(), fm.train.cols()),
        (2048, 28, 28)
    );
    assert_eq!(fm.test.len(), 512);
    assert_eq!(
        histogram(&fm.train),
        [196, 223, 206, 201, 193, 202, 199, 220, 203, 205]
    );
    assert_eq!(
        histogram(&fm.test),
        [56, 53, 71, 46, 58, 40, 47, 48, 45, 48]
    );
    let sum = |s: &LabeledImages| s.pixels().iter().map(|&p| u64::from(p)).sum::<u64>();
    assert_eq!(sum(&fm.train), 116_302_925);
    assert_eq!(sum(&fm.test), 30_331_366);
    assert_eq!(weighted_sum(fm.train.pixels()), 14_667_023_636);
    assert_eq!(weighted_sum(fm.test.pixels()), 3_818_859_606);
    assert_eq!(&fm.train.labels()[..10], &[9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert_eq!(&fm.test.labels()[..10], &[9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    // Orientation: row 14 of the first training image (an ankle boot), and one pixel (row 5,
    // column 20) of the second, read through the Dataset interface.
    let row14 = [
        0, 0, 1, 4, 6, 7, 2, 0, 0, 0, 0, 0, 237, 226, 217, 223, 222, 219, 222, 221, 216, 223, 229,
        215, 218, 255, 77, 0,
    ];
    assert_eq!(&fm.train.image(0)[14 * 28..15 * 28], &row14);
    let img1 = fm.train.load(1).unwrap();
    assert_eq!((img1.width, img1.height, img1.channels), (28, 28, 1));
    assert_eq!(img1.at(20, 5, 0), 222);
    assert_eq!(fm.train.label(0), 9);
    assert_eq!(fm.train.classes()[9], "Ankle boot");
}

fn copy_slice_plain(dir: &Path) {
    let fm = embedded_fashion_mnist().unwrap();
    for (set, img, lbl) in [
        (
            &fm.train,
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
        ),
        (&fm.test, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    ] {
        let n = set.len();
        std::fs::write(dir.join(img), encode_idx_u8(&[n, 28, 28], set.pixels())).unwrap();
        std::fs::write(dir.join(lbl), encode_idx_u8(&[n], set.labels())).unwrap();
    }
}

#[test]
fn gzipped_and_plain_directories_read_the_same() {
    let (_plain_guard, plain) = temp_dir("idx-plain");
    copy_slice_plain(&plain);
    let from_plain = load_fashion_mnist(&plain).unwrap();
    let slice_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/fashion-mnist-slice");
    let from_gz = load_fashion_mnist(&slice_dir).unwrap();
    let embedded = embedded_fashion_mnist().unwrap();
    for (a, b) in [(&from_plain, &embedded), (&from_gz, &embedded)] {
        assert_eq!(a.train.pixels(), b.train.pixels());
        assert_eq!(a.train.labels(), b.train.labels());
        assert_eq!(a.test.pixels(), b.test.pixels());
        assert_eq!(a.test.labels(), b.test.labels());
    }
    std::fs::remove_dir_all(plain).unwrap();
}

#[test]
fn broken_files_are_errors_naming_the_file() {
    let (_dir_guard, dir) = temp_dir("idx-broken");
    copy_slice_plain(&dir);
    let images = dir.join("train-images-idx3-ubyte");
    let labels = dir.join("train-labels-idx1-ubyte");

    // Truncated image file.
    let full = std::fs::read(&images).unwrap();
    std::fs::write(&images, &full[..full.len() - 100]).unwrap();
    let err = load_fashion_mnist_split(&dir, Split::Train).unwrap_err();
    assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    assert!(err.to_string().contains("train-images-idx3-ubyte"), "{err}");

    // Labels where images are expected: wrong magic.
    std::fs::copy(&labels, &images).unwrap();
    let err = load_fashion_mnist_split(&dir, Split::Train).unwrap_err();
    assert!(
        matches!(err, DataError::BadMagic { found: 0x801, .. }),
        "{err}"
    );

    // Fewer labels than images.
    std::fs::write(&images, &full).unwrap();
    let lab = read_idx_u8_file(&labels, 1).unwrap();
    std::fs::write(&labels, encode_idx_u8(&[100], &lab.data[..100])).unwrap();
    let err = load_fashion_mnist_split(&dir, Split::Train).unwrap_err();
    assert!(matches!(err, DataError::Inconsistent { .. }), "{err}");
    assert!(err.to_string().contains("2048 images"), "{err}");

    // A label outside 0..10.
    let mut bad = lab.data.clone();
    bad[7] = 12;
    std::fs::write(&labels, encode_idx_u8(&[2048], &bad)).unwrap();
    let err = load_fashion_mnist_split(&dir, Split::Train).unwrap_err();
    assert!(err.to_string().contains("label 12 at index 7"), "{err}");

    // A gzip stream cut in the middle.
    let gz = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../data/fashion-mnist-slice/t10k-images-idx3-ubyte.gz"),
    )
    .unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte.gz"), &gz[..gz.len() / 2]).unwrap();
    let err = load_fashion_mnist_split(&dir, Split::Test).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err}");

    // Missing files.
    let (_empty_guard, empty) = temp_dir("idx-empty");
    let err = load_fashion_mnist_split(&empty, Split::Test).unwrap_err();
    assert!(
        err.to_string().contains("t10k-images-idx3-ubyte.gz"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(empty).unwrap();
}

/// Runs only where Debian's dataset-fashion-mnist is installed (CI may install it).
#[test]
fn full_fashion_mnist_when_installed() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.join("train-images-idx3-ubyte.gz").is_file() {
        eprintln!("skipped: {} is not installed", dir.display());
        return;
    }
    let fm = load_fashion_mnist(dir).unwrap();
    assert_eq!(fm.train.len(), 60_000);
    assert_eq!(fm.test.len(), 10_000);
    assert_eq!(histogram(&fm.train), [6000; 10]);
    assert_eq!(histogram(&fm.test), [1000; 10]);
    let mean = fm.train.pixels().iter().map(|&p| p as f64).sum::<f64>() / (60_000.0 * 784.0);
    assert!((mean - 72.94).abs() < 0.01, "{mean}");
    // The slice is a prefix of the full set.
    let slice = embedded_fashion_mnist().unwrap();
    assert_eq!(&fm.train.pixels()[..2048 * 784], slice.train.pixels());
    assert_eq!(&fm.test.labels()[..512], slice.test.labels());
}

#[test]
fn source_specs_open_the_same_data() {
    let slice_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/fashion-mnist-slice");
    let from_dir: Source = format!("fashion-mnist:{}", slice_dir.display())
        .parse()
        .unwrap();
    let embedded: Source = "fashion-mnist-embedded".parse().unwrap();
    for split in [Split::Train, Split::Test] {
        let (a, b) = (
            from_dir.open(split, 1).unwrap(),
            embedded.open(split, 1).unwrap(),
        );
        assert_eq!(a.len(), b.len());
        for i in [0, 1, a.len() - 1] {
            assert_eq!(a.load(i).unwrap(), b.load(i).unwrap());
            assert_eq!(a.label(i), b.label(i));
        }
    }
    assert_eq!(
        (embedded.channels(), embedded.native_size()),
        (1, Some((28, 28)))
    );
    let missing: Source = "fashion-mnist:/nonexistent/fmnist".parse().unwrap();
    let err = missing.open(Split::Train, 1).err().unwrap();
    assert!(err.to_string().contains("/nonexistent/fmnist"), "{err}");
}
