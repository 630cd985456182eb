#!/usr/bin/env bash
# The end of a two-run schedule (v19-v21, tools/README.md): waits until every run has saved its
# snapshot of STEP, averages those final encoders, trains x-vector heads for seeds 0-2 (HARK_SEEDS,
# two at a time at one thread each when two fit in memory (not at 16 layers): "0 1" saves a second round of
# ~13 min, "0" runs at two threads) on one cache of encoder states (tools/train_heads.sh), keeps the seed that reads
# best on the validation voices (never the held-out ones), exports the bundle to OUT and measures it with hark
# (evaluate, stream_bench, tests/demo.rs).
#
#   bash tools/average_and_export.sh STEP OUT RUN_DIR...
#   e.g. bash tools/average_and_export.sh 84600 ~/.cache/hark-export-v21 ~/.cache/hark-train-v21-a ~/.cache/hark-train-v21-b
#
# Logs go to OUT.log/; the soup and head work dirs are FIRST_RUN_DIR-soup and -soup-xvN.
# HARK_AVERAGE_FROM=STEP0 averages every snapshot from STEP0 to STEP instead of the runs' final ones (one run's last
# third, v51). The per-clip file OUT.clips.tsv is compared with the shipped model's (tools/compare_clips.py, the
# rule's digit test; tools/shipped_clips.sh measures models/demo once if needed).
# HARK_MIX_WITH=BASE_WORK (v52's recipe, v54): the average is mixed 50/50 with BASE_WORK's encoder before the heads
# (tools/interpolate_models.py), BASE_WORK first grown to the average's depth when it is shallower
# (tools/grow_model.py, into FIRST_RUN_DIR-soup-base); the mix is FIRST_RUN_DIR-soup-mix and its heads -soup-mix-xvN.
# Pair it with HARK_SHIPPED_HEAD=BASE_WORK (train_heads.sh: the base's head, padded, competes with fresh seeds).
set -euo pipefail
cd "$(dirname "$0")/.."
step=$1 out=$2
shift 2
runs=("$@")
py=.venv/bin/python
data="${HARK_DATA:-$HOME/.cache/hark-data}"
soup="${runs[0]}-soup"
logs="$out.log"
mkdir -p "$logs"

for r in "${runs[@]}"; do
  while [ ! -f "$r/snapshots/step-$step.pt" ]; do sleep 60; done
done
for r in "${runs[@]}"; do
  while pgrep -f "train.py --work $r " >/dev/null; do sleep 30; done   # its last save finishes
done

snaps=()
for r in "${runs[@]}"; do snaps+=(--snapshots "$r/snapshots"); done
mkdir -p "$soup"
cp "${runs[0]}/checkpoint.pt" "$soup/checkpoint.pt"
$py tools/average_checkpoints.py --work "$soup" "${snaps[@]}" --from "${HARK_AVERAGE_FROM:-$step}" --to "$step" --save 2>&1 | tee "$logs/average.txt"

head_work=$soup
if [ -n "${HARK_MIX_WITH:-}" ]; then
  depth() {  # conformer layers of a work dir's checkpoint.pt
    $py -c "import torch,sys; s = torch.load(sys.argv[1], map_location='cpu', weights_only=False)
print(s['config']['num_hidden_layers'])" "$1/checkpoint.pt"
  }
  base=$HARK_MIX_WITH
  layers=$(depth "$soup")
  if [ "$(depth "$base")" != "$layers" ]; then
    $py tools/grow_model.py --work "$base" --layers "$layers" --out "$soup-base" 2>&1 | tee "$logs/grow.txt"
    base=$soup-base
  fi
  $py tools/interpolate_models.py --a "$base" --b "$soup" --alpha 0.5 --out "$soup-mix" 2>&1 | tee "$logs/mix.txt"
  head_work=$soup-mix
fi
bash tools/train_heads.sh "$head_work" "$out" "$logs"
# schedule.sh builds hark's release examples beside the training: wait for that build here.
while pgrep -f "cargo build --release" >/dev/null; do sleep 30; done
for b in evaluate stream_bench; do
  [ -x "target/release/examples/$b" ] || { echo "target/release/examples/$b is missing: cargo build --release --examples" >&2; exit 1; }
done
./target/release/examples/evaluate --model "$out" --manifest "$data/manifest.tsv" \
  --eval-dir ../shared/eval/real --per-clip "$out.clips.tsv" > "$logs/evaluate.txt" 2>&1
# The held-out short utterances (make_data.py --eval-short, since session 55), when the data has them.
if [ -f "$data/short-eval.tsv" ]; then
  ./target/release/examples/evaluate --model "$out" --manifest "$data/short-eval.tsv" \
    --per-clip "$out.short-clips.tsv" > "$logs/evaluate-short.txt" 2>&1
fi
source tools/shipped_clips.sh
python3 tools/compare_clips.py "$(shipped_clips)" "$out.clips.tsv" --part fsdd > "$logs/compare.txt" 2>&1 || true
tail -n 1 "$logs/compare.txt"
[ -f /tmp/stream-eval.wav ] || $py tools/stream_bench_input.py > "$logs/stream-input.txt" 2>&1
./target/release/examples/stream_bench "$out" /tmp/stream-eval.wav 1 /tmp/stream-eval.txt > "$logs/stream.txt" 2>&1
# parity with the goldens and the assets/ samples' CER (the rule's last part), on the bundle in place: models/demo
# is left alone
HARK_DEMO_MODEL="$out" cargo test --release --test demo -- --nocapture > "$logs/demo-test.txt" 2>&1 \
  || echo "tests/demo.rs failed on $out (parity or the 40% regression guard): see $logs/demo-test.txt"
grep -m1 "over the samples:" "$logs/demo-test.txt" || echo "samples: no result, see $logs/demo-test.txt"
echo "done: $out (logs in $logs)"
