//! The mini-batch loader: a per-epoch shuffle from a seed, decoding and augmentation on worker
//! threads ahead of the consumer, batches handed over in order through bounded channels.
//!
//! Determinism: the order of epoch `e` is a Fisher-Yates shuffle drawn from (seed, e), and the
//! augmentation of the sample at position `p` of that order draws from its own stream
//! (seed, e, p). Nothing depends on which worker ran, how many there are, or where a run
//! started, so `resume(e, s)` yields exactly the batches a run from scratch yields at epoch e
//! from step s on.
//!
//! Worker `w` of `W` builds steps s0+w, s0+w+W, ... into its own channel of `prefetch` slots;
//! the consumer takes step s from worker (s - s0) mod W. Memory stays bounded and the order
//! is kept without a reorder buffer.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::{DataError, Dataset, Transform};
use tessera_dsl::rng::Rng;

const SHUFFLE_STREAM: u64 = 0x5348_5546; // "SHUF"
const AUGMENT_STREAM: u64 = 0x4155_4753; // "AUGS"

/// How batches are drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoaderConfig {
    pub batch_size: usize,
    pub seed: u64,
    /// Shuffle each epoch (training) or keep the data set's order (feature extraction).
    pub shuffle: bool,
    /// Drop the last, incomplete batch (training, where the step's shapes are fixed).
    pub drop_last: bool,
    /// Decoding threads.
    pub workers: usize,
    /// Finished batches each worker may hold ahead of the consumer.
    pub prefetch: usize,
}

impl LoaderConfig {
    /// Shuffled, full batches only.
    pub fn train(batch_size: usize, seed: u64) -> Self {
        LoaderConfig {
            batch_size,
            seed,
            shuffle: true,
            drop_last: true,
            workers: default_workers(),
            prefetch: 2,
        }
    }

    /// In order, every sample once (the last batch may be smaller).
    pub fn eval(batch_size: usize) -> Self {
        LoaderConfig {
            shuffle: false,
            drop_last: false,
            ..LoaderConfig::train(batch_size, 0)
        }
    }
}

/// Half the cores (the other half runs the model), at least 1, at most 8.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() / 2)
        .unwrap_or(1)
        .clamp(1, 8)
}

/// One mini-batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Normalized images, `[n, c, h, w]` row-major.
    pub images: Vec<f32>,
    pub labels: Vec<u32>,
    /// The data set index of each sample (an unreadable file's place is taken by the next
    /// readable sample of the epoch's order).
    pub indices: Vec<usize>,
    /// `[n, c, h, w]`.
    pub shape: [usize; 4],
    pub epoch: u64,
    pub step: usize,
}

/// Batches a data set through a transform.
#[derive(Clone)]
pub struct Loader {
    dataset: Arc<dyn Dataset>,
    transform: Arc<Transform>,
    config: LoaderConfig,
}

impl Loader {
    pub fn new(
        dataset: Arc<dyn Dataset>,
        transform: Transform,
        config: LoaderConfig,
    ) -> Result<Self, DataError> {
        if config.batch_size == 0 || config.workers == 0 || config.prefetch == 0 {
            return Err(DataError::BadConfig(format!(
                "batch size, workers and prefetch must be positive, got {}, {}, {}",
                config.batch_size, config.workers, config.prefetch
            )));
        }
        if dataset.channels() != transform.channels() {
            return Err(DataError::BadConfig(format!(
                "{} has {} channel(s) but the normalization is for {}",
                dataset.name(),
                dataset.channels(),
                transform.channels()
            )));
        }
        if dataset.is_empty() || (config.drop_last && dataset.len() < config.batch_size) {
            return Err(DataError::Empty {
                what: dataset.name(),
                why: format!(
                    "{} sample(s), fewer than one batch of {}",
                    dataset.len(),
                    config.batch_size
                ),
            });
        }
        Ok(Loader {
            dataset,
            transform: Arc::new(transform),
            config,
        })
    }

    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.dataset
    }

    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    /// Batches in one epoch.
    pub fn steps_per_epoch(&self) -> usize {
        let (n, b) = (self.dataset.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// `[batch, c, h, w]` of a full batch.
    pub fn batch_shape(&self) -> [usize; 4] {
        let [c, h, w] = self.transform.output_shape();
        [self.config.batch_size, c, h, w]
    }

    /// The sample order of an epoch.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.config.shuffle {
            Rng::for_stream(self.config.seed, &[SHUFFLE_STREAM, epoch]).shuffle(&mut order);
        }
        order
    }

    /// All batches of `epoch`.
    pub fn epoch(&self, epoch: u64) -> EpochIter {
        self.start(epoch, 0)
    }

    /// The batches of `epoch` from `step` on, exactly those a run from the start would see.
    pub fn resume(&self, epoch: u64, step: usize) -> Result<EpochIter, DataError> {
        let steps = self.steps_per_epoch();
        if step > steps {
            return Err(DataError::BadConfig(format!(
                "cannot resume at step {step} of epoch {epoch}: an epoch has {steps} steps"
            )));
        }
        Ok(self.start(epoch, step))
    }

    fn start(&self, epoch: u64, first: usize) -> EpochIter {
        let end = self.steps_per_epoch();
        let workers = self.config.workers.min(end - first).max(1);
        let order = Arc::new(self.order(epoch));
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = sync_channel(self.config.prefetch);
            let job = Job {
                dataset: Arc::clone(&self.dataset),
                transform: Arc::clone(&self.transform),
                order: Arc::clone(&order),
                batch_size: self.config.batch_size,
                seed: self.config.seed,
                epoch,
            };
            let handle = std::thread::Builder::new()
                .name(format!("tessera-loader-{w}"))
                .spawn(move || {
                    for step in (first + w..end).step_by(workers) {
                        let batch = job.build(step);
                        let failed = batch.is_err();
                        if tx.send(batch).is_err() || failed {
                            break;
                        }
                    }
                });
            match handle {
                Ok(h) => {
                    receivers.push(rx);
                    handles.push(h);
                }
                Err(e) => {
                    return EpochIter::failed(DataError::Worker(e.to_string()));
                }
            }
        }
        EpochIter {
            receivers,
            handles,
            first,
            next: first,
            end,
            done: false,
            pending_error: None,
        }
    }
}

