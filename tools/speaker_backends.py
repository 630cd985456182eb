#!/usr/bin/env python3
"""Scoring back-ends for an x-vector head, compared on its embeddings (models/demo/HISTORY.md,
"Tried for scoring v31's head").

Embeds the cached 3 s training crops (`train_xvector.py --cache`, made with `--val-split`), the
300 validation-voice clips and the first 300 held-out clips (each clip's random 3 s crop, as
`train_xvector.py` scores them), then prints the EER of plain cosine scoring against training-mean
centring, WCCN (within-speaker whitening), LDA and symmetric score normalization (s-norm) against
the training speakers' mean embeddings. Choose on the validation voices, never on the held-out ones.

    python tools/speaker_backends.py --work ~/.cache/hark-interp-v29-v31-xv1 \\
        --cache ~/.cache/hark-interp-v29-v31/xv-cache-val.pt
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train as stage1  # noqa: E402
import train_xvector as tx  # noqa: E402


def pair_eer(scores: np.ndarray, spk: np.ndarray) -> float:
    iu = np.triu_indices(len(spk), 1)
    return tx.eer(scores[iu], (spk[:, None] == spk[None, :])[iu])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="work dir whose export/xvector is the head")
    ap.add_argument("--cache", type=Path, required=True, help="train_xvector.py --val-split cache of encoder states")
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "hark-data")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import Wav2Vec2ConformerForXVector

    clips = tx.head_clips(args.data)
    clips += tx.librispeech_speaker_clips({c.path for c in clips})
    train = [c for c in clips if c.split == "train" and c.speaker]
    held = [c for c in clips if c.split == "eval"][:300]
    val_spk = tx.validation_speakers(train)
    val = random.Random(2).sample([c for c in train if c.speaker in val_spk], tx.VAL_CLIPS)
    model = Wav2Vec2ConformerForXVector.from_pretrained(args.work / "export" / "xvector").eval()

    cache = torch.load(args.cache, weights_only=False)["cache"]
    xs, ys = [], []
    with torch.no_grad():
        for i, crops in enumerate(cache.values()):
            _, e = stage1.xvector_head(model, torch.stack([c.float() for c in crops]))
            xs.append(tx.unit(e.numpy()))
            ys += [i] * len(crops)
    del cache
    x, y = np.concatenate(xs), np.array(ys)

    def embed(cl):
        rng = random.Random(1)
        e = [tx.embed(model, tx.crop(c.audio.astype(np.float32) / 32768.0, rng, 3.0)) for c in cl]
        return tx.unit(np.stack(e)), np.array([c.speaker for c in cl])

    sets = {"validation": embed(val), "held-out": embed(held)}
    mu = x.mean(0)
    means = np.stack([x[y == c].mean(0) for c in np.unique(y)])
    within = x - means[y]
    sw = within.T @ within / len(x)
    sb = (means - mu).T @ (means - mu) / len(means)
    eye = np.eye(x.shape[1])

    def row(name, project=None, snorm=None):
        out = []
        for e, spk in sets.values():
            z = tx.unit((e - mu) @ project) if project is not None else e
            s = z @ z.T
            if snorm is not None:
                cohort = z @ tx.unit(means).T
                if snorm:
                    cohort = -np.sort(-cohort, axis=1)[:, :snorm]
                m, sd = cohort.mean(1), cohort.std(1) + 1e-6
                s = 0.5 * ((s - m[:, None]) / sd[:, None] + (s - m[None, :]) / sd[None, :])
            out.append(pair_eer(s, spk))
        print(f"| {name} | {100 * out[0]:.1f}% | {100 * out[1]:.1f}% |", flush=True)

    print(f"{len(x)} training crops of {len(means)} speakers\n")
    print("| scoring | validation EER | held-out EER |\n|---|---|---|")
    row("cosine")
    row("centred", eye)
    for reg in (1e-4, 1e-3, 1e-2):
        w, v = np.linalg.eigh(sw + reg * eye)
        row(f"WCCN, ridge {reg:g}", v @ np.diag(w ** -0.5) @ v.T)
        ev, vecs = np.linalg.eig(np.linalg.inv(sw + reg * eye) @ sb)
        vecs = vecs[:, np.argsort(-ev.real)].real
        for k in (32, 64, 128):
            row(f"LDA {k}, ridge {reg:g}", vecs[:, :k])
    for k in (0, 20, 50, 100, 200):
        row(f"s-norm, {'all' if not k else f'top {k}'} cohort", snorm=k)


if __name__ == "__main__":
    main()
