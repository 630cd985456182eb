//! The bundled demo model (models/demo): parity of its multi-output export with the transformers
//! classes it was exported from, and recognition of the assets/ samples (held-out voices and
//! sentences).

use std::path::{Path, PathBuf};

use hark::features;
use hark::manifest::OutputKind;
use hark::metrics::{normalize_text, ErrorRates};
use hark::model::ModelBundle;
use hark::transcribe::{transcribe_file, OfflineOptions};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The bundle under test: models/demo, or the folder in `HARK_DEMO_MODEL` (a candidate export,
/// checked without copying it over the shipped one).
fn demo() -> PathBuf {
    match std::env::var_os("HARK_DEMO_MODEL") {
        Some(dir) => PathBuf::from(dir),
        None => root().join("models/demo"),
    }
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    let mut out = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<f32>) {
        match v {
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            n => out.push(n.as_f64().unwrap() as f32),
        }
    }
    walk(v, &mut out);
    out
}

#[test]
fn demo_parity_with_transformers() {
    let model = ModelBundle::load(&demo()).unwrap();
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo().join("golden.json")).unwrap())
            .unwrap();
    for case in golden["cases"].as_array().unwrap() {
        let path = root().join(case["file"].as_str().unwrap());
        let audio = hark::decode::decode_file(&path).unwrap();
        assert_eq!(audio.sample_rate, 16000);
        let mut x = Vec::new();
        features::prepare_into(&audio.samples, true, &mut x);
        let out = model.run(&x).unwrap();
        for (kind, key) in [
            (OutputKind::CtcLogits, "ctc_logits"),
            (OutputKind::FrameLogits, "frame_logits"),
            (OutputKind::XvectorEmbeddings, "xvector_embeddings"),
        ] {
            let got = &out.get(kind).unwrap().data;
            let want = floats(&case[key]);
            assert_eq!(got.len(), want.len(), "{key}");
            let d = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            eprintln!("{} {key}: max |diff| {d:.2e}", path.display());
            assert!(d <= 1e-4, "{key}: {d}");
        }
    }
}

/// CER of the demo model over the assets/ samples.
fn samples_cer() -> f64 {
    let model = std::sync::Arc::new(ModelBundle::load(&demo()).unwrap());
    let table = std::fs::read_to_string(root().join("assets/samples.tsv")).unwrap();
    let mut all = ErrorRates::default();
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let t = transcribe_file(
            &model,
            &root().join("assets").join(cols[0]),
            &OfflineOptions::default(),
            &mut |_, _| {},
        )
        .unwrap();
        let reference = normalize_text(cols[2]);
        let mut one = ErrorRates::default();
        one.add(&t.text(), &reference);
        eprintln!(
            "{}: {:?} (CER {:.1}%)",
            cols[0],
            t.text(),
            100.0 * one.cer()
        );
        all.add(&t.text(), &reference);
    }
    eprintln!("CER over the samples: {:.1}%", 100.0 * all.cer());
    all.cer()
}

/// Regression guard for the interim model (models/demo/README.md): it measured 25.5% on the
/// samples (v55, 16 layers, half v52, half a 1000-step level from it with short utterances; v52
/// 28.2%, v50 26.1%, v49 25.5%,
/// v46 25.5%, v44 25.0% with the end padding of 2026-12-07, v43 27.1%, v39 25.0%, v31 23.4%,
/// v29 25.0%, v25 25.0%, v20 25.0%, v19 26.1%, v18 28.7%, v15 27.7%, v14 31.4%, v13 34.6%,
/// v12 36.7%, v11 33.5%, v10 31.9%, v9 34.0%, v8 and v7 36.7%, v6 45.2%, v5 46.3%); a broken
/// export, feature pipeline or decoder gives ~100%.
#[test]
fn demo_recognizes_the_samples() {
    let cer = samples_cer();
    assert!(cer <= 0.40, "CER {cer:.3} over the samples");
}

/// The target of issue 3 (CER <= 10% on held-out voices). Not reached yet by the interim model.
#[test]
#[ignore = "issue 3 target; the interim demo model (v55) measures 25.5% (run with --ignored)"]
fn demo_transcribes_the_samples() {
    let cer = samples_cer();
    assert!(cer <= 0.10, "CER {cer:.3} over the samples");
}
