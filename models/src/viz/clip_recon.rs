//! The arithmetic of a clip reconstruction (VideoMAE): tubelet predictions put back into the
//! clip's frames, the masked input, and the reconstruction with the visible tubes pasted
//! back, all as `[C, T, H, W]` pixels in [0, 1]. VideoMAE predicts in [0, 1] pixel units (the
//! engine un-normalises the clip first); with its normalised target each tubelet's prediction
//! is per channel `(x − mean) / (std + 1e-6)`, so each masked tubelet gets its mean and std
//! back from the ORIGINAL clip (ground-truth statistics: a picture made so must say so).

use super::token_layout::TokenLayout;

/// Sizes of a clip and its tubes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TubeLayout {
    pub channels: usize,
    pub frames: usize,
    /// Frame side.
    pub size: usize,
    pub patch: usize,
    pub tubelet: usize,
}

impl TubeLayout {
    pub fn grid(&self) -> usize {
        self.size / self.patch
    }

    pub fn tokens(&self) -> usize {
        (self.frames / self.tubelet) * self.grid() * self.grid()
    }

    /// Values per tube: `tubelet · p · p · C`.
    pub fn tube_dim(&self) -> usize {
        self.tubelet * self.patch * self.patch * self.channels
    }

    /// The `[L, tube_dim]` tubes of a `[C, T, H, W]` clip.
    pub fn tubes(&self, clip: &[f32]) -> Vec<f32> {
        self.rows_of(clip)
    }

    /// The `[C, T, H, W]` clip of `[L, tube_dim]` tubes.
    pub fn untubes(&self, tubes: &[f32]) -> Vec<f32> {
        self.picture_of(tubes)
    }
}

impl TokenLayout for TubeLayout {
    fn token_count(&self) -> usize {
        self.tokens()
    }

    fn token_dim(&self) -> usize {
        self.tube_dim()
    }

    fn picture_len(&self) -> usize {
        self.channels * self.frames * self.size * self.size
    }

    /// Index into a `[C, T, H, W]` clip of value `k` of token `tok`; values are ordered
    /// `(frame in tubelet, row, column, channel)`, channel fastest, as the official target.
    fn pixel_index(&self, tok: usize, k: usize) -> usize {
        let (p, c, g) = (self.patch, self.channels, self.grid());
        let (ch, q) = (k % c, k / c);
        let (dt, u, v) = (q / (p * p), q / p % p, q % p);
        let (slice, cell) = (tok / (g * g), tok % (g * g));
        let (gi, gj) = (cell / g, cell % g);
        let frame = slice * self.tubelet + dt;
        ((ch * self.frames + frame) * self.size + gi * p + u) * self.size + gj * p + v
    }
}

/// The four pictures of one clip, each `[C, T, H, W]` in [0, 1]; removed pixels of `masked`
/// are NaN.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipRecon {
    pub original: Vec<f32>,
    pub masked: Vec<f32>,
    pub reconstruction: Vec<f32>,
    pub pasted: Vec<f32>,
}

