//! The spec macros at compile time: every shape rule of reference §8 fails the build with its
//! message (`tests/compile_fail/*.stderr`), every preset compiles and runs
//! (`tests/compile_pass/*.rs`). One test, so trybuild builds the cases in one batch.
//! Regenerate the expected output with `TRYBUILD=overwrite`, then read it.

#[test]
fn shape_rules_fail_the_build_and_presets_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/compile_fail/*.rs");
    cases.pass("tests/compile_pass/*.rs");
}
