//! Streaming benchmark: replays a file through the live pipeline at real time for several
//! window settings and reports streaming RTF, final-text lag (newest audio minus newest final
//! frame, from the pipeline's stats), partial count and ring fill (maximum, and over time), and
//! — when the model recognizes words — caption latency per word: from the word's end in the
//! audio to its first appearance in a partial and as final text (a `FinalWords` event, or the
//! segment's `Final` for its last words) (p50/p95, at speed 1 stream time = wall time).
//!
//! Word and character error rates of each setting's final text against full-context decoding
//! (the whole file in one window) and, given REF_TEXT_FILE, against the reference.
//!
//! `cargo run --release --example stream_bench -- MODEL_DIR AUDIO_FILE [SPEED] [REF_TEXT_FILE]`

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use hark::events::Event;
use hark::metrics::{normalize_text, ErrorRates};
use hark::model::ModelBundle;
use hark::pipeline::{LiveConfig, Pipeline};
use hark::source::{FileSource, Pace};
use hark::transcribe::{transcribe_file, OfflineOptions};
use hark::window::WindowConfig;

fn main() {
    let mut args = std::env::args().skip(1);
    let model_dir = PathBuf::from(args.next().expect("MODEL_DIR"));
    let audio = PathBuf::from(args.next().expect("AUDIO_FILE"));
    let speed: f64 = args
        .next()
        .map(|s| s.parse().expect("SPEED"))
        .unwrap_or(1.0);
    let reference = args
        .next()
        .map(|p| normalize_text(&std::fs::read_to_string(p).expect("REF_TEXT_FILE")));
    let model = Arc::new(ModelBundle::load(&model_dir).expect("model"));
    // Full context: the whole file in one window.
    let whole = OfflineOptions {
        left_s: 0.0,
        centre_s: 3600.0,
        right_s: 0.0,
        ..Default::default()
    };
    let full = transcribe_file(&model, &audio, &whole, &mut |_, _| {})
        .expect("offline transcription")
        .text();
    let offline = transcribe_file(
        &model,
        &audio,
        &OfflineOptions::for_model(model.manifest()),
        &mut |_, _| {},
    )
    .expect("offline transcription")
    .text();
    let rates = |hyp: &str, r: &str| {
        let mut e = ErrorRates::default();
        e.add(&normalize_text(hyp), r);
        e
    };
    let wer = |hyp: &str, r: &str| format!("{:.1}%", 100.0 * rates(hyp, r).wer());
    let cer = |hyp: &str, r: &str| format!("{:.1}%", 100.0 * rates(hyp, r).cer());
    if let Some(r) = &reference {
        println!(
            "full-context WER vs reference: {} (CER {}); offline (`hark transcribe` defaults) WER: {}, vs full context: {}\n",
            wer(&full, r),
            cer(&full, r),
            wer(&offline, r),
            wer(&offline, &normalize_text(&full))
        );
    }
    let mut fill_traces = Vec::new();
    let mut thread_choices = Vec::new();
    println!("| left s | centre s | right s | window s | streaming RTF | final lag p50 s | final lag max s | partials/s | max ring fill | word→partial p50/p95 s | word→final p50/p95 s | WER / CER vs full context | WER / CER vs reference |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (l, c, r) in [
        (1.0, 0.4, 0.4),
        (2.0, 0.6, 0.4),
        (2.0, 1.0, 0.6),
        (3.0, 1.0, 1.0),
        (4.0, 2.0, 1.0),
    ] {
        let cfg = LiveConfig {
            left_s: l,
            centre_s: c,
            right_s: r,
            ..Default::default()
        };
        let src = FileSource::open(audio.clone(), Pace::Speed(speed)).expect("audio");
        let t = Instant::now();
        let p = Pipeline::start(model.clone(), Box::new(src), cfg).expect("pipeline");
        // segment -> wall time (s since start) at which its k-th word first showed in a partial
        let mut first_seen: std::collections::HashMap<u64, Vec<f64>> = Default::default();
        // segment -> how many of its words were already final before it closed
        let mut final_early: std::collections::HashMap<u64, usize> = Default::default();
        let mut finals = Vec::new();
        let (mut lat_partial, mut lat_final) = (Vec::new(), Vec::new());
        let mut fills = Vec::new();
        let (mut rtf, mut lags, mut partials, mut fill, mut audio_s) =
            (Vec::new(), Vec::new(), 0, 0f64, 0.0);
        for ev in p.events().iter() {
            match ev {
                Event::Stats(s) => {
                    rtf.push(s.rtf);
                    lags.push(s.latency_s);
                    fill = fill.max(s.ring_fill);
                    fills.push(s.ring_fill);
                    audio_s = s.audio_s;
                }
                Event::Partial { segment, text } => {
                    partials += 1;
                    let now = t.elapsed().as_secs_f64() / speed;
                    let seen = first_seen.entry(segment).or_default();
                    let n = text.split_whitespace().count();
                    while seen.len() < n {
                        seen.push(now);
                    }
                }
                Event::FinalWords { segment, words } => {
                    let now = t.elapsed().as_secs_f64() / speed;
                    *final_early.entry(segment).or_default() += words.len();
                    lat_final.extend(words.iter().map(|w| now - w.end));
                }
                Event::Final(seg) => {
                    let now = t.elapsed().as_secs_f64() / speed;
                    let seen = first_seen.remove(&seg.segment).unwrap_or_default();
                    let early = final_early.remove(&seg.segment).unwrap_or(0);
                    finals.push(seg.text.clone());
                    for (k, w) in seg.words.iter().enumerate() {
                        if k >= early {
                            lat_final.push(now - w.end);
                        }
                        let shown = seen.get(k).copied().unwrap_or(now).min(now);
                        lat_partial.push(shown - w.end);
                    }
                }
                Event::Finished => break,
                _ => {}
            }
        }
        p.join();
        let streamed = finals.join(" ");
        // The last stats event comes after the final flush; leave it out of the lag figures.
        lags.pop();
        rtf.pop();
        lags.sort_by(f64::total_cmp);
        let p50 = lags.get(lags.len() / 2).copied().unwrap_or(0.0);
        let max = lags.last().copied().unwrap_or(0.0);
        let mean_rtf = rtf.iter().sum::<f64>() / rtf.len().max(1) as f64;
        let wall = t.elapsed().as_secs_f64();
        let pct = |v: &mut Vec<f64>, q: f64| {
            v.sort_by(f64::total_cmp);
            v.get(((v.len() as f64 - 1.0) * q).round() as usize)
                .copied()
        };
        let words = |v: &mut Vec<f64>| match (pct(v, 0.5), pct(v, 0.95)) {
            (Some(a), Some(b)) => format!("{a:.2} / {b:.2}"),
            _ => "no words".to_string(),
        };
        let both = |hyp: &str, r: &str| format!("{} / {}", wer(hyp, r), cer(hyp, r));
        let vs_full = both(&streamed, &normalize_text(&full));
        let vs_ref = reference
            .as_deref()
            .map_or("n/a".into(), |r| both(&streamed, r));
        println!(
            "| {l} | {c} | {r} | {:.1} | {mean_rtf:.3} | {p50:.2} | {max:.2} | {:.1} | {:.0}% | {} | {} | {} | {} |",
            l + c + r,
            partials as f64 / wall,
            100.0 * fill,
            words(&mut lat_partial),
            words(&mut lat_final),
            vs_full,
            vs_ref,
        );
        fill_traces.push(format!(
            "* {l}/{c}/{r}: {}",
            fills
                .iter()
                .map(|f| format!("{:.1}", 100.0 * f))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        let _ = audio_s;
        let m = model.manifest();
        let frames =
            WindowConfig::from_seconds(l, c, r, m.frame_hop() as f64 / m.sample_rate as f64)
                .total();
        let samples = m.samples_for_frames(frames);
        thread_choices.push(format!(
            "* {l}/{c}/{r} ({samples} samples): {}",
            model
                .threads_for(samples)
                .map_or("trial not finished".into(), |t| format!(
                    "{t} of {}",
                    model.threads()
                ))
        ));
    }
    println!(
        "\nThreads the full windows ended up on (the per-length trial between one thread and the pool):"
    );
    for t in &thread_choices {
        println!("{t}");
    }
    println!("\nRing fill over time (% of the ring, one value per stats event, about 1 s of audio apart):");
    for t in &fill_traces {
        println!("{t}");
    }
}
