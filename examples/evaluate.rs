//! Measures a model with hark itself (not PyTorch): CER/WER by voice family on the held-out TTS
//! split, speech/non-speech frame accuracy, speaker EER between held-out voices, WER on the real
//! evaluation recordings, and model RTF. Prints markdown for the model card.
//!
//! ```sh
//! cargo run --release --example evaluate -- --model models/demo \
//!     --manifest ~/.cache/hark-data/manifest.tsv --eval-dir ../shared/eval/real
//! ```
//!
//! `--per-clip FILE` also writes one TSV row per transcribed clip (part, path, counts of words,
//! word errors, characters and character errors, reference, hypothesis), so that two models can
//! be compared clip by clip (`tools/compare_clips.py`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use hark::decode::decode_file;
use hark::features;
use hark::manifest::OutputKind;
use hark::metrics::{equal_error_rate, normalize_text, ErrorRates};
use hark::model::ModelBundle;
use hark::resample::resample_all;
use hark::speaker::SpeakerVector;
use hark::transcribe::{run_windows, transcript_from, OfflineOptions};
use hark::transcript::AudioInfo;

struct Args {
    model: PathBuf,
    manifest: Option<PathBuf>,
    eval_dir: Option<PathBuf>,
    limit: usize,
    per_clip: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        model: PathBuf::from("models/demo"),
        manifest: None,
        eval_dir: None,
        limit: usize::MAX,
        per_clip: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let value = |v: Option<String>| v.unwrap_or_else(|| usage(&format!("{x} needs a value")));
        match x.as_str() {
            "--model" => a.model = value(it.next()).into(),
            "--manifest" => a.manifest = Some(value(it.next()).into()),
            "--eval-dir" => a.eval_dir = Some(value(it.next()).into()),
            "--per-clip" => a.per_clip = Some(value(it.next()).into()),
            "--limit" => {
                let v = value(it.next());
                a.limit = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--limit {v}: not a whole number")));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    a
}

const USAGE: &str =
    "usage: evaluate [--model DIR] [--manifest TSV] [--eval-dir DIR] [--limit N] [--per-clip FILE]
  --model DIR      model bundle (default models/demo)
  --manifest TSV   tools/make_data.py manifest: its eval rows are measured
  --eval-dir DIR   real recordings (../shared/eval/real): WER per folder
  --limit N        at most N clips per part
  --per-clip FILE  also write one TSV row per transcribed clip (errors, reference, hypothesis)";

/// One TSV row per transcribed clip, for comparing two models clip by clip.
struct PerClip {
    path: PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
}

impl PerClip {
    fn create(path: Option<&Path>) -> PerClip {
        let out = path.map(|p| {
            let file = std::fs::File::create(p)
                .unwrap_or_else(|e| usage(&format!("--per-clip {}: {e}", p.display())));
            std::io::BufWriter::new(file)
        });
        let mut pc = PerClip {
            path: path.map(Path::to_path_buf).unwrap_or_default(),
            out,
        };
        pc.write("part\tpath\twords\tword_errors\tchars\tchar_errors\treference\thypothesis");
        pc
    }

    fn write(&mut self, line: &str) {
        if let Some(out) = &mut self.out {
            if let Err(e) = writeln!(out, "{line}") {
                eprintln!("evaluate: {}: {e}", self.path.display());
                std::process::exit(1);
            }
        }
    }

    /// Records one clip; `hyp` and `reference` are already normalized.
    fn clip(&mut self, part: &str, clip: &Path, hyp: &str, reference: &str) {
        if self.out.is_none() {
            return;
        }
        let mut e = ErrorRates::default();
        e.add(hyp, reference);
        let line = format!(
            "{part}\t{}\t{}\t{}\t{}\t{}\t{reference}\t{hyp}",
            clip.display(),
            e.words,
            e.word_errors,
            e.chars,
            e.char_errors
        );
        self.write(&line);
    }

    fn finish(&mut self) {
        if let Some(out) = &mut self.out {
            if let Err(e) = out.flush() {
                eprintln!("evaluate: {}: {e}", self.path.display());
                std::process::exit(1);
            }
        }
    }
}

/// Prints `problem` to stderr and exits with status 1 (bad input: a file, a model, a folder).
fn fail(problem: &str) -> ! {
    eprintln!("evaluate: {problem}");
    std::process::exit(1)
}

/// Prints `problem` and the usage to stderr and exits with status 2.
fn usage(problem: &str) -> ! {
    eprintln!("evaluate: {problem}\n{USAGE}");
    std::process::exit(2)
}

fn read_tsv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split('\t').chain(std::iter::repeat("")))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

struct Clip {
    samples: Vec<f32>,
    duration: f64,
}

fn load(model: &ModelBundle, path: &Path) -> Clip {
    let a = decode_file(path).unwrap_or_else(|e| fail(&e.to_string()));
    let duration = a.duration_s();
    let a = resample_all(a, model.manifest().sample_rate)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
    Clip {
        samples: a.samples,
        duration,
    }
}

/// Text, per-frame speech flags and compute seconds for one clip.
fn recognize(model: &std::sync::Arc<ModelBundle>, clip: &Clip) -> (String, Vec<bool>, f64) {
    let opts = OfflineOptions::default();
    let t = Instant::now();
    let stitched = run_windows(model, &clip.samples, &opts, &mut |_, _| {}).expect("run");
    let secs = t.elapsed().as_secs_f64();
    let info = AudioInfo {
        path: String::new(),
        duration_s: clip.duration,
        sample_rate: model.manifest().sample_rate,
    };
    let tr = transcript_from(model, &stitched, info, &opts);
    let speech_id = model
        .manifest()
        .id2label
        .as_ref()
        .and_then(|l| l.iter().position(|x| x == "speech"));
    let flags = match (&stitched.frame_logits, speech_id) {
        (Some(l), Some(sid)) => {
            let n = model
                .manifest()
                .id2label
                .as_ref()
                .map(|v| v.len())
                .unwrap_or(1);
            l.chunks_exact(n)
                .map(|r| hark::ctc::argmax(r) == sid)
                .collect()
        }
        _ => Vec::new(),
    };
    (tr.text(), flags, secs)
}

fn embedding(model: &ModelBundle, clip: &Clip) -> Option<SpeakerVector> {
    model.manifest().output(OutputKind::XvectorEmbeddings)?;
    let n = clip.samples.len().min(48_000);
    let start = (clip.samples.len() - n) / 2;
    let mut x = Vec::new();
    features::prepare_into(&clip.samples[start..start + n], true, &mut x);
    let out = model.run(&x).ok()?;
    let raw = &out.get(OutputKind::XvectorEmbeddings)?.data;
    Some(SpeakerVector::new(model.manifest(), raw))
}

fn eer_of(embs: &[(String, SpeakerVector)]) -> Option<f64> {
    if embs.len() < 2 {
        return None;
    }
    let mut scores = Vec::new();
    let mut same = Vec::new();
    for i in 0..embs.len() {
        for j in i + 1..embs.len() {
            scores.push(embs[i].1.similarity(&embs[j].1));
            same.push(embs[i].0 == embs[j].0);
        }
    }
    Some(equal_error_rate(&scores, &same))
}

fn centring(model: &ModelBundle) -> &'static str {
    if model.manifest().xvector_mean.is_some() {
        "training mean subtracted"
    } else {
        "no centring"
    }
}

