//! The 64-bit difference hash (dHash): the picture shrunk to 9×8 grey cells by area averaging,
//! then one bit per pair of horizontal neighbours. Re-encoding, resizing, small shifts and
//! brightness changes move few bits; a different picture moves about half of them.

/// Grey level of one decoded pixel, scaled by 1000.
fn grey(px: &[u8]) -> u32 {
    match *px {
        [l] => u32::from(l) * 1000,
        [r, g, b] => 299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b),
        [c, m, y, k] => {
            // Approximate CMYK → RGB (as decoded, 0 = no ink).
            let k = 255 - u32::from(k);
            let ch = |v: u8| (255 - u32::from(v)) * k / 255;
            299 * ch(c) + 587 * ch(m) + 114 * ch(y)
        }
        _ => 0,
    }
}

/// The 9×8 grid of average grey levels, row-major. `bpp` is 1, 3 or 4 bytes per pixel; the caller
/// guarantees `pixels.len() == width * height * bpp` and non-zero dimensions.
pub(crate) fn grid(pixels: &[u8], width: usize, height: usize, bpp: usize) -> [[u64; 9]; 8] {
    let mut g = [[0u64; 9]; 8];
    for (ty, row) in g.iter_mut().enumerate() {
        let y0 = ty * height / 8;
        let y1 = ((ty + 1) * height / 8).max(y0 + 1).min(height);
        for (tx, cell) in row.iter_mut().enumerate() {
            let x0 = tx * width / 9;
            let x1 = ((tx + 1) * width / 9).max(x0 + 1).min(width);
            let mut sum = 0u64;
            let mut n = 0u64;
            for y in y0..y1 {
                let line = &pixels[y * width * bpp..(y + 1) * width * bpp];
                for px in line[x0 * bpp..x1 * bpp].chunks_exact(bpp) {
                    sum += u64::from(grey(px));
                    n += 1;
                }
            }
            *cell = sum / n.max(1);
        }
    }
    g
}

/// The hash of a grid: bit 63 is row 0, columns 0→1; bit 0 is row 7, columns 7→8. A bit is set
/// when the right cell is brighter.
pub(crate) fn from_grid(g: &[[u64; 9]; 8]) -> u64 {
    let mut h = 0u64;
    for row in g {
        for pair in row.windows(2) {
            h = (h << 1) | u64::from(pair[0] < pair[1]);
        }
    }
    h
}
