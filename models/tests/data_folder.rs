//! `folder:DIR` on a generated ImageNet-style tree: PNG and JPEG files of different sizes, a
//! corrupt file (skipped when scanning), a PNG whose body is cut (skipped when decoding), and
//! files that are not images (ignored).

mod common;
use common::temp_dir;
use std::path::Path;
use std::sync::Arc;

use image::{Rgb, RgbImage};
use tessera_models::data::{
    Augment, DataError, Dataset, FolderDataset, Loader, LoaderConfig, Normalize, Source, Split,
    Transform,
};

/// Pixel (x, y) = (5x, 7y, 100 + label): orientation and channel order are visible.
fn pattern(w: u32, h: u32, label: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(5 * x) as u8, (7 * y) as u8, 100 + label])
    })
}

/// cat: a.png 40x30, b.jpg 64x48, broken.png (garbage); dog: c.png 30x36, sub/d.png 20x20,
/// e.png (a valid header, body cut), notes.txt.
fn make_tree(root: &Path) {
    let cat = root.join("cat");
    let dog = root.join("dog");
    std::fs::create_dir_all(dog.join("sub")).unwrap();
    std::fs::create_dir_all(&cat).unwrap();
    pattern(40, 30, 0).save(cat.join("a.png")).unwrap();
    pattern(64, 48, 0).save(cat.join("b.jpg")).unwrap();
    std::fs::write(
        cat.join("broken.png"),
        b"this is not a png at all, just text",
    )
    .unwrap();
    pattern(30, 36, 1).save(dog.join("c.png")).unwrap();
    pattern(20, 20, 1)
        .save(dog.join("sub").join("d.png"))
        .unwrap();
    pattern(50, 50, 1).save(dog.join("e.png")).unwrap();
    let full = std::fs::read(dog.join("e.png")).unwrap();
    std::fs::write(dog.join("e.png"), &full[..full.len() / 2]).unwrap();
    std::fs::write(dog.join("notes.txt"), b"ignored").unwrap();
}

