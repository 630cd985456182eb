#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages hark needs to build (ALSA headers for cpal, pkg-config).
# Sourced by tools/test.sh and tools/demo.sh; does nothing when they are already there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
hark_apt_install pkg-config libasound2-dev
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install a Rust toolchain (rustup) first" >&2
  exit 1
fi
