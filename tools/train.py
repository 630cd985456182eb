#!/usr/bin/env python3
"""Train hark's demo model: a transformers Wav2Vec2-Conformer with a CTC head and an
audio-frame-classification head (silence / speech / noise / music) on one shared encoder.

    python tools/train.py [--data ~/.cache/hark-data] [--work ~/.cache/hark-train] [--steps 12000]

Resumable: the latest checkpoint in --work is picked up automatically (model, optimizer,
schedule, step, RNG). Deterministic seeds. Logs to WORK/train.log. CPU by default (CUDA when
available). Data: tools/make_data.py (and tools/pseudo_label.py) must have run.

The model is saved in transformers layout (WORK/export/ctc: Wav2Vec2ConformerForCTC,
WORK/export/frame: Wav2Vec2ConformerForAudioFrameClassification; same encoder weights) so that
tools/export_bundle.py can export one multi-output ONNX and check it against both classes.

With --speaker-weight, an x-vector head (SpeakerHead: the head of Wav2Vec2ConformerForXVector)
trains jointly on the training speakers, so its AMSoftmax loss also shapes the encoder; it is not
exported from here: tools/train_xvector.py --init-from-joint starts from it.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

RATE = 16000
VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|", "E", "T", "A", "O", "N", "I", "H", "S", "R",
         "D", "L", "U", "M", "W", "C", "F", "G", "Y", "P", "B", "V", "K", "'", "X", "J", "Q", "Z"]
CHAR_ID = {c: i for i, c in enumerate(VOCAB)}
LABELS = ["silence", "speech", "noise", "music"]
# Longest clip trained on. 17 s keeps every pseudo-labelled LibriSpeech utterance (median 13.8 s,
# longest 17.0 s); the earlier 12 s limit silently dropped 140 of those 191 real speakers.
MAX_SECONDS = 17.0


def model_config(size: str):
    from transformers import Wav2Vec2ConformerConfig

    sizes = {
        # The first two conv layers run at 3200 and 1600 frames/s: 64 channels there instead of
        # 128 doubles training and inference speed (measured 13.4 -> 26.9 audio-s/s training).
        "tiny": dict(hidden_size=144, num_hidden_layers=4, num_attention_heads=4, intermediate_size=576,
                     conv_dim=(64, 64) + (128,) * 5),
        "small": dict(hidden_size=192, num_hidden_layers=6, num_attention_heads=4, intermediate_size=768,
                      conv_dim=(192,) * 7),
    }[size]
    return Wav2Vec2ConformerConfig(
        vocab_size=len(VOCAB), **sizes,
        conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2), conv_bias=True,
        feat_extract_norm="layer", num_conv_pos_embeddings=64, num_conv_pos_embedding_groups=16,
        conv_depthwise_kernel_size=15, position_embeddings_type="rotary",
        # No dropout since step 22800: the model underfits its own training data (step 22600,
        # clean training clips: CER 30% espeak, 36% flite/festival, 44% real; held-out 41%), and
        # dropout cost 8% of each training step (CPU Bernoulli masks in the feed-forward modules).
        hidden_dropout=0.0, activation_dropout=0.0, attention_dropout=0.0, feat_proj_dropout=0.0,
        final_dropout=0.0, layerdrop=0.0, apply_spec_augment=True, mask_time_prob=0.05,
        # No forced minimum of masked spans: two 5-frame spans would hide half of a 0.5 s digit.
        mask_time_length=5, mask_time_min_masks=0, mask_feature_prob=0.0, ctc_loss_reduction="mean",
        ctc_zero_infinity=True,
        pad_token_id=0, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
        label2id={l: i for i, l in enumerate(LABELS)},
    )


def xvector_config(base, num_speakers: int, tdnn_dim: tuple[int, ...] = (128, 128, 128, 128, 384),
                   xvector_dim: int = 128):
    """The config of the demo model's Wav2Vec2ConformerForXVector head on `base`'s encoder
    (`tdnn_dim` and `xvector_dim`: the head's widths, train_xvector.py --tdnn-dim/--xvector-dim)."""
    cfg = base.__class__.from_dict(base.to_dict())
    cfg.use_weighted_layer_sum = True
    cfg.tdnn_dim = tuple(tdnn_dim)
    cfg.tdnn_kernel = (5, 3, 3, 1, 1)
    cfg.tdnn_dilation = (1, 2, 3, 1, 1)
    cfg.xvector_output_dim = xvector_dim
    cfg.num_labels = num_speakers
    cfg.id2label = {i: f"spk{i}" for i in range(num_speakers)}
    cfg.label2id = {v: k for k, v in cfg.id2label.items()}
    cfg.architectures = ["Wav2Vec2ConformerForXVector"]
    cfg.apply_spec_augment = False
    return cfg


def start_layer_weights(weights: torch.Tensor, first: int) -> None:
    """Start x-vector layer weights (`use_weighted_layer_sum`) on hidden states 0..first-1, the
    others at e^-4 of their softmax weight (all stay trainable). transformers starts them
    uniform, which on the grown 8-layer encoder gave four ninths to layers carrying little
    speaker information."""
    with torch.no_grad():
        weights.fill_(-4.0)
        weights[:first] = 0.0


def xvector_head(head, layers: torch.Tensor, frames: torch.Tensor | None = None, labels=None):
    """The head half of `Wav2Vec2ConformerForXVector.forward` on stacked encoder hidden states
    [batch, layers, frames, hidden]; `head` is that class or a `SpeakerHead` (same parameter
    names). `frames`: valid encoder frames per row (None: all, as transformers without an
    attention mask). Returns (AMSoftmax loss or None, embeddings)."""
    w = nn.functional.softmax(head.layer_weights, dim=-1)
    h = (layers * w.view(-1, 1, 1)).sum(dim=1)
    h = head.projector(h)
    for layer in head.tdnn:
        h = layer(h)
    if frames is None:
        pooled = torch.cat([h.mean(dim=1), h.std(dim=1)], dim=-1)
    else:
        # The TDNN layers have no padding: each trims (kernel - 1) * dilation frames.
        trim = sum((k - 1) * d for k, d in zip(head.config.tdnn_kernel, head.config.tdnn_dilation))
        pooled = torch.stack([torch.cat([h[i, :n].mean(dim=0), h[i, :n].std(dim=0)])
                              for i, n in enumerate((frames - trim).clamp(min=2).tolist())])
    emb = head.feature_extractor(pooled)
    loss = head.objective(head.classifier(emb), labels) if labels is not None else None
    return loss, emb


class SpeakerHead(nn.Module):
    """The head half of Wav2Vec2ConformerForXVector (weighted layer sum, projector, TDNN,
    statistics pooling, embedding, AMSoftmax), trained jointly with the encoder (train.py
    --speaker-weight) so that the speaker loss reaches the encoder: trained on a frozen CTC
    encoder, the head is limited to what CTC training left in the hidden states, and CTC wears
    speaker information away. Its parameter names are those of the transformers class, so
    train_xvector.py --init-from-joint loads them."""

    def __init__(self, config, num_speakers: int, first_layers: int = 0):
        super().__init__()
        from transformers import Wav2Vec2ConformerForXVector

        self.config = xvector_config(config, num_speakers)
        xv = Wav2Vec2ConformerForXVector(self.config)
        self.layer_weights = xv.layer_weights
        if first_layers:
            start_layer_weights(self.layer_weights, first_layers)
        self.projector, self.tdnn = xv.projector, xv.tdnn
        self.feature_extractor, self.classifier, self.objective = xv.feature_extractor, xv.classifier, xv.objective
        self.full_margin = self.objective.margin

    def forward(self, hidden_states, frames: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """AMSoftmax loss of the rows of `hidden_states` (the encoder's hidden states, one
        [batch, frames, hidden] tensor per layer, for the labelled rows only) with `frames`
        valid frames each."""
        return xvector_head(self, torch.stack(hidden_states, dim=1), frames, labels)[0]


class Joint(nn.Module):
    """Encoder + CTC head + frame-classification head, named so each head's weights load into
    the matching transformers class; with `speakers`, also a training-time x-vector head
    (`SpeakerHead`, exported by train_xvector.py)."""

    def __init__(self, config, teacher_dim: int = 0, speakers: int = 0, speaker_first_layers: int = 0):
        super().__init__()
        from transformers import Wav2Vec2ConformerForAudioFrameClassification, Wav2Vec2ConformerForCTC

        self.ctc = Wav2Vec2ConformerForCTC(config)
        frame = Wav2Vec2ConformerForAudioFrameClassification(config)
        self.frame_classifier = frame.classifier
        self.config = config
        # Training only (not exported): maps the last hidden state onto the teacher's encoder
        # state (tools/teacher_features.py) for the distillation loss.
        self.distill = nn.Linear(config.hidden_size, teacher_dim) if teacher_dim else None
        # Registered last, so the other parameters keep their order (and optimizer state).
        self.speaker = SpeakerHead(config, speakers, speaker_first_layers) if speakers else None

    def forward(self, x, attention_mask):
        """CTC logits, frame logits, the distillation output (training only) and every
        layer's hidden state (training with a speaker head only)."""
        want_hidden = self.speaker is not None and self.training
        base = self.ctc.wav2vec2_conformer(x, attention_mask=attention_mask, output_hidden_states=want_hidden)
        h = base.last_hidden_state
        ctc_logits = self.ctc.lm_head(self.ctc.dropout(h))
        frame_logits = self.frame_classifier(h)
        distilled = self.distill(h) if self.distill is not None and self.training else None
        return ctc_logits, frame_logits, distilled, base.hidden_states if want_hidden else None

    def save_hf(self, out: Path) -> None:
        from transformers import (Wav2Vec2ConformerForAudioFrameClassification, Wav2Vec2CTCTokenizer,
                                  Wav2Vec2FeatureExtractor)

        out.mkdir(parents=True, exist_ok=True)
        ctc_dir, frame_dir = out / "ctc", out / "frame"
        cfg = self.ctc.config
        cfg.architectures = ["Wav2Vec2ConformerForCTC"]
        self.ctc.save_pretrained(ctc_dir)
        frame = Wav2Vec2ConformerForAudioFrameClassification(cfg)
        frame.wav2vec2_conformer.load_state_dict(self.ctc.wav2vec2_conformer.state_dict())
        frame.classifier.load_state_dict(self.frame_classifier.state_dict())
        frame.config.architectures = ["Wav2Vec2ConformerForAudioFrameClassification"]
        frame.save_pretrained(frame_dir)
        for d in (ctc_dir, frame_dir):
            (d / "vocab.json").write_text(json.dumps(CHAR_ID))
            Wav2Vec2CTCTokenizer(str(d / "vocab.json"), pad_token="<pad>", unk_token="<unk>",
                                 word_delimiter_token="|").save_pretrained(d)
            Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=RATE, padding_value=0.0, do_normalize=True,
                                     return_attention_mask=True).save_pretrained(d)


def encode_text(text: str) -> list[int]:
    return [CHAR_ID["|"] if c == " " else CHAR_ID.get(c, CHAR_ID["<unk>"]) for c in text]


def speech_bounds(x: np.ndarray) -> tuple[float, float]:
    block = RATE // 100
    n = len(x) // block
    if n == 0:
        return 0.0, len(x) / RATE
    e = (x[: n * block].reshape(n, block).astype(np.float64) ** 2).mean(axis=1) + 1e-12
    db = 10 * np.log10(e)
    on = np.nonzero(db > db.max() - 35)[0]
    return on[0] * block / RATE, (on[-1] + 1) * block / RATE


class Clip:
    __slots__ = ("audio", "text", "kind", "s0", "s1", "family", "speaker", "split", "path", "teacher")

    def __init__(self, audio, text, kind, s0, s1, family, speaker, split, path):
        self.audio, self.text, self.kind, self.s0, self.s1 = audio, text, kind, s0, s1
        self.family, self.speaker, self.split, self.path = family, speaker, split, path
        self.teacher = None


class Teacher:
    """Whisper encoder states from tools/teacher_features.py, made learnable: Whisper adds
    absolute positional embeddings, so 43% of its state variance depends only on the frame's
    position in the 30 s encoder input (clips were packed at varying offsets) — unpredictable
    for the student. The mean state per position is subtracted, then each dimension is
    standardized."""

    def __init__(self, data: Path):
        d = data / "teacher"
        self.feats = np.load(d / "feats.npy", mmap_mode="r")
        rows = list(csv.DictReader(open(d / "index.tsv"), delimiter="\t"))
        self.index = {r["path"]: (int(r["row"]), int(r["frames"])) for r in rows}
        # Rebuild each frame's position in its encoder input (the packing order of the index).
        self.pos = np.zeros(len(self.feats), np.int32)
        used = 0
        for r in rows:
            row, n = int(r["row"]), int(r["frames"])
            if used + n > 1500:
                used = 0
            self.pos[row: row + n] = np.arange(used, used + n)
            used += n
        step = max(1, len(self.feats) // 300000)
        sample = np.asarray(self.feats[::step], dtype=np.float32)
        where = self.pos[::step]
        self.pos_mean = np.zeros((1500, sample.shape[1]), np.float32)
        for p in np.unique(where):
            self.pos_mean[p] = sample[where == p].mean(axis=0)
        self.std = (sample - self.pos_mean[where]).std(axis=0) + 1e-3
        self.dim = self.feats.shape[1]

    def of(self, path: str) -> np.ndarray | None:
        if path not in self.index:
            return None
        row, n = self.index[path]
        x = np.asarray(self.feats[row: row + n], dtype=np.float32) - self.pos_mean[self.pos[row: row + n]]
        return x / self.std

    def ref(self, path: str) -> "TeacherRef | None":
        return TeacherRef(self, path) if path in self.index else None


class TeacherRef:
    """One clip's teacher states, computed from the memory-mapped file (`Teacher.of`) each time a batch needs
    them. Until v46 every clip held its states as a float32 array: 33 h of data took ~9 GB for them, and the
    48.75 h of v47's data (second fresh round) grew the run past the machine's 24 GB (killed by the OOM killer).
    The values are the same either way."""

    __slots__ = ("teacher", "path")

    def __init__(self, teacher: Teacher, path: str):
        self.teacher, self.path = teacher, path

    def states(self) -> np.ndarray:
        return self.teacher.of(self.path)


def load_clips(data: Path) -> list[Clip]:
    rows = list(csv.DictReader(open(data / "manifest.tsv"), delimiter="\t"))
    pseudo = data / "pseudo_labels.tsv"
    have = {r["path"] for r in rows}
    if pseudo.exists():
        for r in csv.DictReader(open(pseudo), delimiter="\t"):
            if r["path"] in have:
                continue
            rows.append({"path": r["path"], "text": r["text"], "speaker": r["speaker"],
                         "family": "real:librispeech_pseudo", "split": "train", "duration": r["duration"],
                         "speech_start": "", "speech_end": "", "kind": "speech"})
    clips = []
    for r in rows:
        if float(r["duration"]) > MAX_SECONDS:
            continue
        x, rate = sf.read(r["path"], dtype="int16")
        if x.ndim > 1:
            x = x.mean(axis=1).astype(np.int16)
        assert rate == RATE, r["path"]
        if r["kind"] == "speech" and r["speech_start"] == "":
            s0, s1 = speech_bounds(x.astype(np.float32))
        else:
            s0, s1 = float(r["speech_start"] or 0), float(r["speech_end"] or 0)
        clips.append(Clip(x, r["text"], r["kind"], s0, s1, r["family"], r["speaker"], r["split"], r["path"]))
    return clips


def speaker_label(c: Clip) -> str:
    """The jointly trained speaker head's label of a clip: its speaker, except that espeak-ng
    voices are labelled by variant alone (`espeak:en-gb+f5` and `espeak:en-us+f5` are one
    voice). Labelled by accent too, the joint head learned the accents (phoneme rules, which the
    upper layers carry) instead of the voices: held-out EER 48% at step 49000, where every
    held-out voice shares one accent."""
    if c.family == "espeak":
        return "espeak+" + c.speaker.partition("+")[2]
    return c.speaker


def load_resized(model: nn.Module, saved: dict) -> list[str]:
    """Load `saved` into `model`; tensors whose shape shrank (a slimmer conv layer) are cut to
    their leading slice, conv weights that lost input channels are rescaled to keep their output
    level. Returns the names that were resized (the optimizer state is then dropped)."""
    own = model.state_dict()
    resized = [n for n in own if n not in saved]
    for name, t in saved.items():
        if name in own and own[name].shape != t.shape:
            new = own[name].shape
            cut = t[tuple(slice(0, n) for n in new)].clone()
            if name.endswith("conv.weight") and t.dim() == 3 and new[1] < t.shape[1]:
                cut *= t.shape[1] / new[1]
            saved[name] = cut
            resized.append(name)
    saved = {n: t for n, t in saved.items() if n in own}
    model.load_state_dict(saved, strict=False)
    return resized


def grow_layers(model: "Joint", old: int) -> None:
    """Initialise the conformer layers appended after the first `old` so that the grown model
    computes exactly what the old one did.

    Each new layer starts as a copy of an old one (old layer k for new layer old + k, cycling),
    with the output projections of its four residual branches (both feed-forward modules, the
    attention output and the convolution module's last pointwise conv) zeroed, so the layer
    adds nothing, and its final LayerNorm set to the identity affine (weight 1, bias 0). The
    layer then maps h to norm(h), and the encoder's own final LayerNorm, applied after the last
    layer, gives the same result for norm(h) as for h. Gradients reach the zeroed projections
    at once (their inputs are the copied layer's live activations) and the rest from the
    second step on."""
    layers = model.ctc.wav2vec2_conformer.encoder.layers
    with torch.no_grad():
        for j in range(old, len(layers)):
            layers[j].load_state_dict(layers[(j - old) % old].state_dict())
            layer = layers[j]
            for lin in (layer.ffn1.output_dense, layer.ffn2.output_dense, layer.self_attn.linear_out,
                        layer.conv_module.pointwise_conv2):
                lin.weight.zero_()
                if lin.bias is not None:
                    lin.bias.zero_()
            layer.final_layer_norm.weight.fill_(1.0)
            layer.final_layer_norm.bias.zero_()


def batch_norms(model: nn.Module) -> list[nn.BatchNorm1d]:
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]


def train_mode(model: nn.Module, frozen_bn: bool) -> None:
    """Training mode; with `frozen_bn` the conformer convolution modules' BatchNorm layers keep
    normalizing with their running statistics, exactly as at inference.

    Why: batches are length-bucketed, so a batch's own statistics tell the model what kind of
    clip it holds (a batch of 0.5 s digits, mostly padding, looks nothing like a batch of
    sentences). A model trained on batch statistics learned digits only through them: on the
    step-10000 checkpoint, digit batches score CTC 0.13 nats/char with batch statistics and 5.9
    with running statistics, and greedy decoding emits nothing."""
    model.train()
    if frozen_bn:
        for b in batch_norms(model):
            b.eval()


def recalibrate_batch_norm(model: nn.Module, clips: list["Clip"], config, n: int = 400) -> None:
    """Replace the BatchNorm running statistics by their exact average over `n` single,
    unpadded training clips: the inputs inference sees."""
    model.eval()
    momentum = {b: b.momentum for b in batch_norms(model)}
    for b in batch_norms(model):
        b.reset_running_stats()
        b.momentum = None
        b.train()
    rng = random.Random(0)
    with torch.no_grad():
        for c in rng.sample(clips, min(n, len(clips))):
            x, _, _, _, _, _ = make_batch([c], config, rng, np.random.default_rng(0), False)
            model(x.to(next(model.parameters()).device), None)
    for b, m in momentum.items():
        b.momentum = m
        b.eval()


def fit_distill_map(model: nn.Module, clips: list["Clip"], config, n: int = 300, ridge: float = 1e-2) -> float:
    """Set the distillation map to its least-squares fit (ridge `ridge` x the mean eigenvalue)
    from the model's last hidden state to the teacher states, over `n` single clean training
    clips. Returns the fitted loss on them.

    Why (since v21d): a map that starts random makes the distillation loss, weighted as much as
    CTC, push the encoder towards whatever that random map needs while the map itself is still
    learning, at the schedule's peak learning rate. v21k, the first schedule whose map started
    afresh (a checkpoint rebuilt from a bundle has none), lost on real speech while gaining on
    TTS. Fitted first, the loss carries only what the encoder and the teacher disagree on. Measured
    in v21d (with other data changes): no TTS gain over v21k's random start, so the random map was
    not what drove v21k's figures."""
    model.eval()
    rng = random.Random(1)
    have = [c for c in clips if c.teacher is not None]
    dev = next(model.parameters()).device
    xs, ys = [], []
    with torch.no_grad():
        for c in rng.sample(have, min(n, len(have))):
            x, _, _, _, tt, tm = make_batch([c], config, rng, np.random.default_rng(0), False)
            h = model.ctc.wav2vec2_conformer(x.to(dev)).last_hidden_state[0].double().cpu()
            k = min(len(h), tt.shape[1])
            m = tm[0, :k]
            xs.append(h[:k][m])
            ys.append(tt[0, :k][m].double())
    X, Y = torch.cat(xs), torch.cat(ys)
    X1 = torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype)], 1)
    G = X1.T @ X1
    G += ridge * torch.trace(G) / len(G) * torch.eye(len(G), dtype=G.dtype)
    W = torch.linalg.solve(G, X1.T @ Y)
    model.distill.weight.data.copy_(W[:-1].T.float())
    model.distill.bias.data.copy_(W[-1].float())
    return float(((X1 @ W - Y) ** 2).mean())


