//! Named f32 tensors in safetensors files: reading with typed errors that name the file and the
//! tensor, and atomic writing (temp file in the same folder, fsync, rename), so a crash or a
//! full disk never leaves a half-written file under the final name.
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

/// A dense row-major f32 tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor of `shape` holding `data`; `None` if the element counts differ.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Option<Tensor> {
        (shape.iter().product::<usize>() == data.len()).then_some(Tensor { shape, data })
    }

    /// A scalar stored as shape `[1]` (how the fixtures store a loss or a ratio).
    pub fn scalar(value: f32) -> Tensor {
        Tensor {
            shape: vec![1],
            data: vec![value],
        }
    }
}

/// Why a tensor file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TensorFileError {
    // The io errors are part of the message, not `source`s, so a report that prints the
    // chain does not repeat them.
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not a valid safetensors file: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error(
        "{path}: tensor `{name}` has dtype {dtype}; expected F32 (or F64, converted, or an \
         integer type whose values f32 holds exactly, such as token ids)"
    )]
    Dtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },
    #[error("{path}: tensor `{name}` is missing")]
    Missing { path: PathBuf, name: String },
    #[error("{path}: tensor `{name}` has shape {found:?}; expected {expected:?}")]
    Shape {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("cannot serialize tensors for {path}: {reason}")]
    Serialize { path: PathBuf, reason: String },
}

/// The tensors of one file (in the file's order) and its `__metadata__` strings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorFile {
    pub path: PathBuf,
    pub tensors: Vec<(String, Tensor)>,
    pub metadata: HashMap<String, String>,
}

impl TensorFile {
    /// Reads every tensor of `path` as f32: F64 tensors are rounded, integer tensors (token ids)
    /// are converted when every value is exact in f32 (|v| <= 2^24); other dtypes are errors.
    pub fn read(path: &Path) -> Result<TensorFile, TensorFileError> {
        let bytes = fs::read(path).map_err(|error| TensorFileError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let format = |e: safetensors::SafeTensorError| TensorFileError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(format)?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let st = SafeTensors::deserialize(&bytes).map_err(format)?;
        let mut tensors = Vec::with_capacity(st.len());
        // `offset_keys` lists the tensors in the order of their data in the file.
        for name in header.offset_keys() {
            let view = st.tensor(&name).map_err(format)?;
            let data = to_f32(&view).ok_or_else(|| TensorFileError::Dtype {
                path: path.to_path_buf(),
                name: name.clone(),
                dtype: format!("{:?}", view.dtype()),
            })?;
            tensors.push((
                name,
                Tensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            ));
        }
        Ok(TensorFile {
            path: path.to_path_buf(),
            tensors,
            metadata,
        })
    }

    /// The tensor called `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// The tensor called `name`, or an error naming it.
    pub fn require(&self, name: &str) -> Result<&Tensor, TensorFileError> {
        self.get(name).ok_or_else(|| TensorFileError::Missing {
            path: self.path.clone(),
            name: name.to_string(),
        })
    }

    /// The tensor called `name`, which must have `rank` dims; an error naming it otherwise.
    pub fn require_rank(&self, name: &str, rank: usize) -> Result<&Tensor, TensorFileError> {
        let t = self.require(name)?;
        if t.shape.len() != rank {
            return Err(TensorFileError::Shape {
                path: self.path.clone(),
                name: name.to_string(),
                expected: vec![0; rank],
                found: t.shape.clone(),
            });
        }
        Ok(t)
    }
}

fn to_f32(view: &TensorView<'_>) -> Option<Vec<f32>> {
    let bytes = view.data();
    match view.dtype() {
        Dtype::F32 => Some(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        Dtype::F64 => Some(
            bytes
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    f64::from_le_bytes(b) as f32
                })
                .collect(),
        ),
        Dtype::I64 => exact_ints(bytes.chunks_exact(8).map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            i64::from_le_bytes(b)
        })),
        Dtype::I32 => exact_ints(
            bytes
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64),
        ),
        Dtype::U32 => exact_ints(
            bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64),
        ),
        _ => None,
    }
}

/// Integers as f32, or `None` if one is too large to be exact.
fn exact_ints(values: impl Iterator<Item = i64>) -> Option<Vec<f32>> {
    const EXACT: i64 = 1 << 24;
    values
        .map(|v| (-EXACT..=EXACT).contains(&v).then_some(v as f32))
        .collect()
}

