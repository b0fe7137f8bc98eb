//! The mini-batch loader on the embedded Fashion-MNIST slice: values and labels of each
//! sample, coverage of an epoch, determinism across runs and worker counts, exact resumption,
//! the last partial batch, early drop, and error propagation.

use std::sync::Arc;

use tessera_models::data::{
    embedded_fashion_mnist_split, Augment, Batch, DataError, Dataset, LabeledImages, Loader,
    LoaderConfig, Normalize, Split, Transform,
};

fn slice() -> Arc<LabeledImages> {
    Arc::new(embedded_fashion_mnist_split(Split::Train).unwrap())
}

fn plain() -> Transform {
    Transform::new(
        Augment::None {
            width: 28,
            height: 28,
        },
        Normalize::fashion_mnist(),
    )
    .unwrap()
}

fn augmented() -> Transform {
    Transform::new(Augment::mae_pretrain(28), Normalize::fashion_mnist()).unwrap()
}

fn collect(loader: &Loader, epoch: u64, step: usize) -> Vec<Batch> {
    loader
        .resume(epoch, step)
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

#[test]
fn an_epoch_is_a_permutation_with_the_right_values() {
    let data = slice();
    let loader = Loader::new(data.clone(), plain(), LoaderConfig::train(256, 1)).unwrap();
    assert_eq!(loader.steps_per_epoch(), 8);
    assert_eq!(loader.batch_shape(), [256, 1, 28, 28]);
    let mut it = loader.epoch(0);
    assert_eq!(it.remaining(), 8);
    let mut seen = vec![false; 2048];
    let mut steps = Vec::new();
    while let Some(batch) = it.next() {
        let batch = batch.unwrap();
        assert_eq!(it.remaining(), 7 - batch.step);
        steps.push(batch.step);
        assert_eq!(batch.shape, [256, 1, 28, 28]);
        for (j, &idx) in batch.indices.iter().enumerate() {
            assert!(!seen[idx], "sample {idx} twice");
            seen[idx] = true;
            assert_eq!(batch.labels[j], u32::from(data.labels()[idx]));
            // Normalized with the reference run's statistics, in f64 here.
            let src = data.image(idx);
            for p in [0, 29, 14 * 28 + 13, 783] {
                let expect = (f64::from(src[p]) / 255.0 - 0.2860) / 0.3530;
                let got = f64::from(batch.images[j * 784 + p]);
                assert!((got - expect).abs() < 1e-5, "{got} vs {expect}");
            }
        }
    }
    assert_eq!(steps, (0..8).collect::<Vec<_>>());
    assert!(seen.iter().all(|&s| s));
    // Shuffled: not the data set's order.
    assert_ne!(loader.order(0)[..16], (0..16).collect::<Vec<_>>()[..]);
}

#[test]
fn deterministic_across_runs_worker_counts_and_resumption() {
    let data = slice();
    let cfg = |workers| LoaderConfig {
        workers,
        prefetch: 1,
        ..LoaderConfig::train(100, 42)
    };
    let one = Loader::new(data.clone(), augmented(), cfg(1)).unwrap();
    let three = Loader::new(data.clone(), augmented(), cfg(3)).unwrap();
    let full = collect(&one, 3, 0);
    assert_eq!(full.len(), 20);
    assert_eq!(full, collect(&three, 3, 0));
    assert_eq!(full, collect(&one, 3, 0));
    // Resuming at (epoch 3, step 13) sees exactly the rest of that epoch.
    assert_eq!(collect(&three, 3, 13), full[13..].to_vec());
    assert!(collect(&one, 3, 20).is_empty());
    assert!(matches!(one.resume(3, 21), Err(DataError::BadConfig(_))));
    // Other epochs and other seeds shuffle and augment differently.
    assert_ne!(one.order(3), one.order(4));
    let other_seed = Loader::new(data, augmented(), LoaderConfig::train(100, 43)).unwrap();
    assert_ne!(one.order(3), other_seed.order(3));
    // The augmentation of a sample depends on its position, not just the sample.
    let again = collect(&one, 4, 0);
    assert_ne!(full[0].images, again[0].images);
}

#[test]
fn eval_order_keeps_every_sample_and_a_short_last_batch() {
    let test = Arc::new(embedded_fashion_mnist_split(Split::Test).unwrap());
    let loader = Loader::new(test.clone(), plain(), LoaderConfig::eval(100)).unwrap();
    assert_eq!(loader.steps_per_epoch(), 6);
    let batches = collect(&loader, 0, 0);
    let sizes: Vec<usize> = batches.iter().map(|b| b.shape[0]).collect();
    assert_eq!(sizes, [100, 100, 100, 100, 100, 12]);
    let indices: Vec<usize> = batches.iter().flat_map(|b| b.indices.clone()).collect();
    assert_eq!(indices, (0..512).collect::<Vec<_>>());
    assert_eq!(batches[5].images.len(), 12 * 784);
}

#[test]
fn dropping_an_epoch_early_stops_the_workers() {
    let loader = Loader::new(
        slice(),
        augmented(),
        LoaderConfig {
            workers: 2,
            prefetch: 1,
            ..LoaderConfig::train(16, 0)
        },
    )
    .unwrap();
    let mut it = loader.epoch(0);
    assert!(it.next().unwrap().is_ok());
    drop(it); // must return: blocked workers see the closed channel
    assert_eq!(loader.epoch(1).take(3).count(), 3);
}

#[test]
fn errors_reach_the_consumer_and_end_the_epoch() {
    let wrong = Transform::new(
        Augment::None {
            width: 32,
            height: 32,
        },
        Normalize::fashion_mnist(),
    )
    .unwrap();
    let loader = Loader::new(slice(), wrong, LoaderConfig::train(64, 0)).unwrap();
    let mut it = loader.epoch(0);
    let err = it.next().unwrap().unwrap_err();
    assert!(matches!(
        err,
        DataError::UnexpectedSize {
            found_w: 28,
            expected_w: 32,
            ..
        }
    ));
    assert!(
        err.to_string().contains("fashion-mnist-embedded train["),
        "{err}"
    );
    assert!(it.next().is_none());
}

#[test]
fn bad_loader_settings() {
    let data: Arc<dyn Dataset> = slice();
    let rgb = Transform::new(Augment::mae_pretrain(28), Normalize::imagenet()).unwrap();
    assert!(matches!(
        Loader::new(data.clone(), rgb, LoaderConfig::train(8, 0)),
        Err(DataError::BadConfig(_))
    ));
    assert!(matches!(
        Loader::new(data.clone(), plain(), LoaderConfig::train(4096, 0)),
        Err(DataError::Empty { .. })
    ));
    assert!(Loader::new(data, plain(), LoaderConfig::train(0, 0)).is_err());
}
