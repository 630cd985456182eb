//! Model-call benchmark: real-time factor (compute seconds / audio seconds) of one window.
//!
//! `cargo bench --bench model -- [--input FILE.f32] [--runs N] MODEL_DIR...`
//!
//! Without `--input`, a 10 s speech-like signal is synthesized. Prints one JSON line per model
//! and thread count; `tools/bench.py` runs this next to onnxruntime and PyTorch on the same
//! graph and input and writes the comparison table.

use std::path::PathBuf;
use std::time::Instant;

use hark::features;
use hark::model::{ModelBundle, TRIAL_RUNS};

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let mut input: Option<PathBuf> = None;
    let mut runs = 5usize;
    let mut models = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bench" => {}
            "--input" => input = args.next().map(PathBuf::from),
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(5),
            _ => models.push(PathBuf::from(a)),
        }
    }
    if models.is_empty() {
        models.push(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/rotary-ctc"
        )));
    }
    let raw = match &input {
        Some(p) => std::fs::read(p)
            .expect("read input")
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        None => features::bench_signal(160_000),
    };
    for dir in &models {
        for threads in [1usize, 2] {
            let model = ModelBundle::load_with_threads(dir, threads).expect("load model");
            let rate = model.manifest().sample_rate as f64;
            let mut x = Vec::new();
            features::prepare_into(&raw, model.manifest().do_normalize, &mut x);
            let t0 = Instant::now();
            model.plan(x.len()).expect("plan");
            let plan_s = t0.elapsed().as_secs_f64();
            // Warm up through the length's thread trial (see `ModelBundle::threads_for`), so the
            // timed runs are those of the plan hark settled on.
            let mut warm = 0;
            while model.threads_for(x.len()).is_none() && warm < 4 * (1 + TRIAL_RUNS) {
                model.run(&x).expect("warm-up run");
                warm += 1;
            }
            let used = model.threads_for(x.len()).unwrap_or(threads);
            let mut times = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                std::hint::black_box(model.run(&x).expect("run"));
                times.push(t.elapsed().as_secs_f64());
            }
            times.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let median = times[times.len() / 2];
            let audio_s = x.len() as f64 / rate;
            println!(
                "{{\"engine\":\"hark-tract\",\"model\":{:?},\"threads\":{threads},\"used_threads\":{used},\"audio_s\":{audio_s:.3},\"plan_s\":{plan_s:.3},\"median_s\":{median:.5},\"rtf\":{:.5}}}",
                dir.display().to_string(),
                median / audio_s
            );
        }
    }
}
