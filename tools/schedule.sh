#!/usr/bin/env bash
# The next demo-model schedule in one command, from whatever this machine still has: the data
# (tools/rebuild_data.sh, which skips what exists), hark's release examples, the two runs'
# checkpoints (rebuilt from the shipped bundle when missing), the two runs side by side at one
# thread each, then tools/average_and_export.sh (average, x-vector heads picked on the validation
# voices, export, evaluate, stream_bench). Safe to start again after an interruption: finished
# steps are skipped, a run that saved checkpoints resumes where it stopped.
#
#   bash tools/schedule.sh        # logs: ~/.cache/hark-schedule.log/, the bundle in $out
#
# A shorter variant for a session that cannot wait for the whole data rebuild (v21-lite):
# HARK_DATA_READY=1 trains on the data already in ~/.cache/hark-data as it is (train.py leaves out
# the distillation loss when there are no teacher states), HARK_END and HARK_KEEP move the last
# step and the first kept snapshot, HARK_OUT the bundle's folder, HARK_LR the peak learning rate
# (3e-4), HARK_SEEDS the x-vector head seeds (average_and_export.sh).
#
# v21 (planned 2026-12-01): two runs of 1600 steps from v20 (step 83000, models/demo) on the data
# with 3100 Kokoro clips, real recordings 3x and 6x per epoch, seeds 6 and 7; ~75 min of training
# and ~40 of heads, export and evaluation on the 2-core machine once the data is there. Whether it
# ships is a rule written before its figures (see the session notes), not this script's call.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
base=83000 end=${HARK_END:-84600} keep=${HARK_KEEP:-84000}
out="${HARK_OUT:-$HOME/.cache/hark-export-v21}"
# The runs are named after the bundle (hark-export-v21 -> hark-train-v21-a, -b), so a variant with
# its own HARK_OUT never resumes, or is resumed by, another variant's runs.
name=$(basename "$out")
name=${name#hark-export-}
runs=("$HOME/.cache/hark-train-$name-a" "$HOME/.cache/hark-train-$name-b")
seeds=(6 7)
real_weights=(3 6)
logs="$HOME/.cache/hark-schedule.log"
mkdir -p "$logs"
say() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$logs/schedule.txt" >&2; }

if [ "${HARK_DATA_READY:-0}" = 1 ]; then
  say "data: as it is (HARK_DATA_READY=1)"
else
  say "data"
  bash tools/rebuild_data.sh >> "$logs/data.txt" 2>&1
fi

# hark's release examples measure the bundle at the end: built beside the training and the heads
# (a cold build takes ~24 min alone), at low priority; average_and_export.sh waits for it before
# the evaluation.
if [ ! -x target/release/examples/evaluate ] || [ ! -x target/release/examples/stream_bench ]; then
  say "building hark's release examples (in the background)"
  ( source tools/deps.sh && nice -n 19 cargo build --release --examples ) >> "$logs/cargo.txt" 2>&1 &
fi

checkpoint_step() {
  $py -c "import sys, torch; print(torch.load(sys.argv[1], map_location='cpu', weights_only=False)['step'])" "$1"
}

for r in "${runs[@]}"; do
  if [ ! -f "$r/checkpoint.pt" ]; then
    if [ ! -f "${runs[0]}/checkpoint.pt" ] || [ "$(checkpoint_step "${runs[0]}/checkpoint.pt")" != "$base" ]; then
      say "rebuilding step $base from models/demo into $r"
      $py tools/recover_checkpoint.py --step "$base" --work "$r" >> "$logs/recover.txt" 2>&1
    else
      mkdir -p "$r"
      cp "${runs[0]}/checkpoint.pt" "$r/checkpoint.pt"
    fi
  fi
done

pids=()
for i in 0 1; do
  r=${runs[$i]}
  step=$(checkpoint_step "$r/checkpoint.pt")
  [ "$step" -lt "$end" ] || continue
  # The first start begins a fresh warmup + cosine schedule from the recovered step; any later
  # start is a plain resume of the schedule saved in the checkpoint.
  restart=()
  [ "$step" != "$base" ] || restart=(--restart-schedule)
  say "run $r from step $step ${restart[*]}"
  $py tools/train.py --work "$r" --steps "$end" --batch-seconds 36 --lr "${HARK_LR:-3e-4}" --warmup 200 "${restart[@]}" \
    --speaker-weight 0 --keep-from "$keep" --eval-every 800 --dropout 0.1 --mask-time-prob 0.2 \
    --mask-feature-prob 0.15 --real-weight "${real_weights[$i]}" --seed "${seeds[$i]}" --threads 1 \
    >> "$logs/train-$i.txt" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do
  wait "$p" || { say "a training run failed (logs in $logs/train-*.txt)"; exit 1; }
done

say "average, heads, export, evaluation (the evaluation waits for the release build)"
bash tools/average_and_export.sh "$end" "$out" "${runs[@]}"
say "done: $out; figures in $out.log/evaluate.txt and $out.log/stream.txt"
