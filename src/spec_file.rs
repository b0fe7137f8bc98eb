//! Model specs in TOML: the run-time twin of the `mae!`-style macros. A file names its family
//! (`family = "mae"`) and gives that family's fields; unknown keys and missing fields are errors
//! naming the key, and the spec then goes through the same `const fn` validation as the macros,
//! so a broken shape rule reads exactly as the compile error would.
//!
//! ```toml
//! family = "mae"
//! height = 224
//! width = 224
//! channels = 3
//! patch = 16
//! class_token = true
//! target = "norm_pix"            # or "pix"
//! mask = { kind = "random", ratio = "3/4" }
//! encoder = { dim = 768, depth = 12, heads = 12, mlp_ratio = 4 }
//! decoder = { dim = 512, depth = 8, heads = 16, mlp_ratio = 4 }
//! ```
//! Ratios are strings, `"3/4"` or an exact decimal `"0.75"`. See `examples/specs/` for
//! every family.
use serde::{Deserialize, Deserializer};
use std::path::Path;
use tessera_dsl::spec::{
    Family, HiVitSpec, M3aeSpec, MaeMask, MaeSpec, MixMimSpec, ModelDims, ModelSpec, ShapeError,
    SizeList, Stage, Stages, UmSwinSpec, VideoMaeSpec, VitSpec,
};
use tessera_dsl::Ratio;

/// Why a spec file was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SpecFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Bad TOML, an unknown key, a missing field or a value of the wrong kind (names the key).
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error("unknown family `{0}`; expected one of: mae, um_swin, hivit, mixmim, videomae, m3ae")]
    UnknownFamily(String),
    /// Keys that are each well-formed but do not go together.
    #[error("{0}")]
    Conflict(String),
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

/// Parses a spec (no shape validation): picks the family, then reads that family's fields.
pub fn parse(text: &str) -> Result<ModelSpec, SpecFileError> {
    // First pass only finds the family; the second reads the whole document into that family's
    // struct so errors keep their line, column and key.
    #[derive(Deserialize)]
    struct FamilyOnly {
        family: String,
    }
    let FamilyOnly { family } = toml::from_str(text)?;
    let family = match family.as_str() {
        "mae" => Family::Mae,
        "um_swin" => Family::UmSwin,
        "hivit" => Family::HiVit,
        "mixmim" => Family::MixMim,
        "videomae" => Family::VideoMae,
        "m3ae" => Family::M3ae,
        _ => return Err(SpecFileError::UnknownFamily(family)),
    };
    Ok(match family {
        Family::Mae => ModelSpec::Mae(toml::from_str::<MaeFile>(text)?.into_spec()?),
        Family::UmSwin => ModelSpec::UmSwin(toml::from_str::<UmSwinFile>(text)?.into_spec()),
        Family::HiVit => ModelSpec::HiVit(toml::from_str::<HiVitFile>(text)?.into_spec()),
        Family::MixMim => ModelSpec::MixMim(toml::from_str::<MixMimFile>(text)?.into_spec()),
        Family::VideoMae => ModelSpec::VideoMae(toml::from_str::<VideoMaeFile>(text)?.into_spec()),
        Family::M3ae => ModelSpec::M3ae(toml::from_str::<M3aeFile>(text)?.into_spec()),
    })
}

/// A ratio written as text, `"3/4"` or `"0.75"`, read exactly.
#[derive(Clone, Copy, Debug)]
struct RatioText(Ratio);

impl<'de> Deserialize<'de> for RatioText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ratio::parse(&text)
            .map(RatioText)
            .map_err(|e| serde::de::Error::custom(format!("ratio `{text}`: {e}")))
    }
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Target {
    Pix,
    NormPix,
}

