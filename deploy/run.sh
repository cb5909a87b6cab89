#!/usr/bin/env bash
# The newcomer's first command: installs what livegate needs on Debian 12, builds it, and runs it
# with the built-in defaults (RTMP on 1935, HTTP on 8080). Arguments are passed on to livegate.
set -euo pipefail
here=$(dirname "$0")
"$here/install-deps.sh" build
"$here/build.sh"
echo
echo "livegate is starting. Publish with, for example:"
echo "  ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine -c:v libx264 -c:a aac -f flv rtmp://127.0.0.1:1935/live/test"
echo "or point OBS at server rtmp://HOST:1935/live with any stream key. Stop with Ctrl-C."
echo
exec "$here/../build/livegate" "$@"
