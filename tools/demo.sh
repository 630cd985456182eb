#!/usr/bin/env bash
# The main job: transcribe the bundled sample with the bundled model (builds hark first).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh
model=models/demo
if [ ! -f "$model/hark.json" ]; then
  echo "models/demo not present yet: using the random-weight test model (output is noise)" >&2
  model=tests/fixtures/rotary-ctc
fi
cargo build --release --quiet
exec ./target/release/hark transcribe assets/hello-espeak-en-029.wav --model "$model" "$@"
