//! Image–caption pairs as M3AE trains on them: a folder of images plus `captions.jsonl`, one
//! JSON object a line, `{"image": "rel/path.png", "caption": "..."}` (paths relative to the
//! folder). Images are composited on white where transparent (clip art and emoji are), padded
//! to a square with white so nothing is cut off, resized (bicubic) to the model's size and
//! normalized with M3AE's CC12M statistics, its default.
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tessera_dsl::spec::ImageSpec;

use crate::data::resize::{resize_crop, Rect};
use crate::data::{Image, Normalize};

/// The captions file inside a data folder.
pub const CAPTIONS_FILE: &str = "captions.jsonl";

/// M3AE's default image normalization (`image_normalization = 'cc12m'`).
pub const CC12M_MEAN: [f32; 3] = [0.5762, 0.5503, 0.5213];
pub const CC12M_STD: [f32; 3] = [0.3207, 0.3169, 0.3307];

/// Why an image–caption folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptionError {
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{path}:{line}: {reason}; each line must be {{\"image\": \"rel/path.png\", \
         \"caption\": \"...\"}}"
    )]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path} lists no image–caption pairs")]
    Empty { path: PathBuf },
    #[error("cannot decode image {path}: {reason}")]
    Image { path: PathBuf, reason: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    image: String,
    caption: String,
}

/// One pair: the image's path (absolute) and its caption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub image: PathBuf,
    pub caption: String,
}

/// The pairs of a folder, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptionSet {
    pub root: PathBuf,
    pub pairs: Vec<Pair>,
}

impl CaptionSet {
    /// Reads `dir/captions.jsonl` (blank lines are skipped; a bad line is an error naming it).
    pub fn open(dir: &Path) -> Result<CaptionSet, CaptionError> {
        let path = dir.join(CAPTIONS_FILE);
        let text = std::fs::read_to_string(&path).map_err(|error| CaptionError::Read {
            path: path.clone(),
            error,
        })?;
        let mut pairs = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |reason: String| CaptionError::Line {
                path: path.clone(),
                line: i + 1,
                reason,
            };
            let l: Line = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
            if Path::new(&l.image).is_absolute() || l.image.split('/').any(|c| c == "..") {
                return Err(bad(format!(
                    "image path {:?} must stay inside the folder",
                    l.image
                )));
            }
            pairs.push(Pair {
                image: dir.join(&l.image),
                caption: l.caption,
            });
        }
        if pairs.is_empty() {
            return Err(CaptionError::Empty { path });
        }
        Ok(CaptionSet {
            root: dir.to_path_buf(),
            pairs,
        })
    }
}

/// M3AE's normalization for `channels` (grey images use the mean of the three statistics).
pub fn normalization(channels: usize) -> Normalize {
    let (mean, std) = if channels == 3 {
        (CC12M_MEAN.to_vec(), CC12M_STD.to_vec())
    } else {
        let m = CC12M_MEAN.iter().sum::<f32>() / 3.0;
        let s = CC12M_STD.iter().sum::<f32>() / 3.0;
        (vec![m; channels], vec![s; channels])
    };
    Normalize::new(mean, std).expect("positive statistics, one per channel")
}

/// The image at `path` as the model takes it: `[C, H, W]`, normalized.
pub fn load_image(path: &Path, spec: ImageSpec) -> Result<Vec<f32>, CaptionError> {
    let bad = |reason: String| CaptionError::Image {
        path: path.to_path_buf(),
        reason,
    };
    let rgba = image::open(path)
        .map_err(|e| bad(e.to_string()))?
        .to_rgba8();
    let (w, h) = (rgba.width() as usize, rgba.height() as usize);
    if w == 0 || h == 0 {
        return Err(bad("the image is empty".into()));
    }
    // Transparent pixels over white, centred in a white square.
    let side = w.max(h);
    let c = spec.channels;
    let mut pixels = vec![255u8; side * side * c];
    let (x0, y0) = ((side - w) / 2, (side - h) / 2);
    for (x, y, p) in rgba.enumerate_pixels() {
        let a = f32::from(p[3]) / 255.0;
        let over = |v: u8| (f32::from(v) * a + 255.0 * (1.0 - a)).round();
        let rgb = [over(p[0]), over(p[1]), over(p[2])];
        let at = ((y0 + y as usize) * side + x0 + x as usize) * c;
        if c == 3 {
            for k in 0..3 {
                pixels[at + k] = rgb[k] as u8;
            }
        } else {
            let luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
            pixels[at..at + c].fill(luma.round() as u8);
        }
    }
    let square = Image::new(side, side, c, pixels).map_err(|e| bad(e.to_string()))?;
    let full = Rect {
        left: 0,
        top: 0,
        width: side,
        height: side,
    };
    let hwc = resize_crop(&square, full, spec.width, spec.height);
    let mut chw = vec![0.0; c * spec.width * spec.height];
    normalization(c).to_chw(&hwc, spec.width, spec.height, &mut chw);
    Ok(chw)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder, with the guard that removes it when dropped.
    fn scratch() -> (tempfile::TempDir, PathBuf) {
        let guard = tempfile::tempdir().unwrap();
        let dir = guard.path().to_path_buf();
        (guard, dir)
    }

    #[test]
    fn lines_name_their_problems() {
        let (_guard, d) = scratch();
        std::fs::write(
            d.join(CAPTIONS_FILE),
            "{\"image\": \"a.png\", \"caption\": \"A red square\"}\n\n{\"image\": \"b.png\"}\n",
        )
        .unwrap();
        let e = CaptionSet::open(&d).unwrap_err().to_string();
        assert!(
            e.contains("captions.jsonl:3") && e.contains("caption"),
            "{e}"
        );
        std::fs::write(
            d.join(CAPTIONS_FILE),
            "{\"image\": \"../a.png\", \"caption\": \"x\"}\n",
        )
        .unwrap();
        let e = CaptionSet::open(&d).unwrap_err().to_string();
        assert!(e.contains("inside the folder"), "{e}");
    }

    #[test]
    fn a_transparent_wide_image_is_padded_on_white_and_resized() {
        let (_guard, d) = scratch();
        // 4x2: left half opaque red, right half fully transparent.
        let mut img = image::RgbaImage::new(4, 2);
        for (x, _, p) in img.enumerate_pixels_mut() {
            *p = if x < 2 {
                image::Rgba([255, 0, 0, 255])
            } else {
                image::Rgba([0, 0, 255, 0])
            };
        }
        let path = d.join("wide.png");
        img.save(&path).unwrap();
        std::fs::write(
            d.join(CAPTIONS_FILE),
            "{\"image\": \"wide.png\", \"caption\": \"half red\"}\n",
        )
        .unwrap();
        let set = CaptionSet::open(&d).unwrap();
        assert_eq!(set.pairs[0].caption, "half red");
        let spec = ImageSpec {
            height: 4,
            width: 4,
            channels: 3,
        };
        let chw = load_image(&set.pairs[0].image, spec).unwrap();
        let back = normalization(3).to_u8_hwc(&chw, 4, 4);
        let px = |x: usize, y: usize| &back[(y * 4 + x) * 3..][..3];
        // The padding rows (top and bottom) and the transparent half are white; the far left
        // of the middle rows is red.
        assert_eq!(px(3, 0), [255, 255, 255]);
        assert_eq!(px(3, 1), [255, 255, 255]);
        assert_eq!(px(0, 1), [255, 0, 0]);
    }
}
