//! What the run-time twins of `tests/compile_fail` share: a broken spec, validated at run time,
//! must name the rule and print the very message the compiler printed for its case.
use tessera_dsl::spec::ModelSpec;
use tessera_dsl::Rule;

/// `spec` breaks `rule` at run time with the message of `tests/compile_fail/{case}.stderr`;
/// returns that message.
pub fn assert_twin(case: &str, spec: &ModelSpec, rule: Rule) -> String {
    let err = spec.validate().expect_err(case);
    assert_eq!(err.rule(), rule, "{case}: {err}");
    assert!(
        err.as_str().contains(&format!("(rule {}, ", rule.name())),
        "{case}: {err}"
    );
    assert!(
        err.as_str().starts_with(spec.family().name()),
        "{case}: {err}"
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile_fail");
    let stderr = std::fs::read_to_string(dir.join(format!("{case}.stderr")))
        .unwrap_or_else(|e| panic!("{case}.stderr: {e}"));
    let first = stderr.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("error[E0080]: evaluation panicked: {err}"),
        "{case}"
    );
    err.as_str().to_string()
}
