#!/usr/bin/env python3
"""Interpolate two trained encoders that share an ancestor (WiSE-FT style weight interpolation).

    python tools/interpolate_models.py --a WORK_A --b WORK_B --alpha 0.5 --out WORK_OUT

Reads WORK_A/export/{ctc,frame,xvector} and WORK_B/export/{ctc,frame,xvector} (transformers
checkpoints as train.py / train_xvector.py write them) and writes WORK_OUT/export/ with every
encoder, CTC and frame tensor set to (1 - alpha) * A + alpha * B; likewise WORK_OUT/checkpoint.pt
from the two WORK/checkpoint.pt (B's training-only tensors, the distillation map, kept as they
are), which train_xvector.py reads to train a head on the interpolated encoder. The x-vector head's own tensors
(everything outside `wav2vec2_conformer.`) are B's as they are: the head was trained on B's
encoder, so it is only a stand-in until train_xvector.py retrains it. Then
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", type=Path, required=True, help="work dir of the first model (alpha 0)")
    ap.add_argument("--b", type=Path, required=True, help="work dir of the second model (alpha 1)")
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    for head in ("ctc", "frame", "xvector"):
        src_a, src_b, dst = (w / "export" / head for w in (args.a, args.b, args.out))
        a, b = load_file(str(src_a / "model.safetensors")), load_file(str(src_b / "model.safetensors"))
        shared = [n for n in b if head != "xvector" or n.startswith("wav2vec2_conformer.")]
        missing = [n for n in shared if n not in a or a[n].shape != b[n].shape]
        if missing:
            raise SystemExit(f"{src_a}: {len(missing)} tensors missing or of another shape, e.g. {missing[0]}")
        out = dict(b)
        for n in shared:
            if b[n].is_floating_point():
                out[n] = mix(a[n], b[n], args.alpha)
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src_b, dst)
        save_file(out, str(dst / "model.safetensors"), metadata={"format": "pt"})
        print(f"{dst}: {len(shared)} of {len(b)} tensors interpolated at alpha {args.alpha}")
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
