#!/usr/bin/env python3
"""Export the demo model as ONE multi-output ONNX (one encoder pass -> CTC logits, frame logits,
x-vector embedding) plus hark.json, and write parity goldens from the transformers classes.

    python tools/export_bundle.py [--work ~/.cache/hark-train] [--out models/demo] [--weights float16|float32]

Reads WORK/export/{ctc,frame,xvector} (transformers checkpoints sharing one encoder, written by
tools/train.py and tools/train_xvector.py), checks that the encoders are identical, exports, and
writes OUT/golden.json: for two of the assets/ clips, the outputs of the unpatched
Wav2Vec2ConformerForCTC, ...ForAudioFrameClassification and ...ForXVector, which the Rust parity
test compares with hark's run of the bundle.

The weights are stored as float16 (the default since session 52; `--weights float32` keeps them as trained,
twice the size). They are rounded to float16 first (every parameter and BatchNorm statistic,
in all three transformers classes, before the goldens are computed: the goldens are transformers' outputs
on exactly the weights the bundle holds) and every initializer that float16 holds exactly is stored as
float16 with a Cast to float32 in front of its consumers: about half the file. Compute stays float32
(tract folds the casts when it optimizes the plan). Initializers that are not exact in float16 (the
depthwise convolutions with their BatchNorm folded in, derived constants) stay float32.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export as hark_export  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_CLIPS = ["hello-espeak-en-029.wav", "weather-flite-slt.wav"]


class Bundle(nn.Module):
    def __init__(self, ctc, frame, xvec):
        super().__init__()
        self.base = ctc.wav2vec2_conformer
        self.lm_head = ctc.lm_head
        self.frame_classifier = frame.classifier
        self.xvec = xvec
        self.weighted = xvec.config.use_weighted_layer_sum

    def forward(self, input_values):
        out = self.base(input_values, output_hidden_states=self.weighted)
        last = out.last_hidden_state
        ctc_logits = self.lm_head(last)
        frame_logits = self.frame_classifier(last)
        if self.weighted:
            hs = torch.stack(out.hidden_states, dim=1)
            w = nn.functional.softmax(self.xvec.layer_weights, dim=-1)
            h = (hs * w.view(-1, 1, 1)).sum(dim=1)
        else:
            h = last
        h = self.xvec.projector(h)
        for layer in self.xvec.tdnn:
            h = layer(h)
        stats = torch.cat([h.mean(dim=1), h.std(dim=1)], dim=-1)
        emb = self.xvec.feature_extractor(stats)
        return ctc_logits, frame_logits, emb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path.home() / ".cache" / "hark-train")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "demo")
    ap.add_argument("--weights", choices=["float16", "float32"], default="float16",
                    help="storage of the weights: float16 rounds them first and halves the file (see above)")
    args = ap.parse_args()
    from transformers import (Wav2Vec2ConformerForAudioFrameClassification, Wav2Vec2ConformerForCTC,
                              Wav2Vec2ConformerForXVector)

    src = args.work / "export"
    load = lambda cls, d: cls.from_pretrained(src / d, attn_implementation="eager").eval()  # noqa: E731
    ctc, frame, xvec = (load(Wav2Vec2ConformerForCTC, "ctc"), load(Wav2Vec2ConformerForAudioFrameClassification, "frame"),
                        load(Wav2Vec2ConformerForXVector, "xvector"))
    ref = ctc.wav2vec2_conformer.state_dict()
    for other in (frame, xvec):
        for k, v in other.wav2vec2_conformer.state_dict().items():
            if not torch.equal(v, ref[k]):
                raise SystemExit(f"encoder weights differ between heads at {k}: retrain stage 2")
    if args.weights == "float16":
        for m in (ctc, frame, xvec):
            round_to_float16(m)

    # Goldens from the unpatched classes, before export patches anything.
    cases = []
    for name in GOLDEN_CLIPS:
        x, rate = sf.read(ROOT / "assets" / name, dtype="float32")
        assert rate == 16000
        xn = ((x - x.mean()) / np.sqrt(x.var() + 1e-7)).astype(np.float32)
        t = torch.from_numpy(xn)[None]
        with torch.no_grad():
            cases.append({
                "file": f"assets/{name}",
                "ctc_logits": ctc(t).logits[0].tolist(),
                "frame_logits": frame(t).logits[0].tolist(),
                "xvector_embeddings": xvec(t).embeddings[0].tolist(),
            })

    for m in (ctc, frame, xvec):
        hark_export.make_exportable(m)
    bundle = Bundle(ctc, frame, xvec).eval()
    args.out.mkdir(parents=True, exist_ok=True)
    names = ["ctc_logits", "frame_logits", "xvector_embeddings"]
    example = torch.randn(1, 16000)
    with torch.no_grad():
        torch.onnx.export(bundle, (example,), str(args.out / "model.onnx"), input_names=["input_values"],
                          output_names=names,
                          dynamic_axes={"input_values": {1: "samples"}, "ctc_logits": {1: "frames"},
                                        "frame_logits": {1: "frames"}},
                          opset_version=17, do_constant_folding=True, dynamo=False)
    if args.weights == "float16":
        n, saved = store_float16(args.out / "model.onnx")
        print(f"float16 storage: {n} initializers, {saved / 1e6:.1f} MB saved")
    manifest = hark_export.manifest_for(ctc, "ctc", str(src / "ctc"), "model.onnx")
    manifest["architectures"] = ["Wav2Vec2ConformerForCTC", "Wav2Vec2ConformerForAudioFrameClassification",
                                 "Wav2Vec2ConformerForXVector"]
    manifest["outputs"] = [
        {"name": "ctc_logits", "kind": "ctc_logits", "dim": ctc.config.vocab_size},
        {"name": "frame_logits", "kind": "frame_logits", "dim": frame.config.num_labels},
        {"name": "xvector_embeddings", "kind": "xvector_embeddings", "dim": xvec.config.xvector_output_dim},
    ]
    manifest["id2label"] = [frame.config.id2label[i] for i in range(frame.config.num_labels)]
    manifest["xvector_dim"] = xvec.config.xvector_output_dim
    manifest["min_samples"] = hark_export.min_samples_for_xvector(xvec.config)
    mean_file = src / "xvector" / "embedding_mean.json"
    if mean_file.exists():  # written by train_xvector.py; hark centres embeddings with it
        mean = json.loads(mean_file.read_text())
        if len(mean) != xvec.config.xvector_output_dim:
            raise SystemExit(f"{mean_file}: {len(mean)} values, expected {xvec.config.xvector_output_dim}")
        manifest["xvector_mean"] = mean
    else:
        print(f"note: no {mean_file}; hark.json gets no xvector_mean, hark scores raw directions "
              "(train_xvector.py writes one only when centring lowers the held-out EER)")
    # Trained on clips of median 3.2 s: 4 s windows transcribe long files best (BENCHMARKS.md,
    # "Offline window length with the demo model").
    manifest["offline_window"] = {"left_s": 1.0, "centre_s": 2.0, "right_s": 1.0}
    (args.out / "hark.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (args.out / "golden.json").write_text(json.dumps({"cases": cases}))

    # Check the export with onnxruntime against the goldens.
    import onnxruntime as ort

    sess = ort.InferenceSession(str(args.out / "model.onnx"), providers=["CPUExecutionProvider"])
    worst = 0.0
    misses = []  # (case, output name, onnxruntime's output, normalized input) for each output over the gate
    for case in cases:
        x, _ = sf.read(ROOT / case["file"], dtype="float32")
        xn = ((x - x.mean()) / np.sqrt(x.var() + 1e-7)).astype(np.float32)
        outs = sess.run(names, {"input_values": xn[None]})
        for n, o in zip(names, outs):
            d = float(np.max(np.abs(o[0] - np.asarray(case[n], dtype=np.float32))))
            worst = max(worst, d)
            print(f"{case['file']} {n}: max |diff| {d:.2e}")
            if d > 1e-4:
                misses.append((case, n, o[0], xn))
    size = (args.out / "model.onnx").stat().st_size / 1e6
    print(f"wrote {args.out}: {size:.1f} MB, onnxruntime worst diff {worst:.2e}")
    if worst > 1e-4:
        float64_check(src, misses)
        raise SystemExit("export does not match transformers")


def round_to_float16(model: nn.Module) -> None:
    """Round every floating parameter and BatchNorm running statistic of `model` to the nearest float16
    value, in place (kept as float32)."""
    stats = [t for name, t in model.named_buffers() if name.endswith(("running_mean", "running_var"))]
    with torch.no_grad():
        for t in list(model.parameters()) + stats:
            if t.is_floating_point():
                t.copy_(t.half().float())


def store_float16(path: Path) -> tuple[int, int]:
    """Rewrite the ONNX file at `path` so that each float32 initializer whose values float16 holds exactly
    (and that has at least 16 of them) is stored as float16 under NAME.f16, followed by a Cast node that
    gives back NAME in float32. Returns the number of initializers converted and the bytes saved."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    kept, casts, n, saved = [], [], 0, 0
    for init in graph.initializer:
        a = numpy_helper.to_array(init)
        if init.data_type == TensorProto.FLOAT and a.size >= 16 and \
                np.array_equal(a.astype(np.float16).astype(np.float32), a):
            kept.append(numpy_helper.from_array(a.astype(np.float16), init.name + ".f16"))
            casts.append(helper.make_node("Cast", [init.name + ".f16"], [init.name], name=init.name + ".cast",
                                          to=TensorProto.FLOAT))
            n += 1
            saved += a.size * 2
        else:
            kept.append(init)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return n, saved


