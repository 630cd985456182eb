//! The live pipeline: streaming equals offline, arbitrary chunking through the ring, overload
//! shedding and recovery, clean stop and end-of-file flush.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hark::events::{Event, Stats};
use hark::model::{ModelBundle, ModelError, ModelOutput};
use hark::pipeline::{LiveConfig, Pipeline};
use hark::source::{MemorySource, Pace};
use hark::stitch::{Infer, Stitcher};
use hark::transcribe::{run_windows, transcript_from, OfflineOptions};
use hark::transcript::AudioInfo;
use hark::window::WindowConfig;

fn fixture(name: &str) -> Arc<ModelBundle> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    Arc::new(ModelBundle::load(&dir).unwrap())
}

/// Speech-like test signal (harmonics with a moving pitch, syllable-like envelope and pauses).
fn speechlike(seconds: f64) -> Vec<f32> {
    let n = (seconds * 16000.0) as usize;
    let mut phase = 0f64;
    let mut state = 12345u64;
    (0..n)
        .map(|i| {
            let t = i as f64 / 16000.0;
            phase += 2.0 * std::f64::consts::PI * (130.0 + 50.0 * (1.7 * t).sin()) / 16000.0;
            let env = ((t * 3.1).sin().max(0.0) * (t * 0.7).cos().abs()).powf(0.5);
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.02;
            ((1..6)
                .map(|k| (k as f64 * phase).sin() / k as f64)
                .sum::<f64>()
                * 0.2
                * env
                + noise) as f32
        })
        .collect()
}

fn live_cfg() -> LiveConfig {
    LiveConfig {
        partial_every_s: 0.0,
        ..Default::default()
    }
}

fn offline_opts(cfg: &LiveConfig) -> OfflineOptions {
    OfflineOptions {
        left_s: cfg.left_s,
        centre_s: cfg.centre_s,
        right_s: cfg.right_s,
        ..Default::default()
    }
}

/// Tiny deterministic generator for chunk sizes.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

#[test]
fn stitched_stream_equals_offline_for_any_chunking() {
    let model = fixture("rotary-frame");
    let audio = speechlike(7.3);
    let cfg = live_cfg();
    let offline = run_windows(&model, &audio, &offline_opts(&cfg), &mut |_, _| {}).unwrap();
    let frame_s = 0.02;
    let wcfg = WindowConfig::from_seconds(cfg.left_s, cfg.centre_s, cfg.right_s, frame_s);
    let mut rng = Lcg(7);
    for round in 0..6 {
        let mut st = Stitcher::new(model.clone(), wcfg);
        let mut blocks = Vec::new();
        let mut pos = 0;
        while pos < audio.len() {
            let n = match round {
                0 => 1,
                1 => 320,
                _ => 1 + rng.below(5000),
            }
            .min(audio.len() - pos);
            st.push(&audio[pos..pos + n], &mut blocks).unwrap();
            pos += n;
            if round == 0 && pos > 20_000 {
                // one sample at a time is slow; finish in big pieces
                st.push(&audio[pos..], &mut blocks).unwrap();
                pos = audio.len();
            }
        }
        st.finish(&mut blocks).unwrap();
        let mut labels = Vec::new();
        let mut next = 0;
        for b in &blocks {
            assert_eq!(b.first_frame, next, "blocks must be consecutive");
            next += b.frames as u64;
            labels.extend_from_slice(b.labels.as_ref().unwrap());
        }
        assert_eq!(next as usize, offline.frames);
        assert_eq!(
            &labels,
            offline.frame_logits.as_ref().unwrap(),
            "round {round}"
        );
    }
}

