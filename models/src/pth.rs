//! Official PyTorch checkpoints (`torch.save` files, `.pth`/`.pt`) read as named f32 tensors,
//! without PyTorch: the pickle is parsed (never executed) by Burn's `pytorch-reader`.
//!
//! The official MAE scripts save `{"model": state_dict, "optimizer": ..., "epoch": ...,
//! "args": ...}` (`util/misc.py: save_model`), and the released weights keep `{"model": ...}`;
//! other tools save the bare state dict or put it under `state_dict`. The first of `model`,
//! `state_dict` that holds tensors is taken, else the top level. Float tensors (f32, f64, f16,
//! bf16) become f32; the optimizer state and other entries are not read.
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use pytorch_reader::{DType, PytorchReader};

use crate::tensors::{Tensor, TensorFile};

/// Keys under which checkpoints keep their state dict, in the order they are tried.
pub const STATE_DICT_KEYS: [&str; 2] = ["model", "state_dict"];

/// Why a PyTorch checkpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PthError {
    #[error("{path} is not a PyTorch checkpoint tessera can read: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("{path}: tensor `{name}` has dtype {dtype:?}; only floating-point tensors are read")]
    Dtype {
        path: PathBuf,
        name: String,
        dtype: DType,
    },
    #[error("{path}: cannot read tensor `{name}`: {error}")]
    Read {
        path: PathBuf,
        name: String,
        error: std::io::Error,
    },
    #[error("{path} holds no tensors under {tried}")]
    Empty { path: PathBuf, tried: String },
}

/// The start of a legacy (PyTorch 0.1.10 to 1.5) `torch.save` stream: pickle protocol 2,
/// then the 10-byte magic number 0x1950a86a20f9469cfc6c as a LONG1.
const LEGACY_MAGIC: [u8; 14] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
];

/// Whether the file at `path` starts like a `torch.save` file (a zip archive, a legacy
/// stream or a tar archive) rather than safetensors, whose first 8 bytes are a header length
/// and can begin with any byte.
pub fn looks_like_pth(path: &Path) -> bool {
    let mut head = [0u8; 262];
    let mut n = 0;
    if let Ok(mut f) = std::fs::File::open(path) {
        while n < head.len() {
            match f.read(&mut head[n..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
        }
    }
    let head = &head[..n];
    head.starts_with(b"PK\x03\x04")
        || head.starts_with(&LEGACY_MAGIC)
        || (head.len() >= 262 && &head[257..262] == b"ustar")
}

/// The state dict of the checkpoint at `path`, as f32 tensors in name order (a `.pth` holds no
/// order of its own that the reader keeps), with no metadata.
pub fn read_pth(path: &Path) -> Result<TensorFile, PthError> {
    let format = |reason: String| PthError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader = None;
    for key in STATE_DICT_KEYS {
        if let Ok(r) = PytorchReader::with_top_level_key(path, key) {
            if !r.is_empty() {
                reader = Some(r);
                break;
            }
        }
    }
    let reader = match reader {
        Some(r) => r,
        None => PytorchReader::new(path).map_err(|e| format(e.to_string()))?,
    };
    if reader.is_empty() {
        return Err(PthError::Empty {
            path: path.to_path_buf(),
            tried: format!("{} or the top level", STATE_DICT_KEYS.join(", ")),
        });
    }
    let mut names = reader.keys();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let t = reader.get(&name).expect("a listed key");
        let bytes = t.read().map_err(|error| PthError::Read {
            path: path.to_path_buf(),
            name: name.clone(),
            error,
        })?;
        let data = to_f32(t.dtype(), &bytes).ok_or_else(|| PthError::Dtype {
            path: path.to_path_buf(),
            name: name.clone(),
            dtype: t.dtype(),
        })?;
        tensors.push((
            name,
            Tensor {
                shape: t.shape().to_vec(),
                data,
            },
        ));
    }
    Ok(TensorFile {
        path: path.to_path_buf(),
        tensors,
        metadata: HashMap::new(),
    })
}

/// Native-endian floats of `dtype` as f32 (f64 rounded), or `None` for a non-float dtype.
fn to_f32(dtype: DType, bytes: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        DType::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        DType::F64 => bytes
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                f64::from_ne_bytes(b) as f32
            })
            .collect(),
        DType::BF16 => bytes
            .chunks_exact(2)
            .map(|c| f32::from_bits(u32::from(u16::from_ne_bytes([c[0], c[1]])) << 16))
            .collect(),
        DType::F16 => bytes
            .chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_ne_bytes([c[0], c[1]])))
            .collect(),
        DType::I64
        | DType::I32
        | DType::I16
        | DType::I8
        | DType::U64
        | DType::U32
        | DType::U16
        | DType::U8
        | DType::Bool => return None,
    })
}

/// IEEE half to single precision, exactly (subnormals, infinities and NaN included).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: frac * 2^-24, exact in f32.
            let v = f as f32 * 2f32.powi(-24);
            return if sign == 0 { v } else { -v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_headers_are_not_taken_for_pickles() {
        let guard = tempfile::tempdir().unwrap();
        let dir = guard.path();
        // A safetensors header length of 0x280 starts with 0x80 0x02, like a pickle.
        let st = dir.join("a.safetensors");
        std::fs::write(&st, [0x80, 0x02, 0, 0, 0, 0, 0, 0, b'{']).unwrap();
        assert!(!looks_like_pth(&st));
        let legacy = dir.join("b.pth");
        std::fs::write(&legacy, [&LEGACY_MAGIC[..], b".rest"].concat()).unwrap();
        assert!(looks_like_pth(&legacy));
        let zip = dir.join("c.pth");
        std::fs::write(&zip, b"PK\x03\x04 and more").unwrap();
        assert!(looks_like_pth(&zip));
    }

    #[test]
    fn half_precision_converts_exactly() {
        for (h, f) in [
            (0x3c00u16, 1.0f32),
            (0xc000, -2.0),
            (0x3555, 0.333_251_95),
            (0x7bff, 65504.0),
            (0x0001, 5.960_464_5e-8),
            (0x8001, -5.960_464_5e-8),
            (0x0000, 0.0),
            (0x7c00, f32::INFINITY),
            (0xfc00, f32::NEG_INFINITY),
        ] {
            assert_eq!(f16_to_f32(h), f, "{h:#06x}");
        }
        assert!(f16_to_f32(0x7e00).is_nan());
        let bf = to_f32(DType::BF16, &0x3fc0u16.to_ne_bytes()).unwrap();
        assert_eq!(bf, [1.5]);
        assert!(to_f32(DType::I64, &[0; 8]).is_none());
    }
}
