//! Embeddings and their comparison: L2-normalised vectors, cosine similarity, and the decision
//! from the configured threshold and uncertain band.

/// A face embedding, L2-normalised (so cosine similarity is a dot product).
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding(Vec<f32>);

impl Embedding {
    /// Normalises a raw model output; `None` when it is empty, not finite or all zero.
    pub fn from_raw(v: Vec<f32>) -> Option<Embedding> {
        if v.is_empty() || !v.iter().all(|x| x.is_finite()) {
            return None;
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm.is_nan() || norm <= 0.0 {
            return None;
        }
        Some(Embedding(v.into_iter().map(|x| x / norm).collect()))
    }

    /// The values.
    pub fn values(&self) -> &[f32] {
        &self.0
    }

    /// Number of dimensions.
    pub fn dims(&self) -> usize {
        self.0.len()
    }

    /// Stored form: little-endian f32s.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// Reads the stored form (renormalising); `None` when it is not a whole number of finite f32s.
    pub fn from_bytes(b: &[u8]) -> Option<Embedding> {
        if b.len() % 4 != 0 {
            return None;
        }
        let v = b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Embedding::from_raw(v)
    }

    /// Cosine similarity in -1..1; `None` when the dimensions differ (different models).
    pub fn cosine(&self, other: &Embedding) -> Option<f32> {
        if self.0.len() != other.0.len() {
            return None;
        }
        let dot: f32 = self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum();
        Some(dot.clamp(-1.0, 1.0))
    }
}

/// The best similarity of a probe to any of the templates (same dimensions only).
pub fn best_score<'a>(
    probe: &Embedding,
    templates: impl IntoIterator<Item = &'a Embedding>,
) -> Option<f32> {
    templates
        .into_iter()
        .filter_map(|t| probe.cosine(t))
        .max_by(f32::total_cmp)
}

/// What a score means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// At or above the match threshold.
    Match,
    /// In the uncertain band just below it: an operator decides.
    Uncertain,
    /// Below the band: someone else.
    Mismatch,
}

/// The match threshold and the uncertain band below it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Scores at or above this match.
    pub match_threshold: f32,
    /// Scores in `[match_threshold − band, match_threshold)` are uncertain.
    pub uncertain_band: f32,
}

impl Thresholds {
    /// The decision for a score.
    pub fn decide(&self, score: f32) -> Decision {
        if score >= self.match_threshold {
            Decision::Match
        } else if score >= self.match_threshold - self.uncertain_band {
            Decision::Uncertain
        } else {
            Decision::Mismatch
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(v: &[f32]) -> Embedding {
        Embedding::from_raw(v.to_vec()).expect("valid")
    }

    #[test]
    fn an_embedding_is_normalised_and_survives_its_stored_form() {
        let a = e(&[3.0, 4.0]);
        assert_eq!(a.values(), &[0.6, 0.8]);
        assert_eq!(Embedding::from_bytes(&a.to_bytes()), Some(a));
        assert_eq!(Embedding::from_bytes(&[1, 2, 3]), None);
    }

    #[test]
    fn degenerate_outputs_are_not_embeddings() {
        assert_eq!(Embedding::from_raw(vec![]), None);
        assert_eq!(Embedding::from_raw(vec![0.0, 0.0]), None);
        assert_eq!(Embedding::from_raw(vec![f32::NAN, 1.0]), None);
    }

    #[test]
    fn the_best_template_decides_and_other_dimensions_are_skipped() {
        let probe = e(&[1.0, 0.0]);
        let templates = [e(&[0.0, 1.0]), e(&[1.0, 1.0]), e(&[1.0, 0.0, 0.0])];
        let s = best_score(&probe, &templates).expect("a score");
        assert!((s - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(best_score(&probe, &templates[2..]), None);
    }

    #[test]
    fn scores_split_into_match_uncertain_and_mismatch() {
        let t = Thresholds {
            match_threshold: 0.6,
            uncertain_band: 0.1,
        };
        assert_eq!(t.decide(0.6), Decision::Match);
        assert_eq!(t.decide(0.55), Decision::Uncertain);
        assert_eq!(t.decide(0.5), Decision::Uncertain);
        assert_eq!(t.decide(0.49), Decision::Mismatch);
    }
}
