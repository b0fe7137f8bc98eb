//! Running the `tessera` binary as a user would, and reading what it prints.
use std::path::Path;
use std::process::Output;

/// `tessera ARGS`, run from the repository root so that paths like `examples/...` resolve.
pub fn tessera(args: &[&str]) -> Output {
    super::tessera()
        .args(args)
        .current_dir(super::repo_root())
        .output()
        .expect("run tessera")
}

/// What a command printed, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The stdout of a run that must have succeeded; a failure shows both streams.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The last stdout line of a run that must have succeeded (every command's summary), as JSON.
pub fn last_json(out: &Output) -> serde_json::Value {
    let stdout = ok(out);
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the last line is not JSON ({e}): {stdout}"))
}

/// A short augmented pre-training from the TOML spec `config` on 64 images of the built-in
/// Fashion-MNIST slice (batch 16, learning rate 1e-3) into `out`, which must succeed; its
/// stdout.
pub fn pretrain_on_the_slice(config: &str, epochs: &str, out: &Path) -> String {
    ok(&tessera(&[
        "pretrain",
        "--config",
        config,
        "--augment",
        "--limit",
        "64",
        "--batch",
        "16",
        "--epochs",
        epochs,
        "--lr",
        "1e-3",
        "--out",
        out.to_str().unwrap(),
    ]))
}

/// An empty folder `name`, removed with everything in it when the returned value is dropped.
pub fn scratch_dir(tag: &str, name: &str) -> super::Scratch {
    super::Scratch::dir(tag, name)
}
