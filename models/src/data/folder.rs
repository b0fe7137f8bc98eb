//! `folder:DIR`: the ImageNet layout, one sub-folder per class (sorted names = labels, as
//! torchvision's `ImageFolder`), JPEG or PNG files anywhere below it. Decoded to the channels
//! asked for (RGB or grey, whatever each file holds; transparency over white, see `pixels`).
//!
//! Opening the set reads every file's header on a few threads; files whose header cannot be
//! read are reported, skipped and counted. A file whose header is fine but whose body is
//! corrupt is found when the loader decodes it: it is reported and skipped then (the loader
//! fills its place), and counted in the same log.

use std::path::{Path, PathBuf};

use super::pixels::{to_channels, FILE_CHANNELS};
use super::{DataError, Dataset, Image, SkipLog, Skipped};

const EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// An image folder data set.
#[derive(Debug)]
pub struct FolderDataset {
    root: PathBuf,
    channels: usize,
    classes: Vec<String>,
    files: Vec<(PathBuf, u32)>,
    scan_skipped: Vec<Skipped>,
    load_skipped: SkipLog,
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// Sorted entries of a directory.
fn entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        if !is_hidden(&path) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Image files below `dir`, depth first, sorted at each level.
fn collect_images(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DataError> {
    for path in entries(dir)? {
        if path.is_dir() {
            collect_images(&path, out)?;
        } else if is_image(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Why a file's header cannot be read, if it cannot.
fn header_problem(path: &Path) -> Option<String> {
    let reader = match image::ImageReader::open(path).and_then(|r| r.with_guessed_format()) {
        Ok(r) => r,
        Err(e) => return Some(e.to_string()),
    };
    match reader.into_dimensions() {
        Ok((w, h)) if w > 0 && h > 0 => None,
        Ok((w, h)) => Some(format!("image has no pixels ({w}x{h})")),
        Err(e) => Some(e.to_string()),
    }
}

fn decode(path: &Path, channels: usize) -> Result<Image, String> {
    let img = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| e.to_string())?
        .decode()
        .map_err(|e| e.to_string())?;
    to_channels(&img, channels).ok_or_else(|| format!("cannot be turned into {channels} channels"))
}

impl FolderDataset {
    /// Scans `root` (one sub-folder per class) and checks each file's header on `threads`
    /// threads. Unreadable files are reported on stderr and skipped; the count is printed.
    /// Images decode to RGB.
    pub fn open(root: &Path, threads: usize) -> Result<Self, DataError> {
        Self::open_as(root, threads, 3)
    }

    /// Like [`FolderDataset::open`], decoding every image to `channels` (1: grey, 3: RGB).
    pub fn open_as(root: &Path, threads: usize, channels: usize) -> Result<Self, DataError> {
        if !FILE_CHANNELS.contains(&channels) {
            return Err(DataError::BadConfig(format!(
                "image files give 1 (grey) or 3 (RGB) channels, not {channels}"
            )));
        }
        if !root.is_dir() {
            return Err(DataError::no_folder(root));
        }
        let mut class_dirs: Vec<PathBuf> =
            entries(root)?.into_iter().filter(|p| p.is_dir()).collect();
        if class_dirs.is_empty() {
            // Images straight in DIR (unlabelled pre-training data): one class, the folder.
            let mut direct = Vec::new();
            collect_images(root, &mut direct)?;
            if direct.is_empty() {
                return Err(DataError::Empty {
                    what: format!("folder:{}", root.display()),
                    why: "no class sub-folders and no images; expected \
                          DIR/<class>/<image>.{jpg,jpeg,png} or DIR/<image>.png"
                        .into(),
                });
            }
            class_dirs.push(root.to_path_buf());
        }
        let mut classes = Vec::new();
        let mut candidates = Vec::new();
        for (label, dir) in class_dirs.iter().enumerate() {
            classes.push(
                dir.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
            let mut files = Vec::new();
            collect_images(dir, &mut files)?;
            candidates.extend(files.into_iter().map(|f| (f, label as u32)));
        }
        let problems = check_headers(&candidates, threads);
        let total = candidates.len();
        let mut files = Vec::with_capacity(total);
        let mut scan_skipped = Vec::new();
        for ((path, label), problem) in candidates.into_iter().zip(problems) {
            match problem {
                None => files.push((path, label)),
                Some(reason) => {
                    eprintln!(
                        "warning: skipping unreadable image {}: {reason}",
                        path.display()
                    );
                    scan_skipped.push(Skipped { path, reason });
                }
            }
        }
        if !scan_skipped.is_empty() {
            eprintln!(
                "folder:{}: skipped {} unreadable file(s) of {total}",
                root.display(),
                scan_skipped.len()
            );
        }
        if files.is_empty() {
            return Err(DataError::Empty {
                what: format!("folder:{}", root.display()),
                why: format!(
                    "{total} image file(s) found, {} unreadable",
                    scan_skipped.len()
                ),
            });
        }
        Ok(FolderDataset {
            root: root.to_path_buf(),
            channels,
            classes,
            files,
            scan_skipped,
            load_skipped: SkipLog::default(),
        })
    }

    /// The number of image files `open` would consider (by name, without reading them): a
    /// cheap count for choosing settings before the real scan.
    pub fn count_files(root: &Path) -> Result<usize, DataError> {
        if !root.is_dir() {
            return Err(DataError::no_folder(root));
        }
        let mut files = Vec::new();
        collect_images(root, &mut files)?;
        Ok(files.len())
    }

    pub fn path(&self, index: usize) -> &Path {
        &self.files[index].0
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Header check of every candidate, split over `threads` scoped threads.
fn check_headers(candidates: &[(PathBuf, u32)], threads: usize) -> Vec<Option<String>> {
    let threads = threads.clamp(1, candidates.len().max(1));
    let chunk = candidates.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = candidates
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|(p, _)| header_problem(p)).collect()))
            .collect();
        handles
            .into_iter()
            .zip(candidates.chunks(chunk))
            .flat_map(|(h, part)| {
                h.join()
                    .unwrap_or_else(|_| vec![Some("the decoder panicked".to_string()); part.len()])
            })
            .collect()
    })
}

impl Dataset for FolderDataset {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn label(&self, index: usize) -> u32 {
        self.files[index].1
    }

    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn describe(&self, index: usize) -> String {
        self.files[index].0.display().to_string()
    }

    fn load(&self, index: usize) -> Result<Image, DataError> {
        let path = &self.files[index].0;
        if let Some(known) = self.load_skipped.is_known(index) {
            return Err(DataError::Unreadable {
                path: known.path,
                reason: known.reason,
            });
        }
        decode(path, self.channels).map_err(|reason| {
            self.load_skipped.record(index, path, &reason);
            DataError::Unreadable {
                path: path.clone(),
                reason,
            }
        })
    }

    fn skipped(&self) -> Vec<Skipped> {
        let mut all = self.scan_skipped.clone();
        all.extend(self.load_skipped.entries());
        all
    }

    fn name(&self) -> String {
        format!("folder:{}", self.root.display())
    }
}
