//! Captioning: turns stitched frame blocks into caption events. Finalized frames feed an
//! incremental greedy CTC decoder; a word is final as soon as a word delimiter follows it in
//! finalized frames ([`Event::FinalWords`]); endpointing closes segments ([`Event::Final`]);
//! tentative frames (decoded without right context) give the open segment's
//! [`Event::Partial`] text; frame-classification logits become [`Event::FrameLabels`].

use crate::ctc::{argmax, GreedyCtc};
use crate::events::{Event, FinalSegment};
use crate::manifest::Manifest;
use crate::stitch::Block;
use crate::transcript::{label_spans, LabelSpan};

/// When a segment ends: three rules in seconds, as a pure function ([`EndpointRules::check`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EndpointRules {
    /// Trailing non-token time after some text that closes a segment.
    pub trailing_silence_s: f64,
    /// Segment length that forces a close (at the last word boundary).
    pub max_segment_s: f64,
    /// Leading silence without any text after which the segment start moves on.
    pub idle_reset_s: f64,
}

impl Default for EndpointRules {
    fn default() -> Self {
        EndpointRules {
            trailing_silence_s: 0.8,
            max_segment_s: 12.0,
            idle_reset_s: 2.0,
        }
    }
}

/// What endpointing decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Keep going.
    None,
    /// Close the segment: silence after text.
    Silence,
    /// Close the segment: too long.
    TooLong,
    /// No text yet and a long silence: move the segment start.
    Idle,
}

impl EndpointRules {
    /// Decides from the segment's duration, the time since the last token, and whether any text
    /// was decoded in it.
    pub fn check(&self, segment_s: f64, trailing_s: f64, has_text: bool) -> Endpoint {
        if has_text && trailing_s >= self.trailing_silence_s {
            Endpoint::Silence
        } else if has_text && segment_s >= self.max_segment_s {
            Endpoint::TooLong
        } else if !has_text && trailing_s >= self.idle_reset_s {
            Endpoint::Idle
        } else {
            Endpoint::None
        }
    }
}

/// Caption state of one stream.
#[derive(Debug, Clone)]
pub struct Captioner {
    ctc: Option<GreedyCtc>,
    vocab: usize,
    labels: Option<Vec<String>>,
    frame_s: f64,
    rules: EndpointRules,
    segment: u64,
    segment_start: u64,
    /// Words of the open segment already sent in [`Event::FinalWords`].
    committed: usize,
    last_partial: String,
}

impl Captioner {
    /// A captioner for a model's outputs.
    pub fn new(manifest: &Manifest, rules: EndpointRules) -> Captioner {
        Captioner {
            ctc: manifest.vocab.as_ref().map(GreedyCtc::new),
            vocab: manifest.vocab.as_ref().map(|v| v.tokens.len()).unwrap_or(0),
            labels: manifest.id2label.clone(),
            frame_s: manifest.frame_hop() as f64 / manifest.sample_rate as f64,
            rules,
            segment: 0,
            segment_start: 0,
            committed: 0,
            last_partial: String::new(),
        }
    }

    /// Seconds per frame.
    pub fn frame_s(&self) -> f64 {
        self.frame_s
    }

    fn close(&mut self, until: u64, events: &mut Vec<Event>) {
        let Some(ctc) = self.ctc.as_mut() else { return };
        let spans = ctc.take_until(until);
        let words =
            crate::ctc::words_from_spans(&spans, ctc.tokens(), ctc.delimiter(), self.frame_s);
        if !words.is_empty() {
            events.push(Event::Final(FinalSegment {
                segment: self.segment,
                start: words[0].start,
                end: words[words.len() - 1].end,
                text: crate::ctc::join_words(&words),
                words,
            }));
            self.segment += 1;
        }
        self.segment_start = until;
        self.committed = 0;
        self.last_partial.clear();
    }

