#!/usr/bin/env bash
# Installs the Debian 12 packages livegate needs: `build` for compiling it, `test` for the test suite too.
# Also the pinned npm packages (hls.js for the player page; playwright-core for the browser test).
set -euo pipefail
what=${1:-build}

build_pkgs=(build-essential cmake pkg-config
  libuv1-dev libavformat-dev libavcodec-dev libavutil-dev
  nlohmann-json3-dev libcpp-httplib-dev doctest-dev)
test_pkgs=(ffmpeg curl python3 python3-prometheus-client
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  chromium chromium-driver nginx
  clang libclang-rt-14-dev
  prometheus  # promtool, which lints /metrics
  debootstrap python3-yaml systemd)  # the image test: a Debian root, the YAML files, the unit

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

# npm installs the pinned front-end packages. A machine that already has Node.js and npm keeps them
# (Debian's npm package would conflict with another install); a bare Debian 12 gets Debian's.
if ! command -v npm >/dev/null; then
  echo "installing: nodejs npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm
fi
root=$(cd "$(dirname "$0")/.." && pwd)
npm_ci() {  # installs DIR's locked packages unless its node_modules is newer than package-lock.json
  local dir=$1
  [ -d "$dir/node_modules" ] && [ "$dir/node_modules" -nt "$dir/package-lock.json" ] && return
  echo "npm ci in ${dir#"$root"/}/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$dir/node_modules"
}
npm_ci "$root/www"
[ "$what" = test ] && npm_ci "$root/tests/e2e"
exit 0
