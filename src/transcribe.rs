//! Offline whole-file transcription: decode, resample, cut into overlapping windows, run the
//! model on each, stitch the kept centre frames into one stream, and decode it.

use std::path::Path;
use std::sync::Arc;

use crate::ctc::GreedyCtc;
use crate::decode::{decode_file, DecodeError};
use crate::model::{ModelBundle, ModelError};
use crate::resample::{resample_all, ResampleError};
use crate::stitch::{Block, Stitcher};
use crate::transcript::{label_spans, segment_words, AudioInfo, SegmentRules, Transcript};
use crate::window::WindowConfig;

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

impl OfflineOptions {
    /// The defaults, with the window the model's manifest recommends
    /// ([`crate::manifest::Manifest::offline_window`]) when it has one.
    pub fn for_model(manifest: &crate::manifest::Manifest) -> OfflineOptions {
        let mut opts = OfflineOptions::default();
        if let Some(w) = manifest.offline_window {
            opts.left_s = w.left_s;
            opts.centre_s = w.centre_s;
            opts.right_s = w.right_s;
        }
        opts
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
/// outputs: the streaming [`Stitcher`] fed the whole input at once, so offline and live results
/// agree exactly. `progress(done, total)` is called after each window, in frames.
pub fn run_windows(
    model: &Arc<ModelBundle>,
    samples: &[f32],
    opts: &OfflineOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Stitched, ModelError> {
    let m = model.manifest();
    let frame_s = m.frame_hop() as f64 / m.sample_rate as f64;
    let total = m.frames_for(samples.len());
    let cfg = WindowConfig::from_seconds(opts.left_s, opts.centre_s, opts.right_s, frame_s);
    let mut stitcher = Stitcher::new(model.clone(), cfg);
    let mut out = Stitched {
        frames: total,
        ..Default::default()
    };
    let mut blocks = Vec::new();
    // Feed in one-window chunks so progress moves and memory stays flat.
    let chunk = cfg.total() * m.frame_hop();
    for piece in samples.chunks(chunk.max(1)) {
        stitcher.push(piece, &mut blocks)?;
        absorb(&mut out, &mut blocks);
        progress(stitcher.next_frame() as usize, total);
    }
    stitcher.finish(&mut blocks)?;
    absorb(&mut out, &mut blocks);
    progress(total, total);
    Ok(out)
}

fn absorb(out: &mut Stitched, blocks: &mut Vec<Block>) {
    for b in blocks.drain(..) {
        if let Some(c) = b.ctc {
            out.ctc.get_or_insert_with(Vec::new).extend_from_slice(&c);
        }
        if let Some(l) = b.labels {
            out.frame_logits
                .get_or_insert_with(Vec::new)
                .extend_from_slice(&l);
        }
    }
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
    model: &Arc<ModelBundle>,
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
