//! Video for clip models (VideoMAE): `folder:DIR` read as a folder of clips, each clip a folder
//! of frames (PNG or JPEG, in file-name order: `DIR/<clip>/00001.png`, ...). `ffmpeg -i
//! video.mp4 -vf fps=10 DIR/<clip>/%05d.png` makes one (docs/video-data.md).
//!
//! How samples are cut: a clip of `F` frames gives `floor(F / T)` samples of `T` consecutive
//! frames — frames `[0, T)`, `[T, 2T)`, ... — and the last `F mod T` frames are not used. The
//! temporal sampling rate is the frame rate the frames were extracted at. Each frame is scaled
//! so its shorter side is the model's size and the central square is kept (bicubic, as the
//! image folders), the same for every frame of a clip.
//!
//! A sample is handed to the loader as ONE image: its `T` frames stacked top to bottom (a
//! filmstrip `size` wide and `T · size` high). The loader's per-channel normalization then
//! writes `[C, T·size, size]`, which is the clip tensor `[C, T, size, size]` in memory, so
//! clips travel through the same loader, workers and resumable order as images. Clips are not
//! augmented (a crop or flip must be the same for every frame; the image augmentations are
//! not).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::resize::{resize_crop, Rect};
use super::source::folder_split;
use super::{Augment, DataError, Dataset, Image, SkipLog, Skipped, Source, Split, Transform};

const EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// A folder of clips, cut into samples of `frames` frames of `size x size` RGB.
#[derive(Debug)]
pub struct ClipFolder {
    root: PathBuf,
    frames: usize,
    size: usize,
    /// Clip folder names (the "classes": a sample's label is its clip).
    clips: Vec<String>,
    /// Frame files of each clip, in order.
    files: Vec<Vec<PathBuf>>,
    /// `(clip, first frame)` of every sample.
    samples: Vec<(usize, usize)>,
    /// Clips with fewer than `frames` frames, left out.
    too_short: Vec<Skipped>,
    load_skipped: SkipLog,
}

