//! The IDX format of (Fashion-)MNIST: a big-endian header `0x00 0x00 TYPE NDIM`, NDIM u32
//! dimensions, then the data in row-major order. Files may be gzipped; we look at the first
//! two bytes (gzip's magic 0x1f 0x8b) rather than at the file name.

use std::io::Read;
use std::path::Path;

use super::DataError;

/// The only element type the Fashion-MNIST files use.
const TYPE_U8: u8 = 0x08;

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxU8 {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads an IDX file of u8 with `ndim` dimensions, gzipped or not.
pub fn read_idx_u8_file(path: &Path, ndim: usize) -> Result<IdxU8, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse_idx_u8(&bytes, ndim, path)
}

/// Parses IDX bytes (gzipped or not); `path` only names the source in errors.
pub fn parse_idx_u8(bytes: &[u8], ndim: usize, path: &Path) -> Result<IdxU8, DataError> {
    let plain = gunzip_if_needed(bytes, path)?;
    parse_plain(&plain, ndim, path)
}

fn gunzip_if_needed<'a>(
    bytes: &'a [u8],
    path: &Path,
) -> Result<std::borrow::Cow<'a, [u8]>, DataError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len() * 2);
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|source| DataError::Gzip {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(std::borrow::Cow::Owned(out))
    } else {
        Ok(std::borrow::Cow::Borrowed(bytes))
    }
}

fn parse_plain(bytes: &[u8], ndim: usize, path: &Path) -> Result<IdxU8, DataError> {
    let expected_magic = 0x0000_0800u32 | ndim as u32;
    let expected = || format!("0x{expected_magic:08x} (unsigned bytes, {ndim} dimensions)");
    if bytes.len() < 4 {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: 4,
            found: bytes.len(),
        });
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != TYPE_U8 || bytes[3] as usize != ndim {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: magic,
            expected: expected(),
        });
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header,
            found: bytes.len(),
        });
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| DataError::Inconsistent {
            path: path.to_path_buf(),
            what: format!("dimensions {dims:?} overflow"),
        })?;
    let body = &bytes[header..];
    if body.len() < count {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header + count,
            found: bytes.len(),
        });
    }
    if body.len() > count {
        return Err(DataError::TrailingData {
            path: path.to_path_buf(),
            expected: header + count,
            found: body.len() - count,
        });
    }
    Ok(IdxU8 {
        dims,
        data: body.to_vec(),
    })
}

/// Encodes an IDX array of u8 (not gzipped); the inverse of [`parse_idx_u8`]. Used to write
/// slices and test files.
pub fn encode_idx_u8(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, TYPE_U8, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("mem.idx")
    }

    #[test]
    fn round_trips_a_small_array() {
        let data: Vec<u8> = (0..24).map(|i| (i * 7 % 256) as u8).collect();
        let bytes = encode_idx_u8(&[2, 3, 4], &data);
        assert_eq!(&bytes[..4], &[0, 0, 8, 3]);
        let got = parse_idx_u8(&bytes, 3, p()).unwrap();
        assert_eq!(got.dims, vec![2, 3, 4]);
        assert_eq!(got.data, data);
    }

    #[test]
    fn rejects_wrong_magic_naming_the_path_and_the_expected_value() {
        let bytes = encode_idx_u8(&[5], &[1, 2, 3, 4, 5]);
        let err = parse_idx_u8(&bytes, 3, p()).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, DataError::BadMagic { found: 0x0801, .. }),
            "{msg}"
        );
        assert!(
            msg.contains("mem.idx") && msg.contains("0x00000803"),
            "{msg}"
        );
    }

    #[test]
    fn rejects_truncated_and_overlong_bodies() {
        let mut bytes = encode_idx_u8(&[2, 2], &[1, 2, 3, 4]);
        bytes.pop();
        assert!(matches!(
            parse_idx_u8(&bytes, 2, p()),
            Err(DataError::Truncated {
                expected: 16,
                found: 15,
                ..
            })
        ));
        let bytes = encode_idx_u8(&[2, 2], &[1, 2, 3, 4, 5]);
        assert!(matches!(
            parse_idx_u8(&bytes, 2, p()),
            Err(DataError::TrailingData { found: 1, .. })
        ));
        assert!(matches!(
            parse_idx_u8(&[0, 0, 8], 1, p()),
            Err(DataError::Truncated { .. })
        ));
    }

    #[test]
    fn a_broken_gzip_stream_is_a_gzip_error() {
        let bytes = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3];
        assert!(matches!(
            parse_idx_u8(&bytes, 1, p()),
            Err(DataError::Gzip { .. })
        ));
    }
}
