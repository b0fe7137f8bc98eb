//! The linear probe end to end: a separable synthetic case, raw standardized pixels of the
//! embedded Fashion-MNIST slice, the full set against the sklearn reference (83.6-83.7 %)
//! when it is installed, and bad input.

use std::path::Path;
use std::time::Instant;

use tessera_dsl::rng::Rng;
use tessera_models::data::{
    embedded_fashion_mnist, load_fashion_mnist, FashionMnist, LabeledImages,
};
use tessera_models::probe::{linear_probe, FeatureSet, LogRegOptions, ProbeError, ProbeReport};

fn pixels(set: &LabeledImages) -> (Vec<f32>, Vec<u32>) {
    (
        set.pixels().iter().map(|&p| f32::from(p) / 255.0).collect(),
        set.labels().iter().map(|&l| u32::from(l)).collect(),
    )
}

/// The probe on raw pixels (in [0, 1]) of both splits, timed on stderr under `name`.
fn probe_raw_pixels(name: &str, fm: &FashionMnist) -> ProbeReport {
    let (xtr, ytr) = pixels(&fm.train);
    let (xte, yte) = pixels(&fm.test);
    let split = |features, labels| FeatureSet {
        features,
        dim: 784,
        labels,
    };
    let t = Instant::now();
    let r = linear_probe(
        split(&xtr, &ytr),
        split(&xte, &yte),
        10,
        &LogRegOptions::default(),
    )
    .unwrap();
    eprintln!("{name} probe: {r:?} in {:.1}s", t.elapsed().as_secs_f64());
    r
}

#[test]
fn separable_blobs_are_classified_perfectly() {
    // Three classes around far-apart centres in 6-D, on a wildly different scale per
    // feature (standardization must undo it); test points drawn from the same law.
    let centres = [[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]];
    let scales = [1.0, 1000.0, 0.001, 5.0, 1.0, 1.0];
    let mut rng = Rng::seed_from_u64(11);
    let mut draw = |n: usize| {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..n {
            let k = i % 3;
            for (f, s) in scales.iter().enumerate() {
                let centre = if f < 3 { centres[k][f] } else { 0.0 };
                x.push(((centre + rng.uniform(-1.0, 1.0)) * s) as f32);
            }
            y.push(k as u32);
        }
        (x, y)
    };
    let (xtr, ytr) = draw(150);
    let (xte, yte) = draw(90);
    let train = FeatureSet {
        features: &xtr,
        dim: 6,
        labels: &ytr,
    };
    let test = FeatureSet {
        features: &xte,
        dim: 6,
        labels: &yte,
    };
    let r = linear_probe(train, test, 3, &LogRegOptions::default()).unwrap();
    assert_eq!((r.train_top1, r.test_top1), (1.0, 1.0), "{r:?}");
    // Shuffling the training labels destroys it: the probe measures the features.
    let mut shuffled = ytr.clone();
    Rng::seed_from_u64(3).shuffle(&mut shuffled);
    let train = FeatureSet {
        features: &xtr,
        dim: 6,
        labels: &shuffled,
    };
    let r = linear_probe(train, test, 3, &LogRegOptions::default()).unwrap();
    assert!(r.test_top1 < 0.6, "{r:?}");
}

#[test]
fn raw_pixels_of_the_embedded_slice() {
    // 2048 training images, 512 test images, 784 standardized pixels: a linear classifier
    // reaches about 80 % (the full set gives 83.7 %).
    let fm = embedded_fashion_mnist().unwrap();
    let r = probe_raw_pixels("slice", &fm);
    assert!(r.test_top1 >= 0.70, "{r:?}");
    assert!(r.train_top1 > r.test_top1, "{r:?}");
}

/// The reference number: sklearn LogisticRegression(C=1, lbfgs, 300 iterations) on
/// standardized raw pixels of all 60k/10k images gives 83.57-83.72 %. Needs Debian's
/// dataset-fashion-mnist; takes a while on 2 cores, hence ignored by default:
/// `cargo test -p tessera-models --release --test probe_fit -- --ignored`.
#[test]
#[ignore]
fn raw_pixels_of_full_fashion_mnist_match_sklearn() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.join("train-images-idx3-ubyte.gz").is_file() {
        eprintln!("skipped: {} is not installed", dir.display());
        return;
    }
    let fm = load_fashion_mnist(dir).unwrap();
    let r = probe_raw_pixels("full", &fm);
    assert!(r.test_top1 >= 0.83, "{r:?}");
    assert!(r.train_top1 > 0.85, "{r:?}");
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = [0.5f32; 12];
    let y = [0u32, 1, 0, 1];
    let ok = FeatureSet {
        features: &x,
        dim: 3,
        labels: &y,
    };
    let opts = LogRegOptions::default();
    let short = FeatureSet {
        features: &x[..11],
        ..ok
    };
    assert!(matches!(
        linear_probe(short, ok, 2, &opts),
        Err(ProbeError::Shape { .. })
    ));
    let bad_label = [0u32, 1, 2, 1];
    let lab = FeatureSet {
        labels: &bad_label,
        ..ok
    };
    let err = linear_probe(ok, lab, 2, &opts).unwrap_err();
    assert!(err.to_string().contains("label 2 at row 2"), "{err}");
    let mut nan = x;
    nan[7] = f32::NAN;
    let err = linear_probe(
        FeatureSet {
            features: &nan,
            ..ok
        },
        ok,
        2,
        &opts,
    )
    .unwrap_err();
    assert!(
        matches!(err, ProbeError::NonFinite { row: 2, col: 1, .. }),
        "{err}"
    );
    let other_dim = FeatureSet {
        features: &x,
        dim: 6,
        labels: &y[..2],
    };
    assert!(linear_probe(ok, other_dim, 2, &opts).is_err());
    let bad_c = LogRegOptions {
        c: 0.0,
        ..LogRegOptions::default()
    };
    assert!(matches!(
        linear_probe(ok, ok, 2, &bad_c),
        Err(ProbeError::Config(_))
    ));
}
