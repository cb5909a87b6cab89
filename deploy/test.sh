#!/usr/bin/env bash
# The second command: installs what the tests need on Debian 12, builds livegate and runs every test
# (unit tests, then integration tests that publish with ffmpeg and GStreamer to a real livegate).
set -euo pipefail
here=$(dirname "$0")
"$here/install-deps.sh" test
"$here/build.sh"
cd "$here/../build"
ctest --output-on-failure --timeout 900 "$@"