fn row(name: &str, e: &ErrorRates) {
    println!(
        "| {name} | {} | {} | {:.1}% | {:.1}% |",
        e.utterances,
        e.words,
        100.0 * e.cer(),
        100.0 * e.wer()
    );
}

fn main() {
    let a = args();
    let model =
        std::sync::Arc::new(ModelBundle::load(&a.model).unwrap_or_else(|e| fail(&e.to_string())));
    let mut per_clip = PerClip::create(a.per_clip.as_deref());
    let mut compute = 0.0;
    let mut audio = 0.0;

    if let Some(manifest) = &a.manifest {
        let base = manifest.parent().unwrap_or(Path::new("."));
        let rows: Vec<_> = read_tsv(manifest)
            .into_iter()
            .filter(|r| r["split"] == "eval")
            .take(a.limit)
            .collect();
        let mut by_family: BTreeMap<String, ErrorRates> = BTreeMap::new();
        let mut all = ErrorRates::default();
        let (mut frames_ok, mut frames) = (0usize, 0usize);
        let mut embs = Vec::new();
        for r in &rows {
            let path = base.join(&r["path"]);
            let clip = load(&model, &path);
            let (hyp, flags, secs) = recognize(&model, &clip);
            compute += secs;
            audio += clip.duration;
            let reference = normalize_text(&r["text"]);
            per_clip.clip(&r["family"], &path, &hyp, &reference);
            by_family
                .entry(r["family"].clone())
                .or_default()
                .add(&hyp, &reference);
            all.add(&hyp, &reference);
            let s0: f64 = r["speech_start"].parse().unwrap_or(0.0);
            let s1: f64 = r["speech_end"].parse().unwrap_or(0.0);
            for (f, is_speech) in flags.iter().enumerate() {
                let t = (f as f64 * 320.0 + 200.0) / 16000.0;
                // Skip frames within 40 ms of a boundary: the reference is only that precise.
                if (t - s0).abs() < 0.04 || (t - s1).abs() < 0.04 {
                    continue;
                }
                frames += 1;
                frames_ok += usize::from(*is_speech == (t > s0 && t < s1));
            }
            if let Some(e) = embedding(&model, &clip) {
                embs.push((r["speaker"].clone(), e));
            }
        }
        println!("### Held-out TTS (voices and sentences never seen in training)\n");
        println!("| voice family | utterances | words | CER | WER |\n|---|---|---|---|---|");
        for (fam, e) in &by_family {
            row(fam, e);
        }
        row("all", &all);
        if frames > 0 {
            println!(
                "\nSpeech/non-speech frame accuracy: {:.1}% over {frames} frames",
                100.0 * frames_ok as f64 / frames as f64
            );
        }
        if let Some(eer) = eer_of(&embs) {
            let voices: std::collections::BTreeSet<_> = embs.iter().map(|e| &e.0).collect();
            println!(
                "Speaker EER between held-out voices: {:.1}% ({} clips, {} voices, centre 3 s, {})",
                100.0 * eer,
                embs.len(),
                voices.len(),
                centring(&model)
            );
        }
    }

    if let Some(dir) = &a.eval_dir {
        println!("\n### Real recordings, unseen speakers (../shared/eval)\n");
        println!("| folder | utterances | words | CER | WER |\n|---|---|---|---|---|");
        let mut folders: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| fail(&format!("{}: {e}", dir.display())))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("manifest.tsv").is_file())
            .collect();
        folders.sort();
        for folder in folders {
            let rows = read_tsv(&folder.join("manifest.tsv"));
            let name = folder.file_name().unwrap().to_string_lossy().to_string();
            if rows.iter().all(|r| r["transcript"].is_empty()) {
                let embs: Vec<_> = rows
                    .iter()
                    .take(a.limit)
                    .filter_map(|r| {
                        embedding(&model, &load(&model, &folder.join(&r["path"])))
                            .map(|e| (r["speaker"].clone(), e))
                    })
                    .collect();
                if let Some(eer) = eer_of(&embs) {
                    println!(
                        "| {name} (speaker verification) | {} | – | EER {:.1}% | – |",
                        embs.len(),
                        100.0 * eer
                    );
                }
                continue;
            }
            let mut e = ErrorRates::default();
            for r in rows.iter().take(a.limit) {
                let path = folder.join(&r["path"]);
                let clip = load(&model, &path);
                let (hyp, _, secs) = recognize(&model, &clip);
                compute += secs;
                audio += clip.duration;
                let reference = normalize_text(&r["transcript"]);
                per_clip.clip(&name, &path, &hyp, &reference);
                e.add(&hyp, &reference);
            }
            row(&name, &e);
        }
    }

    per_clip.finish();

    // Steady-state RTF on one fixed 10 s window (plan built before timing).
    let x: Vec<f32> = (0..160_000)
        .map(|i| ((i as f32) * 0.05).sin() * 0.3)
        .collect();
    let mut xn = Vec::new();
    features::prepare_into(&x, true, &mut xn);
    model.run(&xn).expect("warm-up");
    let t = Instant::now();
    for _ in 0..5 {
        model.run(&xn).expect("run");
    }
    let rtf = t.elapsed().as_secs_f64() / 5.0 / 10.0;
    println!(
        "\nModel RTF, 10 s window, all heads, {} threads: {rtf:.4}; over the whole evaluation \
         (windowing, plan builds for each new clip length, decoding): {:.4}",
        model.threads(),
        compute / audio.max(1e-9)
    );
}
