//! MixMIM from the command line: the benchmark of its tiny preset, and a batch that cannot
//! pair its images refused with one line.

mod common;

use common::cli::{ok, pretrain_on_the_slice, scratch_dir, tessera, text};

#[test]
fn bench_times_the_tiny_mixmim_and_refuses_an_odd_batch() {
    let o = tessera(&[
        "bench",
        "--model",
        "mixmim_tiny_32",
        "--batch",
        "4",
        "--warmup",
        "1",
        "--iters",
        "2",
    ]);
    let stdout = ok(&o);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("mixmim_tiny_32 batch 4 on cpu"))
        .unwrap_or_else(|| panic!("{stdout}"));
    // A finite loss comes back from the step (the norm-pix MSE of an untrained model, near 1).
    let loss: f64 = line.rsplit("loss ").next().unwrap().trim().parse().unwrap();
    assert!(loss.is_finite() && loss > 0.1 && loss < 10.0, "{line}");

    let o = tessera(&[
        "bench",
        "--model",
        "mixmim_tiny_32",
        "--batch",
        "3",
        "--warmup",
        "1",
        "--iters",
        "1",
    ]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("batch must be even") && err.contains("3"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// Pre-training the Fashion-MNIST MixMIM from its TOML twin on the built-in slice, then the
/// reconstruction picture of held-out pairs with their loss; an odd count cannot pair.
#[test]
fn mixmim_pretrains_on_fashion_mnist_and_reconstructs_held_out_pairs() {
    let out = scratch_dir("mixmim-cli", "pretrain");
    let config = "examples/specs/mixmim_fmnist_32.toml";
    pretrain_on_the_slice(config, "1", &out);
    let spec = tessera::spec_file::load(&common::repo_root().join(config)).unwrap();
    let ckpt_path = out.join("last.safetensors");
    let ckpt = tessera::models::checkpoint::load(&ckpt_path, None).unwrap();
    assert_eq!(ckpt.spec, spec);
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4, "{csv}");

    let png = out.join("pairs.png");
    let o = tessera(&[
        "reconstruct",
        "--checkpoint",
        ckpt_path.to_str().unwrap(),
        "--count",
        "4",
        "--out",
        png.to_str().unwrap(),
    ]);
    let stdout = ok(&o);
    let loss: f64 = stdout
        .split("loss ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .unwrap_or_else(|| panic!("{stdout}"))
        .parse()
        .unwrap();
    assert!(loss.is_finite() && loss > 0.0, "{stdout}");
    assert!(stdout.contains("8 of 16 cells"), "{stdout}");
    let picture = image::open(&png).unwrap();
    // Two pairs: six panels a row, two rows (32 px shown at 3x).
    assert!(picture.width() >= 6 * 96 && picture.height() >= 2 * 96);

    let o = tessera(&[
        "reconstruct",
        "--checkpoint",
        ckpt_path.to_str().unwrap(),
        "--count",
        "3",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("even --count"),
        "{}",
        text(&o.stderr)
    );
}
