#!/usr/bin/env bash
# The second command: installs what the tests need on Debian 12, builds livegate and runs every test:
# unit, integration (ffmpeg and GStreamer publishing to a real livegate), the browser player, then the
# same suite again built with clang under AddressSanitizer and UndefinedBehaviorSanitizer, and the
# fuzzers for a bounded time. Extra arguments go to both ctest runs (e.g. -L unit).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/install-deps.sh" test

"$here/build.sh"
(cd "$here/../build" && ctest --output-on-failure --timeout 900 -LE image "$@")

# The image tests (-L image) check the deployment files and the image's runtime stage, not code, so they
# run once, with the gcc build. Most of their time goes to fetching and unpacking Debian packages, so
# they run while the sanitizer build compiles rather than beside the timing-sensitive tests.
(cd "$here/../build" && ctest --output-on-failure --timeout 900 -L image "$@") >"$here/../build/image-tests.log" 2>&1 &
image_pid=$!
trap 'wait' EXIT  # never leave the image test (and its mounts) behind
CC=clang CXX=clang++ LIVEGATE_BUILD_DIR=build-asan "$here/build.sh" -DLIVEGATE_SANITIZE=ON -DLIVEGATE_FUZZ=ON
image_rc=0
wait "$image_pid" || image_rc=$?
cat "$here/../build/image-tests.log"

(cd "$here/../build-asan" && ctest --output-on-failure --timeout 900 -LE image "$@")
exit "$image_rc"
