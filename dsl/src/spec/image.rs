//! The image every image family starts from: `height x width x channels`.
use super::error::{Family, ShapeError};
use super::rules::{size, square, tri};
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// Input images, `[C, H, W]` per sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct ImageSpec {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl ImageSpec {
    /// A `side x side` image of `channels` channels: the official models' `img_size`.
    pub const fn square(side: usize, channels: usize) -> ImageSpec {
        ImageSpec {
            height: side,
            width: side,
            channels,
        }
    }

    /// Checks the sizes and that the image is square; returns its side.
    pub const fn validate(&self, family: Family) -> Result<usize, ShapeError> {
        tri!(size(family, "image height", self.height));
        tri!(size(family, "image width", self.width));
        tri!(size(family, "channels", self.channels));
        square(family, self.height, self.width)
    }

    /// Values in one image, `C * H * W`.
    pub const fn numel(&self) -> usize {
        self.channels * self.height * self.width
    }
}
