#!/usr/bin/env python3
"""Put one work dir's x-vector head on another work dir's encoder.

    python tools/graft_head.py --encoder ~/.cache/hark-mix-v47 --head ~/.cache/hark-mix-v46-xv1 \\
        --out ~/.cache/hark-mix-v47-xvS

OUT gets ENCODER's checkpoint.pt and export/ (ctc, frame, xvector), and in export/xvector/model.safetensors every
tensor outside the encoder (`wav2vec2_conformer.*`: the layer weights, projector, TDNN, embedding and AMSoftmax
layers) is replaced by HEAD's. HEAD's speakers.txt comes along; embedding_mean.json is dropped, since the training
mean belongs to an encoder: `train_xvector.py --work OUT --mean-only ...` computes it again and scores the grafted
head on the validation voices, so the shipped head on a new encoder can compete with that encoder's fresh heads
(tools/train_heads.sh, HARK_SHIPPED_HEAD). The encoder tensors of OUT's x-vector export are checked equal to
ENCODER's CTC export, and the two heads' configs equal apart from the encoder's own fields.
"""
import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import NoReturn

from safetensors.torch import load_file, save_file

ENCODER_PREFIX = "wav2vec2_conformer."
# Config fields the head depends on; everything else in config.json describes the encoder.
HEAD_FIELDS = ("tdnn_dim", "tdnn_kernel", "tdnn_dilation", "xvector_output_dim", "num_labels",
               "use_weighted_layer_sum", "num_hidden_layers", "hidden_size")


def fail(msg: str) -> NoReturn:
    sys.exit(f"graft_head.py: {msg}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", type=Path, required=True, help="work dir whose encoder is kept")
    ap.add_argument("--head", type=Path, required=True, help="work dir whose x-vector head is taken")
    ap.add_argument("--out", type=Path, required=True, help="new work dir (replaced if it exists)")
    args = ap.parse_args()

    for d, what in ((args.encoder, "--encoder"), (args.head, "--head")):
        for f in ("export/xvector/model.safetensors", "export/xvector/config.json"):
            if not (d / f).is_file():
                fail(f"{what} {d}: no {f}")
    if not (args.encoder / "export/ctc/model.safetensors").is_file():
        fail(f"--encoder {args.encoder}: no export/ctc/model.safetensors")
    if args.out.resolve() in (args.encoder.resolve(), args.head.resolve()):
        fail(f"--out {args.out} must be a new folder")

    enc_cfg = json.loads((args.encoder / "export/xvector/config.json").read_text())
    head_cfg = json.loads((args.head / "export/xvector/config.json").read_text())
    for k in HEAD_FIELDS:
        if enc_cfg.get(k) != head_cfg.get(k):
            fail(f"{k} differs: {enc_cfg.get(k)!r} in {args.encoder}, {head_cfg.get(k)!r} in {args.head}")

    xv = load_file(str(args.encoder / "export/xvector/model.safetensors"))
    head = load_file(str(args.head / "export/xvector/model.safetensors"))
    ctc = load_file(str(args.encoder / "export/ctc/model.safetensors"))
    replaced = 0
    for name in list(xv):
        if name.startswith(ENCODER_PREFIX):
            if name in ctc and not (xv[name] == ctc[name]).all():
                fail(f"{args.encoder}: export/xvector's {name} differs from export/ctc's (not one encoder)")
            continue
        if name not in head:
            fail(f"{args.head}: its head has no tensor {name}")
        if head[name].shape != xv[name].shape:
            fail(f"{name}: shape {tuple(head[name].shape)} in {args.head}, {tuple(xv[name].shape)} in {args.encoder}")
        xv[name] = head[name].clone()
        replaced += 1
    extra = [n for n in head if not n.startswith(ENCODER_PREFIX) and n not in xv]
    if extra:
        fail(f"{args.head}: head tensors {extra} have no place in {args.encoder}'s model")

    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    if (args.encoder / "checkpoint.pt").is_file():
        shutil.copy2(args.encoder / "checkpoint.pt", args.out / "checkpoint.pt")
    shutil.copytree(args.encoder / "export", args.out / "export")
    dst = args.out / "export/xvector"
    save_file(xv, str(dst / "model.safetensors"), metadata={"format": "pt"})
    shutil.copy2(args.head / "export/xvector/config.json", dst / "config.json")
    if (args.head / "export/xvector/speakers.txt").is_file():
        shutil.copy2(args.head / "export/xvector/speakers.txt", dst / "speakers.txt")
    (dst / "embedding_mean.json").unlink(missing_ok=True)
    print(f"{args.out}: {args.encoder}'s encoder with {args.head}'s head ({replaced} of {len(xv)} tensors replaced)")


if __name__ == "__main__":
    main()
