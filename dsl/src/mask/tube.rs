//! VideoMAE tube masking (`masking_generator.py: TubeMaskingGenerator`): one random spatial
//! pattern with `floor(r L)` masked positions, repeated for every temporal slice, so a masked
//! position is masked through the whole clip (a "tube").
use super::{masked_count, Grid, Mask, MaskError};
use crate::{rng::Rng, Ratio};
use alloc::vec::Vec;

/// Number of temporal slices `frames / tubelet`, or an error unless the tubelet is positive and
/// divides the frame count.
pub fn slices(frames: usize, tubelet: usize) -> Result<usize, MaskError> {
    if frames == 0 || tubelet == 0 || !frames.is_multiple_of(tubelet) {
        return Err(MaskError::Tubelet { frames, tubelet });
    }
    Ok(frames / tubelet)
}

/// A tube mask over `slices` temporal slices of a `spatial` mask. Tokens are numbered
/// `(slice, h, w)` in raster order (`slice * L + h * W + w`), as VideoMAE flattens them;
/// `ids_keep` lists the kept tokens in that order (VideoMAE takes `x[~mask]`).
pub fn tube_from_spatial(spatial: &[u8], slices: usize) -> Result<Mask, MaskError> {
    let tiled: Vec<u8> = (0..slices).flat_map(|_| spatial.iter().copied()).collect();
    Mask::from_binary(&tiled)
}

/// A tube mask for a clip of `frames` frames cut into tubelets of `tubelet` frames, over the
/// spatial token `grid`: `floor(r H W)` positions masked in every slice, the same ones.
pub fn tube(
    grid: Grid,
    frames: usize,
    tubelet: usize,
    ratio: Ratio,
    rng: &mut Rng,
) -> Result<Mask, MaskError> {
    let grid = grid.non_empty()?;
    let slices = slices(frames, tubelet)?;
    let masked = masked_count(grid.len(), ratio)?;
    // The official generator shuffles a vector of zeros and ones: a uniform subset.
    let mut spatial: Vec<u8> = (0..grid.len()).map(|i| u8::from(i < masked)).collect();
    rng.shuffle(&mut spatial);
    tube_from_spatial(&spatial, slices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn videomae_counts_and_errors() {
        let mut rng = Rng::seed_from_u64(9);
        // ViT-B: 16 frames, tubelet 2, 14x14, ratio 0.9 -> 8 slices of 176 masked, 20 visible.
        let m = tube(Grid::new(14, 14), 16, 2, Ratio::of(9, 10), &mut rng).unwrap();
        assert_eq!(m.len(), 8 * 196);
        assert_eq!(m.len_keep(), 8 * 20);
        assert_eq!(
            tube(Grid::new(14, 14), 15, 2, Ratio::of(9, 10), &mut rng),
            Err(MaskError::Tubelet {
                frames: 15,
                tubelet: 2
            })
        );
        assert!(slices(4, 0).is_err() && slices(0, 2).is_err());
    }
}
