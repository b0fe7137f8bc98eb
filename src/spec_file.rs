//! Model specs in TOML: the run-time twin of the spec macros. A file deserializes straight into
//! the spec type the macros build (`tessera::dsl::spec::ModelSpec`, tagged by `family`), so the
//! two cannot drift; unknown keys and missing fields are errors naming the key, and the spec
//! then goes through the same `const fn` validation as the macros, so a broken shape rule reads
//! exactly as the compile error would.
//!
//! ```toml
//! family = "mae"
//! image = { height = 224, width = 224, channels = 3 }
//! patch = 16
//! target = "norm_pix"                       # or "pix"
//! mask = { kind = "random", ratio = "3/4" } # or block (+ cell), uniform (+ secondary)
//! encoder = { dim = 768, depth = 12, heads = 12, mlp_ratio = 4 }
//! decoder = { dim = 512, depth = 8, heads = 16, mlp_ratio = 4 }
//! ```
//! Ratios are strings, `"3/4"` or an exact decimal `"0.75"`. `examples/specs/` has every
//! family; `docs/shape-rules.md` explains every rule.
use std::path::Path;
use tessera_dsl::spec::{ModelDims, ModelSpec, ShapeError};

/// Why a spec file was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SpecFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Bad TOML, an unknown key or family, a missing field or a value of the wrong kind.
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// The spec breaks a shape rule: the same message as the macro's compile error. Boxed:
    /// `ShapeError` carries its message in a fixed buffer (built in const context).
    #[error("{0}")]
    Shape(Box<ShapeError>),
}

impl From<ShapeError> for SpecFileError {
    fn from(err: ShapeError) -> Self {
        SpecFileError::Shape(Box::new(err))
    }
}

/// Reads and parses a spec file (no shape validation).
pub fn load(path: &Path) -> Result<ModelSpec, SpecFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecFileError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text)
}

/// Parses a spec and validates it: the spec and every derived size, or the broken rule.
pub fn check(text: &str) -> Result<(ModelSpec, ModelDims), SpecFileError> {
    let spec = parse(text)?;
    let dims = spec.validate()?;
    Ok((spec, dims))
}

/// Parses a spec (no shape validation).
pub fn parse(text: &str) -> Result<ModelSpec, SpecFileError> {
    Ok(toml::from_str(text)?)
}

/// The spec as TOML (what `parse` reads back).
pub fn to_toml(spec: &ModelSpec) -> String {
    toml::to_string(spec).expect("specs serialize to TOML")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_dsl::presets;

    #[test]
    fn every_preset_round_trips_through_toml() {
        for (name, spec) in presets::ALL {
            let text = to_toml(spec);
            let back = parse(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
            assert_eq!(&back, spec, "{name}");
        }
    }

    #[test]
    fn errors_name_the_key_and_rules_read_as_at_compile_time() {
        let good = to_toml(&presets::by_name("mae_tiny_32").unwrap());
        let unknown = good.replace("patch = 4", "patch = 4\npatches = 4");
        assert!(parse(&unknown).unwrap_err().to_string().contains("patches"));
        let family = good.replace("family = \"mae\"", "family = \"maee\"");
        assert!(parse(&family).unwrap_err().to_string().contains("maee"));
        let ratio = good.replace("ratio = \"3/4\"", "ratio = \"5/4\"");
        let err = check(&ratio).unwrap_err().to_string();
        assert!(
            err.starts_with("MAE: mask ratio 5/4 does not lie strictly between 0 and 1 (rule"),
            "{err}"
        );
    }
}
