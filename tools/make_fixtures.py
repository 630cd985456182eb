#!/usr/bin/env python3
"""Build the tiny random-weight test models and their PyTorch goldens in tests/fixtures/.

    python tools/make_fixtures.py [--out tests/fixtures]

For every position_embeddings_type (rotary, relative, none) and every head (ctc, frame, xvector,
seqcls) this saves a transformers checkpoint (config like transformers' own tests: hidden 16,
2 layers, conv_dim 32x3), exports it with tools/export.py, and runs the *unpatched* transformers
class on two inputs to write golden outputs. CI never runs this: the results are committed.

Files written:
  inputs.json                 raw waveforms (16 kHz) and their Wav2Vec2FeatureExtractor output
  {pos}-{head}/model.onnx     exported graph
  {pos}-{head}/hark.json      manifest
  {pos}-{head}/golden.json    transformers outputs for each input
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

import export as hark_export

POSITIONS = ("rotary", "relative", "none")
# Raw input lengths (samples): 0.5 s, and an odd length that leaves a partial hop.
LENGTHS = (8000, 12837)
VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|", "E", "T", "A", "O", "N", "I", "H", "S", "R",
         "D", "L", "U", "M", "W", "C", "F", "G", "Y", "P", "B", "V", "K", "'", "X", "J", "Q", "Z"]
FRAME_LABELS = ["silence", "speech", "noise", "music"]
SPEAKERS = ["spk0", "spk1", "spk2"]


def tiny_config(pos: str, head: str):
    from transformers import Wav2Vec2ConformerConfig

    labels = FRAME_LABELS if head in ("frame", "seqcls") else SPEAKERS
    return Wav2Vec2ConformerConfig(
        vocab_size=len(VOCAB),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=20,
        conv_dim=(32, 32, 32),
        conv_kernel=(10, 8, 4),
        conv_stride=(5, 8, 8),
        conv_bias=True,
        feat_extract_norm="layer",
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        conv_depthwise_kernel_size=7,
        position_embeddings_type=pos if pos != "none" else None,
        max_source_positions=500,
        tdnn_dim=(16, 16),
        tdnn_kernel=(3, 3),
        tdnn_dilation=(1, 2),
        xvector_output_dim=12,
        classifier_proj_size=8,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={l: i for i, l in enumerate(labels)},
        pad_token_id=0,
        architectures=["Wav2Vec2Conformer" + hark_export.HEAD_CLASS[head]],
    )


# Non-conformer architectures exported through the same tool (CTC head only).
OTHER_ARCHS = {"wav2vec2": "Wav2Vec2", "hubert": "Hubert", "wavlm": "WavLM"}


def other_config(arch: str):
    import transformers

    cfg_cls = getattr(transformers, OTHER_ARCHS[arch] + "Config")
    return cfg_cls(
        vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=20, conv_dim=(32, 32, 32), conv_kernel=(10, 8, 4), conv_stride=(5, 8, 8),
        conv_bias=True, feat_extract_norm="layer", num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, do_stable_layer_norm=True, pad_token_id=0,
        architectures=[OTHER_ARCHS[arch] + "ForCTC"],
    )


def save_checkpoint(folder: Path, pos: str, head: str, seed: int, arch: str | None = None) -> None:
    import transformers
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor

    torch.manual_seed(seed)
    if arch is None:
        cfg = tiny_config(pos, head)
        cls = getattr(transformers, "Wav2Vec2Conformer" + hark_export.HEAD_CLASS[head])
    else:
        cfg = other_config(arch)
        cls = getattr(transformers, OTHER_ARCHS[arch] + "ForCTC")
    model = cls(cfg)
    # Random init leaves some parameters at exact zeros/ones; perturb everything so every
    # weight matters to the outputs.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        # Scale the output layers so outputs have a spread of order 1: the parity tolerance
        # (1e-4 absolute) then means something.
        for name in ("lm_head", "classifier", "feature_extractor"):
            layer = getattr(model, name, None)
            if isinstance(layer, torch.nn.Linear):
                layer.weight.mul_(6.0)
    model.save_pretrained(folder)
    vocab_file = folder / "vocab.json"
    vocab_file.write_text(json.dumps({t: i for i, t in enumerate(VOCAB)}))
    Wav2Vec2CTCTokenizer(str(vocab_file), pad_token="<pad>", unk_token="<unk>",
                         word_delimiter_token="|").save_pretrained(folder)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                             do_normalize=True, return_attention_mask=False).save_pretrained(folder)


def make_inputs() -> list[dict]:
    """Speech-like test signals: a few harmonics with a moving pitch and noise."""
    from transformers import Wav2Vec2FeatureExtractor

    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, do_normalize=True)
    rng = np.random.default_rng(1234)
    cases = []
    for n in LENGTHS:
        t = np.arange(n) / 16000.0
        f0 = 140 + 40 * np.sin(2 * np.pi * 1.3 * t)
        phase = 2 * np.pi * np.cumsum(f0) / 16000.0
        x = sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.2
        x = x + 0.01 * rng.standard_normal(n)
        # Round so the JSON text holds these float32 values exactly.
        x = np.round(x.astype(np.float32), 6).astype(np.float32)
        normalized = fe(x, sampling_rate=16000, return_tensors="np").input_values[0].astype(np.float32)
        cases.append({"samples": n, "raw": x.tolist(), "normalized": normalized.tolist()})
    return cases


def golden(folder: Path, head: str, inputs: list[dict], arch: str | None = None) -> dict:
    import transformers

    prefix = "Wav2Vec2Conformer" if arch is None else OTHER_ARCHS[arch]
    cls = getattr(transformers, prefix + hark_export.HEAD_CLASS[head])
    model = cls.from_pretrained(folder, attn_implementation="eager").eval()
    cases = []
    for case in inputs:
        x = torch.tensor(case["normalized"], dtype=torch.float32)[None, :]
        with torch.no_grad():
            out = model(x)
        outputs = {}
        if head == "xvector":
            outputs["embeddings"] = out.embeddings[0].tolist()
            outputs["logits"] = out.logits[0].tolist()
        else:
            outputs["logits"] = out.logits[0].tolist()
        cases.append({"samples": case["samples"], "outputs": outputs})
    return {"transformers_version": transformers.__version__, "torch_version": torch.__version__,
            "cases": cases}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "tests" / "fixtures")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    inputs = make_inputs()
    (args.out / "inputs.json").write_text(json.dumps({"sample_rate": 16000, "cases": inputs}))
    seed = 0
    for pos in POSITIONS:
        for head in hark_export.HEADS:
            seed += 1
            build_fixture(args.out / f"{pos}-{head}", inputs, seed, pos, head)
    for arch in OTHER_ARCHS:
        seed += 1
        build_fixture(args.out / f"{arch}-ctc", inputs, seed, "", "ctc", arch)


def build_fixture(target: Path, inputs: list[dict], seed: int, pos: str, head: str,
                  arch: str | None = None) -> None:
    """Checkpoint -> export -> goldens for one fixture folder. Export failures of non-conformer
    architectures are reported, not fatal: which architectures export is part of the result."""
    if target.exists():
        shutil.rmtree(target)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "ckpt"
        save_checkpoint(ckpt, pos, head, seed, arch)
        try:
            hark_export.export(str(ckpt), target)
        except Exception as e:
            if arch is None:
                raise
            print(f"{target.name}: export failed: {e}")
            return
        (target / "golden.json").write_text(json.dumps(golden(ckpt, head, inputs, arch)))
    print(f"{target.name}: {(target / 'model.onnx').stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
