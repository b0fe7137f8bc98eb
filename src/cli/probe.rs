//! `tessera probe`: the linear probe of an encoder. Features of every train and test image
//! come from the encoder over all tokens (final-norm [CLS] and mean-pooled patch tokens),
//! are standardized with the training split's statistics, and a multinomial logistic
//! regression (sklearn's C = 1 objective, L-BFGS) is fitted on the train split and scored on
//! the test split. `--random-init` probes a freshly initialized encoder: the floor.
use std::path::{Path, PathBuf};
use std::time::Instant;

use tessera_models::checkpoint;
use tessera_models::data::{
    default_workers, prepare, Fit, Loader, LoaderConfig, Preparation, Prepared, Source, Split,
};
use tessera_models::features::{FeatureExtractor, Features};
use tessera_models::params::{init_params, ParamSet};
use tessera_models::probe::{linear_probe, FeatureSet, LogRegOptions, ProbeReport, Stop};
use tessera_models::Model;
use tessera_runtime::backend::Device;

use super::bad_input;
use super::model_args::{
    checkpoint_recipe, model_of, BatchChoice, DataChoice, DeviceChoice, ModelChoice, DEFAULT_DATA,
};

/// Which encoder output is the feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Pool {
    /// The final-norm [CLS] token (official linear probe).
    Cls,
    /// The mean of the final-norm patch tokens.
    Mean,
    /// Both (two probes; `top1` is the [CLS] one).
    Both,
}

#[derive(clap::Args)]
#[command(mut_arg("model", |a| a.help(
    "Architecture: for --random-init, or one that overrides the checkpoint's metadata \
     [default: the checkpoint's; mae_fmnist_small for --random-init]"
)))]
#[command(mut_arg("data", |a| a.help(
    "Labelled images with a train and a test split: `folder:DIR` (DIR/train/<class>/... and \
     DIR/val/<class>/... or DIR/test/...), `fashion-mnist:DIR` or `fashion-mnist-embedded` \
     [default: the data the checkpoint was pre-trained on, else fashion-mnist-embedded]"
)))]
#[command(mut_arg("limit", |a| a.alias("limit-train").help(
    "Use N training images, taking the classes in turns so they stay balanced"
)))]
#[command(mut_arg("batch", |a| a
    .help("Images per encoder call [default: 256]")
    .default_value("256")
    .hide_default_value(true)))]
pub struct Args {
    /// Checkpoint: tessera's safetensors or an official PyTorch `.pth`; the decoder may be
    /// absent.
    #[arg(
        long,
        required_unless_present = "random_init",
        conflicts_with = "random_init"
    )]
    pub checkpoint: Option<PathBuf>,
    /// Probe a randomly initialized encoder instead (official init, --seed): the floor.
    #[arg(long)]
    pub random_init: bool,
    #[command(flatten)]
    pub model: ModelChoice,
    #[command(flatten)]
    pub data: DataChoice,
    /// Use N test images, classes balanced.
    #[arg(long, value_name = "N")]
    pub limit_test: Option<usize>,
    /// The feature probed [default: cls, or mean for a model without a class token]
    #[arg(long, value_enum)]
    pub features: Option<Pool>,
    #[command(flatten)]
    pub batch: BatchChoice,
    /// L-BFGS iterations at most (sklearn's max_iter; MAE's probe recipe uses 300) [default: 300]
    #[arg(long, default_value_t = 300, hide_default_value = true)]
    pub max_iter: usize,
    /// Inverse regularization strength (sklearn's C) [default: 1.0]
    #[arg(long, default_value_t = 1.0, hide_default_value = true)]
    pub c: f64,
    /// Seed of --random-init [default: 0]
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub seed: u64,
    #[command(flatten)]
    pub device: DeviceChoice,
}

/// The encoder to probe: the model, its values and what to call it.
fn encoder(args: &Args) -> anyhow::Result<(Box<dyn Model>, ParamSet, String)> {
    let named = args.model.spec()?;
    if let Some(path) = &args.checkpoint {
        let (ck, _) =
            checkpoint::load_partial(path, named.as_ref()).map_err(|e| bad_input(e.to_string()))?;
        let model = model_of(&ck.spec)?;
        return Ok((model, ck.params, path.display().to_string()));
    }
    let model = model_of(&args.model.spec_or("mae_fmnist_small")?)?;
    let params = init_params(model.params(), args.seed);
    Ok((model, params, format!("random init (seed {})", args.seed)))
}