    /// Sends the open segment's words that a finalized word delimiter now follows.
    fn commit(&mut self, events: &mut Vec<Event>) {
        let Some(ctc) = self.ctc.as_ref() else { return };
        let Some(delimiter) = ctc.delimiter() else {
            return;
        };
        let spans = ctc.spans();
        let Some(last) = spans.iter().rposition(|s| s.id == delimiter) else {
            return;
        };
        let words = crate::ctc::words_from_spans(
            &spans[..=last],
            ctc.tokens(),
            Some(delimiter),
            self.frame_s,
        );
        if words.len() > self.committed {
            events.push(Event::FinalWords {
                segment: self.segment,
                words: words[self.committed..].to_vec(),
            });
            self.committed = words.len();
        }
    }

    /// Feeds finalized frames.
    pub fn accept(&mut self, block: &Block, events: &mut Vec<Event>) {
        if let Some(names) = &self.labels {
            if block.labels.is_some() {
                let spans = block_label_spans(block, names, self.frame_s);
                events.push(Event::FrameLabels { spans });
            }
        }
        let (Some(logits), vocab) = (&block.ctc, self.vocab) else {
            return;
        };
        let ctc = self.ctc.as_mut().expect("vocab with ctc");
        if ctc.frames() < block.first_frame {
            // A gap (dropped audio): close what is open, restart decoding after it.
            let at = ctc.frames();
            self.close(at, events);
            let ctc = self.ctc.as_mut().expect("vocab with ctc");
            ctc.skip_to(block.first_frame);
            self.segment_start = block.first_frame;
        }
        for row in logits.chunks_exact(vocab) {
            let ctc = self.ctc.as_mut().expect("vocab with ctc");
            ctc.push_frame(row);
            let now = ctc.frames();
            let last_token_end = ctc.spans().last().map(|s| s.end_frame);
            let has_text = last_token_end.is_some();
            let trailing = (now
                - last_token_end
                    .unwrap_or(self.segment_start)
                    .max(self.segment_start)) as f64
                * self.frame_s;
            let seg_len = (now - self.segment_start) as f64 * self.frame_s;
            match self.rules.check(seg_len, trailing, has_text) {
                Endpoint::None => {}
                Endpoint::Silence => self.close(now, events),
                Endpoint::TooLong => {
                    let cut = ctc.last_word_boundary().unwrap_or(now);
                    self.close(cut, events);
                }
                Endpoint::Idle => self.segment_start = now,
            }
        }
        self.commit(events);
    }

    /// Decodes tentative frames (no right context) on a copy of the decoder and returns the
    /// open segment's text as a partial, if it changed.
    pub fn partial(&mut self, tentative: &Block, events: &mut Vec<Event>) {
        let (Some(ctc), Some(logits)) = (&self.ctc, &tentative.ctc) else {
            return;
        };
        let mut probe = ctc.clone();
        if probe.frames() != tentative.first_frame {
            return;
        }
        probe.push_frames(logits, self.vocab);
        let text = probe.text();
        if text != self.last_partial {
            self.last_partial.clone_from(&text);
            events.push(Event::Partial {
                segment: self.segment,
                text,
            });
        }
    }

    /// End of stream: closes the open segment.
    pub fn finish(&mut self, events: &mut Vec<Event>) {
        let end = self.ctc.as_ref().map(|c| c.frames()).unwrap_or(0);
        self.close(end, events);
    }
}

