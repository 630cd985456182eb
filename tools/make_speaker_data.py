#!/usr/bin/env python3
"""Speaker-head data: more espeak-ng voices, for the x-vector head only (tools/train_xvector.py
--extra-data), never for the CTC training.

    python tools/make_speaker_data.py [--out ~/.cache/hark-speaker-data] [--clips 6] [--jobs 2]

The CTC data (make_data.py) uses 40 of the ~100 espeak-ng variants; this writes `--clips`
utterances for every other variant in every training accent except the validation accent
(train_xvector.VAL_ESPEAK_ACCENT, kept out so that the validation voices stay the same) and the
held-out one (en-029). The held-out voices are en-029 with the 40 usual variants: these new voices
share neither their accent nor their variant, they only give the head more speakers to tell
apart. Same synthesis, perturbation and augmentation as make_data.py (tts_job), sentences from the
training stream of textgen with a seed of their own (never a held-out sentence). Same manifest
format as make_data.py (OUT/manifest.tsv); reproducible from --seed; finished clips are kept.
"""

from __future__ import annotations

import argparse
import csv
import random
import subprocess
import sys
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_data  # noqa: E402
import textgen  # noqa: E402

# train_xvector.VAL_ESPEAK_ACCENT without importing torch here.
VAL_ACCENT = "en-gb-x-gbcwmd"


def extra_variants() -> list[str]:
    """espeak-ng variants installed here that make_data.py does not use."""
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True).stdout
    names = []
    for line in out.splitlines()[1:]:
        cols = line.split()
        at = [i for i, c in enumerate(cols) if c.startswith("!v/")]
        # A file name with a space ("!v/Mr serious") leaves a word after it that is not an
        # "(other-language priority)" pair: skipped.
        if len(at) == 1 and all(c.startswith("(") or c.endswith(")") for c in cols[at[0] + 1:]):
            names.append(cols[at[0]][3:])
    used = {v.lower() for v in make_data.ESPEAK_VARIANTS}
    return sorted(v for v in set(names) if v.lower() not in used)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path.home() / ".cache" / "hark-speaker-data")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--clips", type=int, default=6, help="utterances per voice")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    accents = [b for b in make_data.ESPEAK_BASES
               if b != VAL_ACCENT and not make_data.held_out("espeak", b)]
    variants = extra_variants()
    voices = [f"{a}+{v}" for a in accents for v in variants]
    print(f"{len(variants)} extra variants x {len(accents)} accents = {len(voices)} voices", file=sys.stderr)

    words = textgen.load_wordlist()
    eval_set = set(textgen.sentences(1 + 1000, 300, words, []))  # make_data.py's held-out sentences (seed 1)
    need = len(voices) * args.clips
    sents = [s for s in textgen.sentences(args.seed + 9000, need + 500, words, make_data.corpus_texts())
             if s not in eval_set][:need]
    rng = random.Random(args.seed)
    rng.shuffle(sents)
    jobs = [(f"spk-{i:06d}", "espeak", voices[i // args.clips], s, "train", str(out),
             args.seed * 1_000_003 + 900_000 + i) for i, s in enumerate(sents)]
    rows = []
    with Pool(args.jobs) as pool:
        for k, r in enumerate(pool.imap_unordered(make_data.tts_job, jobs, chunksize=8)):
            if r:
                rows.append(r)
            if k % 500 == 0:
                print(f"tts {k}/{len(jobs)}", file=sys.stderr, flush=True)
    rows.sort(key=lambda r: r["path"])
    tmp = out / "manifest.tsv.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=make_data.COLUMNS, delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out / "manifest.tsv")
    hours = sum(float(r["duration"]) for r in rows) / 3600
    print(f"wrote {len(rows)} clips ({hours:.2f} h, {len({r['speaker'] for r in rows})} voices) "
          f"to {out / 'manifest.tsv'}", file=sys.stderr)


if __name__ == "__main__":
    main()
