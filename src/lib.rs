//! hark: real-time speech captioning with a Wav2Vec2-Conformer model running on tract.
//!
//! # Pipeline
//!
//! ```text
//!  file ──decode──▶ mono f32 ──resample──▶ 16 kHz ──window──▶ model (tract) ──▶ stitch ──▶ ctc ──▶ transcript
//!  (symphonia)                (rubato)              L | centre | R   cached plan     centre      greedy     text/json/srt/vtt
//!                                                                    per length      frames
//! ```
//!
//! | module | owns |
//! |---|---|
//! | [`decode`] | audio files to mono samples (symphonia) |
//! | [`resample`] | any rate to the model rate (rubato) |
//! | [`features`] | waveform normalization as `Wav2Vec2FeatureExtractor` |
//! | [`manifest`] | `hark.json`: vocab, labels, frame geometry |
//! | [`model`] | the ONNX graph, per-length optimized plans (tract) |
//! | [`window`] | overlapping window layout and stitching ranges |
//! | [`ctc`] | greedy CTC decoding with word times |
//! | [`transcribe`] | the offline whole-file driver |
//! | [`transcript`] | the result types and their writers |
//! | [`metrics`] | text normalization, CER/WER, speaker EER |
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
//! The model is loaded once ([`model::ModelBundle`]) and shared; runs take `&self`. tract uses
//! up to `threads` cores for matrix products inside one run.
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
pub mod stitch;
pub mod transcribe;
pub mod transcript;
pub mod window;
