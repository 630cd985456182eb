//! The transcript of a file (the JSON schema of `hark transcribe --format json`) and its
//! writers: plain text, JSON, SubRip (SRT) and WebVTT.
//!
//! JSON schema (times in seconds; `?` marks optional fields):
//! `{"audio": {"path", "duration_s", "sample_rate"}, "segments": [{"start", "end", "speaker"?,
//! "text", "words": [{"start", "end", "text"}]}], "frame_labels"?: {"hop_s", "spans":
//! [{"start", "end", "label"}]}, "speakers"?: [{"id", "total_s"}]}`

use std::fmt::Write as _;

use serde::Serialize;

use crate::ctc::Word;

/// Where the audio came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudioInfo {
    /// Input path as given.
    pub path: String,
    /// Duration in seconds.
    pub duration_s: f64,
    /// The file's own sample rate in Hz (before resampling).
    pub sample_rate: u32,
}

/// A caption segment: a run of words between pauses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// Start (s): the first word's start.
    pub start: f64,
    /// End (s): the last word's end.
    pub end: f64,
    /// Speaker id, when diarization ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// Words joined by single spaces.
    pub text: String,
    /// The words with their times.
    pub words: Vec<Word>,
}

/// A run of frames with the same label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelSpan {
    /// Start (s).
    pub start: f64,
    /// End (s).
    pub end: f64,
    /// Label name.
    pub label: String,
}

/// Per-frame labels, run-length encoded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameLabels {
    /// Seconds per model frame.
    pub hop_s: f64,
    /// Label runs in time order.
    pub spans: Vec<LabelSpan>,
}

/// Speaking time of one speaker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeakerInfo {
    /// Speaker id.
    pub id: String,
    /// Total speaking time (s).
    pub total_s: f64,
}

/// Everything hark found in one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transcript {
    /// The input.
    pub audio: AudioInfo,
    /// Caption segments in time order.
    pub segments: Vec<Segment>,
    /// Frame labels, when the model has a frame-classification head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_labels: Option<FrameLabels>,
    /// Speakers, when diarization ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speakers: Option<Vec<SpeakerInfo>>,
}

/// When a segment ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentRules {
    /// A pause at least this long (s) between words starts a new segment.
    pub max_pause_s: f64,
    /// A segment is closed once it is this long (s).
    pub max_duration_s: f64,
    /// A segment is closed once its text is this many characters (two 42-character lines).
    pub max_chars: usize,
}

impl Default for SegmentRules {
    fn default() -> Self {
        SegmentRules {
            max_pause_s: 0.6,
            max_duration_s: 7.0,
            max_chars: 84,
        }
    }
}

/// Groups words into segments by [`SegmentRules`].
pub fn segment_words(words: &[Word], rules: SegmentRules) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut current: Vec<Word> = Vec::new();
    let mut chars = 0usize;
    let close = |current: &mut Vec<Word>, segments: &mut Vec<Segment>| {
        if current.is_empty() {
            return;
        }
        let words = std::mem::take(current);
        segments.push(Segment {
            start: words[0].start,
            end: words[words.len() - 1].end,
            speaker: None,
            text: crate::ctc::join_words(&words),
            words,
        });
    };
    for word in words {
        if let Some(last) = current.last() {
            let pause = word.start - last.end;
            let duration = word.end - current[0].start;
            if pause >= rules.max_pause_s
                || duration > rules.max_duration_s
                || chars + 1 + word.text.len() > rules.max_chars
            {
                close(&mut current, &mut segments);
                chars = 0;
            }
        }
        chars += if current.is_empty() { 0 } else { 1 } + word.text.len();
        current.push(word.clone());
    }
    close(&mut current, &mut segments);
    segments
}

/// Run-length encodes per-frame label ids.
pub fn label_spans(ids: &[usize], names: &[String], hop_s: f64) -> FrameLabels {
    let mut spans: Vec<LabelSpan> = Vec::new();
    let mut run_start = 0usize;
    for i in 1..=ids.len() {
        if i == ids.len() || ids[i] != ids[run_start] {
            let label = names
                .get(ids[run_start])
                .cloned()
                .unwrap_or_else(|| format!("label{}", ids[run_start]));
            spans.push(LabelSpan {
                start: run_start as f64 * hop_s,
                end: i as f64 * hop_s,
                label,
            });
            run_start = i;
        }
    }
    FrameLabels { hop_s, spans }
}

