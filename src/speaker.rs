//! Speaker embeddings for scoring: the x-vector head's raw output made ready for cosine
//! comparison.
//!
//! A head's embeddings can share a common component (every voice's embedding leans the same
//! way), which inflates the cosine between different speakers. hark scales each embedding to
//! unit length and, when the manifest has an `xvector_mean` (the mean unit-length embedding of
//! the training clips, written by `tools/train_xvector.py` only when centring lowers the
//! held-out EER), subtracts it and scales to unit length again, so a dot product is the cosine
//! similarity of (centred) directions. Raw norms vary a lot between clips, so centring happens
//! on directions, not on raw vectors (a few long vectors would otherwise set the mean).

use crate::manifest::Manifest;

/// A speaker embedding centred by the model's training mean (when the manifest has one) and
/// scaled to unit length; compare two with [`SpeakerVector::similarity`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerVector(Vec<f32>);

impl SpeakerVector {
    /// Prepares a raw x-vector embedding (one output row of the x-vector head) for scoring with
    /// the model described by `manifest`: scales it to unit length, subtracts the manifest's
    /// `xvector_mean` (the mean of unit-length training embeddings), if any, and scales the
    /// result to unit length again. An all-zero result stays all zero (its similarity to
    /// anything is 0).
    pub fn new(manifest: &Manifest, embedding: &[f32]) -> SpeakerVector {
        SpeakerVector::centred(embedding, manifest.xvector_mean.as_deref())
    }

    /// Like [`SpeakerVector::new`] with an explicit mean (`None`: no centring). A mean of another
    /// length than the embedding is a caller bug; [`Manifest::check`] refuses such manifests.
    pub fn centred(embedding: &[f32], mean: Option<&[f32]>) -> SpeakerVector {
        let mut v = embedding.to_vec();
        unit(&mut v);
        if let Some(mean) = mean {
            debug_assert_eq!(mean.len(), v.len(), "xvector_mean length");
            v.iter_mut().zip(mean).for_each(|(x, m)| *x -= m);
            unit(&mut v);
        }
        SpeakerVector(v)
    }

    /// Cosine similarity in [-1, 1]: higher means more likely the same speaker.
    pub fn similarity(&self, other: &SpeakerVector) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }

    /// The unit-length components.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }
}

/// Scales `v` to unit length; a (near) zero vector is left as it is.
fn unit(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 1e-12 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centring_removes_the_shared_component() {
        // Two different speakers whose embeddings are dominated by a common direction; the
        // mean is that of their unit-length directions.
        let a = [10.0, 1.0, 0.0];
        let b = [10.0, 0.0, 1.0];
        let mean = [10.0 / 101f32.sqrt(), 0.0, 0.0];
        let raw = SpeakerVector::centred(&a, None).similarity(&SpeakerVector::centred(&b, None));
        assert!(raw > 0.98, "{raw}");
        let c = SpeakerVector::centred(&a, Some(&mean))
            .similarity(&SpeakerVector::centred(&b, Some(&mean)));
        assert!(c.abs() < 1e-6, "{c}");
        // Only the direction of the raw embedding counts, not its length.
        let long = a.map(|x| x * 30.0);
        let d = SpeakerVector::centred(&long, Some(&mean))
            .similarity(&SpeakerVector::centred(&a, Some(&mean)));
        assert!((d - 1.0).abs() < 1e-6, "{d}");
    }

    #[test]
    fn vectors_are_unit_length_and_zero_stays_zero() {
        let v = SpeakerVector::centred(&[3.0, 4.0], None);
        assert_eq!(v.as_slice(), &[0.6, 0.8]);
        assert!((v.similarity(&v) - 1.0).abs() < 1e-6);
        let z = SpeakerVector::centred(&[3.0, 4.0], Some(&[0.6, 0.8]));
        assert_eq!(z.as_slice(), &[0.0, 0.0]);
        assert_eq!(z.similarity(&v), 0.0);
    }
}
