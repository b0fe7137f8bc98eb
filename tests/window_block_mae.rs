//! The user-declared masking strategy of `examples/window_block_mae.rs`: its property test
//! passes, the deliberately broken variant fails it with the violation named, its spec reads
//! back from TOML where the strategy is registered and is refused, naming it, by the `tessera`
//! binary, and the composed variant pre-trains a few steps.
mod common;

use proptest::test_runner::TestError;
use tessera::dsl::mask::{Invariant, MaskStrategy, Unit};
use tessera::dsl::ModelSpec;

#[path = "../examples/window_block_mae.rs"]
#[allow(dead_code)]
mod window_block_mae;

use window_block_mae::{
    pretrain, property_test, recipe, runner, WindowBlockMae, BROKEN_WINDOW_BLOCKS, WINDOW_BLOCKS,
};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_strategy_keeps_its_promises() {
    property_test(&WINDOW_BLOCKS, &mut runner(128)).unwrap();
    // What the spec was built from: 4 windows of 16 tokens keep floor(16 / 4) = 4 each.
    assert_eq!(WindowBlockMae::KEEP, 16);
    assert!(WINDOW_BLOCKS
        .invariants()
        .contains(&Invariant::MasksFloor(Unit::Window(4))));
}

#[test]
fn the_broken_variant_fails_its_property_test_with_the_violation() {
    match property_test(&BROKEN_WINDOW_BLOCKS, &mut runner(128)) {
        Err(TestError::Fail(why, (grid, ratio, _))) => {
            let why = why.message().to_string();
            // Shrunk to a case where the shares differ: more than one window, and 16 r not
            // a whole number.
            assert!(grid.len() > 16, "{grid:?}");
            assert_ne!((16 * ratio.num) % ratio.den, 0, "{ratio}");
            assert!(
                why.contains("4x4 window")
                    && why.contains("[removes floor(n r) tokens of every 4x4 window]"),
                "{why}"
            );
        }
        other => panic!("the broken variant passed or was not tested: {other:?}"),
    }
}

#[test]
fn the_spec_file_names_the_strategy_and_only_a_registering_program_reads_it() {
    let root = common::repo_root();
    let path = root.join("examples/window_block_mae.toml");
    // The tessera binary does not know the strategy: exit 2, naming it.
    let o = common::tessera()
        .args(["check", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stdout));
    let err = text(&o.stderr);
    assert!(
        err.contains("custom masking strategy `window_blocks` is not known to this program"),
        "{err}"
    );
    // Here it is registered: the file is the Rust declaration's twin.
    tessera::dsl::mask::register(WINDOW_BLOCKS).unwrap();
    let twin = tessera::spec_file::load(&path).unwrap();
    assert_eq!(twin, ModelSpec::Mae(WindowBlockMae::SPEC));
    let toml = tessera::spec_file::to_toml(&twin);
    assert!(
        toml.contains("[mask]\nkind = \"custom\"\nstrategy = \"window_blocks\"\nratio = \"3/4\""),
        "{toml}"
    );
}

#[test]
fn the_composed_variant_pretrains_and_its_checkpoint_names_the_strategy() {
    let dir = common::Scratch::path("window-blocks", "run");
    // 64 images at batch 32: 2 steps.
    let losses = pretrain(&dir, recipe(64, 32, 1)).unwrap();
    assert_eq!(losses.len(), 2);
    assert!(
        losses.iter().all(|l| l.is_finite() && *l > 0.0),
        "{losses:?}"
    );
    let ckpt = tessera::models::checkpoint::load(&dir.join("last.safetensors"), None).unwrap();
    assert_eq!(ckpt.spec, ModelSpec::Mae(WindowBlockMae::SPEC));
}