impl Target {
    fn norm_pix(self) -> bool {
        matches!(self, Target::NormPix)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VitFile {
    dim: usize,
    depth: usize,
    heads: usize,
    mlp_ratio: usize,
}

impl VitFile {
    fn spec(&self) -> VitSpec {
        VitSpec {
            dim: self.dim,
            depth: self.depth,
            heads: self.heads,
            mlp_ratio: self.mlp_ratio,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MaeMaskKind {
    Random,
    Uniform,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaeMaskFile {
    kind: MaeMaskKind,
    ratio: RatioText,
    /// Uniform masks only: the secondary-masking ratio.
    secondary: Option<RatioText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaeFile {
    #[allow(dead_code)] // read by the first pass
    family: String,
    height: usize,
    width: usize,
    channels: usize,
    patch: usize,
    class_token: bool,
    target: Target,
    mask: MaeMaskFile,
    encoder: VitFile,
    decoder: VitFile,
}

impl MaeFile {
    fn into_spec(self) -> Result<MaeSpec, SpecFileError> {
        let ratio = self.mask.ratio.0;
        let secondary = self.mask.secondary.map(|r| r.0);
        let mask = match self.mask.kind {
            MaeMaskKind::Random if secondary.is_some() => {
                return Err(SpecFileError::Conflict(
                    "key `mask.secondary` applies to `kind = \"uniform\"` masks only".into(),
                ))
            }
            MaeMaskKind::Random => MaeMask::Random(ratio),
            MaeMaskKind::Uniform => MaeMask::Uniform { ratio, secondary },
        };
        Ok(MaeSpec {
            height: self.height,
            width: self.width,
            channels: self.channels,
            patch: self.patch,
            class_token: self.class_token,
            encoder: self.encoder.spec(),
            decoder: self.decoder.spec(),
            mask,
            norm_pix_loss: self.target.norm_pix(),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SwinStageFile {
    dim: usize,
    depth: usize,
    heads: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UmSwinFile {
    #[allow(dead_code)]
    family: String,
    height: usize,
    width: usize,
    channels: usize,
    patch: usize,
    mask_cell: usize,
    mlp_ratio: usize,
    /// Pre-training window on the compacted map, every stage.
    window: usize,
    ratio: RatioText,
    secondary: Option<RatioText>,
    target: Target,
    stages: Vec<SwinStageFile>,
    decoder: VitFile,
}

impl UmSwinFile {
    fn into_spec(self) -> UmSwinSpec {
        let stages: Vec<Stage> = self
            .stages
            .iter()
            .map(|s| Stage {
                dim: s.dim,
                depth: s.depth,
                heads: s.heads,
                window: self.window,
            })
            .collect();
        UmSwinSpec {
            height: self.height,
            width: self.width,
            channels: self.channels,
            patch: self.patch,
            mask_cell: self.mask_cell,
            stages: Stages::new(&stages),
            mlp_ratio: self.mlp_ratio,
            ratio: self.ratio.0,
            secondary: self.secondary.map(|r| r.0),
            decoder: self.decoder.spec(),
            norm_pix_loss: self.target.norm_pix(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HiVitFile {
    #[allow(dead_code)]
    family: String,
    height: usize,
    width: usize,
    channels: usize,
    patch: usize,
    inner_patches: usize,
    /// Official `depths[..-1]`: stage s runs `2 * mlp_depths[s]` MLP blocks.
    mlp_depths: Vec<usize>,
    stem_mlp_ratio: usize,
    hifeat: bool,
    ratio: RatioText,
    target: Target,
    main: VitFile,
    decoder: VitFile,
}

impl HiVitFile {
    fn into_spec(self) -> HiVitSpec {
        HiVitSpec {
            height: self.height,
            width: self.width,
            channels: self.channels,
            patch: self.patch,
            inner_patches: self.inner_patches,
            mlp_depths: SizeList::new(&self.mlp_depths),
            stem_mlp_ratio: self.stem_mlp_ratio,
            main: self.main.spec(),
            hifeat: self.hifeat,
            decoder: self.decoder.spec(),
            ratio: self.ratio.0,
            norm_pix_loss: self.target.norm_pix(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MixStageFile {
    dim: usize,
    depth: usize,
    heads: usize,
    window: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MixMimFile {
    #[allow(dead_code)]
    family: String,
    height: usize,
    width: usize,
    channels: usize,
    patch: usize,
    mlp_ratio: usize,
    ratio: RatioText,
    target: Target,
    stages: Vec<MixStageFile>,
    decoder: VitFile,
}

impl MixMimFile {
    fn into_spec(self) -> MixMimSpec {
        let stages: Vec<Stage> = self
            .stages
            .iter()
            .map(|s| Stage {
                dim: s.dim,
                depth: s.depth,
                heads: s.heads,
                window: s.window,
            })
            .collect();
        MixMimSpec {
            height: self.height,
            width: self.width,
            channels: self.channels,
            patch: self.patch,
            stages: Stages::new(&stages),
            mlp_ratio: self.mlp_ratio,
            decoder: self.decoder.spec(),
            ratio: self.ratio.0,
            norm_pix_loss: self.target.norm_pix(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VideoMaeFile {
    #[allow(dead_code)]
    family: String,
    frames: usize,
    height: usize,
    width: usize,
    channels: usize,
    patch: usize,
    tubelet: usize,
    ratio: RatioText,
    target: Target,
    encoder: VitFile,
    decoder: VitFile,
}

impl VideoMaeFile {
    fn into_spec(self) -> VideoMaeSpec {
        VideoMaeSpec {
            frames: self.frames,
            height: self.height,
            width: self.width,
            channels: self.channels,
            patch: self.patch,
            tubelet: self.tubelet,
            encoder: self.encoder.spec(),
            decoder: self.decoder.spec(),
            ratio: self.ratio.0,
            norm_pix_loss: self.target.norm_pix(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct M3aeFile {
    #[allow(dead_code)]
    family: String,
    height: usize,
    width: usize,
    channels: usize,
    patch: usize,
    text_len: usize,
    vocab: usize,
    image_ratio: RatioText,
    text_ratio: RatioText,
    encoder: VitFile,
    decoder: VitFile,
}

impl M3aeFile {
    fn into_spec(self) -> M3aeSpec {
        M3aeSpec {
            height: self.height,
            width: self.width,
            channels: self.channels,
            patch: self.patch,
            text_len: self.text_len,
            vocab: self.vocab,
            encoder: self.encoder.spec(),
            decoder: self.decoder.spec(),
            image_ratio: self.image_ratio.0,
            text_ratio: self.text_ratio.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_dsl::presets;

    /// Each shipped example equals the preset of the same name, field for field.
    #[test]
    fn examples_parse_to_the_presets() {
        let examples = [
            (
                include_str!("../examples/specs/mae_vit_base_patch16.toml"),
                "mae_vit_base_patch16",
            ),
            (
                include_str!("../examples/specs/mae_fmnist_small.toml"),
                "mae_fmnist_small",
            ),
            (
                include_str!("../examples/specs/um_swin_tiny_256.toml"),
                "um_swin_tiny_256",
            ),
            (
                include_str!("../examples/specs/hivit_base.toml"),
                "hivit_base",
            ),
            (
                include_str!("../examples/specs/mixmim_base.toml"),
                "mixmim_base",
            ),
            (
                include_str!("../examples/specs/videomae_base.toml"),
                "videomae_base",
            ),
            (
                include_str!("../examples/specs/m3ae_base.toml"),
                "m3ae_base",
            ),
        ];
        for (text, name) in examples {
            let (spec, dims) = check(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let preset = presets::by_name(name).unwrap();
            assert_eq!(spec, preset, "{name}");
            assert_eq!(dims, preset.validate().unwrap(), "{name}");
        }
    }

    #[test]
    fn a_broken_rule_reads_as_the_compile_error() {
        let text = include_str!("../examples/specs/broken_um_swin_224.toml");
        let err = check(text).unwrap_err();
        let SpecFileError::Shape(shape) = &err else {
            panic!("expected a shape error, got {err}");
        };
        assert_eq!(shape.rule(), tessera_dsl::Rule::CompactionThroughStages);
        assert_eq!(
            err.to_string(),
            "UM-Swin: image 224 is not a multiple of 64, so the visible quarter cannot be \
             compacted through 4 stages (rule compaction_through_stages, reference §8)"
        );
    }

    const MAE: &str = include_str!("../examples/specs/mae_vit_base_patch16.toml");

    #[test]
    fn unknown_keys_are_named() {
        let top = MAE.replace("patch = 16", "patch = 16\npatch_size = 16");
        let msg = parse(&top).unwrap_err().to_string();
        assert!(msg.contains("unknown field `patch_size`"), "{msg}");
        let nested = MAE.replace("heads = 12", "heads = 12\nnum_heads = 12");
        let msg = parse(&nested).unwrap_err().to_string();
        assert!(msg.contains("unknown field `num_heads`"), "{msg}");
    }

    #[test]
    fn missing_fields_are_named() {
        let msg = parse(&MAE.replace("channels = 3\n", ""))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("missing field `channels`"), "{msg}");
        let msg = parse(&MAE.replace("mlp_ratio = 4\n\n[decoder]", "\n[decoder]"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("missing field `mlp_ratio`"), "{msg}");
        let msg = parse("height = 3").unwrap_err().to_string();
        assert!(msg.contains("missing field `family`"), "{msg}");
    }

    #[test]
    fn bad_values_are_named() {
        let msg = parse(&MAE.replace("\"mae\"", "\"mae2\""))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("unknown family `mae2`"), "{msg}");
        let msg = parse(&MAE.replace("\"3/4\"", "\"3/2\""))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("ratio `3/2`"), "{msg}");
        let msg = parse(&MAE.replace("patch = 16", "patch = -16"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("patch"), "{msg}");
        let msg = parse(&MAE.replace("\"norm_pix\"", "\"raw\""))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("unknown variant `raw`"), "{msg}");
        let msg = parse(&MAE.replace("ratio = \"3/4\"", "ratio = \"3/4\"\nsecondary = \"1/4\""))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("mask.secondary"), "{msg}");
    }

    #[test]
    fn decimal_ratios_are_exact() {
        let text = MAE.replace("\"3/4\"", "\"0.75\"");
        assert_eq!(parse(&text).unwrap(), parse(MAE).unwrap());
    }
}
