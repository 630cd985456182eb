//! Sample-rate conversion to the model rate (the only module that uses rubato).
//!
//! [`resample_all`] converts a whole clip (offline path, allocates). The live pipeline's
//! streaming resampler lives here too once it exists, using rubato's `process_into_buffer`.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::decode::Audio;

/// Why resampling failed.
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    /// The rates cannot be converted (zero or an unsupported ratio).
    #[error("cannot resample from {from} Hz to {to} Hz: {reason}")]
    Construction {
        /// Source rate.
        from: u32,
        /// Target rate.
        to: u32,
        /// rubato's reason.
        reason: String,
    },
    /// rubato failed while processing.
    #[error("resampling failed: {0}")]
    Process(String),
}

/// Converts a whole mono clip to `rate`. Returns the input unchanged when the rates agree.
/// The output has `round(len * rate / from)` samples and is aligned with the input (rubato trims
/// its filter delay).
pub fn resample_all(audio: Audio, rate: u32) -> Result<Audio, ResampleError> {
    if audio.sample_rate == rate {
        return Ok(audio);
    }
    let construction = |reason: String| ResampleError::Construction {
        from: audio.sample_rate,
        to: rate,
        reason,
    };
    if audio.sample_rate == 0 || rate == 0 {
        return Err(construction("sample rate is zero".into()));
    }
    let mut resampler = Fft::<f32>::new(
        audio.sample_rate as usize,
        rate as usize,
        1024,
        1,
        FixedSync::Both,
    )
    .map_err(|e| construction(e.to_string()))?;
    let input = InterleavedSlice::new(&audio.samples[..], 1, audio.samples.len())
        .map_err(|e| ResampleError::Process(e.to_string()))?;
    let out = resampler
        .process_all(&input, audio.samples.len(), None)
        .map_err(|e| ResampleError::Process(e.to_string()))?;
    Ok(Audio {
        samples: out.take_data(),
        sample_rate: rate,
    })
}
