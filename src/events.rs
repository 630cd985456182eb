//! The caption events every front-end consumes: one enum, sent over a bounded crossbeam
//! channel. Each variant has exactly one reaction in each front-end (partial → live line,
//! final words → fixed part of the live line, final → history, frame labels → label strip,
//! speaker turn → speaker tag, stats → status bar, error → message, finished → stop).

use serde::Serialize;

use crate::ctc::Word;
use crate::transcript::LabelSpan;

/// A finished caption segment; its text never changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinalSegment {
    /// Segment number (0, 1, 2, ...).
    pub segment: u64,
    /// Start of the first word (s, absolute stream time).
    pub start: f64,
    /// End of the last word (s).
    pub end: f64,
    /// Words joined by spaces.
    pub text: String,
    /// Words with times.
    pub words: Vec<Word>,
}

/// Pipeline health, sent about once a second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Stats {
    /// Audio seconds received so far (stream time).
    pub audio_s: f64,
    /// Model compute seconds per audio second over the last interval.
    pub rtf: f64,
    /// Seconds between the newest received audio and the newest final frame.
    pub latency_s: f64,
    /// Ring buffer fill, 0..1.
    pub ring_fill: f64,
    /// Audio seconds dropped so far because inference fell behind.
    pub dropped_s: f64,
    /// Samples the capture side could not write because the ring was full.
    pub overruns: u64,
    /// True while the pipeline is dropping audio to keep up.
    pub falling_behind: bool,
}

/// One caption event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The open segment's text so far; may still change.
    Partial {
        /// Segment number.
        segment: u64,
        /// Current text of the segment (final words plus tentative ones).
        text: String,
    },
    /// Words of the open segment that just became final: their text and times never change.
    /// They are followed by a word delimiter in frames that already had their right context,
    /// so no later audio can alter them. The segment's [`Event::Final`] repeats them.
    FinalWords {
        /// Segment number.
        segment: u64,
        /// The newly final words, in order, after those of earlier `FinalWords` of the segment.
        words: Vec<Word>,
    },
    /// A finished segment.
    Final(FinalSegment),
    /// Frame labels of newly finalized frames, run-length encoded.
    FrameLabels {
        /// Label runs.
        spans: Vec<LabelSpan>,
    },
    /// A speaker turn (filled by diarization).
    SpeakerTurn {
        /// Start (s).
        start: f64,
        /// End (s).
        end: f64,
        /// Speaker id.
        speaker: String,
    },
    /// Pipeline statistics.
    Stats(Stats),
    /// Something went wrong; the pipeline stops after sending it.
    Error {
        /// What went wrong.
        message: String,
    },
    /// The stream ended and everything was flushed.
    Finished,
}
