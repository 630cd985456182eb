//! Streaming windowed inference: accepts model-rate samples in any chunk sizes, runs the model on
//! overlapping windows (left context | centre | right look-ahead) and hands out the centre frames
//! of each window as consecutive [`Block`]s of one stitched frame stream.
//!
//! Every full window has the same length (`cfg.total()` frames), so a single optimized plan
//! serves the whole stream: the first window keeps its first `left + centre` frames, each later
//! one `centre` frames, and the last one (at [`Stitcher::finish`]) slides back so that it too has
//! the full length. Only a stream shorter than one window needs a plan of its own length.
//!
//! The last window ends in [`END_PADDING_S`] of appended silence whose frames are computed and
//! dropped: a stream that stops mid-word (a file cut tight, a stop button) gives its last frames
//! the trailing quiet the model trained on, where clips were zero-padded in batches.
//! The offline path ([`crate::transcribe`]) runs this same code on a whole file, so streaming
//! and offline results are identical whatever the chunking.

use std::sync::Arc;
use std::time::Instant;

use crate::features;
use crate::manifest::OutputKind;
use crate::model::{ModelBundle, ModelError, ModelOutput};
use crate::window::WindowConfig;

/// Seconds of silence appended to the last window of a stream by default (see the module docs
/// and [`Stitcher::set_end_padding`]). Measured on the demo model v43 (2026-12-07): held-out TTS
/// 950 -> 935 word errors of 2412, spoken digits 155 -> 147 of 1000, against none.
pub const END_PADDING_S: f64 = 0.25;

/// Something that runs one window of normalized samples: the model, or a test double.
pub trait Infer: Send + Sync {
    /// The model bundle (geometry, outputs).
    fn bundle(&self) -> &ModelBundle;
    /// Runs one window.
    fn infer(&self, input: &[f32]) -> Result<ModelOutput, ModelError>;
}

impl Infer for ModelBundle {
    fn bundle(&self) -> &ModelBundle {
        self
    }
    fn infer(&self, input: &[f32]) -> Result<ModelOutput, ModelError> {
        self.run(input)
    }
}

/// Consecutive stitched frames `[first_frame, first_frame + frames)` (absolute frame numbers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Block {
    /// First frame (absolute).
    pub first_frame: u64,
    /// Number of frames.
    pub frames: usize,
    /// CTC logits, `[frames, vocab]`, when the model has a CTC head.
    pub ctc: Option<Vec<f32>>,
    /// Frame-classification logits, `[frames, labels]`, when the model has that head.
    pub labels: Option<Vec<f32>>,
    /// X-vector embedding of the whole window the block came from, when the model has one.
    pub xvector: Option<Vec<f32>>,
    /// Seconds the model call took.
    pub compute_s: f64,
    /// Samples in the window the block came from.
    pub window_samples: usize,
}

/// Streaming window runner. See the module docs.
pub struct Stitcher {
    model: Arc<dyn Infer>,
    cfg: WindowConfig,
    hop: usize,
    field: usize,
    normalize: bool,
    /// Absolute frame number of this segment's frame 0 (moves on after a gap).
    origin_frame: u64,
    /// Samples of this segment from `buf_start` (segment-relative sample index).
    buf: Vec<f32>,
    buf_start: usize,
    /// Segment-relative samples received.
    received: usize,
    /// Next segment-relative frame to hand out.
    next: usize,
    /// Incoming samples still to drop so that a new segment starts on a hop boundary.
    discard: usize,
    /// Silent samples appended to the last window (computed, then dropped).
    end_pad: usize,
    scratch: Vec<f32>,
}

impl Stitcher {
    /// A stitcher for a model and window sizes (frames).
    pub fn new(model: Arc<dyn Infer>, cfg: WindowConfig) -> Stitcher {
        let m = model.bundle().manifest();
        let hop = m.frame_hop();
        let field = m.receptive_field();
        let normalize = m.do_normalize;
        let end_pad = (END_PADDING_S * f64::from(m.sample_rate)).round() as usize;
        let capacity = (cfg.total() + cfg.centre) * hop + field + end_pad;
        Stitcher {
            model,
            cfg,
            hop,
            field,
            normalize,
            origin_frame: 0,
            buf: Vec::with_capacity(capacity),
            buf_start: 0,
            received: 0,
            next: 0,
            discard: 0,
            end_pad,
            scratch: Vec::with_capacity(capacity),
        }
    }

    /// Sets the silence appended to the last window, in samples (default [`END_PADDING_S`]
    /// seconds; 0 ends the last window at the last received sample).
    pub fn set_end_padding(&mut self, samples: usize) {
        self.end_pad = samples;
    }

    /// Window sizes.
    pub fn config(&self) -> WindowConfig {
        self.cfg
    }

    /// Absolute number of the next frame to be handed out.
    pub fn next_frame(&self) -> u64 {
        self.origin_frame + self.next as u64
    }