/// The data to probe on, and how images are fitted: the flags, else what the checkpoint was
/// pre-trained on (when it has a held-out split), else the embedded Fashion-MNIST slice.
fn data_and_fit(args: &Args) -> anyhow::Result<(Source, Fit)> {
    let recipe = args.checkpoint.as_deref().and_then(checkpoint_recipe);
    let fit = args
        .data
        .fit
        .map(Fit::from)
        .or(recipe.as_ref().map(|r| r.fit))
        .unwrap_or_default();
    if args.data.data.is_some() {
        return Ok((args.data.source_or(DEFAULT_DATA)?, fit));
    }
    let Some(recipe) = recipe else {
        return Ok((args.data.source_or(DEFAULT_DATA)?, fit));
    };
    let source = args.data.source_or(&recipe.data)?;
    if !source.has_test_split() {
        return Err(bad_input(format!(
            "the checkpoint was pre-trained on {source}, which has no held-out split (DIR/val \
             or DIR/test) to score a probe on; pass --data with labelled train and test images"
        )));
    }
    eprintln!("probe: on {source}, the data the checkpoint was pre-trained on (--data changes it)");
    Ok((source, fit))
}

/// Features and labels of one prepared split, in the data set's order.
fn extract(
    ex: &mut FeatureExtractor,
    split: Split,
    prepared: Prepared,
) -> anyhow::Result<(Features, Vec<u32>)> {
    let t0 = Instant::now();
    eprintln!(
        "probe: features of {} {split} images ({})",
        prepared.dataset.len(),
        prepared.notes.join("; ")
    );
    let loader = Loader::new(
        prepared.dataset,
        prepared.transform,
        LoaderConfig::eval(ex.batch()),
    )
    .map_err(|e| bad_input(e.to_string()))?;
    let mut feats = Features::default();
    let mut labels = Vec::new();
    for batch in loader.epoch(0) {
        let batch = batch.map_err(|e| bad_input(e.to_string()))?;
        feats.extend(&ex.run(&batch.images)?);
        labels.extend_from_slice(&batch.labels);
    }
    eprintln!("probe:   {:.1} s", t0.elapsed().as_secs_f64());
    Ok((feats, labels))
}

/// One probe's JSON fields (with `suffix`), and a warning when L-BFGS ran out of iterations.
fn report_fields(
    report: &ProbeReport,
    suffix: &str,
    max_iter: usize,
    out: &mut serde_json::Map<String, serde_json::Value>,
) {
    let r4 = |x: f64| (x * 1e4).round() / 1e4;
    out.insert(format!("top1{suffix}"), r4(report.test_top1).into());
    out.insert(format!("train_top1{suffix}"), r4(report.train_top1).into());
    out.insert(format!("iterations{suffix}"), report.iterations.into());
    let converged = report.stop != Stop::Iterations;
    out.insert(format!("converged{suffix}"), converged.into());
    if !converged {
        eprintln!(
            "probe: note: the logistic regression{} stopped at --max-iter {max_iter} before \
             converging (sklearn warns the same way); the accuracy is that of {max_iter} \
             iterations, and --max-iter raises the cap",
            if suffix.is_empty() {
                ""
            } else {
                " (mean-pooled)"
            }
        );
    }
}

/// The probe's numbers, as `run` prints them (the demo calls it too).
pub fn probe(args: &Args) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let batch = args.batch.get_or(256)?;
    let (source, fit) = data_and_fit(args)?;
    let (model, params, what) = encoder(args)?;
    let mut device = args.device.open()?;
    probe_with(
        args,
        model.as_ref(),
        &params,
        &what,
        &source,
        fit,
        batch,
        &mut device,
    )
}

