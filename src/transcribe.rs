//! Offline whole-file transcription: decode, resample, cut into overlapping windows, run the
//! model on each, stitch the kept centre frames into one stream, and decode it.

use std::path::Path;

use crate::ctc::GreedyCtc;
use crate::decode::{decode_file, DecodeError};
use crate::features;
use crate::manifest::OutputKind;
use crate::model::{ModelBundle, ModelError};
use crate::resample::{resample_all, ResampleError};
use crate::transcript::{label_spans, segment_words, AudioInfo, SegmentRules, Transcript};
use crate::window::{layout, WindowConfig};

/// Settings of the offline path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OfflineOptions {
    /// Left context, centre and right look-ahead, in seconds.
    pub left_s: f64,
    /// Centre (kept) seconds per window.
    pub centre_s: f64,
    /// Right look-ahead seconds.
    pub right_s: f64,
    /// How words are grouped into segments.
    pub segments: SegmentRules,
}

impl Default for OfflineOptions {
    fn default() -> Self {
        OfflineOptions {
            left_s: 1.0,
            centre_s: 8.0,
            right_s: 1.0,
            segments: SegmentRules::default(),
        }
    }
}

/// Per-frame outputs of a whole stream, stitched from window centres.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stitched {
    /// Frames in the stream.
    pub frames: usize,
    /// CTC logits, `[frames, vocab]` row-major, if the model has a CTC head.
    pub ctc: Option<Vec<f32>>,
    /// Frame-classification logits, `[frames, labels]`, if the model has that head.
    pub frame_logits: Option<Vec<f32>>,
}

/// Why a file could not be transcribed.
#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    /// Decoding failed (the message names the file).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Resampling failed.
    #[error("{path}: {source}")]
    Resample {
        /// The file.
        path: String,
        /// The cause.
        source: ResampleError,
    },
    /// The model failed.
    #[error("{path}: {source}")]
    Model {
        /// The file.
        path: String,
        /// The cause.
        source: ModelError,
    },
}

/// Runs the model over model-rate samples in overlapping windows and stitches the per-frame
/// outputs. `progress(done, total)` is called after each window, in frames.
pub fn run_windows(
    model: &ModelBundle,
    samples: &[f32],
    opts: &OfflineOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Stitched, ModelError> {
    let m = model.manifest();
    let hop = m.frame_hop();
    let field = m.receptive_field();
    let frame_s = hop as f64 / m.sample_rate as f64;
    let total = m.frames_for(samples.len());
    let cfg = WindowConfig::from_seconds(opts.left_s, opts.centre_s, opts.right_s, frame_s);
    let ctc_dim = m.output(OutputKind::CtcLogits).map(|o| o.dim);
    let lab_dim = m.output(OutputKind::FrameLogits).map(|o| o.dim);
    let mut out = Stitched {
        frames: total,
        ctc: ctc_dim.map(|d| Vec::with_capacity(total * d)),
        frame_logits: lab_dim.map(|d| Vec::with_capacity(total * d)),
    };
    let mut input = Vec::new();
    for w in layout(total, cfg) {
        let start = w.start_sample(hop);
        let len = w.samples(hop, field);
        features::prepare_into(&samples[start..start + len], m.do_normalize, &mut input);
        let result = model.run(&input)?;
        let lo = w.keep_from - w.first;
        let hi = w.keep_to - w.first;
        for (kind, dst) in [
            (OutputKind::CtcLogits, out.ctc.as_mut()),
            (OutputKind::FrameLogits, out.frame_logits.as_mut()),
        ] {
            if let (Some(dst), Some(o)) = (dst, result.get(kind)) {
                let d = o.shape[1];
                dst.extend_from_slice(&o.data[lo * d..hi * d]);
            }
        }
        progress(w.keep_to, total);
    }
    Ok(out)
}

/// Turns stitched outputs into a transcript.
pub fn transcript_from(
    model: &ModelBundle,
    stitched: &Stitched,
    audio: AudioInfo,
    opts: &OfflineOptions,
) -> Transcript {
    let m = model.manifest();
    let frame_s = m.frame_hop() as f64 / m.sample_rate as f64;
    let mut segments = Vec::new();
    if let (Some(logits), Some(vocab)) = (&stitched.ctc, &m.vocab) {
        let mut ctc = GreedyCtc::new(vocab);
        ctc.push_frames(logits, vocab.tokens.len());
        segments = segment_words(&ctc.words(frame_s), opts.segments);
    }
    let frame_labels = match (&stitched.frame_logits, &m.id2label) {
        (Some(logits), Some(names)) => {
            let ids: Vec<usize> = logits
                .chunks_exact(names.len())
                .map(crate::ctc::argmax)
                .collect();
            Some(label_spans(&ids, names, frame_s))
        }
        _ => None,
    };
    Transcript {
        audio,
        segments,
        frame_labels,
        speakers: None,
    }
}

/// Decodes, resamples and transcribes a file.
pub fn transcribe_file(
    model: &ModelBundle,
    path: &Path,
    opts: &OfflineOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Transcript, TranscribeError> {
    let shown = path.display().to_string();
    let audio = decode_file(path)?;
    let info = AudioInfo {
        path: shown.clone(),
        duration_s: audio.duration_s(),
        sample_rate: audio.sample_rate,
    };
    let audio = resample_all(audio, model.manifest().sample_rate).map_err(|source| {
        TranscribeError::Resample {
            path: shown.clone(),
            source,
        }
    })?;
    let stitched = run_windows(model, &audio.samples, opts, progress).map_err(|source| {
        TranscribeError::Model {
            path: shown.clone(),
            source,
        }
    })?;
    Ok(transcript_from(model, &stitched, info, opts))
}