/// Frame-label spans of a block, for callers that collect labels themselves.
pub fn block_label_spans(block: &Block, names: &[String], frame_s: f64) -> Vec<LabelSpan> {
    let Some(logits) = &block.labels else {
        return Vec::new();
    };
    let ids: Vec<usize> = logits.chunks_exact(names.len()).map(argmax).collect();
    let mut fl = label_spans(&ids, names, frame_s);
    let offset = block.first_frame as f64 * frame_s;
    for s in fl.spans.iter_mut() {
        s.start += offset;
        s.end += offset;
    }
    fl.spans
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest with vocabulary `<pad> | A B C` and 20 ms frames.
    fn manifest() -> Manifest {
        serde_json::from_str(
            r#"{"format_version": 1, "model_type": "wav2vec2-conformer",
            "architectures": ["Wav2Vec2ConformerForCTC"], "onnx": "model.onnx",
            "input_name": "input_values",
            "outputs": [{"name": "logits", "kind": "ctc_logits", "dim": 5}],
            "sample_rate": 16000, "conv_kernel": [10, 8, 4], "conv_stride": [5, 8, 8],
            "do_normalize": true, "position_embeddings_type": "rotary",
            "vocab": {"tokens": ["<pad>", "|", "A", "B", "C"], "blank_id": 0,
                      "word_delimiter": "|"}}"#,
        )
        .unwrap()
    }

    /// A finalized block whose frames decode to `ids` (one-hot logits).
    fn block(first_frame: u64, ids: &[usize]) -> Block {
        let mut ctc = vec![0f32; ids.len() * 5];
        for (f, &id) in ids.iter().enumerate() {
            ctc[f * 5 + id] = 1.0;
        }
        Block {
            first_frame,
            frames: ids.len(),
            ctc: Some(ctc),
            labels: None,
            xvector: None,
            compute_s: 0.0,
            window_samples: 0,
        }
    }

    fn final_words(events: &[Event]) -> Vec<(u64, String)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::FinalWords { segment, words } => Some(
                    words
                        .iter()
                        .map(|w| (*segment, w.text.clone()))
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn words_become_final_once_a_delimiter_follows() {
        let mut c = Captioner::new(&manifest(), EndpointRules::default());
        let mut events = Vec::new();
        // "AB" then blanks: not final yet, the word may still grow.
        c.accept(&block(0, &[2, 2, 0, 3, 0, 0]), &mut events);
        assert!(final_words(&events).is_empty(), "{events:?}");
        // A delimiter after it: "AB" is final, with its frame times.
        c.accept(&block(6, &[1, 4, 4, 0]), &mut events);
        assert_eq!(final_words(&events), [(0, "AB".to_string())]);
        let Some(Event::FinalWords { words, .. }) = events.last() else {
            panic!("{events:?}")
        };
        assert_eq!((words[0].start, words[0].end), (0.0, 4.0 * 0.02));
        // "C" then "A", each closed by a delimiter in one block: sent together, once.
        events.clear();
        c.accept(&block(10, &[1, 2, 1, 0]), &mut events);
        assert_eq!(
            final_words(&events),
            [(0, "C".to_string()), (0, "A".to_string())]
        );
        events.clear();
        c.accept(&block(14, &[0, 0]), &mut events);
        assert!(events.is_empty(), "{events:?}");
        // The segment's Final repeats every word, including the last one never followed by a
        // delimiter; the next segment counts its final words from zero.
        c.accept(&block(16, &[3]), &mut events);
        c.finish(&mut events);
        let Some(Event::Final(seg)) = events.last() else {
            panic!("{events:?}")
        };
        assert_eq!((seg.segment, seg.text.as_str()), (0, "AB C A B"));
        events.clear();
        c.accept(&block(17, &[2, 1]), &mut events);
        assert_eq!(final_words(&events), [(1, "A".to_string())]);
    }

    #[test]
    fn endpoint_rules() {
        let r = EndpointRules::default();
        assert_eq!(r.check(3.0, 0.2, true), Endpoint::None);
        assert_eq!(r.check(3.0, 0.8, true), Endpoint::Silence);
        assert_eq!(r.check(12.0, 0.1, true), Endpoint::TooLong);
        assert_eq!(r.check(3.0, 1.5, false), Endpoint::None);
        assert_eq!(r.check(3.0, 2.0, false), Endpoint::Idle);
    }
}
