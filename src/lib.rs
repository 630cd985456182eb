//! hark: real-time speech captioning with a Wav2Vec2-Conformer model running on tract.
//!
//! # Pipeline
//!
//! ```text
//! live:    cpal callback / file replay ──ring (SPSC)──▶ inference thread ──events──▶ CLI / GUI
//!            convert, downmix, push        lock-free      resample, stitch, caption   bounded channel
//! offline: file ──decode──▶ mono f32 ──resample──▶ 16 kHz ──stitch──▶ ctc ──▶ transcript (text/json/srt/vtt)
//! ```
//!
//! Both paths run the same [`stitch::Stitcher`]: windows of left context | centre | right
//! look-ahead, all of one length so one optimized plan (positional embeddings folded once)
//! serves the stream; only the centre frames are kept.
//!
//! | module | owns |
//! |---|---|
//! | [`capture`] | microphone input and the real-time callback (the only user of cpal) |
//! | [`ring`] | the lock-free SPSC audio ring (the only user of ringbuf) |
//! | [`source`] | sources behind one trait: microphone, file replay, in-memory |
//! | [`decode`] | audio files to mono samples (the only user of symphonia) |
//! | [`resample`] | any rate to the model rate, whole-clip and streaming (the only user of rubato) |
//! | [`features`] | waveform normalization as `Wav2Vec2FeatureExtractor` |
//! | [`manifest`] | `hark.json`: vocab, labels, frame geometry |
//! | [`model`] | the ONNX graph, per-length optimized plans (the only user of tract) |
//! | [`window`] | window sizes in frames |
//! | [`stitch`] | streaming windowed inference and stitching of centre frames |
//! | [`ctc`] | incremental greedy CTC decoding with word times |
//! | [`caption`] | partial text, word-level and segment finals, endpointing, frame labels |
//! | [`events`] | the caption event enum |
//! | [`pipeline`] | threads and channels of the live path, overload shedding |
//! | [`transcribe`] | the offline whole-file driver |
//! | [`transcript`] | the result types and their writers |
//! | [`speaker`] | speaker embeddings for scoring (training-mean centring, cosine) |
//! | [`metrics`] | text normalization, CER/WER, speaker EER |
//!
//! # Real-time rules
//!
//! The capture callback ([`capture::CaptureCallback::on_data`]) converts, downmixes into a
//! preallocated buffer and pushes into the ring: no lock, allocation, I/O, logging, resampling
//! or inference (tests count allocations). Everything else happens on the inference thread,
//! which drops the oldest audio rather than let the ring or memory grow when it falls behind.
//!
//! # Units
//!
//! * *samples* are at the model rate (16 kHz) unless a name says otherwise;
//! * a *frame* is one model output step: `hop` = product of the conv strides = 320 samples =
//!   20 ms for the usual encoder; frame `f` sees samples `[f*hop, f*hop + receptive_field)`;
//! * positions (samples, frames) are absolute from the start of the stream and never wrap;
//! * times in results are seconds (f64).
//!
//! # Threads
//!
//! The model is loaded once ([`model::ModelBundle`]) and shared (`Arc`); runs take `&self`.
//! tract uses up to `threads` cores (one shared pool) for matrix products inside one run, for
//! the window lengths where that measured faster: the first runs of each length alternate
//! between one thread and the pool, and the faster stays (outputs are bit-identical either
//! way; see [`model::ModelBundle::threads_for`]). The live path has a source thread (or the
//! cpal callback) and one inference thread.
#![warn(missing_docs)]

pub mod caption;
pub mod capture;
pub mod ctc;
pub mod decode;
pub mod events;
pub mod features;
pub mod manifest;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod resample;
pub mod ring;
pub mod source;
pub mod speaker;
pub mod stitch;
pub mod transcribe;
pub mod transcript;
pub mod window;
