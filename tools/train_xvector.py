#!/usr/bin/env python3
"""Stage 2 of the demo model: a transformers x-vector head (Wav2Vec2ConformerForXVector, AMSoftmax
loss) trained on the frozen stage-1 encoder from tools/train.py.

    python tools/train_xvector.py [--data ~/.cache/hark-data] [--work ~/.cache/hark-train] [--steps 1500]

Speakers: every training TTS voice (engine + voice + variant) and every real speaker in
../shared/corpora. Crops of 1.5-3 s. The head uses `use_weighted_layer_sum` (all encoder layers,
softmax-weighted) because the top layer of a CTC encoder keeps little speaker information.
`--first-layers N` starts those weights on the first N hidden states (layers grown later by
train.py --layers carry little speaker information) and `--average-from F` saves the head's
weights averaged over the last (1 - F) of the steps, which the held-out EER varies less for.
`--val-split` keeps a validation set of training voices out of the head's training, so that a
seed or setting can be chosen on it without touching the held-out voices the EER is reported on.
Saves WORK/export/xvector (transformers layout, same encoder weights as export/ctc).

Because the encoder is frozen, its hidden states (every layer) are computed once for a pool of
3 s crops per speaker and the head trains on those (random 1.5-3 s sub-crops): minutes instead of
an encoder pass per step. `train.xvector_head` is the head half of the transformers forward; it is
checked against the real class before training.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pseudo_label  # noqa: E402
import train as stage1  # noqa: E402

RATE = stage1.RATE


def librispeech_speaker_clips(known: set[str]) -> list:
    """Every utterance of the LibriSpeech speaker corpus in ../shared (257 speakers, speaker
    labels only) that `known` does not already hold. The speaker head needs no transcript, so
    it also trains on the utterances the pseudo-labeller was unsure of."""
    import soundfile as sf

    out = []
    manifest = pseudo_label.CORPUS / "manifest.tsv"
    if not manifest.exists():
        return out
    for r in csv.DictReader(open(manifest), delimiter="\t"):
        path = str(pseudo_label.CORPUS / r["path"])
        if path in known:
            continue
        x, rate = sf.read(path, dtype="int16")
        assert rate == RATE, path
        out.append(stage1.Clip(x, "", "speech", 0.0, len(x) / RATE, "real:librispeech_speakers",
                               r["speaker"], "train", path))
    return out


# The validation voices (`--val-split`): training speakers kept out of the head's training so that
# seeds and settings can be chosen on them instead of on the held-out voices the EER is reported
# on. Built like the held-out split: one whole espeak-ng accent with every variant (the held-out
# split is the en-029 accent), plus every VAL_LIBRI_EVERY-th LibriSpeech speaker (sorted by label).
VAL_ESPEAK_ACCENT = "espeak:en-gb-x-gbcwmd"
VAL_LIBRI_EVERY = 6
VAL_CLIPS = 300


def validation_speakers(clips) -> set[str]:
    """The `--val-split` speakers among those of `clips` (see VAL_ESPEAK_ACCENT)."""
    libri = sorted({c.speaker for c in clips if c.family.startswith("real:librispeech")})
    espeak = {c.speaker for c in clips if c.speaker == VAL_ESPEAK_ACCENT or c.speaker.startswith(VAL_ESPEAK_ACCENT + "+")}
    return set(libri[::VAL_LIBRI_EVERY]) | espeak


def head_clips(data: Path) -> list:
    """The manifest's speech clips the speaker head uses. The isolated-digit clips (make_data.py --digits, since
    v21d) and short utterances (--short, since session 55) are left out: about a second long, a 3 s crop of one
    would be mostly zero padding, and they would change which clips the validation voices are scored on."""
    return [c for c in stage1.load_clips(data)
            if c.kind == "speech" and "/tts/digits-" not in c.path and "/tts/short-" not in c.path]


def crop(x: np.ndarray, rng: random.Random, seconds: float) -> np.ndarray:
    n = int(seconds * RATE)
    if len(x) <= n:
        return x
    s = rng.randrange(len(x) - n)
    return x[s: s + n]


def embed(model, x: np.ndarray) -> np.ndarray:
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    with torch.no_grad():
        return model(torch.from_numpy(x.astype(np.float32))[None]).embeddings[0].numpy()


def encoder_states(model, x: np.ndarray) -> torch.Tensor:
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    with torch.no_grad():
        out = model.wav2vec2_conformer(torch.from_numpy(x.astype(np.float32))[None], output_hidden_states=True)
    return torch.stack(out.hidden_states, dim=1)[0]


def eer(scores: np.ndarray, same: np.ndarray) -> float:
    order = np.argsort(-scores)
    same = same[order]
    tp = np.cumsum(same) / max(1, same.sum())
    fp = np.cumsum(~same) / max(1, (~same).sum())
    fnr = 1 - tp
    i = int(np.argmin(np.abs(fnr - fp)))
    return float((fnr[i] + fp[i]) / 2)


def unit(e: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as `hark::speaker::SpeakerVector`."""
    n = np.linalg.norm(e, axis=-1, keepdims=True)
    return e / np.where(n > 1e-12, n, 1.0)


