//! Greedy CTC decoding: best class per frame, collapse repeats, drop blanks, and turn the word
//! delimiter into word boundaries with start/end times.
//!
//! The decoder is incremental ([`GreedyCtc::push_frame`]) so the offline and the live paths run
//! the same code; frame numbers are absolute (frame 0 is the first frame of the stream).

use serde::Serialize;

use crate::manifest::Vocab;

/// One decoded character (token) with the model frames it spans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenSpan {
    /// Token id.
    pub id: usize,
    /// First frame of the run of this token (absolute).
    pub start_frame: u64,
    /// One past the last frame of the run (absolute).
    pub end_frame: u64,
}

/// A decoded word with times in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Word {
    /// Start time (s).
    pub start: f64,
    /// End time (s).
    pub end: f64,
    /// The word's text.
    pub text: String,
}

/// Words' texts joined by single spaces.
pub fn join_words(words: &[Word]) -> String {
    words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Index of the largest value (the first one on ties, like `torch.argmax`).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    let mut best_v = f32::NEG_INFINITY;
    for (i, &v) in row.iter().enumerate() {
        if v > best_v {
            best = i;
            best_v = v;
        }
    }
    best
}

/// Incremental greedy CTC decoder.
#[derive(Debug, Clone)]
pub struct GreedyCtc {
    tokens: Vec<String>,
    blank: usize,
    delimiter: Option<usize>,
    /// Tokens never printed (`<s>`, `</s>`, `<unk>` and the like).
    silent: Vec<bool>,
    prev: Option<usize>,
    next_frame: u64,
    spans: Vec<TokenSpan>,
}

impl GreedyCtc {
    /// A decoder for a vocabulary.
    pub fn new(vocab: &Vocab) -> GreedyCtc {
        let delimiter = vocab
            .word_delimiter
            .as_ref()
            .and_then(|d| vocab.tokens.iter().position(|t| t == d));
        let silent = vocab
            .tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                i == vocab.blank_id || (t.starts_with('<') && t.ends_with('>') && t.len() > 2)
            })
            .collect();
        GreedyCtc {
            tokens: vocab.tokens.clone(),
            blank: vocab.blank_id,
            delimiter,
            silent,
            prev: None,
            next_frame: 0,
            spans: Vec::new(),
        }
    }

    /// Feeds the best class of the next frame.
    pub fn push_id(&mut self, id: usize) {
        let frame = self.next_frame;
        self.next_frame += 1;
        if Some(id) == self.prev {
            if let Some(last) = self.spans.last_mut() {
                if last.id == id && last.end_frame == frame {
                    last.end_frame = frame + 1;
                }
            }
            return;
        }
        self.prev = Some(id);
        if id < self.silent.len() && !self.silent[id] {
            self.spans.push(TokenSpan {
                id,
                start_frame: frame,
                end_frame: frame + 1,
            });
        }
    }

    /// Feeds the logits of the next frame.
    pub fn push_frame(&mut self, logits: &[f32]) {
        self.push_id(argmax(logits));
    }

    /// Feeds consecutive frames of a row-major `[frames, vocab]` logits block.
    pub fn push_frames(&mut self, logits: &[f32], vocab: usize) {
        for row in logits.chunks_exact(vocab) {
            self.push_frame(row);
        }
    }

    /// Number of frames fed so far.
    pub fn frames(&self) -> u64 {
        self.next_frame
    }

    /// Decoded tokens so far.
    pub fn spans(&self) -> &[TokenSpan] {
        &self.spans
    }

    /// The blank id.
    pub fn blank(&self) -> usize {
        self.blank
    }

    /// Decoded text so far (words separated by one space, no leading/trailing space).
    pub fn text(&self) -> String {
        join_words(&self.words(1.0))
    }

    /// Decoded words so far; `frame_s` is the duration of one model frame in seconds.
    pub fn words(&self, frame_s: f64) -> Vec<Word> {
        words_from_spans(&self.spans, &self.tokens, self.delimiter, frame_s)
    }

    /// Token strings by id.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// Id of the word delimiter, if the vocabulary has one.
    pub fn delimiter(&self) -> Option<usize> {
        self.delimiter
    }

    /// Jumps to absolute frame `frame` (after lost audio): the next frame fed is that one, and
    /// a token before the gap never merges with one after it.
    pub fn skip_to(&mut self, frame: u64) {
        if frame > self.next_frame {
            self.next_frame = frame;
            self.prev = None;
        }
    }

    /// End frame of the last word delimiter decoded so far (a safe place to cut a segment).
    pub fn last_word_boundary(&self) -> Option<u64> {
        self.spans
            .iter()
            .rev()
            .find(|s| Some(s.id) == self.delimiter)
            .map(|s| s.end_frame)
    }

    /// Drops decoded tokens that end at or before `frame` (absolute) and returns them; used by
    /// the live path to hand finished text over and keep memory bounded.
    pub fn take_until(&mut self, frame: u64) -> Vec<TokenSpan> {
        let n = self
            .spans
            .iter()
            .take_while(|s| s.end_frame <= frame)
            .count();
        self.spans.drain(..n).collect()
    }
}

