#!/usr/bin/env bash
# Runs every check hark has: formatting, clippy (warnings are errors) and all tests (unit,
# parity against transformers goldens, audio decoding, CLI). No Python, no network beyond apt.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh
cargo fmt --check
cargo clippy --release --all-targets -- -D warnings
cargo test --release
