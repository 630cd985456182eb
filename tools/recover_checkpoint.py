#!/usr/bin/env python3
"""Rebuild a training checkpoint from the shipped demo bundle, so training resumes after the
training cache (~/.cache/hark-train) is lost: the weights in models/demo/model.onnx are all the
weights of the encoder and its three heads.

    python tools/recover_checkpoint.py --step 20000 [--bundle models/demo] [--work ~/.cache/hark-train]

Bundles exported with float16 weights (export_bundle.py's default since session 52) store most weights as
float16 with a Cast in front: those are read back as float32 (the rounded values are the model's weights; the
goldens were computed on them).

Writes WORK/checkpoint.pt (what tools/train.py resumes from) and WORK/export/{ctc,frame,xvector}
(transformers layout, what tools/export_bundle.py and tools/train_xvector.py --mean-only read),
then checks that every recovered transformers class reproduces the bundle's golden.json outputs
(max |diff| <= 1e-4) and exits non-zero otherwise.

How each ONNX initializer maps back (legacy TorchScript export, tools/export_bundle.py):
  * named initializers (`base.…`, `lm_head.bias`, `xvec.…`) are the parameters themselves;
  * `onnx::MatMul_*` are Linear weights, transposed; the consuming node's name
    (`/base/encoder/layers.0/ffn1/intermediate_dense/MatMul`) names the module;
  * the depthwise convolution of each conformer block had its eval-mode BatchNorm folded in
    (`onnx::Conv_*` weight and bias): the folded weight goes into the convolution and the
    BatchNorm becomes the identity plus the folded bias (running mean 0, variance 1 - eps,
    scale 1). The function is exactly the same; train.py keeps BatchNorm statistics frozen;
  * the x-vector TDNN kernels were exported as Conv weights [out, in, k]: the Linear weight is
    their [out, k, in] layout flattened; the softmax of `layer_weights` was folded into a
    constant (its logarithm restores the weights up to a shift, which softmax ignores).

Not in the bundle either: whether the feature encoder was frozen (`train.py --freeze-feature-encoder`
is remembered in the checkpoint only), so a run from the rebuilt checkpoint trains it unless given
the flag again; every run from v15 on trained it (models/demo/HISTORY.md).

Not in the bundle, so freshly initialized: the training-only distillation map (train.py resets
the optimizer when it finds it missing), SpecAugment's `masked_spec_embed`, the unused
`pos_conv_embed` of the conformer encoder, and the x-vector AMSoftmax weights (train_xvector.py
trains a new head anyway).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train as stage1  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def onnx_weights(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """All initializers by name, and for each unnamed (`onnx::…`) initializer the name of the
    node that consumes it."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    weights = {i.name: numpy_helper.to_array(i).copy() for i in model.graph.initializer}
    # export_bundle.py (float16 weights) stores exact float16 copies (NAME.f16) cast back to NAME.
    for n in model.graph.node:
        if n.op_type == "Cast" and n.input[0] in weights:
            weights[n.output[0]] = weights.pop(n.input[0]).astype(np.float32)
    consumer = {}
    for n in model.graph.node:
        if n.op_type == "Cast" and n.output[0] in weights:
            continue
        for i in n.input:
            if i in weights and i.startswith("onnx::"):
                consumer.setdefault(i, n.name)
    return weights, consumer


def module_path(node: str) -> str:
    """`/base/encoder/layers.0/ffn1/intermediate_dense/MatMul` -> `base.encoder.layers.0.ffn1.intermediate_dense`."""
    return ".".join(p for p in node.strip("/").split("/")[:-1])


def bundle_layers(weights: dict[str, np.ndarray], consumer: dict[str, str]) -> int:
    """Number of conformer layers in the bundle: one more than the highest `encoder.layers.N`
    named by an initializer or by the node that consumes one."""
    found = set()
    for name in list(weights) + list(consumer.values()):
        for part in name.replace("/", ".").split("encoder.layers.")[1:]:
            digits = part.split(".")[0]
            if digits.isdigit():
                found.add(int(digits))
    if not found:
        raise SystemExit("model.onnx names no conformer layer (`encoder.layers.N`)")
    return max(found) + 1


