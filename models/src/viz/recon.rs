//! The official visualization's arithmetic (`demo/mae_visualize.ipynb`): the prediction put
//! back into image layout, the masked input, and the reconstruction with the visible patches
//! pasted back. For `norm_pix_loss` models the prediction is in per-patch normalized units;
//! each patch's mean and variance are taken from the original image and re-injected (which
//! leaks ground-truth statistics: a picture made so must say so).

use super::token_layout::TokenLayout;

/// Sizes of the images and patches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatchLayout {
    pub channels: usize,
    pub img: usize,
    pub patch: usize,
}

impl PatchLayout {
    pub fn grid(&self) -> usize {
        self.img / self.patch
    }

    pub fn tokens(&self) -> usize {
        self.grid() * self.grid()
    }

    pub fn patch_dim(&self) -> usize {
        self.patch * self.patch * self.channels
    }

    /// `patchify` of one `[C, H, W]` image: `[L, p·p·C]`.
    pub fn patchify(&self, img: &[f32]) -> Vec<f32> {
        self.rows_of(img)
    }

    /// `unpatchify` of one `[L, p·p·C]` prediction: `[C, H, W]`.
    pub fn unpatchify(&self, patches: &[f32]) -> Vec<f32> {
        self.picture_of(patches)
    }
}

impl TokenLayout for PatchLayout {
    fn token_count(&self) -> usize {
        self.tokens()
    }

    fn token_dim(&self) -> usize {
        self.patch_dim()
    }

    fn picture_len(&self) -> usize {
        self.channels * self.img * self.img
    }

    /// Index into a `[C, H, W]` image of value `k` (official `(pi·p + qj)·C + c` order) of
    /// token `t`.
    fn pixel_index(&self, t: usize, k: usize) -> usize {
        let (p, c) = (self.patch, self.channels);
        let (ch, q) = (k % c, k / c);
        let (pi, qj) = (q / p, q % p);
        let (gi, gj) = (t / self.grid(), t % self.grid());
        (ch * self.img + gi * p + pi) * self.img + gj * p + qj
    }
}

/// The four pictures of one image, each `[C, H, W]` in the model's (normalized) input units.
/// In `masked`, removed pixels are NaN (drawn as a neutral grey).
#[derive(Clone, Debug, PartialEq)]
pub struct ReconRow {
    pub original: Vec<f32>,
    pub masked: Vec<f32>,
    pub reconstruction: Vec<f32>,
    pub pasted: Vec<f32>,
}

/// Turns one image's prediction (`[L, p·p·C]`) and mask (`[L]`, 1 = removed) into pictures.
/// With `norm_pix`, each predicted patch is scaled by `sqrt(var + 1e-6)` and shifted by the
/// mean of the original patch (unbiased variance, as the loss normalized it).
pub fn reconstruct_one(
    layout: &PatchLayout,
    img: &[f32],
    pred: &[f32],
    mask: &[f32],
    norm_pix: bool,
) -> ReconRow {
    let d = layout.patch_dim();
    let mut patches = pred.to_vec();
    if norm_pix {
        let target = layout.patchify(img);
        for (t, pp) in patches.chunks_exact_mut(d).enumerate() {
            let tp = &target[t * d..(t + 1) * d];
            let mean = tp.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
            let var =
                tp.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (d.max(2) - 1) as f64;
            let std = (var + 1e-6).sqrt();
            for v in pp.iter_mut() {
                *v = (*v as f64 * std + mean) as f32;
            }
        }
    }
    let reconstruction = layout.unpatchify(&patches);
    let mut token_mask = vec![0.0f32; layout.tokens() * d];
    for (t, m) in mask.iter().enumerate() {
        token_mask[t * d..(t + 1) * d].fill(*m);
    }
    let removed = layout.unpatchify(&token_mask);
    let masked = img
        .iter()
        .zip(&removed)
        .map(|(&x, &m)| if m > 0.5 { f32::NAN } else { x })
        .collect();
    let pasted = img
        .iter()
        .zip(&reconstruction)
        .zip(&removed)
        .map(|((&x, &y), &m)| x * (1.0 - m) + y * m)
        .collect();
    ReconRow {
        original: img.to_vec(),
        masked,
        reconstruction,
        pasted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> PatchLayout {
        PatchLayout {
            channels: 2,
            img: 6,
            patch: 3,
        }
    }

    fn image() -> Vec<f32> {
        (0..72)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect()
    }

    #[test]
    fn patch_layout_is_the_official_channel_last_order() {
        let l = layout();
        let img = image();
        let p = l.patchify(&img);
        // Token 1 = grid row 0, col 1; value k = (pi*3 + qj)*2 + c; (pi, qj, c) = (2, 1, 1)
        // is k = 15 and lies at channel 1, row 2, column 3 + 1.
        assert_eq!(p[18 + 15], img[36 + 2 * 6 + 4]);
        assert_eq!(l.unpatchify(&p), img);
    }

    #[test]
    fn a_perfect_normalized_prediction_reconstructs_the_image() {
        let l = layout();
        let img = image();
        // The norm-pix target the model learns: per patch, (x - mean) / sqrt(var + 1e-6).
        let mut target = l.patchify(&img);
        for pp in target.chunks_exact_mut(18) {
            let m = pp.iter().sum::<f32>() / 18.0;
            let v = pp.iter().map(|x| (x - m).powi(2)).sum::<f32>() / 17.0;
            pp.iter_mut()
                .for_each(|x| *x = (*x - m) / (v + 1e-6).sqrt());
        }
        let mask = [1.0, 0.0, 1.0, 1.0];
        let row = reconstruct_one(&l, &img, &target, &mask, true);
        for (a, b) in row.reconstruction.iter().zip(&img) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        // Visible token 1 (rows 0-2, columns 3-5) is shown; removed token 0 is NaN.
        assert_eq!(row.masked[4], img[4]);
        assert!(row.masked[0].is_nan() && row.masked[36].is_nan());
        // Pasting keeps visible pixels exactly and takes the prediction elsewhere.
        let wrong = vec![0.5f32; 72];
        let row = reconstruct_one(&l, &img, &wrong, &mask, false);
        assert_eq!(row.pasted[4], img[4]);
        assert_eq!(row.pasted[0], 0.5);
        assert_eq!(row.reconstruction[4], 0.5);
    }
}
