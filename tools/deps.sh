#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages hark needs to build (ALSA headers for cpal, pkg-config).
# Sourced by tools/test.sh and tools/demo.sh; does nothing when they are already there.
set -euo pipefail
hark_need_pkgs=()
for p in pkg-config libasound2-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || hark_need_pkgs+=("$p")
done
if ((${#hark_need_pkgs[@]})); then
  echo "installing ${hark_need_pkgs[*]} (apt)" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${hark_need_pkgs[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install a Rust toolchain (rustup) first" >&2
  exit 1
fi
