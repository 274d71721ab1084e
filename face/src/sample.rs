//! Resampling an image region into a model's input tensor: an affine map from output pixels to
//! source pixels (letterbox for the detector; scaled, optionally rotated square crop for the
//! embedder), bilinear taps with supersampling when shrinking (so a 1024-pixel photo shrunk to
//! 256 is averaged, not aliased), then layout, channel order and normalisation.

use hadir_config::{ChannelOrder, TensorLayout};

use crate::image::RgbImage;

/// Maps output pixel centres to source coordinates: `src = origin + u·ux + v·vy` where (u, v)
/// is an output pixel centre (`0.5, 1.5, ...`) and source pixel `i` covers `[i, i+1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    /// Source point of output (0, 0).
    pub origin: (f32, f32),
    /// Source step for one output pixel to the right.
    pub ux: (f32, f32),
    /// Source step for one output pixel down.
    pub vy: (f32, f32),
}

impl Affine {
    /// The source point of an output point.
    pub fn apply(&self, u: f32, v: f32) -> (f32, f32) {
        (
            self.origin.0 + u * self.ux.0 + v * self.vy.0,
            self.origin.1 + u * self.ux.1 + v * self.vy.1,
        )
    }

    /// Source pixels per output pixel (the larger axis).
    fn scale(&self) -> f32 {
        let a = (self.ux.0 * self.ux.0 + self.ux.1 * self.ux.1).sqrt();
        let b = (self.vy.0 * self.vy.0 + self.vy.1 * self.vy.1).sqrt();
        a.max(b)
    }
}

/// The letterbox of an image into a `size`×`size` square: the image scaled to fit, centred,
/// padded with black. Returns the map and the square's side in source pixels with its offset,
/// so normalised detector coordinates convert back with `x·side − pad_x`.
pub fn letterbox(img: &RgbImage, size: usize) -> (Affine, Letterbox) {
    let side = img.width.max(img.height) as f32;
    let pad_x = (side - img.width as f32) / 2.0;
    let pad_y = (side - img.height as f32) / 2.0;
    let k = side / size as f32;
    (
        Affine {
            origin: (-pad_x, -pad_y),
            ux: (k, 0.0),
            vy: (0.0, k),
        },
        Letterbox { side, pad_x, pad_y },
    )
}

/// Where a letterboxed square sits in source pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// The square's side, source pixels.
    pub side: f32,
    /// Left padding, source pixels.
    pub pad_x: f32,
    /// Top padding, source pixels.
    pub pad_y: f32,
}

impl Letterbox {
    /// A normalised (0..1 of the square) point in source pixels.
    pub fn to_source(&self, x: f32, y: f32) -> (f32, f32) {
        (x * self.side - self.pad_x, y * self.side - self.pad_y)
    }
}

/// A square crop of side `side` source pixels centred on `centre`, rotated by `angle` radians
/// (the crop's x axis points along `angle` in the source), sampled into `size`×`size`.
pub fn square_crop(centre: (f32, f32), side: f32, angle: f32, size: usize) -> Affine {
    let k = side / size as f32;
    let (s, c) = angle.sin_cos();
    let ux = (k * c, k * s);
    let vy = (-k * s, k * c);
    let half = size as f32 / 2.0;
    Affine {
        origin: (
            centre.0 - half * ux.0 - half * vy.0,
            centre.1 - half * ux.1 - half * vy.1,
        ),
        ux,
        vy,
    }
}

/// Bilinear sample at source point (x, y) (pixel centres at i + 0.5); black outside the image,
/// edge pixels extended within it.
fn bilinear(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (img.width, img.height);
    if !(x >= 0.0 && y >= 0.0 && x <= w as f32 && y <= h as f32) {
        return [0.0; 3];
    }
    let fx = (x - 0.5).max(0.0);
    let fy = (y - 0.5).max(0.0);
    let x0 = (fx.floor() as usize).min(w - 1);
    let y0 = (fy.floor() as usize).min(h - 1);
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let ax = (fx - x0 as f32).clamp(0.0, 1.0);
    let ay = (fy - y0 as f32).clamp(0.0, 1.0);
    let px = |xx: usize, yy: usize, c: usize| f32::from(img.data[(yy * w + xx) * 3 + c]);
    let mut out = [0f32; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let top = px(x0, y0, c) * (1.0 - ax) + px(x1, y0, c) * ax;
        let bottom = px(x0, y1, c) * (1.0 - ax) + px(x1, y1, c) * ax;
        *o = top * (1.0 - ay) + bottom * ay;
    }
    out
}