/// One clip's pictures from its model input `clip` (normalised: `x01 = clip · std + mean` per
/// channel), the prediction of every token `pred` (`[L, tube_dim]` in raster order; rows of
/// visible tokens are not used) and the mask `[L]` (1 = masked).
pub fn reconstruct_clip(
    layout: &TubeLayout,
    clip: &[f32],
    mean: &[f32],
    std: &[f32],
    pred: &[f32],
    mask: &[f32],
    norm_pix: bool,
) -> ClipRecon {
    let plane = layout.frames * layout.size * layout.size;
    let original: Vec<f32> = clip
        .iter()
        .enumerate()
        .map(|(i, &x)| x * std[i / plane] + mean[i / plane])
        .collect();
    let (d, c) = (layout.tube_dim(), layout.channels);
    let target = layout.tubes(&original);
    let mut tubes = pred.to_vec();
    if norm_pix {
        let n = d / c;
        for (tok, row) in tubes.chunks_exact_mut(d).enumerate() {
            let t = &target[tok * d..(tok + 1) * d];
            for ch in 0..c {
                let vals = t.iter().skip(ch).step_by(c).map(|&v| v as f64);
                let m = vals.clone().sum::<f64>() / n as f64;
                let var = vals.map(|v| (v - m).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64;
                let s = var.sqrt() + 1e-6;
                for v in row.iter_mut().skip(ch).step_by(c) {
                    *v = (*v as f64 * s + m) as f32;
                }
            }
        }
    }
    let reconstruction = layout.untubes(&tubes);
    let mut removed = vec![0.0f32; layout.tokens() * d];
    for (tok, &m) in mask.iter().enumerate() {
        removed[tok * d..(tok + 1) * d].fill(m);
    }
    let removed = layout.untubes(&removed);
    let masked = original
        .iter()
        .zip(&removed)
        .map(|(&x, &m)| if m > 0.5 { f32::NAN } else { x })
        .collect();
    let pasted = original
        .iter()
        .zip(&reconstruction)
        .zip(&removed)
        .map(|((&x, &y), &m)| if m > 0.5 { y } else { x })
        .collect();
    ClipRecon {
        original,
        masked,
        reconstruction,
        pasted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> TubeLayout {
        TubeLayout {
            channels: 3,
            frames: 4,
            size: 4,
            patch: 2,
            tubelet: 2,
        }
    }

    fn clip() -> Vec<f32> {
        (0..3 * 4 * 16)
            .map(|i| ((i * 37 % 29) as f32 - 14.0) / 9.0)
            .collect()
    }

    #[test]
    fn tubes_follow_the_official_target_layout() {
        let l = layout();
        let x = clip();
        let t = l.tubes(&x);
        assert_eq!(l.untubes(&t), x);
        // Token 5 = slice 1, cell (0, 1); value k = ((dt·2 + u)·2 + v)·3 + c with
        // (dt, u, v, c) = (1, 1, 0, 2): k = 20, at channel 2, frame 3, row 1, column 2.
        assert_eq!(t[5 * 24 + 20], x[((2 * 4 + 3) * 4 + 1) * 4 + 2]);
    }

    #[test]
    fn the_engines_target_reconstructs_the_clip() {
        let l = layout();
        let (mean, std) = ([0.4, 0.5, 0.6], [0.2, 0.25, 0.3]);
        let x = clip();
        let recon0 = reconstruct_clip(&l, &x, &mean, &std, &vec![0.0; 8 * 24], &[0.0; 8], true);
        let x01 = recon0.original;
        // The official normalised target, per tube and channel, eps on the std.
        let mut target = l.tubes(&x01);
        for row in target.chunks_exact_mut(24) {
            for ch in 0..3 {
                let v: Vec<f32> = row.iter().skip(ch).step_by(3).copied().collect();
                let m = v.iter().sum::<f32>() / 8.0;
                let s = (v.iter().map(|a| (a - m).powi(2)).sum::<f32>() / 7.0).sqrt() + 1e-6;
                row.iter_mut()
                    .skip(ch)
                    .step_by(3)
                    .for_each(|a| *a = (*a - m) / s);
            }
        }
        let mask = [1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0];
        let r = reconstruct_clip(&l, &x, &mean, &std, &target, &mask, true);
        for (a, b) in r.reconstruction.iter().zip(&x01) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        // Token 1 (cell (0, 1) of slice 0) is visible in the masked picture; token 0 is not.
        assert_eq!(r.masked[2], x01[2]);
        assert!(r.masked[0].is_nan());
        // Pasting keeps visible pixels and takes the prediction elsewhere.
        let flat = reconstruct_clip(&l, &x, &mean, &std, &vec![0.5; 8 * 24], &mask, false);
        assert_eq!(flat.pasted[2], x01[2]);
        assert_eq!(flat.pasted[0], 0.5);
    }
}