def speaker_eer(model, clips, rng, mean: np.ndarray | None = None) -> float:
    """EER of cosine scores between 3 s crops of `clips`; with `mean`, the unit-length
    embeddings are centred by it and scaled to unit length again (as hark scores them)."""
    embs = [embed(model, crop(c.audio.astype(np.float32) / 32768.0, rng, 3.0)) for c in clips]
    embs = unit(np.stack(embs))
    if mean is not None:
        embs = unit(embs - mean)
    spk = np.array([c.speaker for c in clips])
    iu = np.triu_indices(len(clips), 1)
    scores = (embs @ embs.T)[iu]
    same = (spk[:, None] == spk[None, :])[iu]
    return eer(scores, same)


def embedding_mean(model, cache: dict[str, list[torch.Tensor]], clips_of: dict[str, int]) -> np.ndarray:
    """Mean unit-length embedding of the training data: each speaker's mean over its cached 3 s
    crops, each scaled to unit length first (raw norms vary widely, 0.05 and 1.86 on the two v5
    golden clips, and a few long vectors would set the mean), weighted by its number of training
    clips (so, in expectation, the mean over all training clips). hark subtracts it from
    unit-length embeddings before cosine scoring (hark.json `xvector_mean`, `hark::speaker`)."""
    per_speaker, weights = [], []
    with torch.no_grad():
        for s, crops in cache.items():
            _, e = stage1.xvector_head(model, torch.stack([c.float() for c in crops]))
            per_speaker.append(unit(e.numpy()).mean(axis=0))
            weights.append(clips_of[s])
    return np.average(np.stack(per_speaker), axis=0, weights=np.array(weights, dtype=np.float64))


