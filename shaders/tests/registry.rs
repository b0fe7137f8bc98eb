//! Every registered kernel parses, validates, specializes and translates to every target,
//! and its registry entry agrees with its WGSL. No device needed.

use tessera_shaders::{cross_compile, specialize, Kernel, Output, ShaderError, Target, AXPY};

#[test]
fn every_kernel_translates_to_every_target() {
    assert!(!tessera_shaders::KERNELS.is_empty());
    for k in tessera_shaders::KERNELS {
        let report = cross_compile(k, &[]).unwrap_or_else(|e| panic!("{e}"));
        let errors: Vec<String> = report.errors().map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", k.name);
        assert_eq!(report.translated(), Target::ALL, "{}", k.name);
        assert_eq!(
            report.workgroup_size, k.workgroup_size,
            "{}: registry shape is stale",
            k.name
        );
        for (target, out) in &report.outputs {
            match out.as_ref().unwrap() {
                // SPIR-V magic number, and more than a header.
                Output::SpirV(words) => {
                    assert_eq!(words[0], 0x0723_0203, "{}", k.name);
                    assert!(words.len() > 20);
                }
                // The text declares the entry point with the specialized workgroup shape.
                Output::Text(text) => {
                    let [x, y, z] = k.workgroup_size;
                    let marker = match target {
                        Target::Msl => format!("kernel void {}(", k.entry_point),
                        Target::Hlsl => format!("[numthreads({x}, {y}, {z})]"),
                        Target::Glsl => format!("local_size_x = {x}, local_size_y = {y}"),
                        Target::SpirV => unreachable!(),
                    };
                    assert!(
                        text.contains(&marker),
                        "{} {target} lacks {marker}:\n{text}",
                        k.name
                    );
                }
            }
        }
    }
}

#[test]
fn names_are_unique() {
    for (i, k) in tessera_shaders::KERNELS.iter().enumerate() {
        assert!(
            tessera_shaders::KERNELS[..i]
                .iter()
                .all(|o| o.name != k.name),
            "{}",
            k.name
        );
    }
}

#[test]
fn override_values_reach_the_translated_shader() {
    let axpy = &AXPY;
    let spec = specialize(axpy, &[("WORKGROUP_SIZE", 96.0)]).unwrap();
    assert_eq!(spec.workgroup_size, [96, 1, 1]);
    assert_eq!(spec.constants, vec![("WORKGROUP_SIZE", 96.0)]);
    let msl = match tessera_shaders::translate(&spec, Target::Msl).unwrap() {
        Output::Text(t) => t,
        Output::SpirV(_) => unreachable!(),
    };
    // The specialized size is baked into the body (row stride) of the translated kernel.
    assert!(msl.contains("96u"), "{msl}");
    // ...and the default is what an empty set gives.
    assert_eq!(specialize(axpy, &[]).unwrap().workgroup_size, [64, 1, 1]);
}

#[test]
fn unknown_or_invalid_overrides_are_errors() {
    let axpy = &AXPY;
    let err = specialize(axpy, &[("WORKGROUPSIZE", 32.0)]).unwrap_err();
    assert!(matches!(err, ShaderError::UnknownOverride { .. }), "{err}");
    assert!(
        err.to_string().contains("WORKGROUP_SIZE"),
        "message lists the known names: {err}"
    );
    let err = specialize(axpy, &[("WORKGROUP_SIZE", 0.0)]).unwrap_err();
    assert!(matches!(err, ShaderError::Override { .. }), "{err}");
}

fn leak(k: Kernel) -> &'static Kernel {
    Box::leak(Box::new(k))
}

#[test]
fn broken_kernels_are_reported_with_their_cause() {
    let base = AXPY;

    let syntax = leak(Kernel {
        source: "fn f( {",
        ..base
    });
    assert!(matches!(
        specialize(syntax, &[]),
        Err(ShaderError::Parse { .. })
    ));

    // Parses, but writes through a read-only binding.
    let src = base
        .source
        .replace("var<storage, read_write> y", "var<storage, read> y");
    let invalid = leak(Kernel {
        source: Box::leak(src.into_boxed_str()),
        ..base
    });
    let err = specialize(invalid, &[]).unwrap_err();
    assert!(matches!(err, ShaderError::Validation { .. }), "{err}");

    let wrong_entry = leak(Kernel {
        entry_point: "main",
        ..base
    });
    assert!(matches!(
        specialize(wrong_entry, &[]),
        Err(ShaderError::MissingEntryPoint { .. })
    ));

    let stale = leak(Kernel {
        overrides: &[("WORKGROUP_SIZE", 64.0), ("TILE", 8.0)],
        ..base
    });
    assert!(matches!(
        specialize(stale, &[]),
        Err(ShaderError::OverrideMismatch { .. })
    ));
}
