#!/usr/bin/env python3
"""Export a transformers speech checkpoint to ONNX plus a hark manifest (hark.json).

    python tools/export.py CHECKPOINT OUT_DIR [--head ctc|frame|xvector|seqcls] [--opset 17]

CHECKPOINT is a local folder in save_pretrained layout (config.json, weights, and for CTC the
tokenizer's vocab.json; preprocessor_config.json if present) or, where a network exists, a hub id.

Supported: Wav2Vec2ConformerForCTC / ForAudioFrameClassification / ForXVector /
ForSequenceClassification (all three position_embeddings_type values), and the same four heads of
plain Wav2Vec2, HuBERT and WavLM where the graph allows (see tools/README.md for which work).

The graph takes `input_values` [1, samples] (float32, already normalized when do_normalize: the
normalization is NOT in the graph) and has no attention mask (batch-1 live use).

Export pitfalls handled here (each cost hours; see tools/README.md):
  (a) the rotary module caches its table per length -> replaced by a cache-free twin;
  (b) weight-norm parametrization of pos_conv_embed -> removed (folded into the weight);
  (c) relative positions sliced out of a 2*max_len table break tract with a symbolic length ->
      the table is computed on the fly for the actual length with a positive-step range
      (bit-identical values);
  (d) no attention mask input;
  (e) graphs over 2 GB are written with ONNX external data.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import torch
from torch import nn

HEADS = ("ctc", "frame", "xvector", "seqcls")

# transformers class suffix for each head.
HEAD_CLASS = {
    "ctc": "ForCTC",
    "frame": "ForAudioFrameClassification",
    "xvector": "ForXVector",
    "seqcls": "ForSequenceClassification",
}

MODEL_PREFIX = {
    "wav2vec2-conformer": "Wav2Vec2Conformer",
    "wav2vec2": "Wav2Vec2",
    "hubert": "Hubert",
    "wavlm": "WavLM",
}


class RotaryNoCache(nn.Module):
    """Same values as Wav2Vec2ConformerRotaryPositionalEmbedding, without the per-length cache
    (a cache hit during tracing bakes one length's table into the graph)."""

    def __init__(self, original: nn.Module):
        super().__init__()
        self.inv_freq = original.inv_freq

    def forward(self, hidden_states):
        sequence_length = hidden_states.shape[1]
        time_stamps = torch.arange(sequence_length).type_as(self.inv_freq)
        freqs = time_stamps[:, None] * self.inv_freq
        embeddings = torch.cat((freqs, freqs), dim=-1)
        cos_embeddings = embeddings.cos()[:, None, None, :]
        sin_embeddings = embeddings.sin()[:, None, None, :]
        return torch.stack([cos_embeddings, sin_embeddings]).type_as(hidden_states)


class RelativeOnTheFly(nn.Module):
    """Same values as Wav2Vec2ConformerRelPositionalEmbedding.forward for the actual length L:
    row k holds relative position L-1-k, k in [0, 2L-1). Built from a positive-step range
    instead of slicing a precomputed 2*max_len table (tract mis-slices that table when L is
    symbolic: `Slice: Invalid range`)."""

    def __init__(self, d_model: int):
        super().__init__()
        self.d_model = d_model

    def forward(self, hidden_states):
        length = hidden_states.size(1)
        rows = torch.arange(0, 2 * length - 1, dtype=torch.int64)
        position = ((length - 1) - rows).float().unsqueeze(1)
        div_term = torch.exp(
            torch.arange(0, self.d_model, 2, dtype=torch.int64).float()
            * -(math.log(10000.0) / self.d_model)
        )
        angle = position * div_term
        pe = torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1)
        pe = pe.reshape(2 * length - 1, self.d_model).unsqueeze(0)
        return pe.to(dtype=hidden_states.dtype)