def build_cache(model, speakers, by_spk, crops: int, rng) -> dict[str, list[torch.Tensor]]:
    cache: dict[str, list[torch.Tensor]] = {}
    for s in speakers:
        for _ in range(crops):
            x = crop(rng.choice(by_spk[s]).audio.astype(np.float32) / 32768.0, rng, 3.0)
            x = np.pad(x, (0, max(0, 3 * RATE - len(x))))
            cache.setdefault(s, []).append(encoder_states(model, x).half())
    return cache


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "hark-data")
    ap.add_argument("--work", type=Path, default=Path.home() / ".cache" / "hark-train")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--crops", type=int, default=10, help="cached 3 s crops per speaker")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--margin-ramp", type=float, default=0.5,
                    help="fraction of the steps over which the AMSoftmax margin grows from 0 to the "
                         "config's (a full margin from the first step keeps the head at chance)")
    ap.add_argument("--eval-clips", type=int, default=300,
                    help="held-out clips scored for the EER printed during training")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mean-only", action="store_true",
                    help="no training: load WORK/export/xvector, compute the training-speaker mean "
                         "embedding from --crops crops per speaker and write embedding_mean.json")
    ap.add_argument("--first-layers", type=int, default=0,
                    help="start the layer weights on the first N hidden states (the others at "
                         "softmax weight e^-4 of theirs; all stay trainable); 0: uniform, as "
                         "transformers initialises them")
    ap.add_argument("--average-from", type=float, default=1.0,
                    help="fraction of the steps after which the head's weights are averaged "
                         "(equal weight per step); the average is what gets saved. 1: no average")
    ap.add_argument("--init-from-joint", action="store_true",
                    help="start from the speaker head train.py --speaker-weight trained jointly with "
                         "the encoder (all but the AMSoftmax speaker weights, whose speaker list "
                         "differs); with --steps 0 it is saved as it is")
    ap.add_argument("--cache", type=Path,
                    help="file for the cached encoder states: loaded when it exists and was made "
                         "from the same checkpoint step, crops and seed; written otherwise")
    ap.add_argument("--seed", type=int, default=0, help="head initialisation and batch order")
    ap.add_argument("--cache-seed", type=int,
                    help="seed of the cached crops (default: --seed); seeds of the head that share it "
                         "share one --cache file")
    ap.add_argument("--val-split", action="store_true",
                    help="keep the validation voices (one espeak-ng accent, every 6th LibriSpeech "
                         "speaker) out of training and report their EER too; the centring decision "
                         "is then made on them rather than on the held-out voices")
    ap.add_argument("--tdnn-dim", default="128,128,128,128,384",
                    help="widths of the head's five TDNN layers (transformers' default: 512,512,512,512,1500)")
    ap.add_argument("--xvector-dim", type=int, default=128, help="embedding size")
    ap.add_argument("--labels", choices=["voice", "variant"], default="voice",
                    help="training speakers: every voice (espeak-ng accent x variant) or, with "
                         "`variant`, espeak-ng voices labelled by variant alone across accents "
                         "(train.speaker_label); the held-out and validation voices are scored as voices")
    ap.add_argument("--extra-data", type=Path, action="append", default=[],
                    help="more training speakers for the head only: a folder with a manifest.tsv in "
                         "make_data.py's format (tools/make_speaker_data.py); repeatable")
    args = ap.parse_args()
    tdnn_dim = tuple(int(v) for v in args.tdnn_dim.split(","))
    if len(tdnn_dim) != 5:
        ap.error(f"--tdnn-dim {args.tdnn_dim}: five widths, one per TDNN layer (kernels 5,3,3,1,1)")
    if args.cache_seed is None:
        args.cache_seed = args.seed
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.cache_seed)
    log = open(args.work / "train_xvector.log", "a")

    def say(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    from transformers import Wav2Vec2ConformerForXVector

    state = torch.load(args.work / "checkpoint.pt", map_location="cpu", weights_only=False)
    base_cfg = stage1.model_config("tiny").__class__.from_dict(state["config"])
    joint = stage1.Joint(base_cfg)
    stage1.load_resized(joint, state["model"])  # drops training-only weights (distillation map)

    clips = head_clips(args.data)
    clips += librispeech_speaker_clips({c.path for c in clips})
    for extra in args.extra_data:
        more = [c for c in stage1.load_clips(extra) if c.kind == "speech" and c.split == "train"]
        say(f"{extra}: {len(more)} clips of {len({c.speaker for c in more})} more training speakers")
        clips += more
    train = [c for c in clips if c.split == "train" and c.speaker]
    held = [c for c in clips if c.split == "eval"]
    val: list = []
    if args.val_split:
        val_spk = validation_speakers(train)
        val = [c for c in train if c.speaker in val_spk]
        train = [c for c in train if c.speaker not in val_spk]
        val = random.Random(2).sample(val, min(VAL_CLIPS, len(val)))
        say(f"validation split: {len(val_spk)} voices kept out of training, {len(val)} of their clips scored")
    if args.labels == "variant":
        for c in train:
            c.speaker = stage1.speaker_label(c)
    speakers = sorted({c.speaker for c in train})
    spk_id = {s: i for i, s in enumerate(speakers)}
    say(f"{len(train)} clips, {len(speakers)} speakers; {len(held)} held-out clips of "
        f"{len({c.speaker for c in held})} voices")

    out_dir = args.work / "export" / "xvector"
    if args.mean_only:
        model = Wav2Vec2ConformerForXVector.from_pretrained(out_dir).eval()
    else:
        cfg = stage1.xvector_config(base_cfg, len(speakers), tdnn_dim, args.xvector_dim)
        model = Wav2Vec2ConformerForXVector(cfg)
        model.wav2vec2_conformer.load_state_dict(joint.ctc.wav2vec2_conformer.state_dict())
        if args.init_from_joint:
            head = {n[len("speaker."):]: t for n, t in state["model"].items()
                    if n.startswith("speaker.") and not n.startswith("speaker.objective.")}
            if not head:
                raise SystemExit("--init-from-joint: the checkpoint has no speaker head (train.py --speaker-weight)")
            missing, unexpected = model.load_state_dict(head, strict=False)
            assert not unexpected and all(n.startswith(("wav2vec2_conformer.", "objective.")) for n in missing), \
                (missing, unexpected)
    for p in model.wav2vec2_conformer.parameters():
        p.requires_grad = False
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    by_spk: dict[str, list] = {}
    for c in train:
        by_spk.setdefault(c.speaker, []).append(c)

    model.eval()
    # The head half must equal the real forward.
    probe = crop(train[0].audio.astype(np.float32) / 32768.0, random.Random(0), 3.0)
    with torch.no_grad():
        _, mine = stage1.xvector_head(model, encoder_states(model, probe)[None])
        xn = (probe - probe.mean()) / np.sqrt(probe.var() + 1e-7)
        ref = model(torch.from_numpy(xn.astype(np.float32))[None]).embeddings
    assert torch.allclose(mine, ref, atol=1e-4), float((mine - ref).abs().max())

    t0 = time.time()
    key = {"step": state.get("step"), "averaged": state.get("averaged"), "crops": args.crops, "seed": args.cache_seed,
           "speakers": speakers}
    cache = None
    if args.cache and args.cache.exists():
        saved = torch.load(args.cache, weights_only=False)
        if saved["key"] == key:
            cache, rng = saved["cache"], saved["rng"]
            say(f"loaded cached encoder states from {args.cache}")
        else:
            say(f"{args.cache} was made from another checkpoint, crop count or seed: rebuilding it")
    if cache is None:
        cache = build_cache(model, speakers, by_spk, args.crops, rng)
        if args.cache:
            torch.save({"key": key, "cache": cache, "rng": rng}, args.cache)
    if args.seed != args.cache_seed:
        rng = random.Random(args.seed)  # batches of its own; the same seeds keep the old sequence
    say(f"cached encoder states: {sum(len(v) for v in cache.values())} crops in {time.time() - t0:.0f} s")
    if args.first_layers and not args.mean_only and not args.init_from_joint:
        stage1.start_layer_weights(model.layer_weights, args.first_layers)
        say(f"layer weights start on hidden states 0..{args.first_layers - 1}")
    if args.mean_only:
        write_mean(model, cache, {s: len(v) for s, v in by_spk.items()}, held[: args.eval_clips], val, out_dir, say)
        return

    model.train()
    model.wav2vec2_conformer.eval()
    t0 = time.time()
    losses = []
    full_margin = model.objective.margin
    # Equal-weight running average of the weights from avg_start on (torch's SWA helper).
    average = torch.optim.swa_utils.AveragedModel(model)
    averaged = 0
    avg_start = int(args.average_from * args.steps) + 1
    for step in range(1, args.steps + 1):
        frames = rng.randint(75, 149)
        chosen = [rng.choice(speakers) for _ in range(args.batch)]
        hs = []
        for s in chosen:
            h = rng.choice(cache[s])
            o = rng.randint(0, h.shape[1] - frames)
            hs.append(h[:, o: o + frames].float())
        labels = torch.tensor([spk_id[s] for s in chosen])
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, step / 100) * (0.05 + 0.95 * (1 - step / args.steps))
        ramp = max(1.0, args.margin_ramp * args.steps)
        model.objective.margin = full_margin * min(1.0, (step - 1) / ramp)
        loss, _ = stage1.xvector_head(model, torch.stack(hs), labels=labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= avg_start:
            average.update_parameters(model)
            averaged += 1
        losses.append(float(loss.detach()))
        if step % 50 == 0:
            say(f"step {step} amsoftmax {np.mean(losses):.3f} margin {model.objective.margin:.2f} "
                f"({time.time() - t0:.0f} s)")
            losses = []
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            e = speaker_eer(model, held[: args.eval_clips], random.Random(1))
            model.train()
            model.wav2vec2_conformer.eval()
            w = nn.functional.softmax(model.layer_weights.detach(), dim=-1)
            say(f"held-out voices EER {e:.3f} (PyTorch, 3 s crops, {min(len(held), args.eval_clips)} clips); "
                f"layer weights {' '.join(f'{v:.2f}' for v in w.tolist())}")
            if val:
                say(f"validation voices EER {speaker_eer(model, val, random.Random(1)):.3f} ({len(val)} clips)")
            if averaged:
                e = speaker_eer(average.module.eval(), held[: args.eval_clips], random.Random(1))
                say(f"held-out voices EER {e:.3f} with the head averaged over its last {averaged} steps")
                if val:
                    e = speaker_eer(average.module.eval(), val, random.Random(1))
                    say(f"validation voices EER {e:.3f} with the head averaged over its last {averaged} steps")
    if averaged:
        model.load_state_dict(average.module.state_dict())  # the average is what gets saved
    # Re-save the CTC and frame heads from the same checkpoint, so all three exports share the
    # exact encoder weights (export_bundle.py checks that).
    model.objective.margin = full_margin
    joint.save_hf(args.work / "export")
    model.save_pretrained(out_dir)
    from transformers import Wav2Vec2FeatureExtractor

    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=RATE, do_normalize=True).save_pretrained(out_dir)
    (out_dir / "speakers.txt").write_text("\n".join(speakers) + "\n")
    model.eval()
    write_mean(model, cache, {s: len(v) for s, v in by_spk.items()}, held[: args.eval_clips], val, out_dir, say)
    say(f"saved {out_dir}")