    /// Absolute samples received (including skipped gaps).
    pub fn received_samples(&self) -> u64 {
        self.origin_frame * self.hop as u64 + self.received as u64 - self.discard as u64
    }

    /// Frames computable from the samples received so far (segment-relative).
    fn available(&self) -> usize {
        if self.received < self.field {
            0
        } else {
            (self.received - self.field) / self.hop + 1
        }
    }

    fn run(&mut self, first: usize, end: usize, keep_to: usize) -> Result<Block, ModelError> {
        let start = first * self.hop - self.buf_start;
        let len = (end - first - 1) * self.hop + self.field;
        let src = &self.buf[start..start + len];
        self.scratch.clear();
        self.scratch.extend_from_slice(src);
        if self.normalize {
            features::normalize(&mut self.scratch);
        }
        let t = Instant::now();
        let out = self.model.infer(&self.scratch)?;
        let compute_s = t.elapsed().as_secs_f64();
        let lo = self.next - first;
        let hi = keep_to - first;
        let rows = |kind: OutputKind| {
            out.get(kind).map(|o| {
                let d = o.shape[1];
                o.data[lo * d..hi * d].to_vec()
            })
        };
        Ok(Block {
            first_frame: self.origin_frame + self.next as u64,
            frames: hi - lo,
            ctc: rows(OutputKind::CtcLogits),
            labels: rows(OutputKind::FrameLogits),
            xvector: out
                .get(OutputKind::XvectorEmbeddings)
                .map(|o| o.data.clone()),
            compute_s,
            window_samples: len,
        })
    }

    /// Drops samples no future window needs (allocation-free: shifts within the buffer). Full
    /// windows start at `next - left` at the earliest, partial ones ([`Stitcher::peek`]) at
    /// `next - total` at the earliest.
    fn trim(&mut self) {
        let keep_from = self.next.saturating_sub(self.cfg.total()) * self.hop;
        if keep_from > self.buf_start + self.hop * 25 {
            let n = keep_from - self.buf_start;
            self.buf.drain(..n);
            self.buf_start = keep_from;
        }
    }

    /// Adds samples and appends every block that now has its full right context to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<Block>) -> Result<(), ModelError> {
        let drop = self.discard.min(samples.len());
        self.discard -= drop;
        let samples = &samples[drop..];
        self.buf.extend_from_slice(samples);
        self.received += samples.len();
        let width = self.cfg.total();
        loop {
            let end = (self.next + self.cfg.centre + self.cfg.right).max(width);
            if end > self.available() {
                break;
            }
            let keep_to = end - self.cfg.right;
            let block = self.run(end - width, end, keep_to)?;
            self.next = keep_to;
            out.push(block);
            self.trim();
        }
        Ok(())
    }

    /// End of input: hands out the remaining frames (the last window, extended by the end
    /// padding, slides back to full length when the stream is long enough).
    pub fn finish(&mut self, out: &mut Vec<Block>) -> Result<(), ModelError> {
        let avail = self.available();
        if self.next < avail {
            // Frames the padded window computes; those past `avail` are dropped.
            let end = (self.received + self.end_pad - self.field) / self.hop + 1;
            let first = end.saturating_sub(self.cfg.total()).min(self.next);
            let real = self.buf.len();
            self.buf.resize(real + self.end_pad, 0.0);
            let block = self.run(first, end, avail);
            self.buf.truncate(real);
            let block = block?;
            self.next = avail;
            out.push(block);
        }
        Ok(())
    }

    /// A tentative block for the frames not yet handed out, computed without right context
    /// (for partial results). Window lengths are multiples of `quantum` frames below a full
    /// window, so only a few plans are ever built. Returns `None` when nothing is pending.
    pub fn peek(&mut self, quantum: usize) -> Result<Option<Block>, ModelError> {
        let avail = self.available();
        if avail <= self.next {
            return Ok(None);
        }
        let width = self.cfg.total();
        let (first, end) = if avail >= width {
            (avail - width, avail)
        } else {
            let q = quantum.max(1);
            let end = (avail / q) * q;
            if end <= self.next || end == 0 {
                return Ok(None);
            }
            (0, end)
        };
        self.run(first, end, end).map(Some)
    }

    /// Skips `samples` of lost audio (a multiple of the hop keeps frame times exact): pending
    /// frames are handed out first (as at [`Stitcher::finish`]), then a new segment starts at
    /// the absolute position after the gap.
    pub fn skip(&mut self, samples: usize, out: &mut Vec<Block>) -> Result<(), ModelError> {
        self.finish(out)?;
        let total = self.received_samples() + samples as u64;
        self.origin_frame = total.div_ceil(self.hop as u64);
        self.discard = (self.origin_frame * self.hop as u64 - total) as usize;
        self.buf.clear();
        self.buf_start = 0;
        self.received = 0;
        self.next = 0;
        Ok(())
    }
}
