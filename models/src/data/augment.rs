//! Geometric augmentation: MAE's pre-training `RandomResizedCrop(size, scale=(0.2, 1.0),
//! interpolation=BICUBIC)` + `RandomHorizontalFlip()`, the eval-time resize + center crop,
//! and "none" (images must already have the model's size).

use super::resize::{resize_crop, Rect};
use super::{DataError, Image};
use tessera_dsl::rng::Rng;

/// What happens to an image before normalization.
#[derive(Clone, Debug, PartialEq)]
pub enum Augment {
    /// No geometric change: every image must already be `width` x `height`.
    None { width: usize, height: usize },
    /// torchvision's `RandomResizedCrop` to `size` x `size`, then a horizontal flip with
    /// probability 1/2 when `hflip`.
    RandomResizedCrop {
        size: usize,
        scale: (f64, f64),
        ratio: (f64, f64),
        hflip: bool,
    },
    /// Resize the shorter side to `resize`, then cut the central `crop` x `crop` (eval).
    ResizeCenterCrop { resize: usize, crop: usize },
    /// Resize the whole image to `width` x `height`, aspect ratio not kept.
    Stretch { width: usize, height: usize },
}

impl Augment {
    /// MAE's pre-training augmentation: scale (0.2, 1), ratio (3/4, 4/3), flip.
    pub fn mae_pretrain(size: usize) -> Self {
        Augment::RandomResizedCrop {
            size,
            scale: (0.2, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            hflip: true,
        }
    }

    /// The ImageNet eval protocol: resize to size * 256 / 224, center crop `size`.
    pub fn eval_center(size: usize) -> Self {
        Augment::ResizeCenterCrop {
            resize: (size * 256).div_ceil(224),
            crop: size,
        }
    }

    /// Output (width, height).
    pub fn output_size(&self) -> (usize, usize) {
        match *self {
            Augment::None { width, height } => (width, height),
            Augment::RandomResizedCrop { size, .. } => (size, size),
            Augment::ResizeCenterCrop { crop, .. } => (crop, crop),
            Augment::Stretch { width, height } => (width, height),
        }
    }

    /// Checks the settings once, so that workers never meet a bad one.
    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |m: String| Err(DataError::BadConfig(m));
        match *self {
            Augment::None { width, height } | Augment::Stretch { width, height }
                if width == 0 || height == 0 =>
            {
                bad(format!("image size {width}x{height} must be positive"))
            }
            Augment::RandomResizedCrop {
                size, scale, ratio, ..
            } => {
                if size == 0 {
                    return bad("crop size must be positive".into());
                }
                if !(scale.0 > 0.0 && scale.0 <= scale.1 && scale.1 <= 1.0) {
                    return bad(format!(
                        "crop scale {scale:?}: expected 0 < min <= max <= 1"
                    ));
                }
                if !(ratio.0 > 0.0 && ratio.0 <= ratio.1 && ratio.1.is_finite()) {
                    return bad(format!(
                        "crop aspect ratio {ratio:?}: expected 0 < min <= max"
                    ));
                }
                Ok(())
            }
            Augment::ResizeCenterCrop { resize, crop } if crop == 0 || crop > resize => bad(
                format!("center crop {crop} must be positive and at most the resize {resize}"),
            ),
            _ => Ok(()),
        }
    }

