//! `tessera kernels --check` from the outside: every registered kernel is listed with the four
//! targets it translated to, and the command succeeds.
mod common;

#[test]
fn every_kernel_translates_to_every_target() {
    let o = common::tessera()
        .args(["kernels", "--check"])
        .output()
        .expect("the tessera binary runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for k in tessera::shaders::KERNELS {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(k.name))
            .unwrap_or_else(|| panic!("no line for {}:\n{stdout}", k.name));
        for t in ["SPIR-V ok", "MSL ok", "HLSL ok", "GLSL ok"] {
            assert!(line.contains(t), "{}: {line}", k.name);
        }
    }
    assert!(stdout.contains(&format!("all {} kernels", tessera::shaders::KERNELS.len())));
}

#[test]
fn without_check_the_kernels_are_listed() {
    let o = common::tessera()
        .arg("kernels")
        .output()
        .expect("the tessera binary runs");
    assert!(o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    // A header line naming the columns, then one line per kernel.
    assert_eq!(
        stdout.lines().count(),
        tessera::shaders::KERNELS.len() + 1,
        "{stdout}"
    );
    let header = stdout.lines().next().unwrap();
    assert!(
        header.starts_with("kernel") && header.contains("workgroup"),
        "{header}"
    );
    assert!(stdout.contains("WORKGROUP_SIZE=64"), "{stdout}");
}
