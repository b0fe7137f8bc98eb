//! Cutting a picture into token rows and putting rows back: one index map serves both
//! directions, for image patches and clip tubes alike.

/// A picture of `picture_len` values cut into `tokens` rows of `token_dim` values each; value
/// `k` of token `t` lies at `pixel_index(t, k)` of the picture.
pub trait TokenLayout {
    fn token_count(&self) -> usize;
    fn token_dim(&self) -> usize;
    fn picture_len(&self) -> usize;
    fn pixel_index(&self, token: usize, k: usize) -> usize;

    /// The `[tokens, token_dim]` rows of `picture`.
    fn rows_of(&self, picture: &[f32]) -> Vec<f32> {
        let (l, d) = (self.token_count(), self.token_dim());
        let mut out = vec![0.0; l * d];
        for t in 0..l {
            for k in 0..d {
                out[t * d + k] = picture[self.pixel_index(t, k)];
            }
        }
        out
    }

    /// The picture made of `[tokens, token_dim]` rows; values no token covers stay zero.
    fn picture_of(&self, rows: &[f32]) -> Vec<f32> {
        let (l, d) = (self.token_count(), self.token_dim());
        let mut out = vec![0.0; self.picture_len()];
        for t in 0..l {
            for k in 0..d {
                out[self.pixel_index(t, k)] = rows[t * d + k];
            }
        }
        out
    }
}
