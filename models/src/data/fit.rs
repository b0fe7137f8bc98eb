//! How images of any size are brought to the model's square input when they are not augmented
//! (evaluation, probing, reconstruction, and pre-training without augmentation). One setting
//! for every command, so the images a model is trained on and probed on are prepared alike.

use serde::{Deserialize, Serialize};

use super::Augment;

/// The geometric preparation of an image that is not randomly cropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fit {
    /// Scale the shorter side to the model's size and keep the central square (the aspect
    /// ratio is kept; the borders of the longer side are cut).
    #[default]
    CenterCrop,
    /// Scale the whole image to the model's size (nothing is cut; the aspect ratio is not
    /// kept).
    Stretch,
    /// No resampling: every image must already have the model's size.
    Exact,
}

impl Fit {
    /// The augmentation that does it for a `size` x `size` model input.
    pub fn augment(self, size: usize) -> Augment {
        match self {
            Fit::CenterCrop => Augment::ResizeCenterCrop {
                resize: size,
                crop: size,
            },
            Fit::Stretch => Augment::Stretch {
                width: size,
                height: size,
            },
            Fit::Exact => Augment::None {
                width: size,
                height: size,
            },
        }
    }

    /// The name a user types (`--fit center-crop`).
    pub fn name(self) -> &'static str {
        match self {
            Fit::CenterCrop => "center-crop",
            Fit::Stretch => "stretch",
            Fit::Exact => "exact",
        }
    }

    /// What happens to an image, for messages and picture legends.
    pub fn describe(self, size: usize) -> String {
        match self {
            Fit::CenterCrop => format!(
                "each image's shorter side scaled to {size} px and the central {size}x{size} \
                 kept (--fit center-crop)"
            ),
            Fit::Stretch => {
                format!("each image scaled to {size}x{size}, aspect not kept (--fit stretch)")
            }
            Fit::Exact => format!("images used as they are, {size}x{size} (--fit exact)"),
        }
    }
}

impl std::str::FromStr for Fit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [Fit::CenterCrop, Fit::Stretch, Fit::Exact]
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("`{s}`: expected center-crop, stretch or exact"))
    }
}
