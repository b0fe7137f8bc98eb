//! Per-channel normalization `(x / 255 - mean) / std` into the model's CHW layout.

use super::{DataError, Dataset};

/// Channel statistics of pixels scaled to [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalize {
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Self, DataError> {
        if mean.is_empty() || mean.len() != std.len() {
            return Err(DataError::BadConfig(format!(
                "normalization needs one mean and one std per channel, got {} and {}",
                mean.len(),
                std.len()
            )));
        }
        if let Some(s) = std.iter().find(|s| !(**s > 0.0 && s.is_finite())) {
            return Err(DataError::BadConfig(format!(
                "normalization std {s} must be positive and finite"
            )));
        }
        Ok(Normalize { mean, std })
    }

    /// ImageNet statistics (the MAE recipes' `transforms.Normalize`).
    pub fn imagenet() -> Self {
        Normalize {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        }
    }

    /// Fashion-MNIST training-set statistics, as the PyTorch reference run uses.
    pub fn fashion_mnist() -> Self {
        Normalize {
            mean: vec![super::fashion_mnist::MEAN],
            std: vec![super::fashion_mnist::STD],
        }
    }

    /// Statistics measured on (at most `max_images` evenly spaced images of) a data set:
    /// per-channel mean and population standard deviation of the pixels scaled to [0, 1].
    /// Unreadable images are skipped (and recorded by the data set).
    pub fn measure(dataset: &dyn Dataset, max_images: usize) -> Result<Self, DataError> {
        let n = dataset.len();
        let take = n.min(max_images.max(1));
        let c = dataset.channels();
        let (mut sum, mut sq, mut count) = (vec![0f64; c], vec![0f64; c], 0u64);
        for k in 0..take {
            let index = k * n / take;
            let img = match dataset.load(index) {
                Ok(img) => img,
                Err(DataError::Unreadable { .. }) => continue,
                Err(e) => return Err(e),
            };
            for px in img.pixels.chunks_exact(img.channels) {
                for (ch, &v) in px.iter().enumerate() {
                    let v = f64::from(v) / 255.0;
                    sum[ch] += v;
                    sq[ch] += v * v;
                }
            }
            count += (img.width * img.height) as u64;
        }
        if count == 0 {
            return Err(DataError::Empty {
                what: dataset.name(),
                why: "no readable image to measure statistics on".into(),
            });
        }
        let count = count as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
        let std = sum
            .iter()
            .zip(&sq)
            .map(|(s, q)| ((q / count - (s / count).powi(2)).max(0.0).sqrt() as f32).max(1e-6))
            .collect();
        Normalize::new(mean, std)
    }

    /// The same statistics for `channels` channels: one value repeated for grey read as RGB,
    /// the luma-weighted mean (PIL's grey weights) for RGB read as grey.
    pub fn with_channels(self, channels: usize) -> Self {
        match (self.mean.len(), channels) {
            (a, b) if a == b => self,
            (1, c) => Normalize {
                mean: vec![self.mean[0]; c],
                std: vec![self.std[0]; c],
            },
            (3, 1) => {
                let w = [0.299f32, 0.587, 0.114];
                let dot = |v: &[f32]| v.iter().zip(w).map(|(a, b)| a * b).sum::<f32>();
                Normalize {
                    mean: vec![dot(&self.mean)],
                    std: vec![dot(&self.std)],
                }
            }
            _ => self,
        }
    }

    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    pub fn std(&self) -> &[f32] {
        &self.std
    }

    /// Writes `(hwc / 255 - mean) / std` as CHW into `out` (length c * h * w).
    pub fn to_chw(&self, hwc: &[f32], width: usize, height: usize, out: &mut [f32]) {
        let c = self.channels();
        let plane = width * height;
        debug_assert_eq!(hwc.len(), plane * c);
        for ch in 0..c {
            let scale = 1.0 / (255.0 * self.std[ch]);
            let shift = self.mean[ch] / self.std[ch];
            let dst = &mut out[ch * plane..][..plane];
            for (p, d) in dst.iter_mut().enumerate() {
                *d = hwc[p * c + ch] * scale - shift;
            }
        }
    }

    /// The inverse, back to u8 HWC (for looking at samples).
    pub fn to_u8_hwc(&self, chw: &[f32], width: usize, height: usize) -> Vec<u8> {
        let c = self.channels();
        let plane = width * height;
        let mut out = vec![0u8; plane * c];
        for ch in 0..c {
            for p in 0..plane {
                let v = (chw[ch * plane + p] * self.std[ch] + self.mean[ch]) * 255.0;
                out[p * c + ch] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
        out
    }
}
