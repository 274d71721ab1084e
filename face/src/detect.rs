//! BlazeFace-style detection after the model ran: SSD anchor generation, decoding of the score
//! logits and box/keypoint regressors, and non-maximum suppression (plain or weighted).
//!
//! Anchors: for each stride, a grid of `input_size / stride` cells per side, `anchors_per_cell`
//! anchors at each cell centre (MediaPipe's fixed-size anchors), in row-major order. A
//! regressor row is `[dx, dy, w, h, k0x, k0y, k1x, ...]` in input pixels (divided by
//! `box_scale`), relative to the anchor centre for positions.

use hadir_config::NmsKind;

/// One anchor centre, normalised to 0..1 of the input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    /// Centre x.
    pub x: f32,
    /// Centre y.
    pub y: f32,
}

/// Anchors for a square input: one grid per stride, `per_cell` anchors per grid cell.
pub fn anchors(input_size: u32, strides: &[u32], per_cell: &[u32]) -> Vec<Anchor> {
    let mut out = Vec::new();
    for (&stride, &n) in strides.iter().zip(per_cell) {
        if stride == 0 {
            continue;
        }
        let grid = input_size / stride;
        for y in 0..grid {
            for x in 0..grid {
                for _ in 0..n {
                    out.push(Anchor {
                        x: (x as f32 + 0.5) / grid as f32,
                        y: (y as f32 + 0.5) / grid as f32,
                    });
                }
            }
        }
    }
    out
}

/// Anchors per stride layer (the number of score rows each output pair must have).
pub fn layer_sizes(input_size: u32, strides: &[u32], per_cell: &[u32]) -> Vec<usize> {
    strides
        .iter()
        .zip(per_cell)
        .map(|(&s, &n)| {
            let g = input_size.checked_div(s).unwrap_or(0) as usize;
            g * g * n as usize
        })
        .collect()
}

/// A detection in normalised input coordinates (0..1 of the detector's square).
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Face probability (sigmoid of the logit).
    pub score: f32,
    /// Box centre x.
    pub cx: f32,
    /// Box centre y.
    pub cy: f32,
    /// Box width.
    pub w: f32,
    /// Box height.
    pub h: f32,
    /// Keypoints (x, y): for BlazeFace right eye, left eye, nose, mouth, right ear, left ear.
    pub keypoints: Vec<(f32, f32)>,
}

impl Detection {
    fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    /// Intersection over union of two boxes.
    pub fn iou(&self, o: &Detection) -> f32 {
        let ix = (self.cx + self.w / 2.0).min(o.cx + o.w / 2.0)
            - (self.cx - self.w / 2.0).max(o.cx - o.w / 2.0);
        let iy = (self.cy + self.h / 2.0).min(o.cy + o.h / 2.0)
            - (self.cy - self.h / 2.0).max(o.cy - o.h / 2.0);
        if ix <= 0.0 || iy <= 0.0 {
            return 0.0;
        }
        let inter = ix * iy;
        let union = self.area() + o.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x.clamp(-80.0, 80.0)).exp())
}

/// Decodes every anchor whose score passes `min_score`. `logits` has one value per anchor,
/// `regressors` `stride` values per anchor (at least 4).
pub fn decode(
    anchors: &[Anchor],
    logits: &[f32],
    regressors: &[f32],
    values_per_anchor: usize,
    box_scale: f32,
    min_score: f32,
) -> Vec<Detection> {
    let mut out = Vec::new();
    if values_per_anchor < 4 || box_scale <= 0.0 {
        return out;
    }
    let keypoints = (values_per_anchor - 4) / 2;
    for (i, (a, &logit)) in anchors.iter().zip(logits).enumerate() {
        let score = sigmoid(logit);
        if score.is_nan() || score < min_score {
            continue;
        }
        let Some(r) = regressors.get(i * values_per_anchor..(i + 1) * values_per_anchor) else {
            break;
        };
        let d = Detection {
            score,
            cx: r[0] / box_scale + a.x,
            cy: r[1] / box_scale + a.y,
            w: r[2] / box_scale,
            h: r[3] / box_scale,
            keypoints: (0..keypoints)
                .map(|k| {
                    (
                        r[4 + 2 * k] / box_scale + a.x,
                        r[5 + 2 * k] / box_scale + a.y,
                    )
                })
                .collect(),
        };
        if d.w > 0.0 && d.h > 0.0 && d.cx.is_finite() && d.cy.is_finite() {
            out.push(d);
        }
    }
    out
}

