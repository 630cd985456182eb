//! Manifest/graph validation: each broken bundle gives an error naming the file and the problem.

use std::path::{Path, PathBuf};

use hark::model::ModelBundle;

fn copy_fixture(name: &str, dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let dst = dir.join(name);
    std::fs::create_dir_all(&dst).unwrap();
    for f in ["model.onnx", "hark.json"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    dst
}

fn edit_manifest(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("hark.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
}

fn load_err(dir: &Path) -> String {
    ModelBundle::load(dir).unwrap_err().to_string()
}

#[test]
fn vocab_size_disagreeing_with_graph() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_fixture("rotary-ctc", tmp.path());
    edit_manifest(&dir, |v| {
        v["vocab"]["tokens"]
            .as_array_mut()
            .unwrap()
            .push("@".into());
        v["outputs"][0]["dim"] = 33.into();
    });
    assert_eq!(
        load_err(&dir),
        format!(
            "{}: manifest does not match the graph: output \"logits\" has 32 values per row in the graph, the manifest says 33",
            dir.join("hark.json").display()
        )
    );
}

#[test]
fn vocab_size_disagreeing_with_manifest_dim() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_fixture("rotary-ctc", tmp.path());
    edit_manifest(&dir, |v| {
        v["vocab"]["tokens"].as_array_mut().unwrap().pop();
    });
    assert_eq!(
        load_err(&dir),
        format!(
            "{}: invalid manifest: vocab has 31 tokens but output \"logits\" has 32 logits",
            dir.join("hark.json").display()
        )
    );
}

#[test]
fn output_missing_from_graph() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_fixture("rotary-frame", tmp.path());
    edit_manifest(&dir, |v| v["outputs"][0]["name"] = "frame_logits".into());
    assert_eq!(
        load_err(&dir),
        format!(
            "{}: manifest does not match the graph: output \"frame_logits\" is not in the graph (its outputs: logits)",
            dir.join("hark.json").display()
        )
    );
}

#[test]
fn wrong_input_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_fixture("none-ctc", tmp.path());
    edit_manifest(&dir, |v| v["input_name"] = "audio".into());
    assert_eq!(
        load_err(&dir),
        format!(
            "{}: manifest does not match the graph: the graph's input is \"input_values\", the manifest says \"audio\"",
            dir.join("hark.json").display()
        )
    );
}

#[test]
fn per_frame_kind_on_pooled_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_fixture("none-seqcls", tmp.path());
    edit_manifest(&dir, |v| v["outputs"][0]["kind"] = "frame_logits".into());
    assert_eq!(
        load_err(&dir),
        format!(
            "{}: manifest does not match the graph: output \"logits\" (FrameLogits) has rank 2, expected 3",
            dir.join("hark.json").display()
        )
    );
}

#[test]
fn missing_graph_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_fixture("rotary-ctc", tmp.path());
    std::fs::remove_file(dir.join("model.onnx")).unwrap();
    assert_eq!(
        load_err(&dir),
        format!(
            "{}: model graph not found (named by {})",
            dir.join("model.onnx").display(),
            dir.join("hark.json").display()
        )
    );
}

#[test]
fn corrupt_graph_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_fixture("rotary-ctc", tmp.path());
    let bytes = std::fs::read(dir.join("model.onnx")).unwrap();
    std::fs::write(dir.join("model.onnx"), &bytes[..bytes.len() / 3]).unwrap();
    let err = load_err(&dir);
    let prefix = format!(
        "{}: cannot load ONNX graph: ",
        dir.join("model.onnx").display()
    );
    assert!(err.starts_with(&prefix), "{err}");
}

#[test]
fn missing_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let err = load_err(tmp.path());
    let prefix = format!(
        "{}: cannot read manifest: ",
        tmp.path().join("hark.json").display()
    );
    assert!(err.starts_with(&prefix), "{err}");
}

#[test]
fn too_short_input_is_an_error_not_a_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rotary-ctc");
    let model = ModelBundle::load(&dir).unwrap();
    let err = model.run(&[0.0; 100]).unwrap_err().to_string();
    assert_eq!(
        err,
        "input of 100 samples is shorter than one model frame (165 samples)"
    );
}

#[test]
fn inputs_too_short_for_the_xvector_head_are_padded_not_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rotary-xvector");
    let model = ModelBundle::load(&dir).unwrap();
    // 1000 samples: 5 frames, fewer than the TDNN needs (hark.json min_samples 2405).
    assert_eq!(model.min_samples(), 2405);
    let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.1).sin()).collect();
    let out = model.run(&x).unwrap();
    let emb = out
        .get(hark::manifest::OutputKind::XvectorEmbeddings)
        .unwrap();
    assert_eq!(emb.shape, vec![12]);
    assert!(emb.data.iter().all(|v| v.is_finite()));
    // Per-frame outputs keep the real frame count.
    let frame_model = ModelBundle::load(&dir.with_file_name("rotary-frame")).unwrap();
    let out = frame_model.run(&x).unwrap();
    assert_eq!(out.frames(), Some(frame_model.manifest().frames_for(1000)));
}
