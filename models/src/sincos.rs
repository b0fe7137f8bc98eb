//! The fixed 2-D sin-cos position tables of official MAE (`util/pos_embed.py`), in float64 as
//! NumPy computes them. Quirk kept: the first half of the channels encodes the column (w) index
//! and the second half the row (h) index (numpy `meshgrid(w, h)`, "here w goes first").

/// `get_1d_sincos_pos_embed_from_grid(dim, pos)`: `[pos.len(), dim]` row-major, all sines
/// then all cosines, frequencies `1 / 10000^(k / (dim/2))`.
pub fn sincos_1d(dim: usize, pos: &[f64]) -> Vec<f64> {
    assert!(
        dim.is_multiple_of(2),
        "1-D sin-cos needs an even dim, got {dim}"
    );
    let half = dim / 2;
    // Same operation order as NumPy: omega = k / (dim/2.), then 1 / 10000**omega.
    let omega: Vec<f64> = (0..half)
        .map(|k| 1.0 / 10000f64.powf(k as f64 / (dim as f64 / 2.0)))
        .collect();
    let mut out = vec![0.0; pos.len() * dim];
    for (m, &p) in pos.iter().enumerate() {
        let row = &mut out[m * dim..(m + 1) * dim];
        for (k, &w) in omega.iter().enumerate() {
            let a = p * w;
            row[k] = a.sin();
            row[half + k] = a.cos();
        }
    }
    out
}

/// `get_2d_sincos_pos_embed(dim, grid, cls_token)`: `[(1 +) grid², dim]` row-major, token
/// `i·grid + j` (row i, column j); with `cls_token` a zero row comes first.
pub fn sincos_2d(dim: usize, grid: usize, cls_token: bool) -> Vec<f64> {
    assert!(
        dim.is_multiple_of(4),
        "2-D sin-cos needs dim % 4 == 0, got {dim}"
    );
    let half = dim / 2;
    let n = grid * grid;
    let cols: Vec<f64> = (0..n).map(|t| (t % grid) as f64).collect();
    let rows: Vec<f64> = (0..n).map(|t| (t / grid) as f64).collect();
    let emb_w = sincos_1d(half, &cols);
    let emb_h = sincos_1d(half, &rows);
    let extra = usize::from(cls_token);
    let mut out = vec![0.0; (extra + n) * dim];
    for t in 0..n {
        let row = &mut out[(extra + t) * dim..(extra + t + 1) * dim];
        row[..half].copy_from_slice(&emb_w[t * half..(t + 1) * half]);
        row[half..].copy_from_slice(&emb_h[t * half..(t + 1) * half]);
    }
    out
}

/// The table as the checkpoint stores it: computed in f64, then `.float()`.
pub fn sincos_2d_f32(dim: usize, grid: usize, cls_token: bool) -> Vec<f32> {
    sincos_2d(dim, grid, cls_token)
        .into_iter()
        .map(|x| x as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_vector_d8_g2() {
        // MAE's table for D = 8, G = 2, with the zero class-token row.
        let t = sincos_2d(8, 2, true);
        let (s1, c1, s01, c01) = (1f64.sin(), 1f64.cos(), 0.01f64.sin(), 0.01f64.cos());
        let expected: [[f64; 8]; 5] = [
            [0.0; 8],
            [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0],
            [s1, s01, c1, c01, 0.0, 0.0, 1.0, 1.0],
            [0.0, 0.0, 1.0, 1.0, s1, s01, c1, c01],
            [s1, s01, c1, c01, s1, s01, c1, c01],
        ];
        for (r, row) in expected.iter().enumerate() {
            for (c, &e) in row.iter().enumerate() {
                assert_eq!(t[r * 8 + c], e, "row {r} col {c}");
            }
        }
        // The rounded values quoted in the reference.
        assert!((t[2 * 8] - 0.841471).abs() < 1e-6 && (t[2 * 8 + 3] - 0.99995).abs() < 1e-6);
    }

    #[test]
    fn frequencies_follow_ten_thousand_to_the_minus_k_over_quarter_dim() {
        // Independent formula: channel k < D/4 of a column-j token is sin(j / 10000^(4k/D)).
        let (dim, grid) = (16, 5);
        let t = sincos_2d(dim, grid, false);
        for tok in 0..grid * grid {
            let (i, j) = ((tok / grid) as f64, (tok % grid) as f64);
            for k in 0..dim / 4 {
                let f = 10000f64.powf(-(4.0 * k as f64) / dim as f64);
                let row = &t[tok * dim..(tok + 1) * dim];
                assert!((row[k] - (j * f).sin()).abs() < 1e-12);
                assert!((row[dim / 4 + k] - (j * f).cos()).abs() < 1e-12);
                assert!((row[dim / 2 + k] - (i * f).sin()).abs() < 1e-12);
                assert!((row[3 * dim / 4 + k] - (i * f).cos()).abs() < 1e-12);
            }
        }
    }
}
