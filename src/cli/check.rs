//! `tessera check`: validate a model spec (TOML) or show a preset, printing every derived size,
//! the parameter count and the FLOPs per image;
//! a spec that breaks a shape rule prints the rule's message (the same text the macro's compile
//! error shows) and exits with status 2.
use std::path::PathBuf;
use tessera::dsl::presets;
use tessera::spec_file;
use tessera_models::checkpoint::is_decoder_side;
use tessera_models::flops::graph_flops;
use tessera_models::model::Extras;
use tessera_models::params::ParamSet;

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
    for line in cost_lines(&spec) {
        println!("{line}");
    }
    Ok(())
}

/// Parameter counts and FLOPs per image, from the model's own parameter list and graphs; a
/// family without a model says so instead.
fn cost_lines(spec: &tessera_dsl::ModelSpec) -> Vec<String> {
    let model = match tessera_models::build(spec) {
        Ok(m) => m,
        Err(e) => return vec![format!("{:<22}not available ({e})", "parameters")],
    };
    let params = model.params();
    let (trainable, _) = ParamSet::counts(params);
    let total: usize = params.iter().map(|p| p.numel()).sum();
    let encoder: usize = params
        .iter()
        .filter(|p| p.trainable && !is_decoder_side(&p.name))
        .map(|p| p.numel())
        .sum();
    let mut lines = vec![
        format!(
            "{:<22}{} trainable ({}), {} in all with fixed tables",
            "parameters",
            millions(trainable),
            group(trainable),
            millions(total)
        ),
        format!(
            "{:<22}{} (what a probe or fine-tuning keeps; the rest is the mask token and decoder)",
            "  encoder",
            millions(encoder)
        ),
    ];
    let step = model
        .step_graph(model.step_shape(1), &Extras::None)
        .map(|g| graph_flops(&g.graph));
    let features = model.feature_graph(1).map(|g| graph_flops(&g.graph));
    if let (Ok(step), Ok(features)) = (step, features) {
        lines.push(format!(
            "{:<22}{} per image in pre-training (encoder on the visible tokens + decoder on \
             all), about 3x that with the backward pass",
            "forward FLOPs",
            giga(step)
        ));
        lines.push(format!(
            "{:<22}{} per image for features (encoder on every token)",
            "",
            giga(features)
        ));
    }
    lines
}

fn millions(n: usize) -> String {
    format!("{:.2}M", n as f64 / 1e6)
}

/// `1,234,567`.
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn giga(flops: f64) -> String {
    if flops >= 1e9 {
        format!("{:.2} GFLOPs", flops / 1e9)
    } else {
        format!("{:.1} MFLOPs", flops / 1e6)
    }
}
