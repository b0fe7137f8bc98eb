//! MixMIM from the command line: the benchmark of its tiny preset, and a batch that cannot
//! pair its images refused with one line.
use std::process::Output;

mod common;

fn tessera(args: &[&str]) -> Output {
    common::tessera()
        .args(args)
        .current_dir(common::repo_root())
        .output()
        .expect("run tessera")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

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
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
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