def base_model(model: nn.Module) -> nn.Module:
    for name in ("wav2vec2_conformer", "wav2vec2", "hubert", "wavlm"):
        if hasattr(model, name):
            return getattr(model, name)
    raise ValueError(f"cannot find the base model inside {type(model).__name__}")


def make_exportable(model: nn.Module) -> nn.Module:
    """Patches a loaded model in place for export (pitfalls a-c). Returns the model."""
    from torch.nn.utils import parametrize

    model.eval()
    for module in model.modules():
        # (b) weight norm: fold the parametrization into a plain weight.
        if parametrize.is_parametrized(module, "weight") and hasattr(module, "parametrizations"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
        elif hasattr(module, "weight_g") and hasattr(module, "weight_v"):
            torch.nn.utils.remove_weight_norm(module)
    encoder = getattr(base_model(model), "encoder", None)
    embed = getattr(encoder, "embed_positions", None)
    if embed is not None:
        kind = type(embed).__name__
        if "Rotary" in kind:
            encoder.embed_positions = RotaryNoCache(embed)  # (a)
        elif "RelPositional" in kind:
            encoder.embed_positions = RelativeOnTheFly(embed.d_model)  # (c)
    return model


class HeadOutputs(nn.Module):
    """Returns the head's tensors as a plain tuple in the manifest's output order."""

    def __init__(self, model: nn.Module, head: str):
        super().__init__()
        self.model = model
        self.head = head

    def forward(self, input_values):
        out = self.model(input_values)
        if self.head == "xvector":
            return out.embeddings, out.logits
        return out.logits


def output_specs(model: nn.Module, head: str) -> list[dict]:
    cfg = model.config
    if head == "ctc":
        return [{"name": "logits", "kind": "ctc_logits", "dim": cfg.vocab_size}]
    if head == "frame":
        return [{"name": "logits", "kind": "frame_logits", "dim": cfg.num_labels}]
    if head == "seqcls":
        return [{"name": "logits", "kind": "sequence_logits", "dim": cfg.num_labels}]
    return [
        {"name": "embeddings", "kind": "xvector_embeddings", "dim": cfg.xvector_output_dim},
        {"name": "logits", "kind": "xvector_logits", "dim": cfg.xvector_output_dim},
    ]


def detect_head(config) -> str:
    for arch in config.architectures or []:
        for head, suffix in HEAD_CLASS.items():
            if arch.endswith(suffix):
                return head
    raise SystemExit(
        "cannot tell the head from config.architectures "
        f"({config.architectures}); pass --head {'|'.join(HEADS)}"
    )


def load_model(checkpoint: str, head: str | None):
    import transformers
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(checkpoint)
    head = head or detect_head(config)
    prefix = MODEL_PREFIX.get(config.model_type)
    if prefix is None:
        raise SystemExit(f"unsupported model_type {config.model_type!r}")
    cls = getattr(transformers, prefix + HEAD_CLASS[head])
    model = cls.from_pretrained(checkpoint, attn_implementation="eager")
    return model, head


def vocab_for(checkpoint: str, config) -> dict:
    from transformers import Wav2Vec2CTCTokenizer

    tok = Wav2Vec2CTCTokenizer.from_pretrained(checkpoint)
    by_id = {i: t for t, i in tok.get_vocab().items()}
    size = config.vocab_size
    tokens = [by_id.get(i, f"<unused{i}>") for i in range(size)]
    return {
        "tokens": tokens,
        "blank_id": int(tok.pad_token_id),
        "word_delimiter": tok.word_delimiter_token,
    }


def feature_settings(checkpoint: str) -> tuple[int, bool]:
    from transformers import Wav2Vec2FeatureExtractor

    try:
        fe = Wav2Vec2FeatureExtractor.from_pretrained(checkpoint)
        return int(fe.sampling_rate), bool(fe.do_normalize)
    except (OSError, ValueError):
        print(
            f"warning: {checkpoint} has no preprocessor_config.json; assuming 16 kHz, do_normalize",
            file=sys.stderr,
        )
        return 16000, True


def min_samples_for_xvector(cfg) -> int:
    """Shortest input for which the x-vector head is defined: its TDNN layers eat
    sum((kernel - 1) * dilation) frames and the unbiased std of statistics pooling needs 2."""
    field, jump = 1, 1
    for k, s in zip(cfg.conv_kernel, cfg.conv_stride):
        field += (k - 1) * jump
        jump *= s
    eaten = sum((k - 1) * d for k, d in zip(cfg.tdnn_kernel, cfg.tdnn_dilation))
    return field + (eaten + 1) * jump


def manifest_for(model, head: str, checkpoint: str, onnx_name: str) -> dict:
    import transformers

    cfg = model.config
    rate, normalize = feature_settings(checkpoint)
    pos = getattr(cfg, "position_embeddings_type", None)
    if cfg.model_type != "wav2vec2-conformer":
        pos = "other"
    manifest = {
        "format_version": 1,
        "model_type": cfg.model_type,
        "architectures": [type(model).__name__],
        "onnx": onnx_name,
        "input_name": "input_values",
        "outputs": output_specs(model, head),
        "sample_rate": rate,
        "conv_kernel": list(cfg.conv_kernel),
        "conv_stride": list(cfg.conv_stride),
        "do_normalize": normalize,
        "position_embeddings_type": pos or "none",
        "transformers_version": transformers.__version__,
    }
    if head == "ctc":
        manifest["vocab"] = vocab_for(checkpoint, cfg)
    else:
        manifest["id2label"] = [cfg.id2label[i] for i in range(cfg.num_labels)]
    if head == "xvector":
        manifest["xvector_dim"] = cfg.xvector_output_dim
        manifest["min_samples"] = min_samples_for_xvector(cfg)
    return manifest


def export_onnx(module: nn.Module, path: Path, output_names: list[str], opset: int = 17,
                example_samples: int = 16000) -> None:
    """Legacy (TorchScript) exporter with a dynamic sample axis. Large graphs (> 2 GB) go to
    external data."""
    example = torch.randn(1, example_samples)
    dynamic = {"input_values": {1: "samples"}}
    for name in output_names:
        dynamic[name] = {1: "frames"}
    params = sum(p.numel() * p.element_size() for p in module.parameters())
    with torch.no_grad():
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=["input_values"],
            output_names=output_names,
            dynamic_axes=dynamic,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
            external_data=params > 1_900_000_000,  # (e)
        )


