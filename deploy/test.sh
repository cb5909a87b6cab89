#!/usr/bin/env bash
# The second command: installs what the tests need on Debian 12, builds livegate and runs every test:
# unit, integration (ffmpeg and GStreamer publishing to a real livegate), the browser player; then,
# built with clang under AddressSanitizer and UndefinedBehaviorSanitizer, the unit tests, the hostile
# and fault cases, and the fuzzers for a bounded time. Extra arguments go to every ctest run.
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
# Each fuzzer runs 5 s here, a smoke check of the target and its corpus; the long runs are recorded in
# tests/fuzz/README.md.
CC=clang CXX=clang++ LIVEGATE_BUILD_DIR=build-asan "$here/build.sh" -DLIVEGATE_SANITIZE=ON -DLIVEGATE_FUZZ=ON \
  -DLIVEGATE_FUZZ_SECONDS=5
image_rc=0
wait "$image_pid" || image_rc=$?
cat "$here/../build/image-tests.log"

# Under the sanitizers: the unit tests, the hostile and fault cases against a real process (label
# `sanitize`, see tests/CMakeLists.txt), then the fuzzers two at a time (each is one busy thread).
(cd "$here/../build-asan" && ctest --output-on-failure --timeout 900 -L '^(unit|sanitize)$' "$@")
(cd "$here/../build-asan" && ctest --output-on-failure --timeout 900 -L '^fuzz$' -j 2 "$@")
exit "$image_rc"
