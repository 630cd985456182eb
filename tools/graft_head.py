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

--pad-layers grafts a head onto a deeper encoder grown from its own (train.py --layers appends layers, so hidden
states 0..L of the old encoder keep their place): the head's L+1 layer weights get -1e4 for each added hidden state,
which the softmax turns into a weight of exactly 0, and OUT's config takes the encoder's num_hidden_layers (v51).
"""
import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import NoReturn

import torch
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
    ap.add_argument("--pad-layers", action="store_true",
                    help="allow a deeper encoder: the head's weights on the added hidden states are set to zero")
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
    enc_layers, head_layers = enc_cfg.get("num_hidden_layers"), head_cfg.get("num_hidden_layers")
    pad = 0
    if args.pad_layers and enc_layers != head_layers:
        if not (isinstance(enc_layers, int) and isinstance(head_layers, int) and enc_layers > head_layers):
            fail(f"--pad-layers needs a deeper encoder: {enc_layers!r} layers in {args.encoder}, "
                 f"{head_layers!r} in {args.head}")
        pad = enc_layers - head_layers
        head_cfg["num_hidden_layers"] = enc_layers
    for k in HEAD_FIELDS:
        if enc_cfg.get(k) != head_cfg.get(k):
            fail(f"{k} differs: {enc_cfg.get(k)!r} in {args.encoder}, {head_cfg.get(k)!r} in {args.head}")

    xv = load_file(str(args.encoder / "export/xvector/model.safetensors"))
    head = load_file(str(args.head / "export/xvector/model.safetensors"))
    ctc = load_file(str(args.encoder / "export/ctc/model.safetensors"))
    if pad:
        w = head["layer_weights"]
        head["layer_weights"] = torch.cat([w, torch.full((pad,), -1e4, dtype=w.dtype)])
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
    if pad:
        (dst / "config.json").write_text(json.dumps(head_cfg, indent=2, sort_keys=True) + "\n")
    else:
        shutil.copy2(args.head / "export/xvector/config.json", dst / "config.json")
    if (args.head / "export/xvector/speakers.txt").is_file():
        shutil.copy2(args.head / "export/xvector/speakers.txt", dst / "speakers.txt")
    (dst / "embedding_mean.json").unlink(missing_ok=True)
    padded = f", layer weights padded by {pad} hidden states" if pad else ""
    print(f"{args.out}: {args.encoder}'s encoder with {args.head}'s head ({replaced} of {len(xv)} tensors "
          f"replaced{padded})")


if __name__ == "__main__":
    main()
