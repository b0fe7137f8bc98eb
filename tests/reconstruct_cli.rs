//! `tessera reconstruct` from the outside: the grid picture for data and for image files, the
//! legend that says when patch statistics were re-injected and how images were fitted, and the
//! messages for a checkpoint that does not fit the model and for an image of the wrong size
//! when resizing is turned off.
mod common;

use common::cli::{ok, scratch_dir, tessera};

use std::path::{Path, PathBuf};

/// A checkpoint after two steps on the embedded slice.
fn trained(dir: &Path, targets: &str) -> PathBuf {
    let run = dir.join("run");
    ok(&tessera(&[
        "pretrain",
        "--limit",
        "64",
        "--batch",
        "32",
        "--epochs",
        "1",
        targets,
        "--out",
        run.to_str().unwrap(),
    ]));
    run.join("last.safetensors")
}

#[test]
fn draws_a_grid_and_says_when_statistics_are_reinjected() {
    let dir = scratch_dir("reconstruct-cli", "grid");
    let ckpt = trained(&dir, "--norm-pix");
    let png = dir.join("grid.png");
    let text = ok(&tessera(&[
        "reconstruct",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--count",
        "3",
        "--out",
        png.to_str().unwrap(),
    ]));
    assert!(
        text.contains("re-injected") && text.contains("37 of 49"),
        "{text}"
    );
    let img = image::open(&png).unwrap().to_rgb8();
    // Three rows of four 112-pixel panels (28 px enlarged 4x) plus titles and legend.
    assert!(
        img.width() >= 4 * 112 && img.height() > 3 * 112,
        "{:?}",
        img.dimensions()
    );
    let three = img.height();

    let dir2 = scratch_dir("reconstruct-cli", "grid-pix");
    let ckpt = trained(&dir2, "--no-norm-pix");
    let png = dir2.join("grid.png");
    let text = ok(&tessera(&[
        "reconstruct",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--count",
        "5",
        "--mask-ratio",
        "1/2",
        "--out",
        png.to_str().unwrap(),
    ]));
    assert!(
        !text.contains("re-injected") && text.contains("as it is"),
        "{text}"
    );
    assert!(text.contains("25 of 49"), "{text}");
    let img = image::open(&png).unwrap().to_rgb8();
    // Two more rows of 112-pixel panels (the legend is two lines shorter).
    assert!(img.height() > three + 112, "{} vs {three}", img.height());
}

#[test]
fn image_files_of_any_size_are_fitted_unless_exact_is_asked() {
    let dir = scratch_dir("reconstruct-cli", "files");
    let ckpt = trained(&dir, "--norm-pix");
    let good = dir.join("good.png");
    image::GrayImage::from_fn(28, 28, |x, y| image::Luma([((x * 9 + y * 3) % 256) as u8]))
        .save(&good)
        .unwrap();
    let bad = dir.join("big.png");
    image::GrayImage::from_fn(32, 30, |x, _| image::Luma([x as u8 * 8]))
        .save(&bad)
        .unwrap();
    let png = dir.join("files.png");
    let c = ckpt.to_str().unwrap();
    let text = ok(&tessera(&[
        "reconstruct",
        "--checkpoint",
        c,
        "--image",
        good.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
    ]));
    assert!(text.contains("1 images"), "{text}");
    assert!(png.exists());
    // Another size is centre-cropped and scaled by default, and the legend says so.
    let text = ok(&tessera(&[
        "reconstruct",
        "--checkpoint",
        c,
        "--image",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--out",
        dir.join("both.png").to_str().unwrap(),
    ]));
    assert!(
        text.contains("2 images") && text.contains("center-crop"),
        "{text}"
    );
    let out = tessera(&[
        "reconstruct",
        "--checkpoint",
        c,
        "--fit",
        "exact",
        "--image",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--out",
        dir.join("no.png").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("big.png") && err.contains("32x30") && err.contains("28x28"),
        "{err}"
    );
    assert!(!dir.join("no.png").exists());
}

#[test]
fn a_checkpoint_that_does_not_fit_the_model_names_the_tensor_and_shapes() {
    let dir = scratch_dir("reconstruct-cli", "misfit");
    let ckpt = trained(&dir, "--norm-pix");
    let before = std::fs::read(&ckpt).unwrap();
    for cmd in ["reconstruct", "probe"] {
        let mut args = vec![cmd, "--checkpoint", ckpt.to_str().unwrap(), "--model"];
        args.push("mae_tiny_32");
        let out_png = dir.join("x.png");
        if cmd == "reconstruct" {
            args.extend(["--out", out_png.to_str().unwrap()]);
        }
        let out = tessera(&args);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        // mae_tiny_32 has a 192-wide encoder; the checkpoint's is 128 wide.
        assert!(
            err.contains("`cls_token`")
                && err.contains("[1, 1, 128]")
                && err.contains("[1, 1, 192]"),
            "{cmd}: {err}"
        );
    }
    assert_eq!(std::fs::read(&ckpt).unwrap(), before);
}
