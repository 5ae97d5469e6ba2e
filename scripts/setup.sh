#!/usr/bin/env bash
# One idempotent setup for a fresh Debian/Ubuntu machine: system packages, npm packages,
# the native addon and the TypeScript build. Safe to run again; it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

# Runtime: libtorch + a fast BLAS (Debian's default reference BLAS is ~15x slower for sgemm).
# Tests: PyTorch/torchvision/scikit-learn produce reference outputs at test time.
# libdnnl-dev: oneDNN's headers, for the addon's Winograd convolutions (native/winograd.cc; the
# library itself comes with libtorch). Fashion-MNIST (Debian's dataset-fashion-mnist, ~30 MB) is
# the demo's one-class benchmark.
pkgs=(libtorch-dev libopenblas0-pthread libdnnl-dev build-essential python3 dataset-fashion-mnist)
if [ "${VIGIL_SETUP_TEST:-0}" = 1 ]; then
  # python3-skimage: its `brick` photograph for the brick experiment; chromium: report.html and the `vigil serve` UI in a real browser.
  pkgs+=(python3-torch python3-torchvision python3-sklearn python3-numpy python3-scipy python3-opencv python3-pil python3-skimage chromium)
fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ] && [ -z "${LIBTORCH:-}${VIGIL_SKIP_APT:-}" ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" != 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lockfile.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

node scripts/build-addon.mjs
npx tsc -p .
