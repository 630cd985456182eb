//! The `evaluate` example's per-clip output (`--per-clip`), which the demo model's rule compares
//! clip by clip (tools/compare_clips.py): its rows must add up to the table it prints.

use std::path::{Path, PathBuf};
use std::process::Command;

use hark::metrics::ErrorRates;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `cargo test` builds the examples next to the test binaries' folder (target/<profile>/examples).
fn evaluate_exe() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir
        .join("examples")
        .join(format!("evaluate{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: `cargo test` builds it (`cargo test --test evaluate` alone does not)",
        path.display()
    );
    path
}

/// Runs `evaluate` on the bundled model with `args` after `--model models/demo`.
fn evaluate(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(evaluate_exe())
        .arg("--model")
        .arg(root().join("models/demo"))
        .args(args)
        .output()
        .unwrap()
}

/// An eval dir with one folder, `samples`, holding the assets/ samples and their known text.
fn eval_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("eval");
    let folder = dir.join("samples");
    std::fs::create_dir_all(&folder).unwrap();
    let samples = std::fs::read_to_string(root().join("assets/samples.tsv")).unwrap();
    let mut manifest = String::from("path\tspeaker\tduration_s\ttranscript\n");
    for line in samples.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let wav = root().join("assets").join(f[0]);
        manifest += &format!("{}\t{}\t0\t{}\n", wav.display(), f[1], f[2]);
    }
    std::fs::write(folder.join("manifest.tsv"), manifest).unwrap();
    dir
}

#[test]
fn per_clip_rows_add_up_to_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let clips = tmp.path().join("clips.tsv");
    let dir = eval_dir(tmp.path());
    let out = evaluate(&[
        "--eval-dir".as_ref(),
        dir.as_ref(),
        "--per-clip".as_ref(),
        clips.as_ref(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let text = std::fs::read_to_string(&clips).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("part\tpath\twords\tword_errors\tchars\tchar_errors\treference\thypothesis")
    );
    let mut total = ErrorRates::default();
    let mut n = 0;
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 8, "{line}");
        assert_eq!(f[0], "samples");
        assert!(Path::new(f[1]).is_file(), "{line}");
        // The counts are those of the row's own reference and hypothesis.
        let mut e = ErrorRates::default();
        e.add(f[7], f[6]);
        let counts: Vec<usize> = f[2..6].iter().map(|x| x.parse().unwrap()).collect();
        assert_eq!(
            counts,
            [e.words, e.word_errors, e.chars, e.char_errors],
            "{line}"
        );
        total.add(f[7], f[6]);
        n += 1;
    }
    assert_eq!(n, 4);
    assert_eq!(total.words, 9 + 9 + 9 + 11);
    let row = format!(
        "| samples | 4 | {} | {:.1}% | {:.1}% |",
        total.words,
        100.0 * total.cer(),
        100.0 * total.wer()
    );
    assert!(stdout.contains(&row), "{row} not in:\n{stdout}");
}

#[test]
fn per_clip_file_that_cannot_be_created_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("missing-dir/clips.tsv");
    let out = evaluate(&["--per-clip".as_ref(), bad.as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or("");
    assert_eq!(
        first,
        format!(
            "evaluate: --per-clip {}: No such file or directory (os error 2)",
            bad.display()
        )
    );
}

#[test]
fn missing_clip_is_named_without_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("eval/part");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("manifest.tsv"),
        "path\tspeaker\tduration_s\ttranscript\nmissing.wav\ts\t0\thello\n",
    )
    .unwrap();
    let dir = tmp.path().join("eval");
    let out = evaluate(&["--eval-dir".as_ref(), dir.as_ref()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "evaluate: {}: cannot open: No such file or directory (os error 2)",
            folder.join("missing.wav").display()
        )
    );
}
