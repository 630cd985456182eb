//! The `hark` binary: output schema and error reporting.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

fn hark(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hark"))
        .args(args)
        .env_remove("HARK_MODEL")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A 2.5 s speech-like WAV at 22.05 kHz (not the model rate, so resampling runs).
fn speechlike_wav(dir: &Path) -> PathBuf {
    let path = dir.join("speechlike-22050Hz-mono.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 22050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    let mut phase = 0f64;
    for i in 0..(22050 * 5 / 2) {
        let t = i as f64 / 22050.0;
        phase += 2.0 * std::f64::consts::PI * (150.0 + 50.0 * (2.0 * t).sin()) / 22050.0;
        let v: f64 = (1..6)
            .map(|k| (k as f64 * phase).sin() / k as f64)
            .sum::<f64>()
            * 0.2;
        w.write_sample((v * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    path
}

fn assert_one_line_error(o: &Output, starts: &str, contains: &str) {
    assert!(!o.status.success(), "expected failure");
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "one line expected, got: {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.starts_with(starts),
        "{err:?} should start with {starts:?}"
    );
    assert!(
        err.contains(contains),
        "{err:?} should contain {contains:?}"
    );
}

#[test]
fn transcribe_json_schema() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speechlike_wav(dir.path());
    let model = fixture("rotary-ctc");
    let o = hark(&[
        "transcribe",
        wav.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["audio"]["path"], wav.to_str().unwrap());
    assert_eq!(v["audio"]["sample_rate"], 22050);
    let dur = v["audio"]["duration_s"].as_f64().unwrap();
    assert!((dur - 2.5).abs() < 1e-3, "{dur}");
    let segments = v["segments"].as_array().unwrap();
    // Random weights still emit characters; every segment has the schema's fields and its
    // words lie inside it, in order, within the audio.
    assert!(!segments.is_empty());
    let mut last_end = 0.0;
    for s in segments {
        let (start, end) = (s["start"].as_f64().unwrap(), s["end"].as_f64().unwrap());
        assert!(
            start >= last_end && end >= start && end <= dur + 0.03,
            "{s}"
        );
        last_end = end;
        let words = s["words"].as_array().unwrap();
        let joined: Vec<&str> = words.iter().map(|w| w["text"].as_str().unwrap()).collect();
        assert_eq!(s["text"].as_str().unwrap(), joined.join(" "));
        for w in words {
            assert!(w["start"].as_f64().unwrap() >= start && w["end"].as_f64().unwrap() <= end);
        }
    }
    assert!(v.get("frame_labels").is_none());
}

#[test]
fn transcribe_frame_labels_and_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speechlike_wav(dir.path());
    let out = dir.path().join("out.json");
    let model = fixture("rotary-frame");
    let o = hark(&[
        "transcribe",
        wav.to_str().unwrap(),
        "-m",
        model.to_str().unwrap(),
        "-f",
        "json",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let fl = &v["frame_labels"];
    assert!((fl["hop_s"].as_f64().unwrap() - 0.02).abs() < 1e-12);
    let spans = fl["spans"].as_array().unwrap();
    assert_eq!(spans[0]["start"].as_f64().unwrap(), 0.0);
    // 2.5 s -> frames_for(40000) = 125 frames of the fixture encoder (kernel 10/8/4, stride 5/8/8).
    let end = spans.last().unwrap()["end"].as_f64().unwrap();
    assert!((end - 125.0 * 0.02).abs() < 1e-9, "{end}");
    for s in spans {
        let l = s["label"].as_str().unwrap();
        assert!(["silence", "speech", "noise", "music"].contains(&l), "{l}");
    }
    assert_eq!(v["segments"].as_array().unwrap().len(), 0);
}

#[test]
fn srt_and_vtt_render() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speechlike_wav(dir.path());
    let model = fixture("rotary-ctc");
    for (fmt, head) in [("srt", "1\n00:00:"), ("vtt", "WEBVTT\n\n00:00:")] {
        let o = hark(&[
            "transcribe",
            wav.to_str().unwrap(),
            "-m",
            model.to_str().unwrap(),
            "-f",
            fmt,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(text.starts_with(head), "{fmt}: {text:?}");
    }
}

#[test]
fn non_audio_file_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("notes.wav");
    std::fs::write(
        &bad,
        "this is not audio at all, just some text\n".repeat(20),
    )
    .unwrap();
    let o = hark(&[
        "transcribe",
        bad.to_str().unwrap(),
        "-m",
        fixture("rotary-ctc").to_str().unwrap(),
    ]);
    assert_one_line_error(
        &o,
        &format!("hark: {}: ", bad.display()),
        "not a supported audio file",
    );
}

#[test]
fn truncated_wav_header_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("audio/sine440-8000Hz-mono.wav");
    let bad = dir.path().join("cut.wav");
    std::fs::write(&bad, &std::fs::read(src).unwrap()[..30]).unwrap();
    let o = hark(&[
        "transcribe",
        bad.to_str().unwrap(),
        "-m",
        fixture("rotary-ctc").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("hark: {}: ", bad.display())),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn wav_cut_short_is_transcribed_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speechlike_wav(dir.path());
    let bytes = std::fs::read(&wav).unwrap();
    let cut = dir.path().join("cut-short.wav");
    // The header still declares 2.5 s; 44 header bytes and 1 s of 16-bit samples remain.
    std::fs::write(&cut, &bytes[..44 + 2 * 22050]).unwrap();
    let o = hark(&[
        "transcribe",
        cut.to_str().unwrap(),
        "-m",
        fixture("rotary-ctc").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["audio"]["duration_s"], 1.0);
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{}: the file ends early: 1.00 s of audio where its header declares 2.50 s (truncated?); \
             keeping what decoded",
            cut.display()
        )),
        "{err:?}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "no colour codes when stderr is not a terminal: {err:?}"
    );
}

#[test]
fn empty_wav_says_no_samples() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    hound::WavWriter::create(&path, spec)
        .unwrap()
        .finalize()
        .unwrap();
    let o = hark(&[
        "transcribe",
        path.to_str().unwrap(),
        "-m",
        fixture("rotary-ctc").to_str().unwrap(),
    ]);
    assert_one_line_error(
        &o,
        &format!("hark: {}: ", path.display()),
        "contains no audio samples",
    );
}

#[test]
fn missing_file_is_one_clear_line() {
    let o = hark(&[
        "transcribe",
        "/nonexistent/talk.flac",
        "-m",
        fixture("rotary-ctc").to_str().unwrap(),
    ]);
    assert_one_line_error(
        &o,
        "hark: /nonexistent/talk.flac: cannot open: ",
        "No such file",
    );
}

#[test]
fn missing_model_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speechlike_wav(dir.path());
    let o = hark(&[
        "transcribe",
        wav.to_str().unwrap(),
        "-m",
        "/nonexistent/model",
    ]);
    assert_one_line_error(
        &o,
        "hark: /nonexistent/model/hark.json: cannot read manifest: ",
        "No such file",
    );
}

#[test]
fn live_without_a_sound_card_is_one_clear_line() {
    // Only meaningful where the machine has no capture hardware (servers, CI).
    let cards = std::fs::read_to_string("/proc/asound/cards").unwrap_or_default();
    if !(cards.is_empty() || cards.contains("no soundcards")) {
        eprintln!("skipped: this machine has a sound card");
        return;
    }
    let o = hark(&["live", "-m", fixture("rotary-ctc").to_str().unwrap()]);
    assert_one_line_error(&o, "hark: no audio input device found", "microphone");
}

#[test]
fn replay_prints_json_lines_when_piped() {
    let model = fixture("rotary-ctc");
    let o = hark(&[
        "replay",
        root()
            .join("assets/hello-espeak-en-029.wav")
            .to_str()
            .unwrap(),
        "-m",
        model.to_str().unwrap(),
        "--speed",
        "max",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.last().unwrap()["type"], "finished");
    assert!(lines.iter().any(|l| l["type"] == "final"));
    // Word-level finals: each word with its text and times.
    let early = lines
        .iter()
        .find(|l| l["type"] == "final_words")
        .expect("a final_words line");
    let word = &early["words"][0];
    assert!(
        word["text"].as_str().is_some_and(|t| !t.is_empty()),
        "{early}"
    );
    assert!(word["end"].as_f64() >= word["start"].as_f64(), "{early}");
    let bad = hark(&[
        "replay",
        "x.wav",
        "-m",
        model.to_str().unwrap(),
        "--speed",
        "fast",
    ]);
    assert_one_line_error(
        &bad,
        "hark: --speed must be a positive number or `max`",
        "fast",
    );
}

#[test]
fn transcribe_uses_the_models_offline_window() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speechlike_wav(dir.path());
    // The fixture model with a recommended window in its manifest.
    let hinted = dir.path().join("model");
    std::fs::create_dir(&hinted).unwrap();
    let src = fixture("rotary-ctc");
    for f in ["model.onnx", "hark.json"] {
        std::fs::copy(src.join(f), hinted.join(f)).unwrap();
    }
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(hinted.join("hark.json")).unwrap()).unwrap();
    manifest["offline_window"] =
        serde_json::json!({"left_s": 0.2, "centre_s": 0.3, "right_s": 0.2});
    std::fs::write(hinted.join("hark.json"), manifest.to_string()).unwrap();
    let run = |model: &Path, extra: &[&str]| {
        let mut args = vec![
            "transcribe",
            wav.to_str().unwrap(),
            "-m",
            model.to_str().unwrap(),
            "-f",
            "json",
        ];
        args.extend_from_slice(extra);
        let o = hark(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        o.stdout
    };
    let with_hint = run(&hinted, &[]);
    let explicit = run(
        &src,
        &["--left-s", "0.2", "--window-s", "0.3", "--right-s", "0.2"],
    );
    let default = run(&src, &[]);
    assert_eq!(with_hint, explicit);
    assert_ne!(with_hint, default, "the window should change the frames");
    // Flags still win over the manifest.
    let overridden = run(
        &hinted,
        &["--left-s", "1", "--window-s", "8", "--right-s", "1"],
    );
    assert_eq!(overridden, default);
}

/// The README quick start shows what `tools/demo.sh` prints (`hark transcribe` on the bundled
/// sample with the bundled model); that quoted output must stay what hark really prints.
#[test]
fn readme_quick_start_output_is_what_hark_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let after = readme
        .split_once("model never heard; the interim model")
        .expect("README quick start paragraph")
        .1;
    let block = after
        .split_once("```text\n")
        .expect("README output block")
        .1;
    let quoted = block
        .split_once("\n```")
        .expect("README output block end")
        .0;
    let sample = root().join("assets/hello-espeak-en-029.wav");
    let model = root().join("models/demo");
    let o = hark(&[
        "transcribe",
        sample.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), quoted.trim());
}
