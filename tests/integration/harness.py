"""Shared pieces of the integration tests: a real livegate process on loopback ports, generated
test media, real publishing clients, and the HTTP API."""
import argparse
import json
import os
import random
import re
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
WAIT_S = 30  # default deadline of the waits below: generous, for sanitizer builds on a busy machine

METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", re.M)
METRIC_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def poll(fetch, done, timeout=WAIT_S, interval=0.1):
    """Calls fetch() until done(value) holds or `timeout` s have passed, and returns the last value: the
    caller asserts on it, so a failure shows what the server last said."""
    deadline = time.time() + timeout
    while True:
        value = fetch()
        if done(value) or time.time() >= deadline:
            return value
        time.sleep(interval)


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


def handles_signals(pid, *signals):
    """True once the process has installed handlers for all of `signals` (SigCgt in /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigCgt:"):
                caught = int(line.split()[1], 16)
                return all(caught >> (int(s) - 1) & 1 for s in signals)
    return False


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


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(v) for v in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


_given_ports = set()


def free_port():
    """A loopback port nobody listens on, chosen outside the kernel's ephemeral range: a port from
    bind(0) is in that range and may become the local end of some outgoing connection (a client's,
    a callback's) before livegate binds it. Another test process may still pick the same port, so
    Livegate retries its start when a listener finds its port taken."""
    low, high = _ephemeral_range()
    candidates = (10000, low - 1) if low > 12000 else (high + 1, 65535)
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(*candidates)
        if port in _given_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given_ports.add(port)
        return port
    raise RuntimeError("no free loopback port found")


class PortTaken(RuntimeError):
    """livegate could not listen: another process took a port between free_port() and its bind."""


class Livegate:
    """A livegate process on free loopback ports; its stderr goes to a log file."""

    START_ATTEMPTS = 3

    def __init__(self, *extra_args, config=None, env=None, stderr_pipe=False):
        """stderr_pipe: stderr goes to a pipe (self.proc.stderr) that the test reads, or never reads."""
        for attempt in range(1, self.START_ATTEMPTS + 1):
            try:
                self._start(extra_args, config, env, stderr_pipe)
                return
            except PortTaken:
                if attempt == self.START_ATTEMPTS:
                    raise

    def _start(self, extra_args, config, env, stderr_pipe):
        self.rtmp_port = free_port()
        self.http_port = free_port()
        # The admin listener (publisher addresses, /metrics) on a free port of its own, and no shutdown
        # drain unless a test asks for one: each stop would otherwise wait http.drain_ms.
        api = (config or {}).get("api", {})
        self.admin_port = api["port"] if "port" in api else free_port()  # 0: none
        defaults = {} if "port" in api else {"LIVEGATE_API_PORT": str(self.admin_port)}
        if "drain_ms" not in (config or {}).get("http", {}) and "LIVEGATE_HTTP_DRAIN_MS" not in (env or {}):
            defaults["LIVEGATE_HTTP_DRAIN_MS"] = "0"
        # Likewise no reconnect grace unless asked for (the continuity tests do): a stream ends when its
        # publisher goes, so tests about other things see EXT-X-ENDLIST at once.
        if ("reconnect_grace_ms" not in (config or {}).get("hls", {}) and
                "LIVEGATE_HLS_RECONNECT_GRACE_MS" not in (env or {})):
            defaults["LIVEGATE_HLS_RECONNECT_GRACE_MS"] = "0"
        env = {**defaults, **(env or {})}
        self.log_path = os.path.join(WORK, f"livegate-{self.rtmp_port}.log")
        args = [LIVEGATE, "--bind", "127.0.0.1", "--rtmp-port", str(self.rtmp_port),
                "--http-port", str(self.http_port), *extra_args]
        if config is not None:
            path = os.path.join(WORK, f"config-{self.rtmp_port}.json")
            with open(path, "w") as f:
                json.dump(config, f)
            args += ["--config", path]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.PIPE if stderr_pipe else self.log,
                                     env=None if env is None else {**os.environ, **env})
        deadline = time.time() + WAIT_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                text = self.log_text()
                if "address already in use" in text:
                    raise PortTaken(text)
                raise RuntimeError(f"livegate exited with {self.proc.returncode}:\n{text}")
            try:
                # Ready once it serves and has its SIGTERM/SIGINT handlers (installed after the listeners):
                # a stop() right after start must not meet the default action, death by the signal.
                if self.get("/healthz")[0] == 200 and handles_signals(self.proc.pid, signal.SIGTERM, signal.SIGINT):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("livegate did not become ready:\n" + self.log_text())

    def rtmp_url(self, key, app="live"):
        return f"rtmp://127.0.0.1:{self.rtmp_port}/{app}/{key}"

    def get(self, path, admin=False, headers=None):
        """GET on the public listener, or on the admin listener with admin=True."""
        port = self.admin_port if admin else self.http_port
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=15) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def metrics(self):
        """The /metrics text, from the admin listener."""
        status, body = self.get("/metrics", admin=True)
        assert status == 200, f"/metrics answered {status}"
        return body.decode()

    def stream(self, key, app="live", admin=False):
        status, body = self.get(f"/api/streams/{app}/{key}", admin=admin)
        return json.loads(body) if status == 200 else None

    def wait_for(self, predicate, timeout, what):
        """Polls predicate() until it returns a true value, which it returns; fails after `timeout` s.
        A deadline is an upper bound only: pass a generous one (slow sanitizer builds), it costs nothing."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}\n--- livegate log ---\n{self.log_text()}")

    # What livegate shows changes some time after the event that causes it: a client having exited, a
    # socket closed or a reply received does not mean the server has published the consequence yet. The
    # stream API, the playlists, /metrics and the log are each updated by a different part of livegate
    # (log lines by a writer thread; the gauges of /metrics and the per-stream statistics once a second),
    # so a test waits for the state it asserts with the helpers below.

    def playlist(self, key, app="live"):
        """The stream's playlist text, or "" while it has none."""
        status, body = self.get(f"/{app}/{key}/index.m3u8")
        return body.decode() if status == 200 else ""

    def wait_playlist_ended(self, key, app="live", timeout=WAIT_S):
        """Waits for the playlist to end with EXT-X-ENDLIST and returns its text. Neither the publisher
        having exited nor the API saying "ended" means the playlist already does."""
        return self.wait_for(lambda: (lambda t: t if t.endswith("#EXT-X-ENDLIST\n") else None)(
            self.playlist(key, app)), timeout, f"{app}/{key}'s playlist to end with EXT-X-ENDLIST")

    def wait_stream_ended(self, key, app="live", timeout=WAIT_S, admin=False):
        """Waits for the API to say the stream has ended and returns what it says (final statistics)."""
        return self.wait_for(lambda: (lambda j: j if j and j["state"] == "ended" else None)(
            self.stream(key, app, admin=admin)), timeout, f"the API to say {app}/{key} ended")

    def log_all(self):
        """The whole log so far (log_text keeps only its tail)."""
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, needle, timeout=WAIT_S):
        """Waits for `needle` to appear in the log and returns the first line holding it: livegate's log
        writer thread writes a line some time after the event."""
        def find():
            return next((line for line in self.log_all().splitlines() if needle in line), None)
        return self.wait_for(find, timeout, f"the log line {needle!r}")

    def metric(self, name, **labels):
        """The sum of the /metrics samples called `name` whose labels include `labels`; 0 if there are none.
        Gauges (livegate_rtmp_connections, livegate_streams_live, livegate_hls_*) are refreshed once a
        second; poll them (wait_metric) rather than reading them once after an event."""
        total = 0
        for m in METRIC_LINE.finditer(self.metrics()):
            if m.group(1) != name:
                continue
            have = dict(METRIC_LABEL.findall(m.group(2) or ""))
            if all(have.get(k) == str(v) for k, v in labels.items()):
                total += float(m.group(3))
        return int(total) if total == int(total) else total

    def wait_metric(self, name, predicate, timeout=WAIT_S, **labels):
        """Waits for predicate(value of the metric) to hold and returns the value."""
        last = [None]

        def check():
            last[0] = self.metric(name, **labels)
            return predicate(last[0])
        try:
            self.wait_for(check, timeout, f"{name}{labels or ''}")
        except AssertionError as e:
            raise AssertionError(f"{name}{labels or ''} stayed {last[0]}: {e}") from None
        return last[0]

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-6000:]

    def stop(self, sig=signal.SIGTERM, timeout=WAIT_S):
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
