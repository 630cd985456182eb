#!/usr/bin/env python3
"""Grow a trained encoder to more conformer layers without changing what it computes.

    python tools/grow_model.py --work ~/.cache/hark-mix-v50-xv0 --layers 16 --out ~/.cache/hark-v50-grown16

Reads WORK/checkpoint.pt (tools/train.py's format), appends layers as `train.py --layers` does when it resumes
(`train.grow_layers`: each new layer a copy of an old one with its residual outputs zeroed, so it adds nothing),
checks on held-out clips that the grown model's CTC and frame logits equal the original's (the max abs diff is
printed: not 0, as LayerNorm(LayerNorm(h)) differs from LayerNorm(h) by its epsilon, ~3e-5 for v50; it fails
above 1e-4), and writes OUT/checkpoint.pt (no optimizer state) and OUT/export/{ctc,frame}. WORK's x-vector head
is not carried over (its layer weights cover the old depth: `graft_head.py --pad-layers` does that).

What it is for: interpolating a grown model's training run with the model it grew from (v52,
`interpolate_models.py --a OUT --b RUN`), which needs both at one depth.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train as stage1  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="work dir with checkpoint.pt")
    ap.add_argument("--layers", type=int, required=True, help="conformer layers after growing")
    ap.add_argument("--out", type=Path, required=True, help="new work dir")
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "hark-data",
                    help="data folder whose held-out clips check the growth")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    ckpt = args.work / "checkpoint.pt"
    if not ckpt.is_file():
        sys.exit(f"grow_model.py: {ckpt}: no such file")
    if args.out.resolve() == args.work.resolve():
        sys.exit("grow_model.py: --out must be a new folder")
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    old_cfg = stage1.model_config("tiny").__class__.from_dict(state["config"])
    old = old_cfg.num_hidden_layers
    if args.layers <= old:
        sys.exit(f"grow_model.py: {ckpt} has {old} layers already; --layers must be more")
    new_cfg = stage1.model_config("tiny").__class__.from_dict({**state["config"], "num_hidden_layers": args.layers})

    distill = state["model"].get("distill.weight")
    teacher_dim = distill.shape[0] if distill is not None else 0
    before = stage1.Joint(old_cfg, teacher_dim=teacher_dim)
    stage1.load_resized(before, dict(state["model"]))
    after = stage1.Joint(new_cfg, teacher_dim=teacher_dim)
    stage1.load_resized(after, dict(state["model"]))
    stage1.grow_layers(after, old)
    before.eval()
    after.eval()

    clips = [c for c in stage1.load_clips(args.data) if c.split == "eval"][:8]
    worst = 0.0
    with torch.no_grad():
        for c in clips:
            x, *_ = stage1.make_batch([c], old_cfg, random.Random(0), np.random.default_rng(0), False)
            a, b = before(x, None), after(x, None)
            worst = max(worst, (a[0] - b[0]).abs().max().item(), (a[1] - b[1]).abs().max().item())
    print(f"grown {old} -> {args.layers} layers; CTC and frame logits on {len(clips)} held-out clips differ by at "
          f"most {worst:.2e}")
    if worst > 1e-4:
        sys.exit(f"grow_model.py: the grown model differs from {ckpt} by {worst:.2e} (> 1e-4)")

    args.out.mkdir(parents=True, exist_ok=True)
    grown = {k: v for k, v in state.items() if k not in ("opt", "opt_speaker")}
    grown["model"] = {**{n: t for n, t in state["model"].items() if not n.startswith("ctc.") and
                         not n.startswith("frame_classifier.")}, **after.state_dict()}
    grown["config"] = new_cfg.to_dict()
    grown["grown_from"] = {"work": str(args.work), "layers": old}
    torch.save(grown, args.out / "checkpoint.pt")
    after.save_hf(args.out / "export")
    print(f"wrote {args.out / 'checkpoint.pt'} and {args.out / 'export'}")


if __name__ == "__main__":
    main()
