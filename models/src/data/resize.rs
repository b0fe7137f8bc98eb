//! Resampling with PIL's bicubic filter (a = -0.5), antialiased when shrinking, the way
//! torchvision resizes PIL images in MAE's `RandomResizedCrop(..., interpolation=BICUBIC)`.
//! Separable: a horizontal pass, then a vertical one, each output a weighted sum over a
//! support of 2 input pixels scaled by the shrink factor. Unlike PIL we keep f32 between and
//! after the passes (PIL rounds to u8); values are clamped to [0, 255] after each pass as PIL
//! does, since bicubic overshoots at edges.

use super::Image;

/// An axis-aligned region of an image, in whole pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub left: usize,
    pub top: usize,
    pub width: usize,
    pub height: usize,
}

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// For each output position: the first input index and the normalized weights.
struct Taps {
    start: Vec<usize>,
    weights: Vec<Vec<f32>>,
}

fn taps(in_size: usize, out_size: usize) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    let mut start = Vec::with_capacity(out_size);
    let mut weights = Vec::with_capacity(out_size);
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let xmin = ((center - support + 0.5).floor().max(0.0)) as usize;
        let xmax = ((center + support + 0.5).floor() as usize).min(in_size);
        let mut w: Vec<f64> = (xmin..xmax)
            .map(|x| bicubic((x as f64 - center + 0.5) / filterscale))
            .collect();
        let total: f64 = w.iter().sum();
        if total != 0.0 {
            w.iter_mut().for_each(|v| *v /= total);
        }
        start.push(xmin);
        weights.push(w.into_iter().map(|v| v as f32).collect());
    }
    Taps { start, weights }
}

/// Resamples `rect` of `img` to `out_w` x `out_h`. Returns f32 HWC values in [0, 255].
/// The pixels outside `rect` are not used (crop, then resize, as torchvision does).
pub fn resize_crop(img: &Image, rect: Rect, out_w: usize, out_h: usize) -> Vec<f32> {
    let c = img.channels;
    debug_assert!(rect.left + rect.width <= img.width && rect.top + rect.height <= img.height);
    // Horizontal pass over the rows of the crop: rect.height x out_w.
    let mut tmp = vec![0f32; rect.height * out_w * c];
    let row_len = img.width * c;
    if rect.width == out_w {
        for y in 0..rect.height {
            let src = &img.pixels[(rect.top + y) * row_len + rect.left * c..][..out_w * c];
            let dst = &mut tmp[y * out_w * c..][..out_w * c];
            dst.iter_mut()
                .zip(src)
                .for_each(|(d, &s)| *d = f32::from(s));
        }
    } else {
        let t = taps(rect.width, out_w);
        for y in 0..rect.height {
            let src = &img.pixels[(rect.top + y) * row_len + rect.left * c..][..rect.width * c];
            for (xx, (w, &x0)) in t.weights.iter().zip(&t.start).enumerate() {
                for ch in 0..c {
                    let mut acc = 0f32;
                    for (k, &wk) in w.iter().enumerate() {
                        acc += wk * f32::from(src[(x0 + k) * c + ch]);
                    }
                    tmp[(y * out_w + xx) * c + ch] = acc.clamp(0.0, 255.0);
                }
            }
        }
    }
    if rect.height == out_h {
        return tmp;
    }
    // Vertical pass: out_h x out_w.
    let t = taps(rect.height, out_h);
    let stride = out_w * c;
    let mut out = vec![0f32; out_h * stride];
    for (yy, (w, &y0)) in t.weights.iter().zip(&t.start).enumerate() {
        let dst = &mut out[yy * stride..][..stride];
        for (k, &wk) in w.iter().enumerate() {
            let src = &tmp[(y0 + k) * stride..][..stride];
            dst.iter_mut().zip(src).for_each(|(d, &s)| *d += wk * s);
        }
        dst.iter_mut().for_each(|d| *d = d.clamp(0.0, 255.0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: usize, h: usize) -> Image {
        let px = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x * 7 + y * 3) as u8))
            .collect();
        Image::new(w, h, 1, px).unwrap()
    }

    #[test]
    fn weights_are_normalized_and_local() {
        for (i, o) in [(28, 14), (10, 30), (224, 97), (7, 7)] {
            let t = taps(i, o);
            for (w, &s) in t.weights.iter().zip(&t.start) {
                let sum: f32 = w.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "{i}->{o}: {sum}");
                assert!(s + w.len() <= i);
            }
        }
    }

    #[test]
    fn same_size_is_identity_and_crop_only_reads_the_rect() {
        let img = ramp(20, 16);
        let rect = Rect {
            left: 3,
            top: 5,
            width: 10,
            height: 8,
        };
        let out = resize_crop(&img, rect, 10, 8);
        for y in 0..8 {
            for x in 0..10 {
                assert_eq!(out[y * 10 + x], f32::from(img.at(x + 3, y + 5, 0)));
            }
        }
    }

    #[test]
    fn halving_a_linear_ramp_samples_it_at_the_pixel_centres() {
        // A linear function is reproduced exactly by the symmetric bicubic kernel away from
        // the borders: output pixel x' covers input [2x', 2x'+2), centre 2x'+0.5 in pixel
        // coordinates, so the value is 7*(2x'+0.5) + 3*(2y'+0.5) in the interior.
        let img = ramp(24, 24);
        let out = resize_crop(
            &img,
            Rect {
                left: 0,
                top: 0,
                width: 24,
                height: 24,
            },
            12,
            12,
        );
        for y in 3..9 {
            for x in 3..9 {
                let expect = 7.0 * (2.0 * x as f32 + 0.5) + 3.0 * (2.0 * y as f32 + 0.5);
                assert!((out[y * 12 + x] - expect).abs() < 1e-3, "{x},{y}");
            }
        }
    }

    #[test]
    fn a_constant_image_stays_constant_when_resized() {
        let img = Image::new(13, 9, 3, [7u8, 100, 250].repeat(13 * 9)).unwrap();
        let out = resize_crop(
            &img,
            Rect {
                left: 1,
                top: 2,
                width: 11,
                height: 6,
            },
            17,
            5,
        );
        for px in out.chunks(3) {
            for (v, e) in px.iter().zip([7.0, 100.0, 250.0]) {
                assert!((v - e).abs() < 1e-3);
            }
        }
    }
}
