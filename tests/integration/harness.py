"""Shared pieces of the integration tests: a real livegate process on loopback ports, generated
test media, real publishing clients, and the HTTP API."""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

LIVEGATE = None  # set by main() from --livegate
WORK = tempfile.mkdtemp(prefix="livegate-it-")


def sanitized():
    """True when the livegate under test is an AddressSanitizer build: its allocator keeps freed memory
    in quarantine, so RSS says nothing about leaks there (LeakSanitizer checks at exit instead)."""
    with open(LIVEGATE, "rb") as f:
        return b"AddressSanitizer" in f.read()


def rss_kib(pid):
    """Resident memory of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def send_in_background(sock, data):
    """Sends `data` on `sock` from a daemon thread, 64 KiB at a time, until done or the socket fails.
    Returns (thread, sent) where sent[0] counts the bytes the kernel took so far."""
    sent = [0]

    def send_all():
        view = memoryview(data)
        try:
            while sent[0] < len(data):
                sent[0] += sock.send(view[sent[0]:sent[0] + 65536])
        except OSError:
            pass

    thread = threading.Thread(target=send_all, daemon=True)
    thread.start()
    return thread, sent


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Livegate:
    """A livegate process on free loopback ports; its stderr goes to a log file."""

    def __init__(self, *extra_args, config=None, env=None):
        self.rtmp_port = free_port()
        self.http_port = free_port()
        self.log_path = os.path.join(WORK, f"livegate-{self.rtmp_port}.log")
        args = [LIVEGATE, "--bind", "127.0.0.1", "--rtmp-port", str(self.rtmp_port),
                "--http-port", str(self.http_port), *extra_args]
        if config is not None:
            path = os.path.join(WORK, f"config-{self.rtmp_port}.json")
            with open(path, "w") as f:
                json.dump(config, f)
            args += ["--config", path]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     env=None if env is None else {**os.environ, **env})
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"livegate exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("livegate did not become ready:\n" + self.log_text())

    def rtmp_url(self, key, app="live"):
        return f"rtmp://127.0.0.1:{self.rtmp_port}/{app}/{key}"

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stream(self, key, app="live"):
        status, body = self.get(f"/api/streams/{app}/{key}")
        return json.loads(body) if status == 200 else None

    def wait_for(self, predicate, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}\n--- livegate log ---\n{self.log_text()}")

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-6000:]

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("livegate did not exit after " + sig.name)
        self.log.close()
        return self.proc.returncode


_media_cache = {}


def test_media(seconds=10, width=1280, height=720, fps=30, gop_s=2):
    """H.264 Main with B-frames + AAC 48 kHz stereo in FLV, generated once per shape."""
    key = (seconds, width, height, fps, gop_s)
    if key in _media_cache:
        return _media_cache[key]
    path = os.path.join(WORK, f"media-{seconds}s-{width}x{height}-{fps}.flv")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(seconds), "-map", "0:v", "-map", "1:a",
         "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-bf", "2",
         "-g", str(fps * gop_s), "-keyint_min", str(fps * gop_s), "-sc_threshold", "0", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-f", "flv", path],
        check=True, timeout=300)
    _media_cache[key] = path
    return path


def make_media(name, *ffmpeg_args):
    """Any other generated test file, e.g. audio-only: make_media("mp3.flv", "-f", "lavfi", ...)."""
    path = os.path.join(WORK, name)
    if not os.path.exists(path):
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *ffmpeg_args, path], check=True, timeout=300)
    return path


def ffmpeg_publish(media, url, realtime=True, loop=False):
    args = ["ffmpeg", "-nostdin", "-loglevel", "error"]
    if realtime:
        args.append("-re")
    if loop:
        args += ["-stream_loop", "-1"]
    args += ["-i", media, "-c", "copy", "-f", "flv", url]
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def gst_publish(media, url, sink):
    """Remuxes the FLV file with GStreamer and publishes it with `rtmp2sink` or the librtmp `rtmpsink`."""
    if sink == "rtmpsink":
        sink_desc = f"rtmpsink location=\"{url} live=1\""
    else:
        sink_desc = f"rtmp2sink location={url}"
    pipeline = (f"filesrc location={media} ! flvdemux name=d "
                f"flvmux name=m streamable=true ! {sink_desc} "
                f"d.video ! queue ! h264parse ! m.video "
                f"d.audio ! queue ! aacparse ! m.audio")
    # gst-launch parses its arguments as one description; the shell keeps the quoted location whole.
    return subprocess.Popen(["sh", "-c", "exec gst-launch-1.0 -q -e " + pipeline],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def main():
    global LIVEGATE
    parser = argparse.ArgumentParser()
    parser.add_argument("--livegate", required=True)
    args, rest = parser.parse_known_args()
    LIVEGATE = os.path.abspath(args.livegate)
    unittest.main(argv=[sys.argv[0], "-v", *rest])
