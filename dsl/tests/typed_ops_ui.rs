//! Typed graph ops at compile time: a matmul of per-sample shapes whose inner dimensions
//! differ fails the build (`tests/ui/*.stderr`; regenerate with `TRYBUILD=overwrite`).

#[test]
fn mismatched_typed_matmul_does_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