#[test]
fn scans_classes_skips_corrupt_files_and_decodes_the_rest() {
    let (_root_guard, root) = temp_dir("folder-scan");
    make_tree(&root);
    let set = FolderDataset::open(&root, 2).unwrap();
    assert_eq!(set.classes(), ["cat", "dog"]);
    let names: Vec<String> = (0..set.len())
        .map(|i| {
            set.path(i)
                .strip_prefix(&root)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "cat/a.png",
            "cat/b.jpg",
            "dog/c.png",
            "dog/e.png",
            "dog/sub/d.png"
        ]
    );
    assert_eq!(
        (0..5).map(|i| set.label(i)).collect::<Vec<_>>(),
        [0, 0, 1, 1, 1]
    );
    let skipped = set.skipped();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].path.ends_with("cat/broken.png"));

    // PNG is lossless: exact pixels, top row first, RGB order.
    let a = set.load(0).unwrap();
    assert_eq!((a.width, a.height, a.channels), (40, 30, 3));
    for (x, y) in [(0, 0), (39, 0), (0, 29), (17, 11)] {
        let px = [a.at(x, y, 0), a.at(x, y, 1), a.at(x, y, 2)];
        assert_eq!(px, [(5 * x) as u8, (7 * y) as u8, 100]);
    }
    // JPEG is lossy: close to the pattern.
    let b = set.load(1).unwrap();
    assert_eq!((b.width, b.height), (64, 48));
    assert!((i32::from(b.at(40, 20, 0)) - 200).abs() <= 8);
    assert!((i32::from(b.at(40, 20, 1)) - 140).abs() <= 8);

    // The cut PNG passes the header check but not decoding: reported, recorded once.
    let err = set.load(3).unwrap_err();
    assert!(matches!(err, DataError::Unreadable { .. }), "{err}");
    assert!(err.to_string().contains("e.png"), "{err}");
    assert!(set.load(3).is_err());
    assert_eq!(set.skipped().len(), 2);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn loader_fills_the_place_of_an_unreadable_file_and_counts_it() {
    let (_root_guard, root) = temp_dir("folder-loader");
    make_tree(&root);
    let set: Arc<dyn Dataset> = Arc::new(FolderDataset::open(&root, 2).unwrap());
    let t = Transform::new(Augment::mae_pretrain(16), Normalize::imagenet()).unwrap();
    let config = LoaderConfig {
        workers: 2,
        ..LoaderConfig::train(2, 7)
    };
    let loader = Loader::new(Arc::clone(&set), t, config).unwrap();
    assert_eq!(loader.steps_per_epoch(), 2);
    for epoch in 0..3 {
        let batches: Vec<_> = loader.epoch(epoch).map(|b| b.unwrap()).collect();
        assert_eq!(batches.len(), 2);
        for b in &batches {
            assert_eq!(b.shape, [2, 3, 16, 16]);
            assert!(!b.indices.contains(&3), "the cut file must not be used");
            assert!(b.images.iter().all(|v| v.is_finite()));
            for (i, &idx) in b.indices.iter().enumerate() {
                assert_eq!(b.labels[i], set.label(idx));
            }
        }
    }
    let skipped = set.skipped();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn without_resizing_a_wrong_size_is_an_error_naming_the_file() {
    let (_root_guard, root) = temp_dir("folder-size");
    make_tree(&root);
    let set: Arc<dyn Dataset> = Arc::new(FolderDataset::open(&root, 1).unwrap());
    let t = Transform::new(
        Augment::None {
            width: 40,
            height: 30,
        },
        Normalize::imagenet(),
    )
    .unwrap();
    let loader = Loader::new(set, t, LoaderConfig::eval(5)).unwrap();
    let err = loader.epoch(0).next().unwrap().unwrap_err();
    assert!(
        matches!(err, DataError::UnexpectedSize { found_w: 64, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("b.jpg"), "{err}");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_folder_with_nothing_readable_is_an_error() {
    let (_root_guard, root) = temp_dir("folder-empty");
    std::fs::create_dir_all(root.join("x")).unwrap();
    std::fs::write(root.join("x").join("bad.jpg"), b"\xff\xd8 garbage").unwrap();
    let err = FolderDataset::open(&root, 1).unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("1 image file(s) found, 1 unreadable"),
        "{err}"
    );
    std::fs::create_dir_all(root.join("empty")).unwrap();
    let err = FolderDataset::open(&root.join("empty"), 1).unwrap_err();
    assert!(err.to_string().contains("no class sub-folders"), "{err}");
    let err = FolderDataset::open(&root.join("missing"), 1).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&root.join("missing").display().to_string()) && msg.contains("no such folder"),
        "{msg}"
    );
    // A relative path also names the directory it was read from.
    let err = FolderDataset::open(Path::new("no-such-folder-here"), 1).unwrap_err();
    let msg = err.to_string();
    let cwd = std::env::current_dir().unwrap();
    assert!(
        msg.contains("current directory") && msg.contains(&cwd.display().to_string()),
        "{msg}"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn source_uses_train_and_val_splits() {
    let (_root_guard, root) = temp_dir("folder-splits");
    make_tree(&root.join("train"));
    std::fs::create_dir_all(root.join("val/cat")).unwrap();
    std::fs::create_dir_all(root.join("val/dog")).unwrap();
    pattern(8, 8, 0).save(root.join("val/cat/v.png")).unwrap();
    pattern(8, 8, 1).save(root.join("val/dog/w.png")).unwrap();
    let source: Source = format!("folder:{}", root.display()).parse().unwrap();
    assert_eq!(source.open(Split::Train, 2).unwrap().len(), 5);
    let val = source.open(Split::Test, 2).unwrap();
    assert_eq!((val.len(), val.label(1)), (2, 1));
    let only_train: Source = format!("folder:{}", root.join("train").display())
        .parse()
        .unwrap();
    let err = only_train.open(Split::Test, 1).err().unwrap();
    assert!(err.to_string().contains("val/, test/"), "{err}");
    std::fs::remove_dir_all(root).unwrap();
}
