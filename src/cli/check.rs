//! `tessera check`: validate a model spec (TOML) or show a preset, printing every derived size;
//! a spec that breaks a shape rule prints the rule's message (the same text the macro's compile
//! error shows) and exits with status 2.
use std::path::PathBuf;
use tessera::dsl::presets;
use tessera::spec_file;

#[derive(clap::Args)]
pub struct Args {
    /// Model spec in TOML: `family = "mae" | "um_swin" | "hivit" | "mixmim" | "videomae" |
    /// "m3ae"` plus that family's fields (see examples/specs/).
    #[arg(required_unless_present = "preset", conflicts_with = "preset")]
    pub spec: Option<PathBuf>,
    /// Show a built-in preset instead, e.g. mae_vit_base_patch16 (`--model` works too, as in
    /// every other command; so does a bare preset name in place of the file).
    #[arg(long, alias = "model", value_name = "NAME")]
    pub preset: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // A bare preset name where a file was expected means the preset, unless such a file exists.
    let bare_preset = args
        .spec
        .as_ref()
        .filter(|p| !p.exists())
        .and_then(|p| p.to_str())
        .filter(|n| presets::by_name(n).is_some())
        .map(str::to_owned);
    let preset = args.preset.clone().or(bare_preset);
    let (label, what, spec) = match (&preset, &args.spec) {
        (Some(name), _) => {
            let spec = presets::by_name(name).ok_or_else(|| {
                let known: Vec<&str> = presets::ALL.iter().map(|(n, _)| *n).collect();
                super::bad_input(format!(
                    "unknown preset `{name}`; known presets: {}",
                    known.join(", ")
                ))
            })?;
            ("preset", name.clone(), spec)
        }
        (None, Some(path)) => {
            let spec = spec_file::load(path)
                .map_err(|e| super::bad_input(format!("{}: {e}", path.display())))?;
            ("spec", path.display().to_string(), spec)
        }
        (None, None) => return Err(super::bad_input("give a spec file or --preset NAME")),
    };
    let dims = spec
        .validate()
        .map_err(|e| super::bad_input(format!("{what}: {e}")))?;
    print!("{:<22}{what}\n{dims}", label);
    Ok(())
}
