#!/usr/bin/env bash
# x-vector heads on a finished encoder, picked on the validation voices (never the held-out ones), and the bundle
# exported with the pick: the shared end of tools/average_and_export.sh and tools/mix_level.sh.
#
#   bash tools/train_heads.sh WORK OUT LOGS
#
# WORK holds checkpoint.pt and export/ (train.py, average_checkpoints.py or interpolate_models.py output). One cache
# of encoder states (WORK/xv-cache-val.pt), then a head per seed in HARK_SEEDS (default "0 1 2") in WORK-xvN, two at a
# time at one thread each (a single seed gets both threads); the seed with the lower "averaged" validation EER is
# exported to OUT. Logs: LOGS/xv-cache.txt, LOGS/xvN.txt, LOGS/heads.txt, LOGS/export.txt.
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
threads=1
[ "${#seeds[@]}" != 1 ] || threads=2
pids=()
for s in "${seeds[@]}"; do
  train_head "$s" &
  pids+=($!)
  if [ "${#pids[@]}" = 2 ]; then wait "${pids[@]}"; pids=(); fi
done
[ "${#pids[@]}" = 0 ] || wait "${pids[@]}"

best="" best_eer=""
for s in "${seeds[@]}"; do
  e=$(grep "validation voices EER .* averaged" "$logs/xv$s.txt" | tail -n 1 | awk '{print $5}')
  echo "seed $s: validation EER $e" | tee -a "$logs/heads.txt"
  if [ -z "$best" ] || awk "BEGIN{exit !($e < $best_eer)}"; then best=$s best_eer=$e; fi
done
echo "picked seed $best" | tee -a "$logs/heads.txt"
$py tools/export_bundle.py --work "$work-xv$best" --out "$out" > "$logs/export.txt" 2>&1