def write_mean(model, cache, clips_of, held, val, out_dir: Path, say) -> None:
    """Writes the training mean (hark.json `xvector_mean`) only when centring by it lowers the
    EER between the validation voices (`--val-split`), or without them between the held-out
    voices; otherwise removes a stale one, so hark scores raw directions. (The v5 head gained
    from centring, 15.0% -> 13.4%; the v6 head lost, 13.2% -> 13.8%.)"""
    mean = embedding_mean(model, cache, clips_of)
    path = out_dir / "embedding_mean.json"
    raw = speaker_eer(model, held, random.Random(1))
    centred = speaker_eer(model, held, random.Random(1), mean)
    if val:
        val_raw = speaker_eer(model, val, random.Random(1))
        val_centred = speaker_eer(model, val, random.Random(1), mean)
        say(f"validation voices EER {val_raw:.3f} raw, {val_centred:.3f} centred ({len(val)} clips)")
    else:
        val_raw, val_centred = raw, centred
    if val_centred < val_raw:
        path.write_text(json.dumps([float(v) for v in mean]) + "\n")
        verdict = f"wrote {path}"
    else:
        path.unlink(missing_ok=True)
        verdict = "centring does not help this head: no embedding_mean.json (hark scores raw directions)"
    say(f"held-out voices EER {raw:.3f} raw, {centred:.3f} after subtracting the training mean "
        f"(PyTorch, 3 s crops, {len(held)} clips); {verdict}")


if __name__ == "__main__":
    main()