    /// Applies the augmentation; returns f32 HWC values in [0, 255] of `output_size()`.
    /// `name` identifies the image in errors; `rng` is this sample's own stream.
    pub fn apply(&self, img: &Image, name: &str, rng: &mut Rng) -> Result<Vec<f32>, DataError> {
        match *self {
            Augment::None { width, height } => {
                if img.width != width || img.height != height {
                    return Err(DataError::UnexpectedSize {
                        name: name.to_string(),
                        expected_w: width,
                        expected_h: height,
                        found_w: img.width,
                        found_h: img.height,
                    });
                }
                Ok(img.pixels.iter().map(|&p| f32::from(p)).collect())
            }
            Augment::RandomResizedCrop {
                size,
                scale,
                ratio,
                hflip,
            } => {
                let (rect, _) = random_resized_crop_rect(rng, img.width, img.height, scale, ratio);
                let mut out = resize_crop(img, rect, size, size);
                // Always draw, so the stream does not depend on `hflip`.
                let flip = rng.next_f64() < 0.5;
                if hflip && flip {
                    flip_horizontal(&mut out, size, size, img.channels);
                }
                Ok(out)
            }
            Augment::Stretch { width, height } => {
                let full = Rect {
                    left: 0,
                    top: 0,
                    width: img.width,
                    height: img.height,
                };
                Ok(resize_crop(img, full, width, height))
            }
            Augment::ResizeCenterCrop { resize, crop } => {
                let (w, h) = shorter_side_to(img.width, img.height, resize);
                let full = Rect {
                    left: 0,
                    top: 0,
                    width: img.width,
                    height: img.height,
                };
                let resized = resize_crop(img, full, w, h);
                let left = half_rounded(w - crop);
                let top = half_rounded(h - crop);
                let c = img.channels;
                let mut out = Vec::with_capacity(crop * crop * c);
                for y in top..top + crop {
                    out.extend_from_slice(&resized[(y * w + left) * c..][..crop * c]);
                }
                Ok(out)
            }
        }
    }
}

/// torchvision `Resize(int)`: the shorter side becomes `size`, the longer keeps the aspect
/// (truncated, as `int(size * long / short)`).
fn shorter_side_to(w: usize, h: usize, size: usize) -> (usize, usize) {
    if w <= h {
        (size, (size * h / w).max(size))
    } else {
        ((size * w / h).max(size), size)
    }
}

/// Python's `round(k / 2)` (halves go to the even neighbour), as torchvision's center crop.
fn half_rounded(k: usize) -> usize {
    let m = k / 2;
    if k % 2 == 1 && m % 2 == 1 {
        m + 1
    } else {
        m
    }
}

/// Mirrors HWC rows in place: column x takes column width-1-x.
pub fn flip_horizontal(hwc: &mut [f32], width: usize, height: usize, channels: usize) {
    for y in 0..height {
        let row = &mut hwc[y * width * channels..][..width * channels];
        for x in 0..width / 2 {
            for c in 0..channels {
                row.swap(x * channels + c, (width - 1 - x) * channels + c);
            }
        }
    }
}

/// torchvision's `RandomResizedCrop.get_params`: up to 10 tries of an area fraction drawn
/// uniformly from `scale` and an aspect ratio (w/h) drawn log-uniformly from `ratio`; if none
/// fits, the central crop with the aspect clamped into `ratio`. Returns the region and whether
/// it came from that fallback.
pub fn random_resized_crop_rect(
    rng: &mut Rng,
    width: usize,
    height: usize,
    scale: (f64, f64),
    ratio: (f64, f64),
) -> (Rect, bool) {
    let area = (width * height) as f64;
    let (log_lo, log_hi) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target = area * rng.uniform(scale.0, scale.1);
        let aspect = rng.uniform(log_lo, log_hi).exp();
        let w = (target * aspect).sqrt().round() as usize;
        let h = (target / aspect).sqrt().round() as usize;
        if 0 < w && w <= width && 0 < h && h <= height {
            let top = rng.below((height - h + 1) as u64) as usize;
            let left = rng.below((width - w + 1) as u64) as usize;
            let rect = Rect {
                left,
                top,
                width: w,
                height: h,
            };
            return (rect, false);
        }
    }
    let in_ratio = width as f64 / height as f64;
    let (w, h) = if in_ratio < ratio.0 {
        (
            width,
            ((width as f64 / ratio.0).round() as usize).clamp(1, height),
        )
    } else if in_ratio > ratio.1 {
        (
            ((height as f64 * ratio.1).round() as usize).clamp(1, width),
            height,
        )
    } else {
        (width, height)
    };
    let rect = Rect {
        left: (width - w) / 2,
        top: (height - h) / 2,
        width: w,
        height: h,
    };
    (rect, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_round_half_even() {
        // round(0.5)=0, round(1.5)=2, round(2.5)=2, round(16)=16
        assert_eq!([1, 3, 5, 32, 7].map(half_rounded), [0, 2, 2, 16, 4]);
    }

    #[test]
    fn shorter_side() {
        assert_eq!(shorter_side_to(500, 375, 256), (341, 256));
        assert_eq!(shorter_side_to(300, 451, 256), (256, 384));
    }
}