/// Writes `tensors` (f32) and `metadata` to `path` atomically: the bytes go to a temporary file
/// in the same folder, which is flushed to disk and then renamed over `path`.
pub fn write_atomic(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: &HashMap<String, String>,
) -> Result<(), TensorFileError> {
    let bytes_of: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, t)| t.data.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let serialize_err = |reason: String| TensorFileError::Serialize {
        path: path.to_path_buf(),
        reason,
    };
    let mut views = Vec::with_capacity(tensors.len());
    for ((name, t), bytes) in tensors.iter().zip(&bytes_of) {
        let view = TensorView::new(Dtype::F32, t.shape.clone(), bytes)
            .map_err(|e| serialize_err(format!("tensor `{name}`: {e}")))?;
        views.push((name.as_str(), view));
    }
    let info = (!metadata.is_empty()).then(|| metadata.clone());
    let buffer =
        safetensors::tensor::serialize(views, info).map_err(|e| serialize_err(e.to_string()))?;
    write_bytes_atomic(path, &buffer)
}

/// The temporary name `write_atomic` uses for `path` (exposed so tests can check it is gone).
pub fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<(), TensorFileError> {
    let tmp = temp_path_for(path);
    let write_err = |error| TensorFileError::Write {
        path: path.to_path_buf(),
        error,
    };
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // Persist the rename itself; a folder that cannot be opened (some platforms) is fine.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `name` in a fresh folder, with the guard that removes the folder when dropped.
    fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
        let guard = tempfile::tempdir().unwrap();
        let path = guard.path().join(name);
        (guard, path)
    }

    #[test]
    fn round_trip_keeps_order_values_shapes_and_metadata() {
        let (_guard, path) = scratch("rt.safetensors");
        let a = Tensor::new(vec![2, 3], vec![1.5, -2.0, 3.25, 1e-30, -0.0, 7e8]).unwrap();
        let b = Tensor::scalar(f32::MIN_POSITIVE);
        let tensors = vec![("z.first".to_string(), a), ("a.second".to_string(), b)];
        let meta = HashMap::from([("config".to_string(), "{\"x\": 1}".to_string())]);
        write_atomic(&path, &tensors, &meta).unwrap();
        let back = TensorFile::read(&path).unwrap();
        let mut sorted = tensors.clone();
        sorted.sort_by(|x, y| x.0.cmp(&y.0));
        let mut got = back.tensors.clone();
        got.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(got, sorted);
        assert_eq!(back.metadata, meta);
        assert!(!temp_path_for(&path).exists());
    }

    #[test]
    fn integer_tensors_read_as_exact_floats_or_not_at_all() {
        let (_guard, path) = scratch("ints.safetensors");
        let write = |values: &[i64]| {
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            let view = TensorView::new(Dtype::I64, vec![values.len()], &bytes).unwrap();
            let buffer = safetensors::tensor::serialize([("text", view)], None).unwrap();
            fs::write(&path, buffer).unwrap();
        };
        write(&[0, 30521, -3, 1 << 24]);
        let f = TensorFile::read(&path).unwrap();
        assert_eq!(
            f.require("text").unwrap().data,
            [0.0, 30521.0, -3.0, 16_777_216.0]
        );
        write(&[(1 << 24) + 1]);
        let e = TensorFile::read(&path).unwrap_err().to_string();
        assert!(e.contains("I64") && e.contains("text"), "{e}");
    }

    #[test]
    fn errors_name_the_file_and_the_tensor() {
        let (_guard, path) = scratch("err.safetensors");
        let t = vec![("imgs".to_string(), Tensor::scalar(1.0))];
        write_atomic(&path, &t, &HashMap::new()).unwrap();
        let f = TensorFile::read(&path).unwrap();
        let msg = f.require("noise").unwrap_err().to_string();
        assert!(
            msg.contains("noise") && msg.contains("err.safetensors"),
            "{msg}"
        );
        let msg = f.require_rank("imgs", 4).unwrap_err().to_string();
        assert!(msg.contains("imgs") && msg.contains("[1]"), "{msg}");
        fs::write(&path, b"not a safetensors file").unwrap();
        assert!(matches!(
            TensorFile::read(&path),
            Err(TensorFileError::Format { .. })
        ));
        let (_guard, missing) = scratch("does-not-exist.safetensors");
        assert!(matches!(
            TensorFile::read(&missing),
            Err(TensorFileError::Read { .. })
        ));
    }
}