def export(checkpoint: str, out_dir: Path, head: str | None = None, opset: int = 17,
           offline_window: list[float] | None = None) -> dict:
    model, head = load_model(checkpoint, head)
    make_exportable(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = manifest_for(model, head, checkpoint, "model.onnx")
    if offline_window:
        left, centre, right = offline_window
        manifest["offline_window"] = {"left_s": left, "centre_s": centre, "right_s": right}
    names = [o["name"] for o in manifest["outputs"]]
    export_onnx(HeadOutputs(model, head), out_dir / "model.onnx", names, opset)
    (out_dir / "hark.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="save_pretrained folder (or hub id where a network exists)")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--head", choices=HEADS, help="default: from config.architectures")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--offline-window", type=float, nargs=3, metavar=("LEFT_S", "CENTRE_S", "RIGHT_S"),
                    help="window `hark transcribe` should use with this model (e.g. 1 2 1 for a model "
                         "trained on short clips); default: hark's own (1 8 1)")
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    manifest = export(args.checkpoint, args.out_dir, args.head, args.opset, args.offline_window)
    outs = ", ".join(f"{o['name']} ({o['kind']}, {o['dim']})" for o in manifest["outputs"])
    print(f"wrote {args.out_dir / 'model.onnx'} and hark.json: {manifest['architectures'][0]} -> {outs}")


if __name__ == "__main__":
    main()
