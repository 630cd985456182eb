#!/usr/bin/env python3
"""How much of a voice's error is its pitch and formants? Re-synthesizes clips of one voice with
the WORLD vocoder (pyworld), F0 scaled by --f0 and the spectral envelope (formants) stretched
along the frequency axis by --formant, and transcribes original, plain re-synthesis and shifted
clips with hark's own binary (greedy CER against the manifest text).

    python tools/voice_shift.py --voice flite:slt --f0 0.6 --formant 0.87
    python tools/voice_shift.py --voice flite:awb --split train --f0 1.7 --formant 1.15

The plain re-synthesis (F0 1, formant 1) row is the vocoder's own cost; compare the shifted row
with it, not with the original. Reads the manifest of tools/make_data.py (never ../shared/eval).
Build hark first (`cargo build --release`).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyworld
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import edit_distance, hark_transcribe  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def shift(x: np.ndarray, rate: int, f0_scale: float, formant: float) -> np.ndarray:
    """WORLD analysis (DIO + StoneMask, CheapTrick, D4C), scale F0, stretch envelope and
    aperiodicity by `formant` (a formant at f moves to f * formant), re-synthesize."""
    x = x.astype(np.float64)
    f0, t = pyworld.dio(x, rate, frame_period=5.0)
    f0 = pyworld.stonemask(x, f0, t, rate)
    sp = pyworld.cheaptrick(x, f0, t, rate)
    ap = pyworld.d4c(x, f0, t, rate)
    bins = np.arange(sp.shape[1])
    src = np.clip(bins / formant, 0, bins[-1])
    sp = np.stack([np.interp(src, bins, row) for row in sp])
    ap = np.stack([np.interp(src, bins, row) for row in ap])
    y = pyworld.synthesize(f0 * f0_scale, sp, ap, rate, frame_period=5.0)
    return (y / (np.abs(y).max() + 1e-9) * 0.8).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", type=Path, default=Path.home() / ".cache/hark-data/manifest.tsv")
    ap.add_argument("--voice", required=True, help="manifest speaker, e.g. flite:slt")
    ap.add_argument("--split", default="eval", choices=["train", "eval"])
    ap.add_argument("--clips", type=int, default=12, help="first N clips of that voice and split")
    ap.add_argument("--f0", type=float, required=True, help="F0 factor")
    ap.add_argument("--formant", type=float, required=True, help="formant (envelope) factor")
    ap.add_argument("--model", type=Path, default=ROOT / "models/demo")
    ap.add_argument("--hark", type=Path, default=ROOT / "target/release/hark")
    args = ap.parse_args()

    with open(args.manifest, newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t")
                if r["speaker"] == args.voice and r["split"] == args.split]
    if not rows:
        raise SystemExit(f"{args.manifest}: no {args.split} clips of {args.voice}")
    rows = rows[: args.clips]
    settings = [("original", None), ("re-synthesis (F0 1, formant 1)", (1.0, 1.0)),
                (f"shifted (F0 {args.f0:g}, formant {args.formant:g})", (args.f0, args.formant))]
    print(f"{args.voice} ({args.split}, {len(rows)} clips)\n\n| audio | CER |\n|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, change in settings:
            errors = chars = 0
            for r in rows:
                wav = Path(r["path"])
                if change is not None:
                    x, rate = sf.read(wav, dtype="float32")
                    wav = Path(tmp) / "shifted.wav"
                    sf.write(wav, shift(x, rate, *change), rate, subtype="PCM_16")
                ref = " ".join(r["text"].split())
                errors += edit_distance(ref, hark_transcribe(args.hark, args.model, wav))
                chars += len(ref)
            print(f"| {name} | {errors / chars:.1%} |")


if __name__ == "__main__":
    main()