#[allow(clippy::too_many_arguments)]
fn probe_with(
    args: &Args,
    model: &dyn Model,
    params: &ParamSet,
    what: &str,
    source: &Source,
    fit: Fit,
    batch: usize,
    device: &mut Device,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let open = |split, limit| {
        let prep = Preparation {
            split,
            image: model.image(),
            fit,
            augment: false,
            limit,
        };
        prepare(source, &prep, default_workers()).map_err(|e| bad_input(e.to_string()))
    };
    let train_set = open(Split::Train, args.data.limit)?;
    let test_set = open(Split::Test, args.limit_test)?;
    let device_name = device.name();
    // An encoder planned for no more images than a split has: a small folder is not padded to
    // a full batch of 256 (planning one is cheap next to computing padding).
    let mut extractor = |images: usize| {
        FeatureExtractor::new(model, params, batch.min(images.max(1)), device)
            .map_err(|e| bad_input(e.to_string()))
    };
    let mut ex = extractor(train_set.dataset.len())?;
    let features = match args.features {
        Some(chosen) => chosen,
        None if ex.has_cls() => Pool::Cls,
        // HiViT and the Swin-based encoders have no class token: mean pooling is their probe.
        None => Pool::Mean,
    };
    if !ex.has_cls() && features != Pool::Mean {
        return Err(bad_input(
            "this model has no class token; probe its mean-pooled features with --features mean",
        ));
    }
    eprintln!("probe: encoder {what} on {device_name}");
    let t0 = Instant::now();
    let (train, y_train) = extract(&mut ex, Split::Train, train_set)?;
    let mut ex_test = if test_set.dataset.len() < ex.batch() {
        extractor(test_set.dataset.len())?
    } else {
        ex
    };
    let (test, y_test) = extract(&mut ex_test, Split::Test, test_set)?;
    let feature_s = t0.elapsed().as_secs_f64();
    let classes = 1 + y_train.iter().chain(&y_test).copied().max().unwrap_or(0) as usize;
    let mut opts = LogRegOptions {
        c: args.c,
        ..LogRegOptions::default()
    };
    opts.lbfgs.max_iter = args.max_iter;
    let t1 = Instant::now();
    let fit_probe = |x_train: &[f32], x_test: &[f32]| {
        let train = FeatureSet {
            features: x_train,
            dim: train.dim,
            labels: &y_train,
        };
        let test = FeatureSet {
            features: x_test,
            dim: test.dim,
            labels: &y_test,
        };
        linear_probe(train, test, classes, &opts)
    };
    let mut out = serde_json::Map::new();
    let pools: &[(Pool, &str)] = match features {
        Pool::Cls => &[(Pool::Cls, "")],
        Pool::Mean => &[(Pool::Mean, "")],
        Pool::Both => &[(Pool::Cls, ""), (Pool::Mean, "_meanpool")],
    };
    eprintln!(
        "probe: logistic regression on {} features of {} classes (C = {}, at most {} L-BFGS \
         iterations)",
        train.dim, classes, args.c, args.max_iter
    );
    for (pool, suffix) in pools {
        let report = match pool {
            Pool::Mean => fit_probe(&train.mean, &test.mean),
            _ => fit_probe(&train.cls, &test.cls),
        }
        .map_err(|e| anyhow::anyhow!("linear probe: {e}"))?;
        report_fields(&report, suffix, args.max_iter, &mut out);
    }
    let feature = match features {
        Pool::Cls => "cls",
        Pool::Mean => "mean",
        Pool::Both => "cls (top1), mean (top1_meanpool)",
    };
    out.insert("feature".into(), feature.into());
    out.insert("encoder".into(), what.into());
    out.insert("data".into(), source.to_string().into());
    out.insert("train_images".into(), y_train.len().into());
    out.insert("test_images".into(), y_test.len().into());
    out.insert(
        "feature_s".into(),
        ((feature_s * 10.0).round() / 10.0).into(),
    );
    out.insert(
        "logreg_s".into(),
        ((t1.elapsed().as_secs_f64() * 10.0).round() / 10.0).into(),
    );
    Ok(out)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let out = probe(&args)?;
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}

/// A probe's arguments for `checkpoint` (or random init when `None`), as the demo uses them.
pub fn args_for(checkpoint: Option<&Path>, features: Pool, seed: u64) -> Args {
    Args {
        checkpoint: checkpoint.map(Path::to_path_buf),
        random_init: checkpoint.is_none(),
        model: ModelChoice::default(),
        data: DataChoice::default(),
        limit_test: None,
        features: Some(features),
        batch: BatchChoice::default(),
        max_iter: 300,
        c: 1.0,
        seed,
        device: DeviceChoice::default(),
    }
}
