#!/usr/bin/env python3
"""Model-call benchmark: hark (tract) vs onnxruntime vs PyTorch, same graph, same 10 s input.

    python tools/bench.py [--runs 5] [--models DIR ...] [--demo-checkpoints DIR]

By default it benchmarks the rotary CTC fixture and a "small" model (hidden 256, 6 layers,
conv 7x256, rotary, random weights) that it builds and exports once into ~/.cache/hark-bench
(needs torch), plus models/demo when present. Prints a markdown table of real-time factors
(compute s / audio s, median of --runs) and the ratios hark/onnxruntime and hark/PyTorch. hark's
runs are timed after its per-length thread trial (see BENCHMARKS.md, "Threads per window
length"); "hark threads used" is the plan it settled on.

models/demo is a multi-output bundle (CTC, frame and x-vector heads on one encoder pass). Its
PyTorch column runs the same bundle (tools/export_bundle.py's `Bundle`, unpatched transformers
classes, eager attention) from the transformers checkpoints it was exported from: give their
folder (holding ctc/, frame/, xvector/) with --demo-checkpoints; default
~/.cache/hark-train/export when it exists. Without them that column reads n/a. Since session 52 the
bundle stores its weights as float16 (rounded from those checkpoints) and computes in float32, so
PyTorch runs the unrounded weights: the same graph and arithmetic, values within float16 rounding;
timing does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("HARK_BENCH_CACHE", Path.home() / ".cache" / "hark-bench"))
SECONDS = 10.0


def synth(n: int) -> np.ndarray:
    """Same signal as benches/model.rs synthesizes (harmonics with a moving pitch)."""
    t = np.arange(n) / 16000.0
    f0 = 140 + 40 * np.sin(1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000.0
    return (sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.2).astype(np.float32)


def normalize(x: np.ndarray) -> np.ndarray:
    x64 = x.astype(np.float64)
    return ((x64 - x64.mean()) / np.sqrt(x64.var() + 1e-7)).astype(np.float32)


def small_model() -> tuple[Path, Path]:
    """(checkpoint dir, export dir) of the small benchmark model, built on first use."""
    ckpt = CACHE / "small-rotary-ctc-ckpt"
    out = CACHE / "small-rotary-ctc"
    if (out / "hark.json").exists():
        return ckpt, out
    import torch
    from transformers import (Wav2Vec2ConformerConfig, Wav2Vec2ConformerForCTC,
                              Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor)

    sys.path.insert(0, str(ROOT / "tools"))
    import export as hark_export
    from make_fixtures import VOCAB

    torch.manual_seed(0)
    cfg = Wav2Vec2ConformerConfig(
        vocab_size=len(VOCAB), hidden_size=256, num_hidden_layers=6, num_attention_heads=4,
        intermediate_size=1024, conv_dim=(256,) * 7, position_embeddings_type="rotary",
        num_conv_pos_embeddings=64, num_conv_pos_embedding_groups=16,
        architectures=["Wav2Vec2ConformerForCTC"],
    )
    model = Wav2Vec2ConformerForCTC(cfg)
    ckpt.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(ckpt)
    (ckpt / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(VOCAB)}))
    Wav2Vec2CTCTokenizer(str(ckpt / "vocab.json"), word_delimiter_token="|").save_pretrained(ckpt)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False).save_pretrained(ckpt)
    hark_export.export(str(ckpt), out)
    return ckpt, out


def time_runs(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def bench_ort(model_dir: Path, x: np.ndarray, threads: int, runs: int) -> float:
    import onnxruntime as ort

    manifest = json.loads((model_dir / "hark.json").read_text())
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(model_dir / manifest["onnx"]), so, providers=["CPUExecutionProvider"])
    feed = {manifest["input_name"]: x[None, :]}
    return time_runs(lambda: sess.run(None, feed), runs)


def load_torch(ckpt: Path):
    """The transformers model a checkpoint folder holds: a CTC model, or (a folder with ctc/,
    frame/ and xvector/) the three-head bundle that tools/export_bundle.py exports."""
    from transformers import AutoModelForCTC

    if not (ckpt / "ctc").is_dir():
        return AutoModelForCTC.from_pretrained(ckpt, attn_implementation="eager").eval()
    from transformers import (Wav2Vec2ConformerForAudioFrameClassification, Wav2Vec2ConformerForCTC,
                              Wav2Vec2ConformerForXVector)

    sys.path.insert(0, str(ROOT / "tools"))
    from export_bundle import Bundle

    heads = [cls.from_pretrained(ckpt / d, attn_implementation="eager").eval()
             for cls, d in ((Wav2Vec2ConformerForCTC, "ctc"), (Wav2Vec2ConformerForAudioFrameClassification, "frame"),
                            (Wav2Vec2ConformerForXVector, "xvector"))]
    return Bundle(*heads).eval()


def bench_torch(ckpt: Path, x: np.ndarray, threads: int, runs: int) -> float:
    import torch

    torch.set_num_threads(threads)
    model = load_torch(ckpt)
    inp = torch.from_numpy(x)[None, :]

    def run():
        with torch.inference_mode():
            model(inp)

    return time_runs(run, runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--models", nargs="*", type=Path)
    ap.add_argument("--demo-checkpoints", type=Path, default=Path.home() / ".cache" / "hark-train" / "export",
                    help="transformers checkpoints (ctc/, frame/, xvector/) models/demo was exported from")
    args = ap.parse_args()

    CACHE.mkdir(parents=True, exist_ok=True)
    raw = synth(int(SECONDS * 16000))
    input_path = CACHE / "input-10s.f32"
    raw.astype("<f4").tofile(input_path)
    x = normalize(raw)

    checkpoints: dict[Path, Path | None] = {}
    if args.models:
        for m in args.models:
            checkpoints[m.resolve()] = None
    else:
        checkpoints[(ROOT / "tests/fixtures/rotary-ctc").resolve()] = None
        ckpt, out = small_model()
        checkpoints[out.resolve()] = ckpt
        demo = ROOT / "models/demo"
        if (demo / "hark.json").exists():
            checkpoints[demo.resolve()] = args.demo_checkpoints if (args.demo_checkpoints / "ctc").is_dir() else None

    cmd = ["cargo", "bench", "--quiet", "--bench", "model", "--", "--input", str(input_path),
           "--runs", str(args.runs)] + [str(m) for m in checkpoints]
    proc = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    hark = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            hark[(Path(r["model"]).resolve(), r["threads"])] = r

    rows = []
    for model_dir, ckpt in checkpoints.items():
        for threads in (1, 2):
            h = hark[(model_dir, threads)]
            ort_s = bench_ort(model_dir, x, threads, args.runs)
            torch_s = bench_torch(ckpt, x, threads, args.runs) if ckpt else None
            rows.append((model_dir.name, threads, h.get("used_threads", threads), h["plan_s"], h["median_s"], ort_s, torch_s))

    print(f"input: {SECONDS:.0f} s, one window, median of {args.runs} runs; RTF = compute s / audio s\n")
    print("| model | threads | hark threads used | hark plan build (s) | hark RTF | onnxruntime RTF | PyTorch RTF | hark/ort | hark/PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, threads, used, plan_s, h, o, t in rows:
        ts = f"{t / SECONDS:.4f}" if t else "n/a"
        tr = f"{h / t:.2f}" if t else "n/a"
        print(f"| {name} | {threads} | {used} | {plan_s:.2f} | {h / SECONDS:.4f} | {o / SECONDS:.4f} | {ts} | {h / o:.2f} | {tr} |")


if __name__ == "__main__":
    main()
