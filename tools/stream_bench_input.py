#!/usr/bin/env python3
"""Input for examples/stream_bench.rs: held-out TTS clips (held-out voices and sentences from
tools/make_data.py) joined with short pauses into one file, plus its reference transcript.

    python tools/stream_bench_input.py [--data ~/.cache/hark-data] [--clips 24] [--out /tmp/stream-eval]

Writes OUT.wav (16 kHz mono) and OUT.txt. Clips are taken evenly across the eval split, so every
held-out voice family appears.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "hark-data")
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--pause", type=float, default=0.6, help="seconds of silence between clips")
    ap.add_argument("--out", type=Path, default=Path("/tmp/stream-eval"))
    args = ap.parse_args()

    rows = [r for r in csv.DictReader(open(args.data / "manifest.tsv"), delimiter="\t")
            if r["split"] == "eval" and r["kind"] == "speech" and r["text"]]
    step = max(1, len(rows) // args.clips)
    picked = rows[::step][: args.clips]
    pause = np.zeros(int(args.pause * RATE), np.float32)
    parts, texts = [], []
    for r in picked:
        x, rate = sf.read(r["path"], dtype="float32")
        assert rate == RATE, r["path"]
        parts += [x if x.ndim == 1 else x.mean(axis=1), pause]
        texts.append(r["text"])
    audio = np.concatenate(parts)
    sf.write(str(args.out) + ".wav", audio, RATE, subtype="PCM_16")
    Path(str(args.out) + ".txt").write_text(" ".join(texts) + "\n")
    print(f"{args.out}.wav: {len(picked)} clips, {len(audio) / RATE:.1f} s, {sum(len(t.split()) for t in texts)} words")


if __name__ == "__main__":
    main()
