//! Parity: tract (through hark's model module) against transformers goldens for every fixture
//! (3 position-embedding types x 4 heads) at two input lengths. Goldens come from
//! `tools/make_fixtures.py`, which runs the unpatched transformers classes.

use std::path::{Path, PathBuf};

use hark::features;
use hark::model::ModelBundle;
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn floats(v: &Value) -> Vec<f32> {
    fn walk(v: &Value, out: &mut Vec<f32>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Number(n) => out.push(n.as_f64().unwrap() as f32),
            other => panic!("unexpected JSON value {other}"),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length differs");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Runs one fixture on every golden input; returns the worst difference seen.
fn check(name: &str) -> f32 {
    let dir = fixtures().join(name);
    let model = ModelBundle::load(&dir).unwrap();
    let inputs = read_json(&fixtures().join("inputs.json"));
    let golden = read_json(&dir.join("golden.json"));
    let mut worst = 0f32;
    let cases = golden["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "two input lengths per fixture");
    for (case, gold) in inputs["cases"].as_array().unwrap().iter().zip(cases) {
        let raw = floats(&case["raw"]);
        // Normalization as Wav2Vec2FeatureExtractor.
        let mut input = Vec::new();
        features::prepare_into(&raw, model.manifest().do_normalize, &mut input);
        let expected_input = floats(&case["normalized"]);
        let d = max_abs_diff(&input, &expected_input);
        assert!(d < 1e-5, "{name}: normalization differs by {d}");

        let out = model.run(&input).unwrap();
        for spec in &model.manifest().outputs {
            let got = out.get(spec.kind).unwrap();
            let want = floats(&gold["outputs"][&spec.name]);
            let d = max_abs_diff(&got.data, &want);
            eprintln!(
                "{name} {} samples {}: max |diff| {d:.2e}",
                raw.len(),
                spec.name
            );
            assert!(
                d <= TOLERANCE,
                "{name} {} {}: max |diff| {d}",
                raw.len(),
                spec.name
            );
            if spec.kind.is_per_frame() {
                assert_eq!(got.shape[0], model.manifest().frames_for(raw.len()));
            }
            worst = worst.max(d);
        }
    }
    // Both lengths got their own cached plan.
    assert_eq!(model.cached_lengths().len(), 2);
    worst
}

macro_rules! parity {
    ($($test:ident => $name:literal),* $(,)?) => {
        $( #[test] fn $test() { check($name); } )*
    };
}

parity! {
    parity_rotary_ctc => "rotary-ctc",
    parity_rotary_frame => "rotary-frame",
    parity_rotary_xvector => "rotary-xvector",
    parity_rotary_seqcls => "rotary-seqcls",
    parity_relative_ctc => "relative-ctc",
    parity_relative_frame => "relative-frame",
    parity_relative_xvector => "relative-xvector",
    parity_relative_seqcls => "relative-seqcls",
    parity_none_ctc => "none-ctc",
    parity_none_frame => "none-frame",
    parity_none_xvector => "none-xvector",
    parity_none_seqcls => "none-seqcls",
    // Plain (non-conformer) CTC checkpoints through the same export tool.
    parity_wav2vec2_ctc => "wav2vec2-ctc",
    parity_hubert_ctc => "hubert-ctc",
    parity_wavlm_ctc => "wavlm-ctc",
}

/// With a concrete window length the positional-embedding sub-graph (range, sin, cos) must fold
/// into constants: no such node may survive optimization.
#[test]
fn positional_embeddings_fold_per_length() {
    for name in ["rotary-ctc", "relative-ctc"] {
        let model = ModelBundle::load(&fixtures().join(name)).unwrap();
        for samples in [8000, 12837] {
            let report = model.plan_report(samples).unwrap();
            eprintln!("{name}: {report:?}");
            assert!(
                report.positional_ops_generic > 0,
                "{name}: generic graph has no positional ops?"
            );
            assert_eq!(
                report.positional_ops, 0,
                "{name}: positional ops left after optimizing"
            );
        }
    }
}

/// tract's fused exact GELU is an approximation off by up to 1.2e-6 (src/model/gelu.rs): every
/// one must be replaced by hark's kernel in the optimized plan, whatever the architecture.
#[test]
fn exact_gelu_runs_harks_kernel() {
    for name in [
        "rotary-ctc",
        "relative-xvector",
        "none-frame",
        "wav2vec2-ctc",
        "hubert-ctc",
        "wavlm-ctc",
    ] {
        let model = ModelBundle::load(&fixtures().join(name)).unwrap();
        let report = model.plan_report(8000).unwrap();
        eprintln!("{name}: {report:?}");
        assert!(report.gelu_ops_hark > 0, "{name}: no GELU replaced");
        assert_eq!(report.gelu_ops_tract, 0, "{name}: tract's GELU left");
    }
}

/// A multi-threaded bundle times a single-threaded and a pool plan on the first runs of each
/// window length and keeps the faster: the trial must end after its runs, and every run (either
/// plan) must give bit-identical outputs.
#[test]
fn thread_trial_ends_and_never_changes_outputs() {
    use hark::model::TRIAL_RUNS;
    let dir = fixtures().join("rotary-ctc");
    let inputs = read_json(&fixtures().join("inputs.json"));
    let x = floats(&inputs["cases"][1]["normalized"]);
    let samples = x.len();

    let model = ModelBundle::load_with_threads(&dir, 2).unwrap();
    assert_eq!(model.threads_for(samples), None, "no plan built yet");
    let first = model.run(&x).unwrap();
    let trial_runs = 2 * (1 + TRIAL_RUNS);
    for run in 1..trial_runs {
        assert_eq!(
            model.threads_for(samples),
            None,
            "trial over after only {run} runs"
        );
        let out = model.run(&x).unwrap();
        assert_eq!(out, first, "run {run} differs from run 0");
    }
    let threads = model.threads_for(samples);
    assert!(
        matches!(threads, Some(1 | 2)),
        "trial should have chosen 1 or 2 threads after {trial_runs} runs, got {threads:?}"
    );
    assert_eq!(model.run(&x).unwrap(), first, "run after the trial differs");

    let single = ModelBundle::load_with_threads(&dir, 1).unwrap();
    assert_eq!(single.run(&x).unwrap(), first, "1-thread bundle differs");
    assert_eq!(
        single.threads_for(samples),
        Some(1),
        "1-thread bundle has no trial"
    );
}
