#!/usr/bin/env python3
"""Interpolate two trained encoders that share an ancestor (WiSE-FT style weight interpolation).

    python tools/interpolate_models.py --a WORK_A --b WORK_B --alpha 0.5 --out WORK_OUT

Reads WORK_A/export/{ctc,frame,xvector} and WORK_B/export/{ctc,frame,xvector} (transformers
checkpoints as train.py / train_xvector.py write them) and writes WORK_OUT/export/ with every
encoder, CTC and frame tensor set to (1 - alpha) * A + alpha * B; likewise WORK_OUT/checkpoint.pt
from the two WORK/checkpoint.pt (B's training-only tensors, the distillation map, kept as they
are), which train_xvector.py reads to train a head on the interpolated encoder. The x-vector head's own tensors
(everything outside `wav2vec2_conformer.`) are B's as they are: the head was trained on B's
encoder, so it is only a stand-in until train_xvector.py retrains it (when B has no export/xvector, as
train.py's work dirs do not, A's head stands in; when neither has one, WORK_OUT gets no export/xvector and
tools/train_heads.sh trains heads on WORK_OUT/checkpoint.pt). Then
`export_bundle.py --work WORK_OUT --out BUNDLE` exports the result as usual.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def mix(a: torch.Tensor, b: torch.Tensor, alpha: float) -> torch.Tensor:
    """(1 - alpha) * a + alpha * b, computed in float64, in b's dtype."""
    return ((1 - alpha) * a.double() + alpha * b.double()).to(b.dtype)


def load_export(work: Path, head: str) -> tuple[dict[str, torch.Tensor], Path | None]:
    """WORK/export/HEAD's tensors and folder. train.py exports no x-vector model, so for a work dir
    without export/xvector this returns the CTC export's encoder tensors (the same encoder) and no
    folder: the other model's head then stands in, on the interpolated encoder."""
    folder = work / "export" / head
    path = folder / "model.safetensors"
    if path.is_file():
        return load_file(str(path)), folder
    ctc = work / "export" / "ctc" / "model.safetensors"
    if head == "xvector" and ctc.is_file():
        return {n: t for n, t in load_file(str(ctc)).items() if n.startswith("wav2vec2_conformer.")}, None
    raise SystemExit(f"{path}: no such file")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", type=Path, required=True, help="work dir of the first model (alpha 0)")
    ap.add_argument("--b", type=Path, required=True, help="work dir of the second model (alpha 1)")
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    for head in ("ctc", "frame", "xvector"):
        (a, dir_a), (b, dir_b) = (load_export(w, head) for w in (args.a, args.b))
        template, src = (b, dir_b) if dir_b is not None else (a, dir_a)
        if src is None:
            # Neither has a head (a run's average and a grown base, tools/average_and_export.sh HARK_MIX_WITH):
            # train_heads.sh trains one on the interpolated checkpoint.pt.
            print(f"no export/xvector in {args.a} or {args.b}: {args.out} gets none (train a head on it)")
            continue
        shared = [n for n in template if head != "xvector" or n.startswith("wav2vec2_conformer.")]
        for side, tensors in ((args.a, a), (args.b, b)):
            missing = [n for n in shared if n not in tensors or tensors[n].shape != template[n].shape]
            if missing:
                raise SystemExit(f"{side}: {len(missing)} {head} tensors missing or of another shape, e.g. {missing[0]}")
        out = dict(template)
        for n in shared:
            if template[n].is_floating_point():
                out[n] = mix(a[n], b[n], args.alpha)
        dst = args.out / "export" / head
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst)
        save_file(out, str(dst / "model.safetensors"), metadata={"format": "pt"})
        note = "" if src == dir_b else f" (the x-vector head is {args.a}'s: {args.b} has none)"
        print(f"{dst}: {len(shared)} of {len(template)} tensors interpolated at alpha {args.alpha}{note}")
    a = torch.load(args.a / "checkpoint.pt", map_location="cpu", weights_only=False)
    b = torch.load(args.b / "checkpoint.pt", map_location="cpu", weights_only=False)
    done = 0
    for n, t in b["model"].items():
        if t.is_floating_point() and n in a["model"] and a["model"][n].shape == t.shape:
            b["model"][n] = mix(a["model"][n], t, args.alpha)
            done += 1
    b["interpolated"] = {"a": str(args.a), "b": str(args.b), "alpha": args.alpha}
    torch.save(b, args.out / "checkpoint.pt")
    print(f"{args.out / 'checkpoint.pt'}: {done} of {len(b['model'])} tensors interpolated")


if __name__ == "__main__":
    main()