#[test]
fn stitched_frames_match_full_context_away_from_edges() {
    // Per-window normalization and the limited context make stitched logits differ slightly
    // from one full-context run; frames farther than the window context from any edge must
    // agree within 0.1 (logits of spread ~0.7 in this fixture; measured 0.028 with 3 s of
    // context on each side).
    let model = fixture("rotary-frame");
    let audio = speechlike(12.0);
    let cfg = LiveConfig {
        left_s: 3.0,
        centre_s: 2.0,
        right_s: 3.0,
        ..live_cfg()
    };
    let offline = run_windows(&model, &audio, &offline_opts(&cfg), &mut |_, _| {}).unwrap();
    let mut x = Vec::new();
    hark::features::prepare_into(&audio, true, &mut x);
    let full = model.run(&x).unwrap();
    let full = &full.outputs[0];
    let d = full.shape[1];
    let stitched = offline.frame_logits.unwrap();
    let margin = ((cfg.left_s.max(cfg.right_s)) / 0.02) as usize;
    let frames = full.shape[0];
    let mut worst = 0f32;
    for f in margin..frames - margin {
        for k in 0..d {
            worst = worst.max((full.data[f * d + k] - stitched[f * d + k]).abs());
        }
    }
    eprintln!("max |stitched - full| beyond {margin} frames from the edges: {worst:.4}");
    assert!(worst < 0.1, "{worst}");
}

fn collect(p: Pipeline, timeout: Duration) -> Vec<Event> {
    let t = Instant::now();
    let mut events = Vec::new();
    loop {
        match p.events().recv_timeout(Duration::from_millis(200)) {
            Ok(Event::Finished) => {
                events.push(Event::Finished);
                break;
            }
            Ok(ev) => events.push(ev),
            Err(_) => {}
        }
        assert!(
            t.elapsed() < timeout,
            "pipeline did not finish in {timeout:?}"
        );
    }
    p.join();
    events
}

