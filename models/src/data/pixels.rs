//! A decoded picture as the model's channels: grey (1) or RGB (3), whatever the file held.
//! Transparency is composited over white first (an icon's transparent background is usually
//! stored as black, which would otherwise show), and grey is computed from RGB with PIL's
//! `convert("L")` weights (ITU-R 601-2), the conversion torchvision's `Grayscale` uses.

use image::DynamicImage;

use super::Image;

/// Channel counts a picture file can be turned into.
pub const FILE_CHANNELS: [usize; 2] = [1, 3];

/// `img` as `channels` (1 or 3) 8-bit channels, HWC. `None` for any other channel count.
pub fn to_channels(img: &DynamicImage, channels: usize) -> Option<Image> {
    let rgb = over_white(img);
    let (w, h) = (img.width() as usize, img.height() as usize);
    let pixels = match channels {
        3 => rgb,
        1 => rgb
            .chunks_exact(3)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
        _ => return None,
    };
    Image::new(w, h, channels, pixels).ok()
}

/// RGB of `img`, with any alpha channel composited over a white background.
fn over_white(img: &DynamicImage) -> Vec<u8> {
    if !img.color().has_alpha() {
        return img.to_rgb8().into_raw();
    }
    img.to_rgba8()
        .into_raw()
        .chunks_exact(4)
        .flat_map(|p| {
            let a = u32::from(p[3]);
            let blend = move |c: u8| ((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
            [blend(p[0]), blend(p[1]), blend(p[2])]
        })
        .collect()
}

/// PIL's `L = R * 299/1000 + G * 587/1000 + B * 114/1000`, in its fixed-point form.
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16) as u8
}

/// A grey `[H, W, 1]` image repeated into RGB, or RGB turned grey.
pub fn convert(img: &Image, channels: usize) -> Option<Image> {
    let pixels = match (img.channels, channels) {
        (a, b) if a == b => return Some(img.clone()),
        (1, 3) => img.pixels.iter().flat_map(|&g| [g, g, g]).collect(),
        (3, 1) => img
            .pixels
            .chunks_exact(3)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
        _ => return None,
    };
    Image::new(img.width, img.height, channels, pixels).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgba, RgbaImage};

    #[test]
    fn transparency_is_white_and_opaque_colour_is_kept() {
        let mut rgba = RgbaImage::new(3, 1);
        rgba.put_pixel(0, 0, Rgba([0, 0, 0, 0])); // transparent black
        rgba.put_pixel(1, 0, Rgba([10, 200, 30, 255])); // opaque
        rgba.put_pixel(2, 0, Rgba([0, 0, 0, 128])); // half-transparent black
        let img = to_channels(&DynamicImage::ImageRgba8(rgba), 3).unwrap();
        assert_eq!(
            img.pixels,
            [255, 255, 255, 10, 200, 30, 127, 127, 127],
            "half-covered black over white is mid grey"
        );
    }

    #[test]
    fn grey_files_become_rgb_and_rgb_becomes_pil_grey() {
        let grey = GrayImage::from_pixel(2, 1, Luma([77]));
        let rgb = to_channels(&DynamicImage::ImageLuma8(grey), 3).unwrap();
        assert_eq!(rgb.pixels, [77; 6]);
        // PIL: L = (255*299 + 0*587 + 0*114) / 1000 = 76.245 -> 76.
        assert_eq!(luma(255, 0, 0), 76);
        assert_eq!(luma(0, 255, 0), 150);
        assert_eq!(luma(255, 255, 255), 255);
        let one = convert(&rgb, 1).unwrap();
        assert_eq!((one.channels, one.pixels.as_slice()), (1, &[77u8, 77][..]));
        assert!(convert(&rgb, 2).is_none());
    }
}