/// Output formats of `hark transcribe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per segment.
    Text,
    /// The JSON schema in this module's docs.
    Json,
    /// SubRip subtitles.
    Srt,
    /// WebVTT subtitles.
    Vtt,
}

fn timestamp(t: f64, decimal: char) -> String {
    let ms = (t.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        decimal,
        ms % 1000
    )
}

impl Transcript {
    /// All segment texts joined by spaces.
    pub fn text(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Renders the transcript in a format.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => {
                let mut out = String::new();
                for s in &self.segments {
                    out.push_str(&s.text);
                    out.push('\n');
                }
                out
            }
            Format::Json => {
                let mut out = serde_json::to_string_pretty(self).unwrap_or_default();
                out.push('\n');
                out
            }
            Format::Srt => {
                let mut out = String::new();
                for (i, s) in self.segments.iter().enumerate() {
                    let _ = write!(
                        out,
                        "{}\n{} --> {}\n{}\n\n",
                        i + 1,
                        timestamp(s.start, ','),
                        timestamp(s.end, ','),
                        s.text
                    );
                }
                out
            }
            Format::Vtt => {
                let mut out = String::from("WEBVTT\n\n");
                for s in &self.segments {
                    let _ = write!(
                        out,
                        "{} --> {}\n{}\n\n",
                        timestamp(s.start, '.'),
                        timestamp(s.end, '.'),
                        s.text
                    );
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: f64, end: f64, text: &str) -> Word {
        Word {
            start,
            end,
            text: text.into(),
        }
    }

    fn sample() -> Transcript {
        let words = vec![
            w(0.1, 0.4, "HELLO"),
            w(0.5, 0.9, "WORLD"),
            w(2.0, 2.5, "AGAIN"),
        ];
        Transcript {
            audio: AudioInfo {
                path: "a.wav".into(),
                duration_s: 3.0,
                sample_rate: 16000,
            },
            segments: segment_words(&words, SegmentRules::default()),
            frame_labels: None,
            speakers: None,
        }
    }

    #[test]
    fn pauses_split_segments() {
        let t = sample();
        assert_eq!(t.segments.len(), 2);
        assert_eq!(t.segments[0].text, "HELLO WORLD");
        assert_eq!(t.segments[1].text, "AGAIN");
        assert_eq!(t.text(), "HELLO WORLD AGAIN");
    }

    #[test]
    fn long_text_splits_segments() {
        let words: Vec<Word> = (0..30)
            .map(|i| w(i as f64 * 0.2, i as f64 * 0.2 + 0.15, "WORD"))
            .collect();
        let segs = segment_words(&words, SegmentRules::default());
        assert!(segs.len() > 1);
        assert!(segs.iter().all(|s| s.text.len() <= 84));
    }

    #[test]
    fn srt_and_vtt() {
        let t = sample();
        assert_eq!(
            t.render(Format::Srt),
            "1\n00:00:00,100 --> 00:00:00,900\nHELLO WORLD\n\n2\n00:00:02,000 --> 00:00:02,500\nAGAIN\n\n"
        );
        assert_eq!(
            t.render(Format::Vtt),
            "WEBVTT\n\n00:00:00.100 --> 00:00:00.900\nHELLO WORLD\n\n00:00:02.000 --> 00:00:02.500\nAGAIN\n\n"
        );
        assert_eq!(t.render(Format::Text), "HELLO WORLD\nAGAIN\n");
    }

    #[test]
    fn timestamps_roll_over() {
        assert_eq!(timestamp(3723.4567, ','), "01:02:03,457");
    }

    #[test]
    fn json_schema_fields() {
        let v: serde_json::Value = serde_json::from_str(&sample().render(Format::Json)).unwrap();
        assert_eq!(v["audio"]["path"], "a.wav");
        assert_eq!(v["audio"]["sample_rate"], 16000);
        assert_eq!(v["segments"][0]["words"][1]["text"], "WORLD");
        assert!(v["segments"][0].get("speaker").is_none());
        assert!(v.get("frame_labels").is_none());
    }

    #[test]
    fn label_runs() {
        let names: Vec<String> = ["silence", "speech"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let fl = label_spans(&[0, 0, 1, 1, 1, 0], &names, 0.02);
        assert_eq!(fl.spans.len(), 3);
        assert_eq!(fl.spans[1].label, "speech");
        assert!((fl.spans[1].start - 0.04).abs() < 1e-12);
        assert!((fl.spans[1].end - 0.10).abs() < 1e-12);
    }
}
