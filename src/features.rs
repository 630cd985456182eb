//! Waveform normalization, exactly as transformers' `Wav2Vec2FeatureExtractor` with
//! `do_normalize=True`: zero mean and unit variance, `(x - mean) / sqrt(var + 1e-7)`.
//!
//! The normalization is not part of the exported graph (export pitfall (g)); hark applies it to
//! each window it runs, which is what a model trained on windows of that length saw.

/// Normalizes `x` in place to zero mean and unit variance (population variance, epsilon 1e-7).
/// Statistics are accumulated in f64.
pub fn normalize(x: &mut [f32]) {
    if x.is_empty() {
        return;
    }
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x
        .iter()
        .map(|&v| {
            let d = v as f64 - mean;
            d * d
        })
        .sum::<f64>()
        / n;
    let scale = 1.0 / (var + 1e-7).sqrt();
    for v in x.iter_mut() {
        *v = ((*v as f64 - mean) * scale) as f32;
    }
}

/// Copies `src` into `dst` (cleared first) and normalizes it when `do_normalize` is set.
pub fn prepare_into(src: &[f32], do_normalize: bool, dst: &mut Vec<f32>) {
    dst.clear();
    dst.extend_from_slice(src);
    if do_normalize {
        normalize(dst);
    }
}

/// A deterministic speech-like test signal at 16 kHz: five harmonics on a pitch that moves
/// between 100 and 180 Hz. Benchmarks and profiles run it (`benches/model.rs`,
/// `examples/profile.rs`); `tools/bench.py` computes the same signal for onnxruntime and
/// PyTorch.
pub fn bench_signal(samples: usize) -> Vec<f32> {
    let mut phase = 0f64;
    (0..samples)
        .map(|i| {
            let t = i as f64 / 16000.0;
            phase += 2.0 * std::f64::consts::PI * (140.0 + 40.0 * (1.3 * t).sin()) / 16000.0;
            ((1..6)
                .map(|k| (k as f64 * phase).sin() / k as f64)
                .sum::<f64>()
                * 0.2) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_mean_unit_variance() {
        let mut x: Vec<f32> = (0..1000)
            .map(|i| (i as f32 * 0.37).sin() * 0.3 + 0.1)
            .collect();
        normalize(&mut x);
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 1e-6, "{mean}");
        assert!((var - 1.0).abs() < 1e-4, "{var}");
    }

    #[test]
    fn silence_stays_finite() {
        let mut x = vec![0.0f32; 100];
        normalize(&mut x);
        assert!(x.iter().all(|v| *v == 0.0));
    }
}
