#!/usr/bin/env bash
# x-vector heads on a finished encoder, picked on the validation voices (never the held-out ones), and the bundle
# exported with the pick: the shared end of tools/average_and_export.sh and tools/mix_level.sh.
#
#   bash tools/train_heads.sh WORK OUT LOGS
#
# WORK holds checkpoint.pt and export/ (train.py, average_checkpoints.py or interpolate_models.py output). One cache
# of encoder states (WORK/xv-cache-val.pt), then a head per seed in HARK_SEEDS (default "0 1 2") in WORK-xvN, two at a
# time at one thread each when two fit in memory, else one at a time at two threads (as a single seed); the seed
# with the lower "averaged" validation EER is exported to OUT. Logs: LOGS/xv-cache.txt, LOGS/xvN.txt,
# LOGS/heads.txt, LOGS/export.txt.
# HARK_SHIPPED_HEAD=DIR (a work dir with export/xvector, e.g. the shipped model's head) adds one more candidate, "S":
# DIR's head on WORK's encoder (tools/graft_head.py --pad-layers into WORK-xvS: WORK may be grown deeper), scored on
# the same validation voices without training (`train_xvector.py --mean-only`; LOGS/xvS.txt); it is picked when its
# validation EER is the lowest (since v48: a fresh head is noisy, and v45's and v47's lost the speaker target where
# the shipped one would not have).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$1 out=$2 logs=$3
py=.venv/bin/python
mkdir -p "$logs"
cache="$work/xv-cache-val.pt"
# Note: this --steps 0 run saves an untrained head into $work/export/xvector (only the cache is wanted), so
# after it $work's x-vector export is no stand-in head; the trained heads live in $work-xvN.
$py tools/train_xvector.py --work "$work" --steps 0 --val-split --cache "$cache" --cache-seed 0 > "$logs/xv-cache.txt" 2>&1
seeds=(${HARK_SEEDS:-0 1 2})
for s in "${seeds[@]}"; do
  rm -rf "$work-xv$s"
  mkdir -p "$work-xv$s"
  cp -r "$work/checkpoint.pt" "$work/export" "$work-xv$s/"
done
train_head() {
  $py tools/train_xvector.py --work "$work-xv$1" --steps 5000 --crops 10 --first-layers 5 --average-from 0.8 \
    --val-split --cache "$cache" --cache-seed 0 --seed "$1" --threads "$threads" > "$logs/xv$1.txt" 2>&1
}
# Two heads side by side only when both fit in memory: a head process holds ~3.5x the cache file (v51's 16-layer
# cache, 3.7 GB, took 12.5 GB each, and the second was killed for memory); otherwise one at a time at two threads.
cache_kb=$(( $(stat -c %s "$cache") / 1024 ))
mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
side_by_side=1
[ $(( 2 * 35 * cache_kb / 10 )) -lt "$mem_kb" ] || side_by_side=0
threads=1
[ "${#seeds[@]}" != 1 ] && [ "$side_by_side" = 1 ] || threads=2
pids=()
for s in "${seeds[@]}"; do
  train_head "$s" &
  pids+=($!)
  if [ "${#pids[@]}" = 2 ] || [ "$side_by_side" = 0 ]; then wait "${pids[@]}"; pids=(); fi
done
[ "${#pids[@]}" = 0 ] || wait "${pids[@]}"

best="" best_eer=""
: > "$logs/heads.txt"
for s in "${seeds[@]}"; do
  e=$(grep "validation voices EER .* averaged" "$logs/xv$s.txt" | tail -n 1 | awk '{print $5}')
  [ -n "$e" ] || { echo "seed $s left no validation EER: see $logs/xv$s.txt" >&2; exit 1; }
  echo "seed $s: validation EER $e" | tee -a "$logs/heads.txt"
  if [ -z "$best" ] || awk "BEGIN{exit !($e < $best_eer)}"; then best=$s best_eer=$e; fi
done
if [ -n "${HARK_SHIPPED_HEAD:-}" ]; then
  # The raw validation EER, as the seeds' "averaged" figure above is raw.
  $py tools/graft_head.py --encoder "$work" --head "$HARK_SHIPPED_HEAD" --out "$work-xvS" --pad-layers \
    > "$logs/xvS.txt" 2>&1
  $py tools/train_xvector.py --work "$work-xvS" --mean-only --crops 10 --val-split --cache "$cache" --cache-seed 0 \
    >> "$logs/xvS.txt" 2>&1
  e=$(grep "validation voices EER .* raw" "$logs/xvS.txt" | tail -n 1 | awk '{print $5}')
  [ -n "$e" ] || { echo "the shipped head left no validation EER: see $logs/xvS.txt" >&2; exit 1; }
  echo "seed S ($HARK_SHIPPED_HEAD's head): validation EER $e" | tee -a "$logs/heads.txt"
  if awk "BEGIN{exit !($e < $best_eer)}"; then best=S best_eer=$e; fi
fi
echo "picked seed $best" | tee -a "$logs/heads.txt"
$py tools/export_bundle.py --work "$work-xv$best" --out "$out" > "$logs/export.txt" 2>&1