def recover(bundle: Path, num_speakers: int):
    from transformers import Wav2Vec2ConformerForXVector

    weights, consumer = onnx_weights(bundle / "model.onnx")
    config = stage1.model_config("tiny")
    # The depth is the bundle's, not the size preset's (tools/train.py --layers grows it).
    config.num_hidden_layers = bundle_layers(weights, consumer)
    joint = stage1.Joint(config)
    xcfg = stage1.xvector_config(config, num_speakers)
    xvec = Wav2Vec2ConformerForXVector(xcfg)

    enc = joint.ctc.wav2vec2_conformer
    targets = {"base": enc, "lm_head": joint.ctc.lm_head, "frame_classifier": joint.frame_classifier,
               "xvec": xvec}
    params = {}
    for prefix, module in targets.items():
        for k, v in module.state_dict().items():
            params[f"{prefix}.{k}"] = v
    filled: set[str] = set()

    def put(name: str, value: np.ndarray) -> None:
        t = params[name]
        if tuple(t.shape) != value.shape:
            raise SystemExit(f"{bundle}: {name} has shape {value.shape}, the model expects {tuple(t.shape)}")
        t.copy_(torch.from_numpy(np.ascontiguousarray(value)).to(t.dtype))
        filled.add(name)

    # The x-vector head's modules are traced outside `base`, so its unnamed nodes are
    # `/projector/MatMul`, `/tdnn.0/Conv`; map them onto `xvec.`.
    xvec_roots = {"projector", "tdnn", "feature_extractor", "classifier"}
    for name, value in weights.items():
        if name in params:
            put(name, value)
            continue
        node = consumer.get(name)
        if node is None:
            continue
        path = module_path(node)
        if path.split(".")[0] in xvec_roots:
            path = "xvec." + path
        op = node.rsplit("/", 1)[-1]
        if op.startswith("MatMul"):
            put(f"{path}.weight", value.T)
        elif path.endswith("conv_module.depthwise_conv") and value.ndim == 3:
            put(f"{path}.weight", value)
        elif path.endswith("conv_module.depthwise_conv") and value.ndim == 1:
            bn = path.replace("depthwise_conv", "batch_norm")
            eps = enc.get_submodule(bn.removeprefix("base.")).eps
            put(f"{bn}.bias", value)
            put(f"{bn}.weight", np.ones_like(value))
            put(f"{bn}.running_mean", np.zeros_like(value))
            put(f"{bn}.running_var", np.full_like(value, 1.0 - eps))
        elif ".tdnn." in f"{path}." and value.ndim == 3:
            out_dim, in_dim, k = value.shape
            put(f"{path}.kernel.weight", value.transpose(0, 2, 1).reshape(out_dim, k * in_dim))
        elif op == "Mul" and value.shape == (xcfg.num_hidden_layers + 1, 1, 1):
            put("xvec.layer_weights", np.log(np.maximum(value.reshape(-1), 1e-30)))
    # The x-vector head runs on the same encoder.
    for k, v in enc.state_dict().items():
        xvec.wav2vec2_conformer.state_dict()[k].copy_(v)
        filled.add(f"xvec.wav2vec2_conformer.{k}")

    fresh = {"base.masked_spec_embed", "base.encoder.embed_positions.inv_freq",
             "xvec.objective.weight", "xvec.masked_spec_embed", "xvec.classifier.weight", "xvec.classifier.bias"}
    missing = [n for n in params if n not in filled and n not in fresh and "pos_conv_embed" not in n
               and not n.endswith("num_batches_tracked")]
    if missing:
        raise SystemExit(f"{bundle}/model.onnx holds no value for: {', '.join(missing)}")
    return joint, xvec


def check(joint, xvec, bundle: Path) -> float:
    """Worst |diff| between the recovered transformers classes and the bundle's goldens."""
    from transformers import Wav2Vec2ConformerForAudioFrameClassification

    golden = json.loads((bundle / "golden.json").read_text())
    frame = Wav2Vec2ConformerForAudioFrameClassification(joint.config)
    frame.wav2vec2_conformer.load_state_dict(joint.ctc.wav2vec2_conformer.state_dict())
    frame.classifier.load_state_dict(joint.frame_classifier.state_dict())
    worst = 0.0
    for m in (joint.ctc, frame, xvec):
        m.eval()
    for case in golden["cases"]:
        x, rate = sf.read(ROOT / case["file"], dtype="float32")
        xn = torch.from_numpy(((x - x.mean()) / np.sqrt(x.var() + 1e-7)).astype(np.float32))[None]
        with torch.no_grad():
            outs = {"ctc_logits": joint.ctc(xn).logits[0], "frame_logits": frame(xn).logits[0],
                    "xvector_embeddings": xvec(xn).embeddings[0]}
        for name, got in outs.items():
            d = float(np.max(np.abs(got.numpy() - np.asarray(case[name], dtype=np.float32))))
            print(f"{case['file']} {name}: max |diff| {d:.2e}")
            worst = max(worst, d)
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=ROOT / "models" / "demo")
    ap.add_argument("--work", type=Path, default=Path.home() / ".cache" / "hark-train")
    ap.add_argument("--step", type=int, required=True, help="the training step the bundle was exported at "
                    "(models/demo/README.md says it)")
    ap.add_argument("--speakers", type=int, default=552, help="x-vector training speakers (head size only)")
    ap.add_argument("--force", action="store_true", help="overwrite an existing WORK/checkpoint.pt")
    args = ap.parse_args()

    ckpt = args.work / "checkpoint.pt"
    if ckpt.exists() and not args.force:
        raise SystemExit(f"{ckpt} exists: training can resume from it (--force to replace it)")
    torch.manual_seed(0)
    joint, xvec = recover(args.bundle, args.speakers)
    worst = check(joint, xvec, args.bundle)
    if worst > 1e-4:
        raise SystemExit(f"recovered weights do not reproduce {args.bundle}/golden.json (worst {worst:.2e})")

    args.work.mkdir(parents=True, exist_ok=True)
    joint.save_hf(args.work / "export")
    xdir = args.work / "export" / "xvector"
    xvec.save_pretrained(xdir)
    hark = json.loads((args.bundle / "hark.json").read_text())
    if "xvector_mean" in hark:
        (xdir / "embedding_mean.json").write_text(json.dumps(hark["xvector_mean"]))
    state = {k: v for k, v in joint.state_dict().items() if not k.startswith("distill.")}
    epoch = math.floor(args.step / 2200)  # ≈ 2200 batches per epoch (model card); only seeds the batch order
    torch.save({"model": state, "opt": None, "step": args.step, "epoch": epoch,
                "rng": random.Random(args.step).getstate(), "config": joint.config.to_dict(),
                "bn_frozen": True, "schedule_base": args.step, "recovered_from": str(args.bundle)},
               ckpt)
    print(f"wrote {ckpt} (step {args.step}) and {args.work / 'export'}; worst diff vs goldens {worst:.2e}")
    print("note: the bundle does not say whether training froze the feature encoder; train.py trains it "
          "unless given --freeze-feature-encoder (v15-v27 trained it: tools/README.md)")


if __name__ == "__main__":
    main()