/// Groups token spans into words. A word starts at its first character's first frame and ends
/// at its last character's last frame (transformers' `output_word_offsets` convention).
pub fn words_from_spans(
    spans: &[TokenSpan],
    tokens: &[String],
    delimiter: Option<usize>,
    frame_s: f64,
) -> Vec<Word> {
    let mut words = Vec::new();
    let mut text = String::new();
    let mut start = 0u64;
    let mut end = 0u64;
    let mut flush = |text: &mut String, start: u64, end: u64| {
        if !text.is_empty() {
            words.push(Word {
                start: start as f64 * frame_s,
                end: end as f64 * frame_s,
                text: std::mem::take(text),
            });
        }
    };
    for span in spans {
        if Some(span.id) == delimiter {
            flush(&mut text, start, end);
            continue;
        }
        let token = tokens.get(span.id).map(String::as_str).unwrap_or("");
        // Tokens that contain spaces (word-piece vocabularies) split words too.
        for (i, part) in token.split(' ').enumerate() {
            if i > 0 {
                flush(&mut text, start, end);
            }
            if part.is_empty() {
                continue;
            }
            if text.is_empty() {
                start = span.start_frame;
            }
            text.push_str(part);
            end = span.end_frame;
        }
    }
    flush(&mut text, start, end);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocab {
        let tokens = ["<pad>", "<s>", "</s>", "<unk>", "|", "A", "B", "C", "'"];
        Vocab {
            tokens: tokens.iter().map(|s| s.to_string()).collect(),
            blank_id: 0,
            word_delimiter: Some("|".into()),
        }
    }

    fn decode(ids: &[usize]) -> GreedyCtc {
        let mut d = GreedyCtc::new(&vocab());
        for &id in ids {
            d.push_id(id);
        }
        d
    }

    #[test]
    fn collapses_repeats_and_drops_blanks() {
        // A A _ A B B | C -> "AAB C" (the blank separates the two A runs).
        let d = decode(&[5, 5, 0, 5, 6, 6, 4, 7]);
        assert_eq!(d.text(), "AAB C");
    }

    #[test]
    fn repeated_letters_need_a_blank() {
        assert_eq!(decode(&[5, 5, 5]).text(), "A");
        assert_eq!(decode(&[5, 0, 5]).text(), "AA");
    }

    #[test]
    fn delimiters_collapse_and_trim() {
        assert_eq!(decode(&[4, 4, 5, 4, 0, 4, 6, 4]).text(), "A B");
        assert_eq!(decode(&[0, 0, 0]).text(), "");
    }

    #[test]
    fn special_tokens_are_silent() {
        assert_eq!(decode(&[1, 5, 3, 6, 2]).text(), "AB");
    }

    #[test]
    fn word_times_follow_frames() {
        // frames: 0:_ 1:A 2:A 3:B 4:| 5:_ 6:C 7:' 8:_
        let d = decode(&[0, 5, 5, 6, 4, 0, 7, 8, 0]);
        let words = d.words(0.02);
        assert_eq!(words.len(), 2);
        assert_eq!(words[0].text, "AB");
        assert!((words[0].start - 0.02).abs() < 1e-12);
        assert!((words[0].end - 0.08).abs() < 1e-12);
        assert_eq!(words[1].text, "C'");
        assert!((words[1].start - 0.12).abs() < 1e-12);
        assert!((words[1].end - 0.16).abs() < 1e-12);
    }

    #[test]
    fn argmax_takes_first_maximum() {
        assert_eq!(argmax(&[0.0, 2.0, 2.0, 1.0]), 1);
        assert_eq!(argmax(&[-3.0, -1.0]), 1);
    }

    #[test]
    fn push_frames_matches_push_id() {
        let v = 9;
        let ids = [5usize, 5, 0, 6, 4, 7];
        let mut logits = vec![0f32; ids.len() * v];
        for (f, &id) in ids.iter().enumerate() {
            logits[f * v + id] = 1.0;
        }
        let mut d = GreedyCtc::new(&vocab());
        d.push_frames(&logits, v);
        assert_eq!(d.text(), decode(&ids).text());
        assert_eq!(d.frames(), 6);
    }

    #[test]
    fn take_until_hands_over_finished_tokens() {
        let mut d = decode(&[5, 0, 6, 6, 0, 7]);
        let done = d.take_until(4);
        assert_eq!(done.iter().map(|s| s.id).collect::<Vec<_>>(), vec![5, 6]);
        assert_eq!(d.spans().len(), 1);
    }
}