def float64_check(src: Path, misses: list) -> None:
    """For each output over the gate, how far onnxruntime and the float32 golden each are from the same
    transformers class run in float64 (the exact answer): both of the same order is float32 rounding at an
    ill-conditioned input (v33's CTC logits: onnxruntime 7.6e-5, the golden 1.2e-4), onnxruntime alone far off an
    export error."""
    from transformers import (Wav2Vec2ConformerForAudioFrameClassification, Wav2Vec2ConformerForCTC,
                              Wav2Vec2ConformerForXVector)

    classes = {"ctc_logits": (Wav2Vec2ConformerForCTC, "ctc", "logits"),
               "frame_logits": (Wav2Vec2ConformerForAudioFrameClassification, "frame", "logits"),
               "xvector_embeddings": (Wav2Vec2ConformerForXVector, "xvector", "embeddings")}
    for case, name, ort_out, xn in misses:
        cls, sub, field = classes[name]
        model = cls.from_pretrained(src / sub, attn_implementation="eager").eval().double()
        with torch.no_grad():
            exact = getattr(model(torch.from_numpy(xn).double()[None]), field)[0].numpy()
        golden = np.asarray(case[name], dtype=np.float64)
        print(f"{case['file']} {name} against float64 transformers: onnxruntime "
              f"{np.max(np.abs(ort_out - exact)):.2e}, float32 golden {np.max(np.abs(golden - exact)):.2e}")


if __name__ == "__main__":
    main()