/// What a worker needs to build any batch of one epoch.
struct Job {
    dataset: Arc<dyn Dataset>,
    transform: Arc<Transform>,
    order: Arc<Vec<usize>>,
    batch_size: usize,
    seed: u64,
    epoch: u64,
}

impl Job {
    fn build(&self, step: usize) -> Result<Batch, DataError> {
        let n = self.order.len();
        let start = step * self.batch_size;
        let end = (start + self.batch_size).min(n);
        let [c, h, w] = self.transform.output_shape();
        let per = c * h * w;
        let count = end - start;
        let mut batch = Batch {
            images: vec![0.0; count * per],
            labels: Vec::with_capacity(count),
            indices: Vec::with_capacity(count),
            shape: [count, c, h, w],
            epoch: self.epoch,
            step,
        };
        for (j, pos) in (start..end).enumerate() {
            let (index, img) = self.load_or_substitute(pos)?;
            let mut rng = Rng::for_stream(self.seed, &[AUGMENT_STREAM, self.epoch, pos as u64]);
            let name = self.dataset.describe(index);
            self.transform.apply_into(
                &img,
                &name,
                &mut rng,
                &mut batch.images[j * per..][..per],
            )?;
            batch.labels.push(self.dataset.label(index));
            batch.indices.push(index);
        }
        Ok(batch)
    }

    /// The sample at `pos` of the order or, if it is unreadable, the next readable one.
    fn load_or_substitute(&self, pos: usize) -> Result<(usize, super::Image), DataError> {
        let n = self.order.len();
        for k in 0..n {
            let index = self.order[(pos + k) % n];
            match self.dataset.load(index) {
                Ok(img) => return Ok((index, img)),
                Err(DataError::Unreadable { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(DataError::Empty {
            what: self.dataset.name(),
            why: format!("all {n} image(s) are unreadable"),
        })
    }
}

/// The batches of one epoch, in order. Dropping it stops the workers.
pub struct EpochIter {
    receivers: Vec<Receiver<Result<Batch, DataError>>>,
    handles: Vec<JoinHandle<()>>,
    first: usize,
    next: usize,
    end: usize,
    done: bool,
    pending_error: Option<DataError>,
}

impl EpochIter {
    fn failed(error: DataError) -> Self {
        EpochIter {
            receivers: Vec::new(),
            handles: Vec::new(),
            first: 0,
            next: 0,
            end: 0,
            done: false,
            pending_error: Some(error),
        }
    }

    /// The step the next batch will have.
    pub fn next_step(&self) -> usize {
        self.next
    }

    /// Batches still to come if nothing fails (for progress bars).
    pub fn remaining(&self) -> usize {
        if self.done {
            0
        } else {
            self.end - self.next + usize::from(self.pending_error.is_some())
        }
    }
}

impl Iterator for EpochIter {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending_error.take() {
            self.done = true;
            return Some(Err(e));
        }
        if self.done || self.next >= self.end {
            return None;
        }
        let rx = &self.receivers[(self.next - self.first) % self.receivers.len()];
        let item = rx.recv().unwrap_or_else(|_| {
            Err(DataError::Worker(format!(
                "no batch for step {}; the worker panicked",
                self.next
            )))
        });
        match item {
            Ok(batch) => {
                self.next += 1;
                Some(Ok(batch))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // An error ends the epoch early, so only one more item is certain.
        let left = self.remaining();
        (left.min(1), Some(left))
    }
}

impl Drop for EpochIter {
    fn drop(&mut self) {
        // Closing the channels makes each worker's next send fail, so it stops.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}