/// Samples `size`×`size` RGB values (0..255 floats) through `map`. Axis-aligned maps (letterbox,
/// unrotated crops) use separable area averaging when shrinking and bilinear weights when
/// enlarging; rotated maps average n×n bilinear taps per output pixel where n is the shrink
/// factor (rounded up, at most 8).
pub fn sample(img: &RgbImage, map: &Affine, size: usize) -> Vec<[f32; 3]> {
    let mut out = Vec::with_capacity(size * size);
    if img.width == 0 || img.height == 0 {
        out.resize(size * size, [0.0; 3]);
        return out;
    }
    if map.ux.1 == 0.0 && map.vy.0 == 0.0 && map.ux.0 > 0.0 && map.vy.1 > 0.0 {
        return separable(img, map, size);
    }
    let n = (map.scale().ceil() as usize).clamp(1, 8);
    let inv = 1.0 / (n * n) as f32;
    for v in 0..size {
        for u in 0..size {
            let mut acc = [0f32; 3];
            for sj in 0..n {
                for si in 0..n {
                    let uu = u as f32 + (si as f32 + 0.5) / n as f32;
                    let vv = v as f32 + (sj as f32 + 0.5) / n as f32;
                    let (x, y) = map.apply(uu, vv);
                    let p = bilinear(img, x, y);
                    acc[0] += p[0];
                    acc[1] += p[1];
                    acc[2] += p[2];
                }
            }
            out.push([acc[0] * inv, acc[1] * inv, acc[2] * inv]);
        }
    }
    out
}

/// Per output index along one axis: the source indices and weights that make it. Shrinking
/// (`step` > 1) averages the covered interval by area; enlarging interpolates linearly. Source
/// positions outside `0..len` contribute black.
fn axis_weights(origin: f32, step: f32, size: usize, len: usize) -> Vec<Vec<(usize, f32)>> {
    let mut all = Vec::with_capacity(size);
    for u in 0..size {
        let mut w = Vec::new();
        if step > 1.0 {
            let (a, b) = (origin + u as f32 * step, origin + (u + 1) as f32 * step);
            let first = a.floor().max(0.0) as usize;
            let last = (b.ceil().max(0.0) as usize).min(len);
            for i in first..last {
                let cover = (b.min(i as f32 + 1.0) - a.max(i as f32)).max(0.0);
                if cover > 0.0 {
                    w.push((i, cover / step));
                }
            }
        } else {
            let x = origin + (u as f32 + 0.5) * step;
            if x >= 0.0 && x <= len as f32 {
                let f = (x - 0.5).max(0.0);
                let i0 = (f.floor() as usize).min(len - 1);
                let i1 = (i0 + 1).min(len - 1);
                let t = (f - i0 as f32).clamp(0.0, 1.0);
                w.push((i0, 1.0 - t));
                if t > 0.0 {
                    w.push((i1, t));
                }
            }
        }
        all.push(w);
    }
    all
}

/// Separable resampling for axis-aligned maps: a horizontal pass over the source rows that are
/// used, then a vertical pass.
fn separable(img: &RgbImage, map: &Affine, size: usize) -> Vec<[f32; 3]> {
    let xw = axis_weights(map.origin.0, map.ux.0, size, img.width);
    let yw = axis_weights(map.origin.1, map.vy.1, size, img.height);
    let (lo, hi) = yw
        .iter()
        .flatten()
        .fold((usize::MAX, 0usize), |(lo, hi), &(i, _)| {
            (lo.min(i), hi.max(i + 1))
        });
    let rows = hi.saturating_sub(lo);
    let mut tmp = vec![[0f32; 3]; rows * size];
    for r in 0..rows {
        let src = &img.data[(lo + r) * img.width * 3..(lo + r + 1) * img.width * 3];
        for (u, ws) in xw.iter().enumerate() {
            let mut acc = [0f32; 3];
            for &(i, w) in ws {
                acc[0] += w * f32::from(src[i * 3]);
                acc[1] += w * f32::from(src[i * 3 + 1]);
                acc[2] += w * f32::from(src[i * 3 + 2]);
            }
            tmp[r * size + u] = acc;
        }
    }
    let mut out = vec![[0f32; 3]; size * size];
    for (v, ws) in yw.iter().enumerate() {
        for u in 0..size {
            let mut acc = [0f32; 3];
            for &(i, w) in ws {
                let p = tmp[(i - lo) * size + u];
                acc[0] += w * p[0];
                acc[1] += w * p[1];
                acc[2] += w * p[2];
            }
            out[v * size + u] = acc;
        }
    }
    out
}

/// How pixel values become model input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalisation {
    /// Layout of the tensor.
    pub layout: TensorLayout,
    /// Channel order.
    pub channels: ChannelOrder,
    /// value = (pixel × scale − mean) / std, per channel in the model's order.
    pub scale: f32,
    /// Per-channel mean.
    pub mean: [f32; 3],
    /// Per-channel divisor.
    pub std: [f32; 3],
}

impl Normalisation {
    /// The tensor shape for a `size`×`size` input with batch 1.
    pub fn shape(&self, size: usize) -> [usize; 4] {
        match self.layout {
            TensorLayout::Nhwc => [1, size, size, 3],
            TensorLayout::Nchw => [1, 3, size, size],
        }
    }