def frame_count(n: int, config) -> int:
    for k, s in zip(config.conv_kernel, config.conv_stride):
        n = (n - k) // s + 1
    return n


def make_batch(clips: list[Clip], config, rng: random.Random, nprng: np.random.Generator, train: bool):
    xs, targets, labels, teach = [], [], [], []
    for c in clips:
        x = c.audio.astype(np.float32) / 32768.0
        speed = 1.0
        if train and rng.random() < 0.5:
            # flite and festival train only male voices (kal, awb, rms): replaying them faster
            # raises formants and pitch together, as vocal-tract-length perturbation does, so
            # theirs go up to 1.25x (since step 24200).
            speed = rng.uniform(0.9, 1.25 if c.family in ("flite", "festival") else 1.1)
            idx = np.arange(0, len(x) - 1, speed)
            x = np.interp(idx, np.arange(len(x)), x).astype(np.float32)
        pre = 0
        if train and c.kind == "speech" and rng.random() < 0.5:
            # Quiet lead-in and tail of 0-0.5 s each (whole 20 ms frames): the fsdd digits are
            # cut tight, and a model that never heard a digit inside silence misses it in a
            # live window (step 11200: training digits right alone, wrong with 0.5 s around).
            pre, post = rng.randint(0, 25), rng.randint(0, 25)
            level = np.sqrt(np.mean(x ** 2) + 1e-9) * 10 ** (-rng.uniform(30, 60) / 20)
            x = np.concatenate([nprng.standard_normal(pre * 320).astype(np.float32) * level, x,
                                nprng.standard_normal(post * 320).astype(np.float32) * level])
        if train and rng.random() < 0.3:
            snr = rng.uniform(5, 30)
            noise = nprng.standard_normal(len(x)).astype(np.float32)
            x = x + noise * np.sqrt((np.mean(x ** 2) + 1e-9) / (10 ** (snr / 10)))
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        xs.append(x)
        targets.append(encode_text(c.text) if c.kind == "speech" else [])
        nf = frame_count(len(x), config)
        lab = np.full(nf, LABELS.index(c.kind) if c.kind != "speech" else 0, dtype=np.int64)
        if c.kind == "speech":
            a = int(c.s0 / speed * RATE / 320) + pre
            b = int(math.ceil(c.s1 / speed * RATE / 320)) + pre
            lab[max(0, a): min(nf, b)] = 1
        labels.append(lab)
        t = None
        if c.teacher is not None:
            # Frame j of the perturbed clip is at time (j - pre) * speed of the original; the
            # added lead-in has no teacher state.
            states = c.teacher.states()
            j = np.arange(nf) - pre
            pos = np.clip(j * speed, 0, len(states) - 1)
            i0 = np.floor(pos).astype(np.int64)
            i1 = np.minimum(i0 + 1, len(states) - 1)
            w = (pos - i0)[:, None].astype(np.float32)
            t = (states[i0] * (1 - w) + states[i1] * w, j >= 0)
        teach.append(t)
    n = max(len(x) for x in xs)
    batch = np.zeros((len(xs), n), np.float32)
    mask = np.zeros((len(xs), n), np.int64)
    for i, x in enumerate(xs):
        batch[i, : len(x)] = x
        mask[i, : len(x)] = 1
    nf = frame_count(n, config)
    lab = np.full((len(xs), nf), -100, np.int64)
    for i, l in enumerate(labels):
        lab[i, : len(l)] = l
    tdim = next((t[0].shape[1] for t in teach if t is not None), 0)
    tt = np.zeros((len(xs), nf, tdim), np.float32)
    tmask = np.zeros((len(xs), nf), bool)
    for i, t in enumerate(teach):
        if t is not None:
            tt[i, : len(t[0])] = t[0]
            tmask[i, : len(t[1])] = t[1]
    return (torch.from_numpy(batch), torch.from_numpy(mask), targets, torch.from_numpy(lab),
            torch.from_numpy(tt), torch.from_numpy(tmask))


