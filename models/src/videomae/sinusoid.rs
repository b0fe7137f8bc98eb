//! VideoMAE's fixed position table (`modeling_finetune.py: get_sinusoid_encoding_table`): 1-D
//! over the flattened `(t, h, w)` token index, channels interleaved — `sin` at even `j`, `cos`
//! at odd `j` of the angle `pos / 10000^(2·⌊j/2⌋ / D)` — computed in float64 as NumPy does,
//! then stored as float32. Not 2-D or separable, and not a parameter (absent from the state
//! dict). The official encoder always builds it for 16 frames; here it has one row per token
//! of the clip the model is built for.

/// The `[tokens, dim]` table, row-major, in float64.
pub fn sinusoid_table(tokens: usize, dim: usize) -> Vec<f64> {
    // np.power(10000, 2 * (j // 2) / d): a float exponent, one per channel pair.
    let denom: Vec<f64> = (0..dim)
        .map(|j| 10000f64.powf((2 * (j / 2)) as f64 / dim as f64))
        .collect();
    let mut out = Vec::with_capacity(tokens * dim);
    for pos in 0..tokens {
        for (j, &d) in denom.iter().enumerate() {
            let angle = pos as f64 / d;
            out.push(if j % 2 == 0 { angle.sin() } else { angle.cos() });
        }
    }
    out
}

/// The table as the official code hands it to the model (`torch.float`).
pub fn sinusoid_table_f32(tokens: usize, dim: usize) -> Vec<f32> {
    sinusoid_table(tokens, dim)
        .into_iter()
        .map(|x| x as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_interleave_sin_and_cos_of_one_frequency_per_pair() {
        // D = 4: pair 0 has frequency 1, pair 1 has 1/10000^(2/4) = 1/100.
        let t = sinusoid_table(3, 4);
        for pos in 0..3 {
            let p = pos as f64;
            let want = [p.sin(), p.cos(), (p / 100.0).sin(), (p / 100.0).cos()];
            for (j, w) in want.iter().enumerate() {
                assert!((t[pos * 4 + j] - w).abs() < 1e-15, "pos {pos} channel {j}");
            }
        }
    }

    #[test]
    fn rows_follow_the_flat_token_index_of_the_whole_clip() {
        // 1568 rows for 16 frames of 224 px in 2x16x16 tubelets; row 1567 is the last token,
        // not a repeat of an earlier slice.
        let (tokens, dim) = (1568, 8);
        let t = sinusoid_table(tokens, dim);
        assert_eq!(t.len(), tokens * dim);
        let last = &t[(tokens - 1) * dim..];
        assert!((last[0] - 1567f64.sin()).abs() < 1e-12);
        assert!((last[6] - (1567.0 / 10000f64.powf(0.75)).sin()).abs() < 1e-12);
        let slice_start = &t[196 * dim..197 * dim];
        assert_ne!(slice_start, &t[..dim]);
    }
}