fn is_frame(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Sorted, non-hidden entries of a directory.
fn entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if !hidden {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Samples a clip of `count` frames gives: `floor(count / frames)`.
pub fn samples_in(count: usize, frames: usize) -> usize {
    count / frames.max(1)
}

/// The clips of `source` for a model of `frames`-frame clips of `size x size` RGB: a
/// `folder:DIR` source read as clip folders (`DIR/<clip>/<frame>`; `DIR/train` and `DIR/val`
/// or `DIR/test` are the splits when present, as for images), with the transform that turns a
/// filmstrip into the normalised clip (no augmentation; the source's normalization, ImageNet's
/// for folders, which is what VideoMAE's target un-normalises with).
pub fn open_clips(
    source: &Source,
    split: Split,
    frames: usize,
    size: usize,
) -> Result<(Arc<dyn Dataset>, Transform), DataError> {
    let Source::Folder(root) = source else {
        return Err(DataError::BadSpec {
            spec: source.to_string(),
            why: "a clip model reads `folder:DIR`, a folder of clips, each a folder of frames"
                .into(),
        });
    };
    let dataset = ClipFolder::open(&folder_split(root, split)?, frames, size)?;
    let augment = Augment::None {
        width: size,
        height: frames * size,
    };
    let transform = Transform::new(augment, source.default_normalize())?;
    Ok((Arc::new(dataset), transform))
}

impl ClipFolder {
    /// Scans `root`: every sub-folder is a clip of frame files. Clips shorter than `frames`
    /// are left out (and listed by [`Dataset::skipped`]); no sample at all is an error.
    pub fn open(root: &Path, frames: usize, size: usize) -> Result<Self, DataError> {
        if frames == 0 || size == 0 {
            return Err(DataError::BadConfig(format!(
                "clips need at least one frame of at least one pixel, not {frames} of {size} px"
            )));
        }
        if !root.is_dir() {
            return Err(DataError::io(
                root,
                std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            ));
        }
        let mut out = ClipFolder {
            root: root.to_path_buf(),
            frames,
            size,
            clips: Vec::new(),
            files: Vec::new(),
            samples: Vec::new(),
            too_short: Vec::new(),
            load_skipped: SkipLog::default(),
        };
        for dir in entries(root)?.into_iter().filter(|p| p.is_dir()) {
            let frame_files: Vec<PathBuf> =
                entries(&dir)?.into_iter().filter(|p| is_frame(p)).collect();
            let n = samples_in(frame_files.len(), frames);
            if n == 0 {
                out.too_short.push(Skipped {
                    path: dir.clone(),
                    reason: format!(
                        "{} frame file(s); a sample needs {frames}",
                        frame_files.len()
                    ),
                });
                continue;
            }
            let clip = out.clips.len();
            out.samples.extend((0..n).map(|k| (clip, k * frames)));
            out.clips.push(
                dir.file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            out.files.push(frame_files);
        }
        if out.samples.is_empty() {
            return Err(DataError::Empty {
                what: format!("clips in {}", root.display()),
                why: format!(
                    "no clip folder with at least {frames} frames; expected \
                     DIR/<clip>/<frame>.{{png,jpg,jpeg}}"
                ),
            });
        }
        Ok(out)
    }

    /// Frames per sample.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The frame files of sample `index`.
    pub fn frame_files(&self, index: usize) -> &[PathBuf] {
        let (clip, start) = self.samples[index];
        &self.files[clip][start..start + self.frames]
    }

    /// One frame: decoded as RGB, shorter side scaled to `size`, the central square kept.
    fn frame(&self, path: &Path) -> Result<Vec<u8>, String> {
        let img = image::ImageReader::open(path)
            .and_then(|r| r.with_guessed_format())
            .map_err(|e| e.to_string())?
            .decode()
            .map_err(|e| e.to_string())?
            .to_rgb8();
        let (w, h) = (img.width() as usize, img.height() as usize);
        let img = Image::new(w, h, 3, img.into_raw()).map_err(|e| e.to_string())?;
        let side = w.min(h);
        let rect = Rect {
            left: (w - side) / 2,
            top: (h - side) / 2,
            width: side,
            height: side,
        };
        let hwc = resize_crop(&img, rect, self.size, self.size);
        Ok(hwc
            .iter()
            .map(|&v| v.round().clamp(0.0, 255.0) as u8)
            .collect())
    }
}

impl Dataset for ClipFolder {
    fn len(&self) -> usize {
        self.samples.len()
    }

    fn label(&self, index: usize) -> u32 {
        self.samples[index].0 as u32
    }

    fn classes(&self) -> &[String] {
        &self.clips
    }

    fn channels(&self) -> usize {
        3
    }

    fn describe(&self, index: usize) -> String {
        let (clip, start) = self.samples[index];
        format!(
            "{}/{} frames {}..{}",
            self.root.display(),
            self.clips[clip],
            start,
            start + self.frames
        )
    }

    /// The sample's frames as one filmstrip image, `size` wide and `frames · size` high.
    fn load(&self, index: usize) -> Result<Image, DataError> {
        if let Some(known) = self.load_skipped.is_known(index) {
            return Err(DataError::Unreadable {
                path: known.path,
                reason: known.reason,
            });
        }
        let mut strip = Vec::with_capacity(self.frames * self.size * self.size * 3);
        for path in self.frame_files(index) {
            match self.frame(path) {
                Ok(px) => strip.extend(px),
                Err(reason) => {
                    self.load_skipped.record(index, path, &reason);
                    return Err(DataError::Unreadable {
                        path: path.clone(),
                        reason,
                    });
                }
            }
        }
        Image::new(self.size, self.frames * self.size, 3, strip)
    }

    fn skipped(&self) -> Vec<Skipped> {
        let mut all = self.too_short.clone();
        all.extend(self.load_skipped.entries());
        all
    }

    fn name(&self) -> String {
        format!("clips in {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `count` PNG frames of `w x h` into `dir`, frame `k` a flat colour `(k, 2k, 3k)`.
    fn write_clip(dir: &Path, count: usize, w: u32, h: u32) {
        std::fs::create_dir_all(dir).unwrap();
        for k in 0..count {
            let v = (10 * k) as u8;
            let img = image::RgbImage::from_pixel(w, h, image::Rgb([v, 2 * v, 3 * v]));
            img.save(dir.join(format!("{:05}.png", k + 1))).unwrap();
        }
    }

    #[test]
    fn clips_are_cut_into_consecutive_frames_and_stacked() {
        let guard = tempfile::tempdir().unwrap();
        let root = guard.path();
        write_clip(&root.join("a"), 9, 12, 8); // 2 samples of 4, 1 frame unused
        write_clip(&root.join("b"), 4, 8, 8); // 1 sample
        write_clip(&root.join("c"), 3, 8, 8); // too short
        std::fs::write(root.join("a/notes.txt"), "not a frame").unwrap();
        let set = ClipFolder::open(root, 4, 4).unwrap();
        assert_eq!(set.len(), 3);
        assert_eq!(set.classes(), ["a", "b"]);
        assert_eq!((set.label(1), set.label(2)), (0, 1));
        assert_eq!(set.skipped().len(), 1);
        assert!(set.skipped()[0].reason.contains("3 frame file(s)"));
        // Sample 1 = frames 5..8 of clip a: a 4 x 16 strip, frame k a flat colour.
        let strip = set.load(1).unwrap();
        assert_eq!((strip.width, strip.height, strip.channels), (4, 16, 3));
        for f in 0..4 {
            let v = (10 * (4 + f)) as u8;
            assert_eq!(strip.at(2, 4 * f + 1, 0), v, "frame {f}");
            assert_eq!(strip.at(3, 4 * f + 3, 2), 3 * v, "frame {f}");
        }
        assert!(
            set.describe(1).ends_with("a frames 4..8"),
            "{}",
            set.describe(1)
        );
        // A clip folder set with no long enough clip is an error that says what is expected.
        let e = ClipFolder::open(root, 10, 4).unwrap_err().to_string();
        assert!(e.contains("at least 10 frames"), "{e}");
    }

    #[test]
    fn frames_keep_their_central_square() {
        let guard = tempfile::tempdir().unwrap();
        let root = guard.path();
        let dir = root.join("wide");
        std::fs::create_dir_all(&dir).unwrap();
        // 12 x 4 frames: black left and right thirds, white centre.
        for k in 0..2 {
            let img = image::RgbImage::from_fn(12, 4, |x, _| {
                let v = if (4..8).contains(&x) { 255 } else { 0 };
                image::Rgb([v, v, v])
            });
            img.save(dir.join(format!("{k}.png"))).unwrap();
        }
        let set = ClipFolder::open(root, 2, 4).unwrap();
        let strip = set.load(0).unwrap();
        assert!(strip.pixels.iter().all(|&v| v == 255));
    }
}
