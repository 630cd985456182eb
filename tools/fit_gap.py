#!/usr/bin/env python3
"""Generalization gap of a stage-1 checkpoint: greedy CER / WER per voice family on clips it
trained on and on the held-out split, through the same PyTorch evaluation train.py runs.

    python tools/fit_gap.py [--checkpoint ~/.cache/hark-train/checkpoint.pt] [--per-family 60]

For each family, up to --per-family speech clips of the training split (a seeded sample, the
clean generated audio without training-time perturbation) and every held-out clip of that
family. A small gap says the model lacks capacity or steps; a large one says it learned its
training voices and sentences rather than speech (more voices, sentences and augmentation help
then, more steps do not). Prints a markdown table. Never reads ../shared/eval.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train as stage1  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "hark-data")
    ap.add_argument("--checkpoint", type=Path, default=Path.home() / ".cache" / "hark-train" / "checkpoint.pt")
    ap.add_argument("--per-family", type=int, default=60, help="training clips sampled per family")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    config = stage1.model_config("tiny").__class__.from_dict(state["config"])
    model = stage1.Joint(config)
    stage1.load_resized(model, dict(state["model"]))
    what = f"step {state['step']}" + (f", mean of steps {state['averaged'][0]}-{state['averaged'][-1]}"
                                      if state.get("averaged") else "")
    clips = [c for c in stage1.load_clips(args.data) if c.kind == "speech" and c.text]
    split_of = {"train": "trained on", "eval": "held out"}
    groups: dict[tuple[str, str], list] = collections.defaultdict(list)
    for c in clips:
        if c.split in split_of:
            groups[(c.family, c.split)].append(c)
    rng = random.Random(args.seed)
    print(f"{args.checkpoint} ({what})\n")
    print("| family | split | clips | CER | WER |")
    print("|---|---|---|---|---|")
    t0 = time.time()
    for (family, split) in sorted(groups):
        group = groups[(family, split)]
        if split == "train" and len(group) > args.per_family:
            group = rng.sample(group, args.per_family)
        m = stage1.evaluate(model, group, config, torch.device("cpu"))
        print(f"| {family} | {split_of[split]} | {len(group)} | {100 * m['cer']:.1f}% | {100 * m['wer']:.1f}% |",
              flush=True)
    print(f"\n({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