fn final_words(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Final(s) => Some(s.text.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The offline transcript of `audio` (16 kHz) with the windows of `cfg`.
fn offline_text(model: &Arc<ModelBundle>, audio: &[f32], cfg: &LiveConfig) -> String {
    let opts = offline_opts(cfg);
    let stitched = run_windows(model, audio, &opts, &mut |_, _| {}).unwrap();
    let info = AudioInfo {
        path: String::new(),
        duration_s: audio.len() as f64 / 16000.0,
        sample_rate: 16000,
    };
    transcript_from(model, &stitched, info, &opts).text()
}

/// Every segment's `FinalWords` come before its `Final` and are, in order, the first words of
/// it (same text, same times). Returns how many words were final before their segment closed.
fn check_final_words(events: &[Event]) -> usize {
    let mut early: std::collections::HashMap<u64, Vec<hark::ctc::Word>> = Default::default();
    let mut total = 0;
    for e in events {
        match e {
            Event::FinalWords { segment, words } => early
                .entry(*segment)
                .or_default()
                .extend(words.iter().cloned()),
            Event::Final(seg) => {
                let before = early.remove(&seg.segment).unwrap_or_default();
                assert!(
                    seg.words.starts_with(&before),
                    "segment {}: final words {before:?} are not a prefix of {:?}",
                    seg.segment,
                    seg.words
                );
                total += before.len();
            }
            _ => {}
        }
    }
    assert!(
        early.is_empty(),
        "final words of unclosed segments: {early:?}"
    );
    total
}

#[test]
fn pipeline_text_equals_offline_for_random_chunks() {
    let model = fixture("rotary-ctc");
    let audio = speechlike(6.5);
    let cfg = live_cfg();
    let offline = offline_text(&model, &audio, &cfg);
    assert!(!offline.is_empty());
    let mut rng = Lcg(99);
    for _ in 0..4 {
        let chunks: Vec<usize> = (0..17).map(|_| 1 + rng.below(3000)).collect();
        let src = MemorySource::new(audio.clone(), 16000, Pace::Max).with_chunks(chunks.clone());
        let p = Pipeline::start(model.clone(), Box::new(src), cfg).unwrap();
        let events = collect(p, Duration::from_secs(60));
        assert_eq!(final_words(&events), offline, "chunks {chunks:?}");
        assert!(check_final_words(&events) > 0, "no word was final early");
        assert!(matches!(events.last(), Some(Event::Finished)));
    }
}

/// A model that is slow for its first `slow_calls` calls.
struct Slow {
    inner: Arc<ModelBundle>,
    calls: AtomicUsize,
    slow_calls: usize,
    delay: Duration,
}

impl Infer for Slow {
    fn bundle(&self) -> &ModelBundle {
        &self.inner
    }
    fn infer(&self, input: &[f32]) -> Result<ModelOutput, ModelError> {
        if self.calls.fetch_add(1, Ordering::Relaxed) < self.slow_calls {
            std::thread::sleep(self.delay);
        }
        self.inner.run(input)
    }
}

#[test]
fn overload_drops_audio_then_recovers() {
    let model = Arc::new(Slow {
        inner: fixture("rotary-ctc"),
        calls: AtomicUsize::new(0),
        slow_calls: 12,
        delay: Duration::from_millis(250),
    });
    // 40 s of audio replayed at 4x (10 s of wall time): while the model is slow, a window
    // (0.6 s of new audio, 0.15 s of wall time at 4x) takes 250 ms, so the backlog passes
    // max_lag; after 12 slow calls the model is fast again and the pipeline catches up.
    let audio = speechlike(40.0);
    let cfg = LiveConfig {
        max_lag_s: 1.0,
        ring_s: 2.0,
        ..live_cfg()
    };
    let src = MemorySource::new(audio, 16000, Pace::Speed(4.0));
    let p = Pipeline::start(model, Box::new(src), cfg).unwrap();
    let events = collect(p, Duration::from_secs(60));
    let stats: Vec<Stats> = events
        .iter()
        .filter_map(|e| {
            if let Event::Stats(s) = e {
                Some(*s)
            } else {
                None
            }
        })
        .collect();
    let last = stats.last().expect("stats");
    eprintln!("final stats: {last:?}");
    assert!(
        stats.iter().any(|s| s.falling_behind),
        "never reported falling behind"
    );
    assert!(last.dropped_s > 0.5, "dropped {}", last.dropped_s);
    assert!(
        last.dropped_s < 25.0,
        "dropped nearly everything: {}",
        last.dropped_s
    );
    assert!(!last.falling_behind, "did not recover");
    assert!(stats.iter().all(|s| s.ring_fill <= 1.0));
    // Audio after the overload was still captioned.
    let late = events
        .iter()
        .any(|e| matches!(e, Event::Final(s) if s.end > 30.0));
    assert!(late, "no captions after recovery");
}

#[test]
fn stop_flushes_what_was_heard() {
    let model = fixture("rotary-ctc");
    let audio = speechlike(20.0);
    let src = MemorySource::new(audio, 16000, Pace::Speed(4.0));
    let p = Pipeline::start(model, Box::new(src), live_cfg()).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let t = Instant::now();
    p.stop();
    let events = collect(p, Duration::from_secs(20));
    eprintln!("stopped in {:?}", t.elapsed());
    assert!(matches!(events.last(), Some(Event::Finished)));
    let end = events
        .iter()
        .filter_map(|e| {
            if let Event::Final(s) = e {
                Some(s.end)
            } else {
                None
            }
        })
        .fold(0.0, f64::max);
    // About 4.8 s were heard before the stop; all of it is finalized, nothing after.
    assert!(end > 3.0 && end < 8.0, "last final ends at {end}");
}

#[test]
fn slow_consumer_loses_no_final_text() {
    let model = fixture("rotary-ctc");
    let audio = speechlike(6.5);
    let cfg = LiveConfig {
        partial_every_s: 0.2,
        channel_capacity: 1,
        ..live_cfg()
    };
    let offline = offline_text(&model, &audio, &cfg);
    let src = MemorySource::new(audio, 16000, Pace::Speed(8.0));
    let p = Pipeline::start(model, Box::new(src), cfg).unwrap();
    // A consumer far slower than the pipeline: replay at 8x (a partial every 25 ms of wall
    // time), a one-event channel, 150 ms per event.
    let t = Instant::now();
    let mut events = Vec::new();
    loop {
        let ev = p
            .events()
            .recv_timeout(Duration::from_secs(30))
            .expect("pipeline stalled");
        std::thread::sleep(Duration::from_millis(150));
        let done = matches!(ev, Event::Finished);
        events.push(ev);
        if done {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "did not finish");
    }
    p.join();
    assert_eq!(final_words(&events), offline);
    assert!(check_final_words(&events) > 0, "no word was final early");
}

/// A model that remembers the inputs it was given.
struct Recording {
    inner: Arc<ModelBundle>,
    inputs: std::sync::Mutex<Vec<Vec<f32>>>,
}

impl Infer for Recording {
    fn bundle(&self) -> &ModelBundle {
        &self.inner
    }
    fn infer(&self, input: &[f32]) -> Result<ModelOutput, ModelError> {
        self.inputs.lock().unwrap().push(input.to_vec());
        self.inner.run(input)
    }
}

/// Runs `audio` through a fresh stitcher with `pad` samples of end padding (`None`: the
/// default); returns the windows the model saw and the stitched frame count.
fn stitch_recorded(audio: &[f32], pad: Option<usize>) -> (Vec<Vec<f32>>, u64) {
    let rec = Arc::new(Recording {
        inner: fixture("rotary-frame"),
        inputs: Default::default(),
    });
    let wcfg = WindowConfig::from_seconds(1.0, 1.0, 0.4, 0.02);
    let mut st = Stitcher::new(rec.clone(), wcfg);
    if let Some(p) = pad {
        st.set_end_padding(p);
    }
    let mut blocks = Vec::new();
    st.push(audio, &mut blocks).unwrap();
    st.finish(&mut blocks).unwrap();
    let frames = blocks.iter().map(|b| b.frames as u64).sum();
    assert_eq!(frames, st.next_frame());
    let inputs = rec.inputs.lock().unwrap().clone();
    (inputs, frames)
}

#[test]
fn last_window_ends_in_silence_that_is_dropped() {
    // 3.33 s: not a whole number of frames, longer than one window (2.4 s).
    let audio = speechlike(3.33);
    let m = fixture("rotary-frame").manifest().clone();
    let (hop, field) = (m.frame_hop(), m.receptive_field());
    let frames_for = |n: usize| m.frames_for(n) as u64;
    let pad = (hark::stitch::END_PADDING_S * 16000.0).round() as usize;
    assert_eq!(pad, 4000);

    let (windows, frames) = stitch_recorded(&audio, None);
    // The padding's frames are computed, then dropped: frames and times are the audio's own.
    assert_eq!(frames, frames_for(audio.len()));
    let last = windows.last().unwrap();
    // Full windows share one length (one plan), the padded last one too.
    assert!(
        windows.iter().all(|w| w.len() == last.len()),
        "window lengths differ"
    );
    assert_eq!(
        last.len(),
        119 * hop + field,
        "not a full window (120 frames)"
    );
    // It ends in the padding (all of it that fits a whole frame): zeros, normalized with the
    // window to one constant value c, after the stream's last samples, every one of them (also
    // those the last whole frame did not use): (x - mean) / std - c = x / std.
    let first = frames_for(audio.len() + pad) as usize - 120;
    let src = &audio[first * hop..];
    let (real, tail) = last.split_at(src.len());
    assert!(tail.len() > pad - hop, "{} samples of padding", tail.len());
    assert!(
        tail.iter().all(|&x| x == tail[0]),
        "the padding is not silence"
    );
    let (i, _) =
        src.iter().enumerate().fold(
            (0, 0f32),
            |m, (i, &x)| if x.abs() > m.1 { (i, x.abs()) } else { m },
        );
    let scale = (real[i] - tail[0]) / src[i];
    for (r, x) in real.iter().zip(src) {
        assert!(((r - tail[0]) - x * scale).abs() < 1e-4, "{r} vs {x}");
    }

    // Without padding the last window ends at the last whole frame, as before.
    let (windows, frames) = stitch_recorded(&audio, Some(0));
    assert_eq!(frames, frames_for(audio.len()));
    let last = windows.last().unwrap();
    let unused = audio.len() - ((frames_for(audio.len()) as usize - 1) * hop + field);
    let k = last.len();
    assert_eq!(k, 119 * hop + field);
    let mut expect = audio[audio.len() - unused - k..audio.len() - unused].to_vec();
    hark::features::normalize(&mut expect);
    assert_eq!(last, &expect);

    // A stream shorter than a window: one window, the whole stream plus the padding.
    let short = &audio[..16000];
    let (windows, frames) = stitch_recorded(short, None);
    assert_eq!(frames, frames_for(short.len()));
    assert_eq!(windows.len(), 1);
    assert_eq!(
        windows[0].len(),
        (frames_for(short.len() + pad) as usize - 1) * hop + field
    );
}
