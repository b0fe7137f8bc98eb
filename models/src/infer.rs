//! Which preset a checkpoint without metadata holds (an official `.pth`, a bare state dict):
//! the presets whose parameters its tensors match by official name and shape. The
//! pre-training-only tensors (mask token, decoder) may be absent, as in the released
//! pre-trained weights.
use tessera_dsl::presets;
use tessera_dsl::spec::ModelSpec;

use crate::checkpoint::is_decoder_side;
use crate::model::build;
use crate::tensors::TensorFile;

/// The outcome of matching a file against the presets.
#[derive(Clone, Debug, PartialEq)]
pub enum Inferred {
    /// Exactly one preset fits (boxed: a spec is large beside the other variants).
    One(&'static str, Box<ModelSpec>),
    /// Several fit (presets that differ only in masking have the same tensors).
    Several(Vec<&'static str>),
    None,
}

/// Whether `file` holds `spec`'s parameters: every tensor of the file is one of them with its
/// shape, and every parameter the file lacks is decoder-side.
pub fn fits(file: &TensorFile, spec: &ModelSpec) -> bool {
    let Ok(model) = build(spec) else {
        return false;
    };
    let params = model.params();
    !file.tensors.is_empty()
        && file
            .tensors
            .iter()
            .all(|(name, t)| params.iter().any(|p| &p.name == name && p.shape == t.shape))
        && params
            .iter()
            .all(|p| file.get(&p.name).is_some() || is_decoder_side(&p.name))
}

/// The presets `file` fits.
pub fn infer_spec(file: &TensorFile) -> Inferred {
    let found: Vec<(&'static str, ModelSpec)> = presets::ALL
        .iter()
        .filter(|(_, spec)| fits(file, spec))
        .map(|(name, spec)| (*name, *spec))
        .collect();
    match found.as_slice() {
        [] => Inferred::None,
        [(name, spec)] => Inferred::One(name, Box::new(*spec)),
        many => Inferred::Several(many.iter().map(|(n, _)| *n).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::init_params;

    fn file_of(preset: &str, keep: impl Fn(&str) -> bool) -> TensorFile {
        let model = build(&presets::by_name(preset).unwrap()).unwrap();
        let params = init_params(model.params(), 0);
        TensorFile {
            tensors: params
                .to_tensors()
                .into_iter()
                .filter(|(n, _)| keep(n))
                .collect(),
            ..TensorFile::default()
        }
    }

    #[test]
    fn a_bare_state_dict_is_recognised_with_or_without_its_decoder() {
        let full = file_of("mae_fmnist_small", |_| true);
        assert!(matches!(
            infer_spec(&full),
            Inferred::One("mae_fmnist_small", _)
        ));
        let encoder = file_of("mae_fmnist_small", |n| !is_decoder_side(n));
        assert!(matches!(
            infer_spec(&encoder),
            Inferred::One("mae_fmnist_small", _)
        ));
        // Without an encoder block it is nobody's.
        let broken = file_of("mae_fmnist_small", |n| !n.starts_with("blocks.0."));
        assert_eq!(infer_spec(&broken), Inferred::None);
        // The tiny MAE and its block-masked twin have the same tensors.
        let tiny = file_of("mae_tiny_32", |_| true);
        assert!(
            matches!(&infer_spec(&tiny), Inferred::Several(n) if n.contains(&"mae_block_tiny_32")),
            "{:?}",
            infer_spec(&tiny)
        );
    }
}
