#!/usr/bin/env bash
# Installs the Debian 12 packages livegate needs: `build` for compiling it, `test` for the test suite too.
set -euo pipefail
what=${1:-build}

build_pkgs=(build-essential cmake pkg-config
  libuv1-dev libavformat-dev libavcodec-dev libavutil-dev
  nlohmann-json3-dev libcpp-httplib-dev doctest-dev)
test_pkgs=(ffmpeg curl python3
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav)

pkgs=("${build_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
