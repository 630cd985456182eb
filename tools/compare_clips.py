#!/usr/bin/env python3
"""Compares two models clip by clip: the paired sign test of the demo model's rule (tools/README.md, v39).

Reads two `evaluate --per-clip` files (the shipped model's, then the candidate's) and, for each part (voice family or
eval folder), counts b = clips the base reads with fewer word errors than the candidate and c = the reverse. The
one-sided exact sign test asks whether the candidate is worse: p = P(X >= b | X ~ Binomial(b + c, 1/2)). Clips where
both models make as many errors carry no evidence and are left out, as the sign test does.

    python3 tools/compare_clips.py BASE.tsv CANDIDATE.tsv [--part fsdd] [--alpha 0.05]

Prints one line per part that both files measure; with --part, exits 1 when that part's p is below --alpha (the candidate is significantly
worse there) and 0 otherwise. Standard library only.
"""

import argparse
import csv
import sys
from math import comb


def sign_test_worse(b: int, c: int) -> float:
    """One-sided exact sign test: P(X >= b) for X ~ Binomial(b + c, 1/2); 1.0 when there are no discordant clips."""
    n = b + c
    if n == 0:
        return 1.0
    return sum(comb(n, k) for k in range(b, n + 1)) / 2**n


def read(path: str) -> dict:
    """Rows of one per-clip file, keyed by (part, clip path)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    except OSError as e:
        sys.exit(f"compare_clips: {path}: {e.strerror}")
    need = {"part", "path", "words", "word_errors", "chars", "char_errors"}
    if not rows or not need <= set(rows[0]):
        sys.exit(f"compare_clips: {path}: not an `evaluate --per-clip` file (needs columns {', '.join(sorted(need))})")
    return {(r["part"], r["path"]): r for r in rows}


def compare(base: dict, cand: dict) -> list:
    """Per part both files measure: (part, clips, base WER, candidate WER, b, c, p)."""
    out = []
    for part in sorted({p for p, _ in base} & {p for p, _ in cand}):
        keys = [k for k in base if k[0] == part]
        other = {k for k in cand if k[0] == part}
        if set(keys) != other:
            only = sorted(set(keys) ^ other)
            raise ValueError(f"part {part}: the two files measure different clips ({len(only)} differ, e.g. {only[0][1]})")
        words = sum(int(base[k]["words"]) for k in keys)
        eb = [int(base[k]["word_errors"]) for k in keys]
        ec = [int(cand[k]["word_errors"]) for k in keys]
        b = sum(x < y for x, y in zip(eb, ec))
        c = sum(x > y for x, y in zip(eb, ec))
        out.append((part, len(keys), sum(eb) / max(words, 1), sum(ec) / max(words, 1), b, c, sign_test_worse(b, c)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", help="the shipped model's `evaluate --per-clip` file")
    ap.add_argument("candidate", help="the candidate's `evaluate --per-clip` file")
    ap.add_argument("--part", help="the part ruled on (e.g. fsdd): exit 1 when the candidate is significantly worse")
    ap.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    a = ap.parse_args()
    try:
        rows = compare(read(a.base), read(a.candidate))
    except ValueError as e:
        sys.exit(f"compare_clips: {a.base} vs {a.candidate}: {e}")
    print("| part | clips | base WER | candidate WER | base better | candidate better | p (candidate worse) |")
    print("|---|---|---|---|---|---|---|")
    for part, n, wb, wc, b, c, p in rows:
        print(f"| {part} | {n} | {100 * wb:.1f}% | {100 * wc:.1f}% | {b} | {c} | {p:.3f} |")
    if a.part is not None:
        ruled = [r for r in rows if r[0] == a.part]
        if not ruled:
            sys.exit(f"compare_clips: no part named {a.part} in {a.base}")
        p = ruled[0][6]
        verdict = "significantly worse" if p < a.alpha else "not significantly worse"
        print(f"{a.part}: candidate {verdict} (p = {p:.3f}, alpha {a.alpha})")
        sys.exit(1 if p < a.alpha else 0)


if __name__ == "__main__":
    main()
