#!/usr/bin/env python3
"""Average the encoder weights of the last stage-1 checkpoints (tools/train.py) into one.

    python tools/average_checkpoints.py [--work ~/.cache/hark-train] --from 62000 [--to 64000] [--save]

Reads the weight snapshots that `train.py --keep-from STEP` writes to WORK/snapshots/step-N.pt
(any file with a `model` state dict and a `step` also works, such as a copy of checkpoint.pt),
takes the equal-weight mean of every floating-point tensor over the snapshots whose step lies in
[--from, --to], and reports the held-out TTS CER / WER of the last snapshot and of the average
(PyTorch, the 120 clips train.py evaluates on). The BatchNorm running statistics are frozen after
recalibration (train.py), so they are the same in every snapshot and the mean keeps them.

With --save the average replaces the model weights in WORK/checkpoint.pt (the original is kept as
WORK/checkpoint-unaveraged.pt) and is exported to WORK/export like train.py's evaluations, so
tools/train_xvector.py and tools/export_bundle.py take it from there. The checkpoint records the
averaged steps (`averaged`); resume training from checkpoint-unaveraged.pt, not from the average.
Snapshots left in the folder by an earlier run of the same size are not told apart: clear it
before a new run's --keep-from range.

Runs that share a parent checkpoint (two schedules resumed from the same step) average too: give
each run's snapshot folder to --snapshots (repeat the flag). Within one folder a step may occur
once; across folders the same step may occur in each (two runs that ended at the same step).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train as stage1  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "hark-data")
    ap.add_argument("--work", type=Path, default=Path.home() / ".cache" / "hark-train")
    ap.add_argument("--snapshots", type=Path, action="append",
                    help="folder of snapshots (default WORK/snapshots); repeat it to average several runs")
    ap.add_argument("--from", dest="first", type=int, required=True, help="first step averaged")
    ap.add_argument("--to", dest="last", type=int, help="last step averaged (default: the newest snapshot)")
    ap.add_argument("--save", action="store_true", help="write the average to WORK/checkpoint.pt and WORK/export")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    folders = args.snapshots or [args.work / "snapshots"]
    # One pass: each snapshot is loaded once, summed when its step is in range.
    total: dict[str, torch.Tensor] = {}
    steps: list[int] = []
    first = last = None
    seen: set[tuple[Path, int]] = set()
    for folder in folders:
        if not folder.is_dir():
            raise SystemExit(f"{folder}: no such snapshot folder")
    for folder, p in [(f, p) for f in folders for p in sorted(f.glob("*.pt"))]:
        s = torch.load(p, map_location="cpu", weights_only=False)
        if s["step"] < args.first or (args.last is not None and s["step"] > args.last):
            continue
        if (folder, s["step"]) in seen:
            raise SystemExit(f"{folder}: two snapshots of step {s['step']}")
        seen.add((folder, s["step"]))
        shapes = {n: tuple(t.shape) for n, t in s["model"].items()}
        if first is None:
            first = (p, shapes)
        elif shapes != first[1]:
            raise SystemExit(f"{p}: its tensors differ from those of {first[0]} (another model size "
                             "or depth); average snapshots of one run only")
        for n, t in s["model"].items():
            if t.is_floating_point():
                total[n] = total.get(n, 0) + t.double()
        steps.append(s["step"])
        if last is None or s["step"] > last["step"]:
            last = s
    if not steps:
        raise SystemExit(f"{', '.join(map(str, folders))}: no snapshot with a step in [{args.first}, {args.last or 'newest'}]")
    steps.sort()
    mean = {n: (total[n] / len(steps)).to(t.dtype) if t.is_floating_point() else t
            for n, t in last["model"].items()}
    print(f"averaged {len(steps)} snapshots from {len(folders)} folder(s), steps {steps[0]}..{steps[-1]}", flush=True)

    config = stage1.model_config("tiny").__class__.from_dict(last["config"])
    clips = stage1.load_clips(args.data)
    held = [c for c in clips if c.split == "eval"][:120]
    device = torch.device("cpu")
    for name, weights in ((f"step {steps[-1]}", last["model"]), ("average", mean)):
        model = stage1.Joint(config)
        stage1.load_resized(model, dict(weights))  # drops training-only weights (distillation map)
        t0 = time.time()
        m = stage1.evaluate(model, held, config, device)
        print(f"{name}: held-out TTS CER {m['cer']:.4f} WER {m['wer']:.4f} speech/non-speech frame acc "
              f"{m['speech_acc']:.4f} ({time.time() - t0:.0f} s)", flush=True)

    if args.save:
        ckpt = args.work / "checkpoint.pt"
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        if state.get("averaged"):
            raise SystemExit(f"{ckpt} is already an average (of steps {state['averaged']})")
        if state["step"] != steps[-1]:
            raise SystemExit(f"{ckpt} is at step {state['step']}, the newest snapshot averaged at {steps[-1]}")
        shutil.copy(ckpt, args.work / "checkpoint-unaveraged.pt")
        state["model"] = mean
        state["averaged"] = steps
        torch.save(state, str(ckpt) + ".tmp")
        Path(str(ckpt) + ".tmp").replace(ckpt)
        model.save_hf(args.work / "export")  # the average, evaluated last above
        print(f"saved the average to {ckpt} and {args.work / 'export'} "
              f"(the original is {args.work / 'checkpoint-unaveraged.pt'})")


if __name__ == "__main__":
    main()
