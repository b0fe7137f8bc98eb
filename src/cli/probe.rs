//! `tessera probe`: the linear probe of an encoder. Features of every train and test image
//! come from the encoder over all tokens (final-norm [CLS] and mean-pooled patch tokens),
//! are standardized with the training split's statistics, and a multinomial logistic
//! regression (sklearn's C = 1 objective, L-BFGS) is fitted on the train split and scored on
//! the test split. `--random-init` probes a freshly initialized encoder: the floor.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tessera_dsl::spec::ImageSpec;
use tessera_models::checkpoint;
use tessera_models::data::{
    default_workers, Augment, Dataset, Loader, LoaderConfig, Source, Split, Transform,
};
use tessera_models::features::{FeatureExtractor, Features};
use tessera_models::params::{init_params, ParamSet};
use tessera_models::probe::{linear_probe, FeatureSet, LogRegOptions};
use tessera_models::train::subset::Subset;
use tessera_models::Model;

use super::bad_input;
use super::model_args::{model_of, DeviceChoice, ModelChoice};

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
pub struct Args {
    /// MAE checkpoint (safetensors, official names; the decoder may be absent).
    #[arg(
        long,
        required_unless_present = "random_init",
        conflicts_with = "random_init"
    )]
    checkpoint: Option<PathBuf>,
    /// Probe a randomly initialized encoder instead (official init, --seed): the floor.
    #[arg(long)]
    random_init: bool,
    /// Architecture: for --random-init (default mae_fmnist_small), or one that overrides the
    /// checkpoint's metadata.
    #[command(flatten)]
    model: ModelChoice,
    /// Labelled data with a train and a test split: `fashion-mnist:DIR`, `folder:DIR`
    /// (DIR/train + DIR/val), or `fashion-mnist-embedded` (the default).
    #[arg(long, default_value = "fashion-mnist-embedded")]
    data: String,
    #[arg(long, value_enum, default_value = "cls")]
    features: Pool,
    /// Images per encoder call.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Use only the first N training images.
    #[arg(long, value_name = "N")]
    limit_train: Option<usize>,
    /// Use only the first N test images.
    #[arg(long, value_name = "N")]
    limit_test: Option<usize>,
    /// L-BFGS iterations (sklearn's max_iter; the reference uses 300).
    #[arg(long, default_value_t = 300)]
    max_iter: usize,
    /// Inverse regularization strength (sklearn's C).
    #[arg(long, default_value_t = 1.0)]
    c: f64,
    /// Seed of --random-init.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    device: DeviceChoice,
}

/// The encoder to probe: the model, its values and what to call it.
fn encoder(args: &Args) -> anyhow::Result<(Box<dyn Model>, ParamSet, String)> {
    let named = args.model.spec()?;
    if let Some(path) = &args.checkpoint {
        let ck = checkpoint::load(path, named.as_ref()).map_err(|e| bad_input(e.to_string()))?;
        let model = model_of(&ck.spec)?;
        return Ok((model, ck.params, path.display().to_string()));
    }
    let model = model_of(&args.model.spec_or("mae_fmnist_small")?)?;
    let params = init_params(model.params(), args.seed);
    Ok((model, params, format!("random init (seed {})", args.seed)))
}

/// Features and labels of one split, in the data set's order.
fn extract(
    ex: &mut FeatureExtractor,
    source: &Source,
    split: Split,
    limit: Option<usize>,
    image: ImageSpec,
) -> anyhow::Result<(Features, Vec<u32>)> {
    let mut ds: Arc<dyn Dataset> = source
        .open(split, default_workers())
        .map_err(|e| bad_input(e.to_string()))?;
    if let Some(n) = limit {
        ds = Arc::new(Subset::new(ds, n));
    }
    if ds.channels() != image.channels {
        return Err(bad_input(format!(
            "{} has {} channel(s); the model takes {} (its image `channels`)",
            ds.name(),
            ds.channels(),
            image.channels
        )));
    }
    let size = image.height;
    // Photos get the evaluation protocol's resize + center crop; fixed-size data sets must
    // already have the model's size (a mismatch is reported naming the image).
    let augment = match source.native_size() {
        Some(_) => Augment::None {
            width: size,
            height: size,
        },
        None => Augment::eval_center(size),
    };
    let transform = Transform::new(augment, source.default_normalize())?;
    let loader = Loader::new(ds, transform, LoaderConfig::eval(ex.batch()))
        .map_err(|e| bad_input(e.to_string()))?;
    let mut feats = Features::default();
    let mut labels = Vec::new();
    for batch in loader.epoch(0) {
        let batch = batch.map_err(|e| bad_input(e.to_string()))?;
        feats.extend(&ex.run(&batch.images)?);
        labels.extend_from_slice(&batch.labels);
    }
    Ok((feats, labels))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.batch == 0 {
        return Err(bad_input("--batch must be at least 1"));
    }
    let source: Source = args
        .data
        .parse()
        .map_err(|e: tessera_models::data::DataError| bad_input(e.to_string()))?;
    let (model, params, what) = encoder(&args)?;
    let mut device = args.device.open()?;
    let mut ex = FeatureExtractor::new(model.as_ref(), &params, args.batch, &mut device)
        .map_err(|e| bad_input(e.to_string()))?;
    if !ex.has_cls() && args.features != Pool::Mean {
        return Err(bad_input(
            "this model has no class token; probe its mean-pooled features with --features mean",
        ));
    }
    let image = model.image();
    let t0 = Instant::now();
    let (train, y_train) = extract(&mut ex, &source, Split::Train, args.limit_train, image)?;
    let (test, y_test) = extract(&mut ex, &source, Split::Test, args.limit_test, image)?;
    let feature_s = t0.elapsed().as_secs_f64();
    let classes = 1 + y_train.iter().chain(&y_test).copied().max().unwrap_or(0) as usize;
    let mut opts = LogRegOptions {
        c: args.c,
        ..LogRegOptions::default()
    };
    opts.lbfgs.max_iter = args.max_iter;
    let t1 = Instant::now();
    let fit = |x_train: &[f32], x_test: &[f32]| {
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
    let pools: &[(Pool, &str)] = match args.features {
        Pool::Cls => &[(Pool::Cls, "")],
        Pool::Mean => &[(Pool::Mean, "")],
        Pool::Both => &[(Pool::Cls, ""), (Pool::Mean, "_meanpool")],
    };
    for (pool, suffix) in pools {
        let report = match pool {
            Pool::Mean => fit(&train.mean, &test.mean),
            _ => fit(&train.cls, &test.cls),
        }
        .map_err(|e| anyhow::anyhow!("linear probe: {e}"))?;
        let r4 = |x: f64| (x * 1e4).round() / 1e4;
        out.insert(format!("top1{suffix}"), r4(report.test_top1).into());
        out.insert(format!("train_top1{suffix}"), r4(report.train_top1).into());
        out.insert(format!("iterations{suffix}"), report.iterations.into());
    }
    let feature = match args.features {
        Pool::Cls => "cls",
        Pool::Mean => "mean",
        Pool::Both => "cls (top1), mean (top1_meanpool)",
    };
    out.insert("feature".into(), feature.into());
    out.insert("encoder".into(), what.into());
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
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