def batches(clips: list[Clip], seconds: float, rng: random.Random):
    """Length-bucketed batches of about `seconds` of padded audio, in random order."""
    order = sorted(range(len(clips)), key=lambda i: len(clips[i].audio) + rng.randint(0, RATE // 2))
    out, cur, longest = [], [], 0
    for i in order:
        n = len(clips[i].audio)
        if cur and max(longest, n) * (len(cur) + 1) > seconds * RATE:
            out.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, n)
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


def greedy(ids: list[int]) -> str:
    out, prev = [], None
    for i in ids:
        if i != prev and i != 0 and i > 3:
            out.append(" " if VOCAB[i] == "|" else VOCAB[i])
        prev = i
    return " ".join("".join(out).split())


def edit_distance(a, b) -> int:
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            cur = d[j]
            d[j] = min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
            prev = cur
    return d[len(b)]


def hark_transcribe(hark, model, wav) -> str:
    """What the hark binary `hark` hears in `wav` with bundle `model` (one thread), upper case,
    spaces collapsed: the Rust pipeline's own reading, for tools that score it."""
    out = subprocess.run([str(hark), "transcribe", "--threads", "1", "-m", str(model), str(wav)],
                         check=True, capture_output=True, text=True).stdout
    return " ".join(out.upper().split())


def evaluate(model: Joint, clips: list[Clip], config, device) -> dict:
    model.eval()
    chars = cerr = words = werr = 0
    fa_ok = fa_n = 0
    with torch.no_grad():
        for c in clips:
            x, mask, _, lab, _, _ = make_batch([c], config, random.Random(0), np.random.default_rng(0), False)
            ctc, frame, _, _ = model(x.to(device), None)
            hyp = greedy(ctc[0].argmax(-1).tolist())
            cerr += edit_distance(hyp, c.text)
            chars += max(1, len(c.text))
            werr += edit_distance(hyp.split(), c.text.split())
            words += max(1, len(c.text.split()))
            pred = frame[0].argmax(-1).cpu().numpy()
            gold = lab[0].numpy()
            ok = gold >= 0
            fa_ok += int(((pred == 1) == (gold == 1))[ok].sum())
            fa_n += int(ok.sum())
    return {"cer": cerr / chars, "wer": werr / words, "speech_acc": fa_ok / max(1, fa_n)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "hark-data")
    ap.add_argument("--work", type=Path, default=Path.home() / ".cache" / "hark-train")
    ap.add_argument("--size", default="tiny", choices=["tiny", "small"])
    ap.add_argument("--steps", type=int, default=12000)
    ap.add_argument("--batch-seconds", type=float, default=48.0)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=600)
    ap.add_argument("--real-weight", type=int, default=3, help="times each real recording is repeated per epoch")
    ap.add_argument("--frame-weight", type=float, default=0.3)
    ap.add_argument("--teacher-weight", type=float, default=1.0,
                    help="weight of the Whisper-encoder distillation loss (0 = off; needs tools/teacher_features.py)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init-from", type=Path,
                    help="when WORK has no checkpoint yet, start from this one (an averaged checkpoint is "
                         "accepted: its `averaged` key is dropped) with a fresh schedule, as --restart-schedule; "
                         "ignored once WORK/checkpoint.pt exists, so the same command also resumes")
    ap.add_argument("--restart-schedule", action="store_true",
                    help="on resume, run a fresh warmup + cosine from the resumed step to --steps")
    ap.add_argument("--batch-stats", action="store_true",
                    help="train BatchNorm on batch statistics (the pre-step-10200 behaviour); by default "
                         "its running statistics are recalibrated once and then frozen")
    ap.add_argument("--freeze-feature-encoder", action="store_true",
                    help="stop training the convolutional feature encoder (transformers' "
                         "freeze_feature_encoder); kept on resume once set. A training step then "
                         "costs a third: the raw-waveform convolutions at 3200-50 frames/s dominate "
                         "the backward pass")
    ap.add_argument("--layers", type=int, default=0,
                    help="grow the encoder to this many conformer layers on resume (see grow_layers); "
                         "0 keeps the checkpoint's depth")
    ap.add_argument("--speaker-weight", type=float,
                    help="weight of a jointly trained x-vector head's AMSoftmax loss on the training "
                         "speakers (SpeakerHead); unset: 0.1 when the checkpoint has a head, else none; "
                         "0: drop the checkpoint's head")
    ap.add_argument("--speaker-reset", action="store_true",
                    help="start the speaker head afresh (new weights, optimizer, speaker list, margin ramp)")
    ap.add_argument("--speaker-first-layers", type=int, default=5,
                    help="the head's layer weights start on hidden states 0..N-1 (the others at e^-4 "
                         "of theirs), as train_xvector.py --first-layers")
    ap.add_argument("--speaker-lr", type=float, default=2e-3,
                    help="peak learning rate of the speaker head (its own AdamW, same schedule shape)")
    ap.add_argument("--speaker-margin-ramp", type=int, default=2000,
                    help="steps over which the AMSoftmax margin grows from 0 to the config's after the "
                         "speaker head is added (a full margin at once keeps the head at chance)")
    ap.add_argument("--dropout", type=float,
                    help="hidden and feed-forward activation dropout (default 0 since step 22800, when the model "
                         "underfit its training clips; tools/fit_gap.py measures which way it errs)")
    ap.add_argument("--attention-dropout", type=float,
                    help="attention-probability dropout (default 0; measured with --dropout 0.1 and the masks "
                         "below: 30 steps a minute with attention dropout 0.1, 34 without, 48 with no regularization)")
    ap.add_argument("--mask-time-prob", type=float, help="SpecAugment time-mask probability (default 0.05)")
    ap.add_argument("--mask-feature-prob", type=float,
                    help="SpecAugment feature-mask probability over the hidden dimension (default 0; spans of 10)")
    ap.add_argument("--bf16", action="store_true",
                    help="run the forward pass under bfloat16 autocast (losses in float32): ~25%% less time a step "
                         "on CPUs with AVX512-BF16; a 400-step A/B did not show it trains as well (tools/README.md)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-every", type=int, default=200)
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--keep-from", type=int, default=0,
                    help="from this step on, also keep the model weights of every save as "
                         "WORK/snapshots/step-N.pt, for tools/average_checkpoints.py (0: none)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    # transformers draws SpecAugment's masks (and LayerDrop) from numpy's global generator.
    np.random.seed(args.seed)
    rng = random.Random(args.seed)
    nprng = np.random.default_rng(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    args.work.mkdir(parents=True, exist_ok=True)
    log = open(args.work / "train.log", "a")

    def say(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    clips = load_clips(args.data)
    train = [c for c in clips if c.split == "train"]
    train += [c for c in train if c.family.startswith("real:")] * (args.real_weight - 1)
    held = [c for c in clips if c.split == "eval"][:120]
    say(f"{len(train)} training clips ({sum(len(c.audio) for c in train) / RATE / 3600:.2f} h with repeats), "
        f"{len(held)} eval clips")

    teacher = None
    if args.teacher_weight > 0 and (args.data / "teacher" / "index.tsv").exists():
        teacher = Teacher(args.data)
        for c in train:
            c.teacher = teacher.ref(c.path)
        say(f"teacher states for {sum(c.teacher is not None for c in train)} of {len(train)} training clips")

    ckpt = args.work / "checkpoint.pt"
    state = torch.load(ckpt, map_location=device, weights_only=False) if ckpt.exists() else None
    if state and state.get("averaged"):
        raise SystemExit(f"{ckpt} holds the average of steps {state['averaged'][0]}..{state['averaged'][-1]} "
                         f"(tools/average_checkpoints.py --save): resume from {args.work / 'checkpoint-unaveraged.pt'} "
                         "copied over it, or start a new level with --init-from")
    if state is None and args.init_from:
        # A new level of the schedule (tools/README.md, v19 on): start from another run's checkpoint,
        # usually an average (tools/average_checkpoints.py --save), with a fresh warmup + cosine.
        if not args.init_from.is_file():
            raise SystemExit(f"--init-from {args.init_from}: no such checkpoint")
        state = torch.load(args.init_from, map_location=device, weights_only=False)
        averaged = state.pop("averaged", None)
        args.restart_schedule = True
        say(f"new run from {args.init_from} (step {state['step']}"
            + (f", the average of {len(averaged)} snapshots, steps {averaged[0]}..{averaged[-1]}" if averaged else "") + ")")
    elif state is not None and args.init_from:
        say(f"--init-from {args.init_from} ignored: {ckpt} exists, so this run resumes")
    config = model_config(args.size)
    saved_layers = state["config"]["num_hidden_layers"] if state and "config" in state else config.num_hidden_layers
    config.num_hidden_layers = saved_layers
    if args.layers:
        if args.layers < saved_layers:
            raise SystemExit(f"--layers {args.layers}: the checkpoint already has {saved_layers} layers")
        config.num_hidden_layers = args.layers
    if args.dropout is not None:
        config.hidden_dropout = config.activation_dropout = args.dropout
    if args.attention_dropout is not None:
        config.attention_dropout = args.attention_dropout
    if args.mask_time_prob is not None:
        config.mask_time_prob = args.mask_time_prob
    if args.mask_feature_prob is not None:
        config.mask_feature_prob = args.mask_feature_prob
    say(f"regularization: dropout {config.hidden_dropout} (hidden, activation), attention {config.attention_dropout}, conformer conv "
        f"{config.conformer_conv_dropout}; SpecAugment time p {config.mask_time_prob} x {config.mask_time_length}, "
        f"feature p {config.mask_feature_prob} x {config.mask_feature_length}")
    # Speaker labels: every training voice and real speaker (a checkpoint with a speaker head
    # keeps the list it was trained with).
    if state and (args.speaker_reset or args.speaker_weight == 0):
        state["model"] = {n: t for n, t in state["model"].items() if not n.startswith("speaker.")}
        state["speakers"], state["opt_speaker"] = [], None
    speakers = state.get("speakers", []) if state else []
    if (args.speaker_weight or 0) > 0 and not speakers:
        speakers = sorted({speaker_label(c) for c in train if c.kind == "speech" and c.speaker})
    speaker_weight = args.speaker_weight if args.speaker_weight is not None else (0.1 if speakers else 0.0)
    spk_id = {s: i for i, s in enumerate(speakers)}
    model = Joint(config, teacher.dim if teacher else 0, len(speakers), args.speaker_first_layers).to(device)
    say(f"parameters: {sum(p.numel() for n, p in model.named_parameters() if not n.startswith('speaker.')) / 1e6:.2f} M"
        + (f" (+{sum(p.numel() for p in model.speaker.parameters()) / 1e6:.2f} M speaker head, "
           f"{len(speakers)} speakers, loss weight {speaker_weight})" if speakers else ""))
    # The speaker head has its own optimizer, so adding it keeps the encoder's optimizer state.
    opt = torch.optim.AdamW([p for n, p in model.named_parameters() if not n.startswith("speaker.")],
                            lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    opt_spk = torch.optim.AdamW(model.speaker.parameters(), lr=args.speaker_lr, weight_decay=0.01) if speakers else None
    # The step the speaker head was added at (its margin ramp and warmup start there).
    spk_base = state["speaker_base"] if state and state.get("speakers") else (state["step"] if state else 0)

    base = 0

    def lr_at(step: int) -> float:
        step -= base
        total = args.steps - base
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        p = min(1.0, (step - args.warmup) / max(1, total - args.warmup))
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * p)))

    step, epoch = 0, 0
    bn_frozen = False
    fe_frozen = False
    if state is not None:
        resized = [n for n in load_resized(model, state["model"]) if not n.startswith("speaker.")]
        if opt_spk is not None and state.get("opt_speaker") is not None:
            opt_spk.load_state_dict(state["opt_speaker"])
        elif opt_spk is not None:
            say(f"speaker head added at step {state['step']}: {len(speakers)} speakers, layer weights "
                f"on hidden states 0..{args.speaker_first_layers - 1}")
        if config.num_hidden_layers > saved_layers:
            grow_layers(model, saved_layers)
            say(f"grown from {saved_layers} to {config.num_hidden_layers} conformer layers (function-preserving)")
        if resized:
            # The grown layers' tensors (34 a layer) are counted, not listed.
            grown = [n for n in resized
                     if any(f"encoder.layers.{j}." in n for j in range(saved_layers, config.num_hidden_layers))]
            listed = [n for n in resized if n not in grown] + ([f"{len(grown)} tensors of the new layers"] if grown else [])
            say(f"new or resized since the checkpoint (optimizer state reset): {', '.join(listed)}")
        elif state.get("opt") is None:
            # A checkpoint rebuilt from a bundle (recover_checkpoint.py) has no optimizer state.
            say("no optimizer state in the checkpoint (rebuilt from a bundle): the optimizer starts afresh")
        else:
            opt.load_state_dict(state["opt"])
        step, epoch = state["step"], state["epoch"]
        bn_frozen = state.get("bn_frozen", False)
        fe_frozen = state.get("feature_encoder_frozen", False)
        # The step the current schedule started at (saved since v2; before, a plain resume
        # silently fell back to a schedule from step 0).
        base = state.get("schedule_base", 0)
        rng.setstate(state["rng"])
        nprng = np.random.default_rng(args.seed + step)
        torch.manual_seed(args.seed + step)
        np.random.seed(args.seed + step)
        say(f"resumed at step {step}, epoch {epoch}")
        if args.restart_schedule:
            base = step
            say(f"schedule restarted: lr {args.lr:.1e}, warmup {args.warmup}, until step {args.steps}")

    frozen_bn = not args.batch_stats
    if frozen_bn and not bn_frozen:
        recalibrate_batch_norm(model, [c for c in train if c.kind == "speech"], config)
        say("BatchNorm running statistics recalibrated on 400 single clips; frozen from here on")
    bn_frozen = bn_frozen or frozen_bn
    if fe_frozen or args.freeze_feature_encoder:
        say("feature encoder frozen " + ("(as in the checkpoint)" if fe_frozen else f"from step {step} on"))
        fe_frozen = True
        model.ctc.freeze_feature_encoder()
    if model.distill is not None and state is not None and "distill.weight" not in state["model"]:
        fitted = fit_distill_map(model, train, config)
        say(f"distillation map new: fitted by least squares on 300 clips (teacher loss {fitted:.3f} there)")
    if args.bf16:
        say("forward pass under bfloat16 autocast (--bf16)")
    ctc_loss = nn.CTCLoss(blank=0, zero_infinity=True)
    ce = nn.CrossEntropyLoss(ignore_index=-100)
    train_mode(model, frozen_bn)
    t0, audio_s, losses = time.time(), 0.0, []
    while step < args.steps:
        for idx in batches(train, args.batch_seconds, random.Random(args.seed * 1000 + epoch)):
            if step >= args.steps:
                break
            x, mask, targets, lab, tt, tmask = make_batch([train[i] for i in idx], config, rng, nprng, True)
            x, mask, lab = x.to(device), mask.to(device), lab.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
                ctc_logits, frame_logits, distilled, hidden = model(x, mask)
            if args.bf16:
                frame_logits = frame_logits.float()
                distilled = distilled.float() if distilled is not None else None
                hidden = [h.float() for h in hidden] if hidden is not None else None
            in_lens = torch.tensor([frame_count(int(m.sum()), config) for m in mask], dtype=torch.long)
            loss_spk = torch.zeros(())
            rows = [k for k, i in enumerate(idx) if hidden is not None and train[i].kind == "speech"
                    and speaker_label(train[i]) in spk_id]
            if rows:
                model.speaker.objective.margin = model.speaker.full_margin * min(1.0, (step - spk_base) / args.speaker_margin_ramp)
                r = torch.tensor(rows)
                loss_spk = model.speaker([hs[r] for hs in hidden], in_lens[r],
                                         torch.tensor([spk_id[speaker_label(train[idx[k]])] for k in rows]).to(device))
            flat = torch.tensor([t for ts in targets for t in ts], dtype=torch.long)
            tgt_lens = torch.tensor([len(t) for t in targets], dtype=torch.long)
            logp = ctc_logits.float().log_softmax(-1).transpose(0, 1)
            loss_ctc = ctc_loss(logp, flat, in_lens, tgt_lens)
            nf = min(frame_logits.shape[1], lab.shape[1])
            loss_frame = ce(frame_logits[:, :nf].reshape(-1, len(LABELS)), lab[:, :nf].reshape(-1))
            loss = loss_ctc + args.frame_weight * loss_frame
            loss_teacher = torch.zeros(())
            if distilled is not None and bool(tmask.any()):
                nt = min(distilled.shape[1], tt.shape[1])
                m = tmask[:, :nt].to(device)
                loss_teacher = ((distilled[:, :nt] - tt[:, :nt].to(device)) ** 2).mean(-1)[m].mean()
                loss = loss + args.teacher_weight * loss_teacher
            if rows:
                loss = loss + speaker_weight * loss_spk
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            opt.zero_grad(set_to_none=True)
            if opt_spk is not None:
                for g in opt_spk.param_groups:
                    g["lr"] = args.speaker_lr * lr_at(step) / args.lr * min(1.0, (step - spk_base + 1) / 100)
                opt_spk.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], 5.0)
            opt.step()
            if opt_spk is not None:
                opt_spk.step()
            step += 1
            audio_s += float(mask.sum()) / RATE
            losses.append((loss_ctc.item(), loss_frame.item(), loss_teacher.item(), loss_spk.item()))
            if step % 50 == 0:
                el = time.time() - t0
                lc = np.mean([l[0] for l in losses])
                lf = np.mean([l[1] for l in losses])
                lt = np.mean([l[2] for l in losses])
                ls = f" speaker {np.mean([l[3] for l in losses]):.3f}" if speakers else ""
                say(f"step {step} epoch {epoch} ctc {lc:.3f} frame {lf:.3f} teacher {lt:.3f}{ls} lr {lr_at(step):.2e} "
                    f"{audio_s / el:.1f} audio-s/s")
                t0, audio_s, losses = time.time(), 0.0, []
            if step % args.save_every == 0 or step == args.steps:
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                            "epoch": epoch, "rng": rng.getstate(), "config": config.to_dict(),
                            "bn_frozen": bn_frozen, "schedule_base": base,
                            "feature_encoder_frozen": fe_frozen, "speakers": speakers,
                            "speaker_base": spk_base,
                            "opt_speaker": opt_spk.state_dict() if opt_spk is not None else None},
                           str(ckpt) + ".tmp")
                Path(str(ckpt) + ".tmp").replace(ckpt)
                if args.keep_from and step >= args.keep_from:
                    (args.work / "snapshots").mkdir(exist_ok=True)
                    torch.save({"model": model.state_dict(), "step": step, "config": config.to_dict()},
                               args.work / "snapshots" / f"step-{step}.pt")
            if step % args.eval_every == 0 or step == args.steps:
                m = evaluate(model, held, config, device)
                say(f"eval step {step}: held-out TTS CER {m['cer']:.3f} WER {m['wer']:.3f} "
                    f"speech/non-speech frame acc {m['speech_acc']:.3f}")
                model.save_hf(args.work / "export")
                train_mode(model, frozen_bn)
        else:
            epoch += 1
    say("done")


if __name__ == "__main__":
    main()