    /// Writes sampled RGB pixels as the model's input values.
    pub fn to_tensor(&self, pixels: &[[f32; 3]], size: usize) -> Vec<f32> {
        let mut out = vec![0f32; size * size * 3];
        let order: [usize; 3] = match self.channels {
            ChannelOrder::Rgb => [0, 1, 2],
            ChannelOrder::Bgr => [2, 1, 0],
        };
        let inv_std = self.std.map(|s| 1.0 / s);
        let plane = size * size;
        for (i, p) in pixels.iter().enumerate().take(plane) {
            for (c, &src) in order.iter().enumerate() {
                let v = (p[src] * self.scale - self.mean[c]) * inv_std[c];
                match self.layout {
                    TensorLayout::Nhwc => out[i * 3 + c] = v,
                    TensorLayout::Nchw => out[c * plane + i] = v,
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: usize, h: usize) -> RgbImage {
        let mut img = RgbImage::filled(w, h, [0; 3]);
        for y in 0..h {
            for x in 0..w {
                let i = (y * w + x) * 3;
                img.data[i] = (x * 255 / (w - 1)) as u8;
                img.data[i + 1] = (y * 255 / (h - 1)) as u8;
                img.data[i + 2] = 100;
            }
        }
        img
    }

    #[test]
    fn an_identity_map_reproduces_the_pixels() {
        let img = gradient(16, 16);
        let map = Affine {
            origin: (0.0, 0.0),
            ux: (1.0, 0.0),
            vy: (0.0, 1.0),
        };
        let out = sample(&img, &map, 16);
        for (i, p) in out.iter().enumerate() {
            let want = img.pixel(i % 16, i / 16);
            for c in 0..3 {
                assert!(
                    (p[c] - f32::from(want[c])).abs() < 0.01,
                    "{i} {p:?} {want:?}"
                );
            }
        }
    }

    #[test]
    fn a_letterboxed_wide_image_is_centred_with_black_bars() {
        let img = RgbImage::filled(200, 100, [200, 200, 200]);
        let (map, lb) = letterbox(&img, 64);
        assert_eq!((lb.side, lb.pad_x, lb.pad_y), (200.0, 0.0, 50.0));
        let out = sample(&img, &map, 64);
        assert!(out[0][0] < 1.0, "top bar is black");
        assert!(
            (out[32 * 64 + 32][0] - 200.0).abs() < 0.5,
            "centre is the image"
        );
        assert!(out[63 * 64 + 10][0] < 1.0, "bottom bar is black");
        assert_eq!(lb.to_source(0.5, 0.5), (100.0, 50.0));
    }

    #[test]
    fn a_rotated_crop_turns_the_source_x_axis_into_the_crop_y_axis() {
        let img = gradient(64, 64);
        // Rotated by 90°: moving right in the crop moves down in the source.
        let map = square_crop((32.0, 32.0), 32.0, std::f32::consts::FRAC_PI_2, 32);
        let out = sample(&img, &map, 32);
        let left = out[16 * 32 + 4];
        let right = out[16 * 32 + 28];
        assert!(
            right[1] > left[1] + 50.0,
            "green (source y) grows along crop x"
        );
        assert!((right[0] - left[0]).abs() < 10.0, "red (source x) does not");
    }

    #[test]
    fn the_separable_path_agrees_with_supersampling_when_shrinking() {
        let img = gradient(300, 200);
        let (map, _) = letterbox(&img, 64);
        let fast = sample(&img, &map, 64);
        // The same map nudged off-axis takes the supersampling path.
        let mut slow_map = map;
        slow_map.ux.1 = 1e-9;
        let slow = sample(&img, &slow_map, 64);
        // Inside the picture (away from the black bars, rows 11..53 of 64) they agree closely;
        // at the bars the exact area weights and the taps differ by a fraction of a pixel.
        let worst = fast[12 * 64..52 * 64]
            .iter()
            .zip(&slow[12 * 64..52 * 64])
            .flat_map(|(a, b)| (0..3).map(move |c| (a[c] - b[c]).abs()))
            .fold(0f32, f32::max);
        assert!(worst < 3.0, "max difference {worst}");
        let mean = |v: &[[f32; 3]]| v.iter().map(|p| p[0]).sum::<f32>() / v.len() as f32;
        assert!((mean(&fast) - mean(&slow)).abs() < 0.5);
    }

    #[test]
    fn nchw_bgr_normalisation_puts_planes_in_model_order() {
        let n = Normalisation {
            layout: TensorLayout::Nchw,
            channels: ChannelOrder::Bgr,
            scale: 1.0,
            mean: [10.0, 20.0, 30.0],
            std: [1.0, 2.0, 1.0],
        };
        let t = n.to_tensor(&[[100.0, 50.0, 0.0]; 4], 2);
        assert_eq!(n.shape(2), [1, 3, 2, 2]);
        assert_eq!(&t[0..4], &[-10.0; 4], "blue plane first, minus its mean");
        assert_eq!(&t[4..8], &[15.0; 4], "green (50 − 20) / 2");
        assert_eq!(&t[8..12], &[70.0; 4], "red last");
    }
}
