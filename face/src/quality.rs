//! Photo quality of a face crop for enrollment: brightness, contrast and sharpness (variance of
//! the Laplacian) measured on the crop resampled to [`SIZE`]×[`SIZE`], so the numbers do not
//! depend on the photo's resolution.

/// Side of the square the measures are taken on, pixels.
pub const SIZE: usize = 112;
/// Darkest accepted mean brightness (0..255).
pub const MIN_BRIGHTNESS: f32 = 40.0;
/// Brightest accepted mean brightness (0..255).
pub const MAX_BRIGHTNESS: f32 = 220.0;
/// Lowest accepted contrast (standard deviation of brightness).
pub const MIN_CONTRAST: f32 = 12.0;
/// Lowest accepted sharpness (variance of the 4-neighbour Laplacian of brightness).
pub const MIN_SHARPNESS: f32 = 30.0;

/// The measures of one face crop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    /// Mean brightness, 0..255.
    pub brightness: f32,
    /// Standard deviation of brightness.
    pub contrast: f32,
    /// Variance of the Laplacian (higher = sharper).
    pub sharpness: f32,
}

/// Measures `SIZE`×`SIZE` RGB pixels (0..255 floats).
pub fn measure(pixels: &[[f32; 3]]) -> Quality {
    let luma: Vec<f32> = pixels
        .iter()
        .map(|p| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])
        .collect();
    let n = luma.len().max(1) as f32;
    let mean = luma.iter().sum::<f32>() / n;
    let var = luma.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let mut lap = Vec::with_capacity(SIZE * SIZE);
    if luma.len() == SIZE * SIZE {
        for y in 1..SIZE - 1 {
            for x in 1..SIZE - 1 {
                let c = luma[y * SIZE + x];
                lap.push(
                    luma[(y - 1) * SIZE + x]
                        + luma[(y + 1) * SIZE + x]
                        + luma[y * SIZE + x - 1]
                        + luma[y * SIZE + x + 1]
                        - 4.0 * c,
                );
            }
        }
    }
    let ln = lap.len().max(1) as f32;
    let lmean = lap.iter().sum::<f32>() / ln;
    let lvar = lap.iter().map(|v| (v - lmean) * (v - lmean)).sum::<f32>() / ln;
    Quality {
        brightness: mean,
        contrast: var.sqrt(),
        sharpness: lvar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_grey_crop_has_no_contrast_and_no_sharpness() {
        let q = measure(&vec![[128.0; 3]; SIZE * SIZE]);
        assert!((q.brightness - 128.0).abs() < 0.01);
        assert_eq!((q.contrast, q.sharpness), (0.0, 0.0));
    }

    #[test]
    fn a_checkerboard_is_sharp_and_contrasty() {
        let px: Vec<[f32; 3]> = (0..SIZE * SIZE)
            .map(|i| {
                let v = if ((i % SIZE) / 4 + (i / SIZE) / 4) % 2 == 0 {
                    30.0
                } else {
                    220.0
                };
                [v; 3]
            })
            .collect();
        let q = measure(&px);
        assert!(
            q.contrast > 90.0 && q.sharpness > MIN_SHARPNESS * 10.0,
            "{q:?}"
        );
    }
}
