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

/// Streaming mono resampler for the live path: takes input in any chunk sizes and appends the
/// resampled samples to a caller buffer. Allocation-free once constructed (rubato's
/// `process_into_buffer` on preallocated buffers). Passes samples through when the rates agree.
///
/// The FFT resampler delays its output by [`StreamResampler::delay`] samples; that many leading
/// output samples are dropped so that output sample `n` lines up with input time `n / rate`.
pub struct StreamResampler {
    inner: Option<Fft<f32>>,
    pending: Vec<f32>,
    filled: usize,
    out: Vec<f32>,
    skip: usize,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("passthrough", &self.inner.is_none())
            .finish()
    }
}

impl StreamResampler {
    /// A resampler from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<StreamResampler, ResampleError> {
        if from == to {
            return Ok(StreamResampler {
                inner: None,
                pending: Vec::new(),
                filled: 0,
                out: Vec::new(),
                skip: 0,
            });
        }
        let construction = |reason: String| ResampleError::Construction { from, to, reason };
        if from == 0 || to == 0 {
            return Err(construction("sample rate is zero".into()));
        }
        let inner = Fft::<f32>::new(from as usize, to as usize, 480, 1, FixedSync::Input)
            .map_err(|e| construction(e.to_string()))?;
        let chunk = inner.input_frames_max();
        let out_max = inner.output_frames_max();
        let skip = inner.output_delay();
        Ok(StreamResampler {
            inner: Some(inner),
            pending: vec![0.0; chunk],
            filled: 0,
            out: vec![0.0; out_max],
            skip,
        })
    }

    /// Output samples the resampler holds back (its filter delay), already compensated.
    pub fn delay(&self) -> usize {
        self.skip
    }

    /// Resamples `input`, appending to `output` (reserve capacity to stay allocation-free).
    pub fn process(
        &mut self,
        mut input: &[f32],
        output: &mut Vec<f32>,
    ) -> Result<(), ResampleError> {
        let Some(inner) = self.inner.as_mut() else {
            output.extend_from_slice(input);
            return Ok(());
        };
        while !input.is_empty() {
            let need = inner.input_frames_next();
            let take = (need - self.filled).min(input.len());
            self.pending[self.filled..self.filled + take].copy_from_slice(&input[..take]);
            self.filled += take;
            input = &input[take..];
            if self.filled < need {
                break;
            }
            let frames_out = inner.output_frames_next();
            let src = InterleavedSlice::new(&self.pending[..need], 1, need)
                .map_err(|e| ResampleError::Process(e.to_string()))?;
            let mut dst = InterleavedSlice::new_mut(&mut self.out[..frames_out], 1, frames_out)
                .map_err(|e| ResampleError::Process(e.to_string()))?;
            let (_, written) = inner
                .process_into_buffer(&src, &mut dst, None)
                .map_err(|e| ResampleError::Process(e.to_string()))?;
            self.filled = 0;
            let drop = self.skip.min(written);
            self.skip -= drop;
            output.extend_from_slice(&self.out[drop..written]);
        }
        Ok(())
    }
}
