//! `tessera demo` (the README's first command), shortened with its own flags: it pre-trains
//! on the embedded slice and leaves the reconstruction grid, the loss plot, the checkpoint and
//! the mask pictures in its folder; run again, it reuses the finished run.
mod common;

#[test]
fn the_demo_writes_its_pictures_and_checkpoint_and_reruns() {
    let dir = std::env::temp_dir().join(format!("tessera-demo-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = || {
        common::tessera()
            .args(["demo", "--epochs", "1", "--limit", "128", "--out"])
            .arg(&dir)
            .output()
            .unwrap()
    };
    let out = run();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "reconstruction.png",
        "loss.png",
        "metrics.csv",
        "last.safetensors",
        "last.optim.safetensors",
        "masks/random.png",
        "masks/uniform.png",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing; {text}");
    }
    let grid = image::open(dir.join("reconstruction.png"))
        .unwrap()
        .to_rgb8();
    // Eight rows of 112-pixel panels.
    assert!(grid.height() > 8 * 112, "{:?}", grid.dimensions());
    assert!(text.contains("re-injected"), "the legend is told: {text}");
    tessera::models::checkpoint::load(&dir.join("last.safetensors"), None).unwrap();
    let again = run();
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{text}");
    assert!(text.contains("already finished"), "{text}");
}
