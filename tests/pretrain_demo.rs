//! `tessera demo` (the README's first command), shortened with its own flags: it pre-trains
//! on the embedded slice, probes the encoder against its random initialization and prints
//! both, and leaves the reconstruction grid, the loss plot, log.txt, the checkpoint and the
//! mask pictures in its folder; run again, it reuses the finished run, and with more epochs
//! it trains the same run longer.
mod common;

#[test]
fn the_demo_writes_its_pictures_and_checkpoint_and_reruns() {
    let dir = common::Scratch::path("demo-test", "run");
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
    // Both probes are printed, with the gain and a verdict that follows from them.
    for part in ["random init (seed 0)", "pre-trained (2 steps)", "gain"] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(
        text.contains("Pre-training pays off") || text.contains("too short"),
        "{text}"
    );
    for file in [
        "reconstruction.png",
        "loss.png",
        "log.txt",
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
    // A second demo asking for more epochs continues the same run.
    let longer = common::tessera()
        .args(["demo", "--epochs", "2", "--limit", "128", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&longer.stdout);
    assert!(
        longer.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&longer.stderr)
    );
    assert!(text.contains("pre-trained (4 steps)"), "{text}");
}
