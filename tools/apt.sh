#!/usr/bin/env bash
# hark_apt_install PKG...: installs the Debian/Ubuntu packages of the list that are missing
# (sudo when not root); does nothing when all are there. Sourced by tools/deps.sh and
# tools/rebuild_data.sh.
hark_apt_install() {
  local need=() p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  ((${#need[@]})) || return 0
  echo "installing ${need[*]} (apt)" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # Waits for another apt/dpkg run (deps.sh beside rebuild_data.sh) instead of failing on its lock.
  local wait=(-o DPkg::Lock::Timeout=900)
  # That option does not cover `update`'s lock on the package lists (seen 2026-12-07: rebuild_data.sh
  # stopped on it beside tools/test.sh), so update retries for up to 15 minutes.
  local try
  for try in $(seq 90); do
    $sudo apt-get "${wait[@]}" update -qq && break
    ((try < 90)) || return 1
    sleep 10
  done
  DEBIAN_FRONTEND=noninteractive $sudo apt-get "${wait[@]}" install -y -qq "${need[@]}" >/dev/null
}
