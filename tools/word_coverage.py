#!/usr/bin/env python3
"""How well a model reads held-out words, by how often each word occurs in its training transcripts.

    python tools/word_coverage.py PER_CLIP_TSV [--manifest ~/.cache/hark-data/manifest.tsv]
                                  [--parts espeak,festival,flite]

PER_CLIP_TSV is `evaluate --per-clip` output (columns part, reference, hypothesis, ...). Every
reference word is aligned to the hypothesis (word-level edit distance, substitutions and
deletions count against the reference word) and counted as read right or wrong; the words are
grouped by their count among the training rows' transcripts in the manifest (split "train").
Prints one Markdown table: per group the held-out words, their share, the share read right, and
the WER points the group's wrong words contribute (insertions are not attributed to any group and
are reported on their own line). Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

GROUPS = [(0, 0, "never"), (1, 2, "1-2"), (3, 9, "3-9"), (10, 99, "10-99"), (100, 999, "100-999"),
          (1000, None, "1000+")]


def align(ref: list[str], hyp: list[str]) -> tuple[list[bool], int]:
    """Per reference word whether a minimal word alignment matches it exactly; and the insertions."""
    n, m = len(ref), len(hyp)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]))
    right = [False] * n
    insertions = 0
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i][j] == d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            right[i - 1] = ref[i - 1] == hyp[j - 1]
            i, j = i - 1, j - 1
        elif i > 0 and d[i][j] == d[i - 1][j] + 1:
            i -= 1
        else:
            insertions += 1
            j -= 1
    return right, insertions


def group_of(count: int) -> str:
    for lo, hi, name in GROUPS:
        if count >= lo and (hi is None or count <= hi):
            return name
    raise AssertionError(count)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("per_clip", type=Path)
    ap.add_argument("--manifest", type=Path, default=Path.home() / ".cache" / "hark-data" / "manifest.tsv")
    ap.add_argument("--parts", default="espeak,festival,flite", help="comma-separated parts of the per-clip file")
    args = ap.parse_args()
    for p in (args.per_clip, args.manifest):
        if not p.is_file():
            print(f"word_coverage: {p}: no such file", file=sys.stderr)
            return 1
    trained = Counter()
    with args.manifest.open(newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row.get("split") == "train" and row.get("text"):
                trained.update(row["text"].split())
    parts = set(args.parts.split(","))
    words, right = Counter(), Counter()
    insertions = total = 0
    with args.per_clip.open(newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["part"] not in parts:
                continue
            ref, hyp = row["reference"].split(), row["hypothesis"].split()
            ok, ins = align(ref, hyp)
            insertions += ins
            total += len(ref)
            for w, r in zip(ref, ok):
                g = group_of(trained[w])
                words[g] += 1
                right[g] += r
    if total == 0:
        print(f"word_coverage: {args.per_clip}: no clips of parts {args.parts}", file=sys.stderr)
        return 1
    print(f"{total} reference words of {args.parts} in {args.per_clip.name}; "
          f"training transcripts: {sum(trained.values())} words, {len(trained)} distinct\n")
    print("| times in training | words | share | read right | WER points |")
    print("|---|---|---|---|---|")
    for _, _, g in GROUPS:
        if words[g]:
            print(f"| {g} | {words[g]} | {100 * words[g] / total:.1f}% | {100 * right[g] / words[g]:.1f}% "
                  f"| {100 * (words[g] - right[g]) / total:.1f} |")
    print(f"| insertions | {insertions} | – | – | {100 * insertions / total:.1f} |")
    wrong = sum(words.values()) - sum(right.values())
    print(f"| all | {total} | 100% | {100 * (total - wrong) / total:.1f}% | {100 * (wrong + insertions) / total:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