/// Non-maximum suppression: detections overlapping a better one by more than `iou` are the same
/// face. Plain keeps the best box; weighted replaces it by the score-weighted mean of the
/// overlapping boxes and keypoints (keeping the best score). Result sorted by score, best first.
pub fn nms(mut dets: Vec<Detection>, iou: f32, kind: NmsKind) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while !dets.is_empty() {
        let best = dets.remove(0);
        let (same, rest): (Vec<Detection>, Vec<Detection>) =
            dets.into_iter().partition(|d| best.iou(d) > iou);
        dets = rest;
        match kind {
            NmsKind::Plain => out.push(best),
            NmsKind::Weighted => {
                let mut total = best.score;
                let mut m = best.clone();
                for v in [&mut m.cx, &mut m.cy, &mut m.w, &mut m.h] {
                    *v *= best.score;
                }
                for k in m.keypoints.iter_mut() {
                    k.0 *= best.score;
                    k.1 *= best.score;
                }
                for d in &same {
                    total += d.score;
                    m.cx += d.cx * d.score;
                    m.cy += d.cy * d.score;
                    m.w += d.w * d.score;
                    m.h += d.h * d.score;
                    for (k, dk) in m.keypoints.iter_mut().zip(&d.keypoints) {
                        k.0 += dk.0 * d.score;
                        k.1 += dk.1 * d.score;
                    }
                }
                for v in [&mut m.cx, &mut m.cy, &mut m.w, &mut m.h] {
                    *v /= total;
                }
                for k in m.keypoints.iter_mut() {
                    k.0 /= total;
                    k.1 /= total;
                }
                out.push(m);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(score: f32, cx: f32, cy: f32, w: f32) -> Detection {
        Detection {
            score,
            cx,
            cy,
            w,
            h: w,
            keypoints: vec![(cx, cy)],
        }
    }

    #[test]
    fn the_blazeface_back_anchor_grid_has_896_anchors_in_two_layers() {
        let a = anchors(256, &[16, 32], &[2, 6]);
        assert_eq!(a.len(), 512 + 384);
        assert_eq!(layer_sizes(256, &[16, 32], &[2, 6]), [512, 384]);
        assert_eq!(
            a[0],
            Anchor {
                x: 0.5 / 16.0,
                y: 0.5 / 16.0
            }
        );
        assert_eq!(a[1], a[0], "two anchors per cell share the centre");
        assert_eq!(a[2].x, 1.5 / 16.0);
        assert_eq!(
            a[512],
            Anchor {
                x: 0.5 / 8.0,
                y: 0.5 / 8.0
            }
        );
        assert_eq!(
            a[895],
            Anchor {
                x: 7.5 / 8.0,
                y: 7.5 / 8.0
            }
        );
    }

    #[test]
    fn a_regressor_row_decodes_relative_to_its_anchor_in_input_pixels() {
        let a = [Anchor { x: 0.25, y: 0.5 }, Anchor { x: 0.75, y: 0.5 }];
        // Anchor 1: centre moved 25.6 px right of a 256 input, box 64 px, one keypoint.
        let regs = [0.0; 6]
            .into_iter()
            .chain([25.6, 0.0, 64.0, 32.0, -12.8, 0.0])
            .collect::<Vec<f32>>();
        let d = decode(&a, &[-5.0, 3.0], &regs, 6, 256.0, 0.5);
        assert_eq!(d.len(), 1, "only the anchor above the score");
        let d = &d[0];
        assert!((d.cx - 0.85).abs() < 1e-6 && (d.cy - 0.5).abs() < 1e-6);
        assert!((d.w - 0.25).abs() < 1e-6 && (d.h - 0.125).abs() < 1e-6);
        assert!((d.keypoints[0].0 - 0.7).abs() < 1e-6);
        assert!((d.score - 0.952_574).abs() < 1e-5);
    }

    #[test]
    fn plain_nms_keeps_the_best_of_overlapping_boxes_and_separate_faces() {
        let out = nms(
            vec![
                det(0.8, 0.30, 0.3, 0.2),
                det(0.9, 0.31, 0.3, 0.2),
                det(0.85, 0.7, 0.7, 0.2),
            ],
            0.3,
            NmsKind::Plain,
        );
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].score, out[0].cx), (0.9, 0.31));
        assert_eq!(out[1].cx, 0.7);
    }

    #[test]
    fn weighted_nms_averages_overlapping_boxes_by_score() {
        let out = nms(
            vec![det(0.75, 0.30, 0.3, 0.2), det(0.25, 0.34, 0.3, 0.2)],
            0.3,
            NmsKind::Weighted,
        );
        assert_eq!(out.len(), 1);
        assert!((out[0].cx - 0.31).abs() < 1e-6, "{}", out[0].cx);
        assert!((out[0].keypoints[0].0 - 0.31).abs() < 1e-6);
        assert_eq!(out[0].score, 0.75);
    }

    #[test]
    fn disjoint_boxes_have_no_overlap() {
        assert_eq!(det(1.0, 0.1, 0.1, 0.1).iou(&det(1.0, 0.9, 0.9, 0.1)), 0.0);
        assert!((det(1.0, 0.5, 0.5, 0.2).iou(&det(1.0, 0.5, 0.5, 0.2)) - 1.0).abs() < 1e-6);
    }
}
