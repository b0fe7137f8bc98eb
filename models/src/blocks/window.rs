//! Shifted windows: the additive mask that keeps the regions a cyclic shift brings together
//! from attending to each other (Swin's `attn_mask`: -100 between tokens of different
//! regions), per window of a `grid x grid` map.

/// The mask `[windows, w², w²]` for a `grid x grid` map cut into `w x w` windows after a
/// cyclic shift of `shift` (0 gives all zeros). Regions are Swin's three slices per axis:
/// `[0, grid - w)`, `[grid - w, grid - shift)`, `[grid - shift, grid)`.
pub fn shift_mask(grid: usize, w: usize, shift: usize) -> Vec<f32> {
    let region = |i: usize| {
        if i < grid - w {
            0
        } else if i < grid - shift {
            1
        } else {
            2
        }
    };
    let per_side = grid / w;
    let n = w * w;
    let mut out = vec![0.0f32; per_side * per_side * n * n];
    for win in 0..per_side * per_side {
        let (wr, wc) = (win / per_side, win % per_side);
        let label = |t: usize| {
            let (r, c) = (wr * w + t / w, wc * w + t % w);
            region(r) * 3 + region(c)
        };
        for i in 0..n {
            for j in 0..n {
                if shift > 0 && label(i) != label(j) {
                    out[(win * n + i) * n + j] = -100.0;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_windows_across_the_wrap_are_masked() {
        // 4x4 map, 2x2 windows, shift 1: the top-left window holds one region only; the last
        // window straddles the wrap in both axes, so its four tokens are four regions.
        let m = shift_mask(4, 2, 1);
        let n = 4;
        let win = |k: usize| &m[k * n * n..(k + 1) * n * n];
        assert!(win(0).iter().all(|&v| v == 0.0));
        let last = win(3);
        for i in 0..n {
            for j in 0..n {
                assert_eq!(last[i * n + j], if i == j { 0.0 } else { -100.0 });
            }
        }
        assert!(shift_mask(4, 2, 0).iter().all(|&v| v == 0.0));
    }
}
