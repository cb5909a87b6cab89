"""Hostile clients against one real livegate: malformed RTMP (MI-*), resource exhaustion (RE-*) and
hostile HTTP (HS-*) cases from section 4 of the reliability test catalogue.

One livegate serves the whole class, with short RTMP timeouts so the timeout cases are quick and a
debug log level so that closes before `connect` (logged at debug) can be checked. An honest ffmpeg
publisher on key "canary" runs throughout; after every case the livegate process must still be the
same one, /healthz must answer and the canary's playlist must gain a new segment.

Each case checks the clean outcome: the hostile connection is closed by the server within the relevant
limit (recv returns b"" or the connection is reset) and a log line about that connection names the
reason. Measured figures (times, latencies, fd counts, RSS) are printed to stderr as "[figure]" lines;
softer deviations that do not fail a case (a log line that does not name the config key, a deadline
counted from a different moment) are printed as "[finding]" lines and summarised at the end.

    python3 tests/integration/hostile_test.py --livegate build/livegate
"""
import os
import random
import re
import resource
import select
import socket
import struct
import sys
import threading
import time
import unittest

import harness
from rtmp_client import AUDIO, VIDEO, RtmpError, RtmpPublisher, amf0_encode, read_flv_tags

HANDSHAKE_TIMEOUT_MS = 1000
PUBLISH_TIMEOUT_MS = 1500
IDLE_TIMEOUT_MS = 2000
SWEEP_MS = 250  # livegate checks its RTMP deadlines this often
HTTP_READ_TIMEOUT_S = 5  # livegate's default http.read_timeout_s (and keep_alive_timeout_s)

CONFIG = {
    "log_level": "debug",
    "rtmp": {"handshake_timeout_ms": HANDSHAKE_TIMEOUT_MS, "publish_timeout_ms": PUBLISH_TIMEOUT_MS,
             "idle_timeout_ms": IDLE_TIMEOUT_MS},
    "hls": {"target_duration_s": 1},  # the canary (GOP 1 s) then gains a segment every second
}

FINDINGS = []


def figure(text):
    print(f"    [figure] {text}", file=sys.stderr, flush=True)


def finding(text):
    FINDINGS.append(text)
    print(f"    [finding] {text}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ process probes



def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


# ---------------------------------------------------------------------------------------- log access

class LogView:
    """Lines livegate wrote to its log file since a given offset (harness.log_text keeps only a tail)."""

    def __init__(self, path):
        self.path = path

    def size(self):
        return os.path.getsize(self.path)

    def lines(self, since=0):
        with open(self.path, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace").splitlines()

    def wait(self, since, predicate, timeout=2.0):
        """Returns the first line after `since` for which predicate(line) holds, waiting up to timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines(since):
                if predicate(line):
                    return line
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def conn_lines(self, since, port):
        tag = f" 127.0.0.1:{port}]"
        return [line for line in self.lines(since) if tag in line]

    def wait_conn(self, since, port, *needles, timeout=2.0):
        """A log line about the RTMP connection from local `port` that contains every needle (case-insensitive)."""
        tag = f" 127.0.0.1:{port}]"
        low = [n.lower() for n in needles]
        return self.wait(since, lambda l: tag in l and all(n in l.lower() for n in low), timeout)


# ------------------------------------------------------------------------------------ socket helpers

def readable(sock, timeout):
    """select() for one socket, with poll() so that descriptors above 1023 work too."""
    p = select.poll()
    p.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(p.poll(max(0, int(timeout * 1000))))


def wait_closed(sock, timeout):
    """Reads until the peer closes. Returns (closed, seconds, bytes received before the close)."""
    t0 = time.monotonic()
    got = bytearray()
    deadline = t0 + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, time.monotonic() - t0, bytes(got)
        if not readable(sock, left):
            continue
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return True, time.monotonic() - t0, bytes(got)
        except (socket.timeout, BlockingIOError):
            continue
        if not data:
            return True, time.monotonic() - t0, bytes(got)
        got += data


def send_quietly(sock, data):
    """sendall that tolerates the server having closed already (which is often the point)."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def local_port(sock):
    return sock.getsockname()[1]


def chunk_header(fmt, csid, ts=0, length=0, type_id=0, stream_id=0):
    """A raw chunk header (basic + message header) for csid < 64, no extended timestamp."""
    out = bytes([fmt << 6 | csid])
    if fmt <= 2:
        out += ts.to_bytes(3, "big")
    if fmt <= 1:
        out += length.to_bytes(3, "big") + bytes([type_id])
    if fmt == 0:
        out += struct.pack("<I", stream_id)
    return out


def amf0_nested_objects(depth):
    """`depth` AMF0 objects, each the only property ("a") of the one around it."""
    return b"\x03" + b"\x00\x01a\x03" * (depth - 1) + b"\x00\x01a\x05" + b"\x00\x00\x09" * depth


def amf0_nested_arrays(depth):
    """`depth` AMF0 strict arrays of one element each, the innermost holding null."""
    return b"\x0a\x00\x00\x00\x01" * depth + b"\x05"


def http_exchange(port, request, timeout):
    """Sends a raw request and reads the response head. Returns (status or None, seconds)."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return (int(m.group(1)) if m else None), time.monotonic() - t0


PLAYLIST_GET = b"GET /live/canary/index.m3u8 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def segment_uris(playlist):
    return [l for l in playlist.splitlines() if l and not l.startswith("#")]


def media_sequence(playlist):
    m = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", playlist)
    return int(m.group(1)) if m else None


# ------------------------------------------------------------------------------------------- the suite

class Hostile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # livegate inherits it too
        cls.lg = harness.Livegate(config=CONFIG)
        cls.pid = cls.lg.proc.pid
        cls.logs = LogView(cls.lg.log_path)
        cls.media = harness.test_media(10, 640, 360, 30, gop_s=1)
        cls.tags = list(read_flv_tags(cls.media))
        cls.canary = harness.ffmpeg_publish(cls.media, cls.lg.rtmp_url("canary"), realtime=True, loop=True)
        cls.lg.wait_for(lambda: segment_uris(cls.playlist()), 20, "the canary's first segment")
        figure(f"livegate pid {cls.pid}, fds {fd_count(cls.pid)}, RSS {harness.rss_kib(cls.pid)} KiB, "
               f"RLIMIT_NOFILE {resource.getrlimit(resource.RLIMIT_NOFILE)}")

    @classmethod
    def tearDownClass(cls):
        if cls.canary.poll() is None:
            cls.canary.terminate()
        try:
            cls.canary.communicate(timeout=10)
        except Exception:
            cls.canary.kill()
        code = cls.lg.stop()
        figure(f"livegate exit code {code}; log {cls.lg.log_path}")
        if code != 0:
            finding(f"livegate exited with {code} on SIGTERM")
        if FINDINGS:
            print("\n=== findings (deviations that did not fail a case) ===", file=sys.stderr)
            for f in FINDINGS:
                print(" - " + f, file=sys.stderr)
        sys.stderr.flush()

    @classmethod
    def playlist(cls):
        status, body = cls.lg.get("/live/canary/index.m3u8")
        return body.decode(errors="replace") if status == 200 else ""

    def setUp(self):
        self.log0 = self.logs.size()

    def tearDown(self):
        self.assert_canary()

    def assert_canary(self):
        lg = self.lg
        self.assertIsNone(lg.proc.poll(), f"livegate exited ({lg.proc.returncode})\n{lg.log_text()}")
        self.assertEqual(lg.proc.pid, self.pid)
        self.assertEqual(lg.get("/healthz"), (200, b"ok\n"), "/healthz")
        if self.canary.poll() is not None:
            self.fail(f"canary ffmpeg exited ({self.canary.returncode}): "
                      f"{self.canary.stderr.read().decode(errors='replace')[-2000:]}")
        before = self.playlist()
        seen, seq0 = set(segment_uris(before)), media_sequence(before)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 4.5:
            now = self.playlist()
            if set(segment_uris(now)) - seen:
                return
            time.sleep(0.2)
        self.fail(f"canary playlist did not advance in 4.5 s (media sequence {seq0} -> "
                  f"{media_sequence(self.playlist())})\n--- log tail ---\n{lg.log_text()[-3000:]}")

    # ---- helpers
    def rtmp_socket(self, timeout=5):
        s = socket.create_connection(("127.0.0.1", self.lg.rtmp_port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def publisher(self, key="x", connect=False, chunk_size=None):
        c = RtmpPublisher("127.0.0.1", self.lg.rtmp_port, "live", key, timeout=5, chunk_size=chunk_size)
        if connect:
            c.connect()
        return c

    def expect_closed(self, sock, timeout, what):
        closed, secs, _ = wait_closed(sock, timeout)
        self.assertTrue(closed, f"{what}: the server kept the connection open for {timeout} s")
        return secs

    def expect_log(self, port, *needles, timeout=2.0, what=""):
        line = self.logs.wait_conn(self.log0, port, *needles, timeout=timeout)
        self.assertIsNotNone(line, f"{what}: no log line about 127.0.0.1:{port} containing {needles}; "
                                   f"its lines: {self.logs.conn_lines(self.log0, port)}")
        if " debug [" in line and "closed:" in line:
            finding(f"{what}: the reason is logged only at debug level, so not at the default "
                    f"log_level info: {line.split('] ', 1)[-1]}")
        return line

    # ======================================================================== MI-01 wrong RTMP version
    def test_mi01_wrong_version(self):
        tls_hello = bytes.fromhex("160301020001000200fc0303") + os.urandom(32)
        junk = bytearray(os.urandom(1536))
        junk[0] = 0x07 if junk[0] == 3 else junk[0]
        cases = [("RTMPE 0x06", b"\x06" + os.urandom(1536), "RTMPE"),
                 ("TLS ClientHello 0x16", tls_hello, "TLS"),
                 ("0x00", b"\x00" + os.urandom(1536), None),
                 ("HTTP GET", b"GET / HTTP/1.1\r\n\r\n", "HTTP"),
                 (f"random 1536 bytes (0x{junk[0]:02X})", bytes(junk), None)]
        for name, data, hint in cases:
            with self.subTest(name), self.rtmp_socket() as s:
                port = local_port(s)
                t0 = time.monotonic()
                send_quietly(s, data)
                closed, secs, got = wait_closed(s, 3)
                figure(f"{name}: closed={closed} after {secs * 1000:.0f} ms, {len(got)} bytes answered")
                self.assertTrue(closed, f"{name}: not closed")
                self.assertLessEqual(time.monotonic() - t0, 1.0, f"{name}: closed later than 1 s")
                self.assertEqual(got, b"", f"{name}: the server answered (S0/S1) before closing")
                line = self.expect_log(port, "version", what=name)
                if hint:
                    self.assertIn(hint, line)

    # ======================================================== RE-01 truncated and trickled handshakes
    def test_re01_truncated_handshake(self):
        limit = HANDSHAKE_TIMEOUT_MS / 1000
        with self.rtmp_socket() as s:
            port = local_port(s)
            t0 = time.monotonic()
            s.sendall(b"\x03" + os.urandom(100))
            closed, _, got = wait_closed(s, limit + 3)
            secs = time.monotonic() - t0
            figure(f"C0 + 100 bytes of C1: closed={closed} after {secs * 1000:.0f} ms "
                   f"(handshake_timeout_ms {HANDSHAKE_TIMEOUT_MS})")
            self.assertTrue(closed)
            self.assertGreaterEqual(secs, limit - 0.1, "closed before the handshake timeout")
            self.assertLessEqual(secs, limit + SWEEP_MS / 1000 + 0.5, "closed well after the handshake timeout")
            self.assertEqual(got, b"")
            self.expect_log(port, "handshake_timeout_ms", what="truncated handshake")
        # One byte every 200 ms: the deadline counts from accept, so trickling does not extend it.
        with self.rtmp_socket() as s:
            port = local_port(s)
            t0 = time.monotonic()
            s.sendall(b"\x03")
            closed = False
            while time.monotonic() - t0 < limit + 3:
                if not send_quietly(s, os.urandom(1)):
                    closed = True
                    break
                closed, _, _ = wait_closed(s, 0.2)
                if closed:
                    break
            secs = time.monotonic() - t0
            figure(f"handshake trickled at 5 bytes/s: closed={closed} after {secs * 1000:.0f} ms")
            self.assertTrue(closed)
            self.assertLessEqual(secs, limit + SWEEP_MS / 1000 + 0.5)
            self.expect_log(port, "handshake_timeout_ms", what="trickled handshake")

    # ============================================================== RE-02 silence after the handshake
    def test_re02_silence_after_handshake(self):
        deadline_from_accept = (HANDSHAKE_TIMEOUT_MS + PUBLISH_TIMEOUT_MS) / 1000
        for connect in (False, True):
            name = "handshake + connect, then silence" if connect else "handshake, then silence"
            with self.subTest(name):
                t_accept = time.monotonic()
                c = self.publisher(connect=connect)
                t0 = time.monotonic()
                port = local_port(c.sock)
                closed, secs, _ = wait_closed(c.sock, deadline_from_accept + 3)
                c.close()
                figure(f"{name}: closed={closed} {secs * 1000:.0f} ms after the "
                       f"{'connect' if connect else 'handshake'} (publish_timeout_ms {PUBLISH_TIMEOUT_MS}, "
                       f"{(time.monotonic() - t_accept) * 1000:.0f} ms after accept)")
                self.assertTrue(closed)
                self.assertLessEqual(time.monotonic() - t_accept, deadline_from_accept + SWEEP_MS / 1000 + 0.5)
                if secs > PUBLISH_TIMEOUT_MS / 1000 + SWEEP_MS / 1000 + 0.3:
                    finding(f"{name}: closed {secs:.2f} s after the handshake, not publish_timeout_ms "
                            f"({PUBLISH_TIMEOUT_MS} ms): the deadline is handshake_timeout_ms + "
                            f"publish_timeout_ms from accept, whereas the README says publish_timeout_ms "
                            f"is the time after the handshake")
                self.expect_log(port, "publish_timeout_ms", what=name)

    def test_re02_publish_then_no_media(self):
        key = f"nomedia{random.randrange(1 << 30)}"
        c = self.publisher(key, connect=True, chunk_size=4096)
        self.assertEqual(c.publish(), "NetStream.Publish.Start")
        port = local_port(c.sock)
        closed, secs, _ = wait_closed(c.sock, IDLE_TIMEOUT_MS / 1000 + 3)
        c.close()
        figure(f"publish then no media: closed={closed} after {secs * 1000:.0f} ms "
               f"(idle_timeout_ms {IDLE_TIMEOUT_MS})")
        self.assertTrue(closed)
        self.assertGreaterEqual(secs, IDLE_TIMEOUT_MS / 1000 - 0.1)
        self.assertLessEqual(secs, IDLE_TIMEOUT_MS / 1000 + SWEEP_MS / 1000 + 0.5)
        self.expect_log(port, "idle_timeout_ms", what="no media")
        # The key is free again.
        with self.publisher(key, connect=True, chunk_size=4096) as again:
            self.assertEqual(again.publish(), "NetStream.Publish.Start")

    # ======================================================================== MI-05 Set Chunk Size
    def test_mi05_bad_chunk_sizes(self):
        for size in (0, 0x7FFFFFFF, 0x80000000, 65537):
            with self.subTest(size=size):
                c = self.publisher(connect=True)
                port = local_port(c.sock)
                send_quietly(c.sock, chunk_header(0, 2, length=4, type_id=1) + struct.pack(">I", size))
                secs = self.expect_closed(c.sock, 2, f"chunk size {size}")
                c.close()
                line = self.expect_log(port, "chunk size", what=f"chunk size {size}")
                figure(f"Set Chunk Size {size}: closed after {secs * 1000:.0f} ms; log: {line.split('] ', 1)[-1]}")

    # ================================================================ MI-04 16 MiB message announced
    def test_mi04_huge_message_length(self):
        rss0 = harness.rss_kib(self.pid)
        c = self.publisher(connect=True, chunk_size=65536)
        port = local_port(c.sock)
        header = chunk_header(0, 6, length=0xFFFFFF, type_id=VIDEO, stream_id=1)
        send_quietly(c.sock, header + b"\x17\x01\x00\x00\x00" + os.urandom(60000))
        secs = self.expect_closed(c.sock, 2, "16 MiB video message")
        c.close()
        rss1 = harness.rss_kib(self.pid)
        line = self.expect_log(port, "16777215", what="16 MiB message")
        figure(f"message length 0xFFFFFF: closed after {secs * 1000:.0f} ms; RSS {rss0} -> {rss1} KiB "
               f"({(rss1 - rss0) / 1024:+.1f} MiB); log: {line.split('] ', 1)[-1]}")
        self.assertLess(rss1 - rss0, 4 * 1024, "RSS jumped by 4 MiB or more")
        if "max_message_size" not in line:
            finding(f"16 MiB message: the log line gives the limit's value but not its name "
                    f"(max_message_size), though the README promises the limit is named: {line}")

    # ==================================================================== MI-02 chunk framing errors
    def test_mi02_chunk_without_previous_header(self):
        cases = [("fmt 3 on new csid 7", bytes([0xC0 | 7]) + os.urandom(64), "no previous header"),
                 ("fmt 1 on new csid 9", chunk_header(1, 9, length=10, type_id=9) + os.urandom(10),
                  "no previous header"),
                 ("fmt 2 on new csid 12", chunk_header(2, 12) + os.urandom(10), "no previous header"),
                 ("fmt 0 mid-message on csid 6",
                  chunk_header(0, 6, length=1000, type_id=9, stream_id=1) + os.urandom(128) +
                  chunk_header(0, 6, length=20, type_id=9, stream_id=1) + os.urandom(20), "mid-message")]
        for name, data, needle in cases:
            with self.subTest(name):
                c = self.publisher(connect=True)
                port = local_port(c.sock)
                send_quietly(c.sock, data)
                secs = self.expect_closed(c.sock, 2, name)
                c.close()
                self.expect_log(port, needle, what=name)
                figure(f"{name}: closed after {secs * 1000:.0f} ms")

    # ===================================================================== MI-13 unknown message types
    def test_mi13_unknown_message_types_ignored(self):
        c = self.publisher(connect=True, chunk_size=4096)
        port = local_port(c.sock)
        for type_id in (0, 7, 23, 200, 255):
            c.send_message(10, type_id, 0, 0, os.urandom(37))
        sid = c.create_stream()  # raises if there is no _result
        self.assertGreaterEqual(sid, 1)
        closed, _, _ = wait_closed(c.sock, 0.3)
        self.assertFalse(closed, "the connection was closed after unknown message types")
        c.close()
        for type_id in (0, 7, 23, 200, 255):
            self.expect_log(port, f"ignoring message type {type_id}", what=f"type {type_id}")
        figure(f"message types 0, 7, 23, 200, 255 ignored; createStream then returned stream id {sid}")

    # ====================================================================== MI-08 AMF0 nesting bombs
    def test_mi08_amf0_depth_bomb(self):
        connect = amf0_encode("connect", 1.0)
        cases = [("60,000 nested objects", connect + amf0_nested_objects(60000)),
                 ("9,000 nested objects (fits max_command_size)", connect + amf0_nested_objects(9000)),
                 ("12,000 nested strict arrays", connect + amf0_nested_arrays(12000))]
        for name, payload in cases:
            with self.subTest(name):
                rss0 = harness.rss_kib(self.pid)
                c = self.publisher(chunk_size=4096)
                port = local_port(c.sock)
                try:
                    c.send_message(3, 20, 0, 0, payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                closed, secs, got = wait_closed(c.sock, 2)
                c.close()
                got_error = b"_error" in got
                self.assertTrue(closed or got_error, f"{name}: neither closed nor _error")
                line = self.logs.wait_conn(self.log0, port, "depth", timeout=1.0) or \
                    self.logs.wait_conn(self.log0, port, "max_command_size", timeout=0.5)
                self.assertIsNotNone(line, f"{name}: no log line naming depth or max_command_size: "
                                           f"{self.logs.conn_lines(self.log0, port)}")
                figure(f"{name} ({len(payload)} bytes): closed={closed} after {secs * 1000:.0f} ms, "
                       f"_error={got_error}, RSS {(harness.rss_kib(self.pid) - rss0) / 1024:+.1f} MiB; "
                       f"log: {line.split('] ', 1)[-1]}")
                if "fits" in name or "arrays" in name:
                    self.assertIn("depth", line.lower())

    # ================================================================ PA-03 commands and media out of order
    def test_pa03_out_of_order(self):
        video = b"\x17\x01\x00\x00\x00" + struct.pack(">I", 4) + b"\x65\x88\x84\x00"
        cases = [("publish before connect", False, False,
                  lambda c: c._command("publish", "early", "live", stream_id=1, csid=8, txn=0), "before connect"),
                 ("createStream before connect", False, False,
                  lambda c: c._command("createStream"), "before connect"),
                 ("video before connect", False, False, lambda c: c.send_tag(VIDEO, 0, video), "media before publish"),
                 ("video after createStream, before publish", True, True,
                  lambda c: c.send_tag(VIDEO, 0, video), "media before publish"),
                 ("audio after connect, before publish", True, False,
                  lambda c: c.send_tag(AUDIO, 0, b"\xaf\x01" + os.urandom(20)), "media before publish")]
        for name, connect, create, act, needle in cases:
            with self.subTest(name):
                c = self.publisher(connect=connect, chunk_size=4096)
                if create:
                    c.stream_id = c.create_stream()
                port = local_port(c.sock)
                try:
                    act(c)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                secs = self.expect_closed(c.sock, 2, name)
                c.close()
                line = self.expect_log(port, needle, what=name)
                figure(f"{name}: closed after {secs * 1000:.0f} ms; log: {line.split('] ', 1)[-1]}")

    # ======================================================= MI-11 / MI-12 crafted codec configuration
    def _publish_hostile_config(self, key, bad_tags, needle):
        """Publishes `bad_tags` (type, body), then 3 s of the real media: the bad ones must be dropped
        with a log line, the connection stay up, and the stream then produce a playlist."""
        c = self.publisher(key, connect=True, chunk_size=4096)
        self.assertEqual(c.publish(), "NetStream.Publish.Start")
        for tag_type, body in bad_tags:
            c.send_tag(tag_type, 0, body)
        closed, _, _ = wait_closed(c.sock, 0.5)
        line = self.logs.wait(self.log0, lambda l: f"[live/{key}]" in l and needle in l, timeout=2)
        drops = [l.split("] ", 1)[-1] for l in self.logs.lines(self.log0) if f"[live/{key}]" in l]
        if closed:  # ending the connection is also a clean outcome
            port = local_port(c.sock)
            c.close()
            figure(f"{key}: the connection was closed after the crafted tags; stream log: {drops}; "
                   f"connection log: {self.logs.conn_lines(self.log0, port)}")
            self.assertTrue(line or self.logs.conn_lines(self.log0, port))
            return
        self.assertIsNotNone(line, f"no log line for live/{key} containing {needle!r}: {drops}")
        # The stream goes on: real tags after the crafted ones make segments.
        try:
            for tag_type, ts, body in self.tags:
                if ts > 3000:
                    break
                c.send_tag(tag_type, ts, body)
            ok = self.lg.wait_for(lambda: self.lg.get(f"/live/{key}/index.m3u8")[0] == 200, 5, f"live/{key} playlist")
        finally:
            c.close()
        figure(f"{key}: crafted tags dropped, connection kept, playlist made={bool(ok)}; stream log: {drops}")

    def test_mi11_avc_sequence_header_sps_length_ffff(self):
        crafted = bytes.fromhex("17 00 00 00 00 01 64 00 1f ff e1 ff ff") + bytes.fromhex("67 64 00 1f ac d9")
        variants = [crafted,
                    bytes.fromhex("17 00 00 00 00 01 64"),                    # record shorter than 5 bytes
                    bytes.fromhex("17 00 00 00 00 01 64 00 1f ff ff"),        # 31 SPS, no data
                    bytes.fromhex("17 00 00 00 00 01 64 00 1f ff e1 00 00 01 00 00"),  # empty SPS, empty PPS
                    bytes.fromhex("17 00 00 00 00 01 64 00 1f fe e1 00 04 67 64 00 1f 01 00 01 68")]  # 3-byte NALU lengths
        self._publish_hostile_config(f"badsps{random.randrange(1 << 30)}",
                                     [(VIDEO, v) for v in variants], "bad AVC sequence header")

    def test_mi12_aac_config_rate_index_15(self):
        variants = [bytes.fromhex("af 00 17 80"),  # AAC LC, samplingFrequencyIndex 15, no explicit rate
                    bytes.fromhex("af 00 16 88"),  # index 13 (reserved)
                    bytes.fromhex("af 00 12"),     # 1-byte ASC
                    bytes.fromhex("af 00 11 c0")]  # channelConfiguration 8
        self._publish_hostile_config(f"badasc{random.randrange(1 << 30)}",
                                     [(AUDIO, v) for v in variants], "bad AAC sequence header")

    # =========================================================================== HS-02 10 MB header
    def _oversized_request(self, data, name):
        """Sends `data` from a thread while reading the answer. Returns (status, seconds to the first
        byte or the close, bytes the socket took, RSS rise at the peak in KiB, RSS rise afterwards in KiB)."""
        rss0 = harness.rss_kib(self.pid)
        peak = [rss0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], harness.rss_kib(self.pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        s = socket.create_connection(("127.0.0.1", self.lg.http_port), timeout=15)
        t0 = time.monotonic()
        sender, sent = harness.send_in_background(s, data)
        first = None
        got = b""
        while time.monotonic() - t0 < 20:
            if not readable(s, 20 - (time.monotonic() - t0)):
                continue
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                chunk = b""
            if first is None:
                first = time.monotonic() - t0
            if not chunk:
                break
            got += chunk
        closed_after = time.monotonic() - t0
        s.close()
        sender.join(5)
        time.sleep(0.2)
        stop.set()
        sampler.join()
        m = re.match(rb"HTTP/1\.[01] (\d{3})", got)
        status = int(m.group(1)) if m else None
        rss1 = harness.rss_kib(self.pid)
        figure(f"{name}: status {status}, first byte after {first * 1000 if first else -1:.0f} ms, closed after "
               f"{closed_after * 1000:.0f} ms, {sent[0] / 1e6:.2f} MB accepted by the socket; RSS {rss0} -> peak "
               f"{peak[0]} -> {rss1} KiB (peak {(peak[0] - rss0) / 1024:+.1f} MiB, after {(rss1 - rss0) / 1024:+.1f} MiB)")
        return status, first, sent[0], peak[0] - rss0, rss1 - rss0

    # Known to fail: Debian's cpp-httplib 0.11.4 reads a whole header line before any handler can
    # refuse it, so memory grows with the line (measured +12-14 MiB for 10 MB). Open in the hardening issue.
    def test_hs02_oversized_http_headers(self):
        cases = [("one 10 MB header line",
                  b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (10 << 20) + b"\r\n\r\n"),
                 ("10,000 headers", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                  b"".join(b"X-H%d: y\r\n" % i for i in range(10000)) + b"\r\n")]
        for name, data in cases:
            with self.subTest(name):
                status, first, _, peak, _ = self._oversized_request(data, name)
                self.assertIsNotNone(first, f"{name}: no answer and no close in 20 s")
                if status is not None:
                    self.assertTrue(400 <= status < 500, f"{name}: status {status}")
                status_h, lat = http_exchange(self.lg.http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                                                 b"Connection: close\r\n\r\n", 5)
                figure(f"{name}: /healthz afterwards {status_h} in {lat * 1000:.0f} ms")
                self.assertEqual(status_h, 200)
                if first > 1.0:
                    finding(f"{name}: the refusal ({status}) came {first:.1f} s after the request started, "
                            f"not fast: the whole oversized header is read first")
                self.assertLess(peak, 8 * 1024, f"{name}: RSS rose by {peak / 1024:.1f} MiB while reading "
                                                f"the request (not bounded by http.max_header_bytes)")

    # ================================================================= RE-08 idle HTTP keep-alive flood
    def test_re08_idle_http_connections(self):
        count, hold_limit = 2000, HTTP_READ_TIMEOUT_S + 7
        fd0 = fd_count(self.pid)
        idle = []
        try:
            t_open = time.monotonic()
            for _ in range(count):
                idle.append(socket.create_connection(("127.0.0.1", self.lg.http_port), timeout=5))
            t_open = time.monotonic() - t_open
            time.sleep(0.3)
            fd1 = fd_count(self.pid)
            # A fresh client while all of them sit there.
            fresh = socket.create_connection(("127.0.0.1", self.lg.http_port), timeout=hold_limit)
            t0 = time.monotonic()
            fresh.sendall(PLAYLIST_GET)
            ready = readable(fresh, hold_limit)
            latency = time.monotonic() - t0
            answered = bool(ready)
        finally:
            for s in idle:
                s.close()
        t_close = time.monotonic()
        if not answered:  # how long the request still takes once the idle connections are gone
            readable(fresh, 30)
        drain = time.monotonic() - t_close
        head = b""
        try:
            fresh.settimeout(5)
            head = fresh.recv(200)
        except OSError:
            pass
        fresh.close()
        status_after, lat_after = http_exchange(self.lg.http_port, PLAYLIST_GET, 10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and fd_count(self.pid) > fd0 + 10:
            time.sleep(0.1)
        fd2 = fd_count(self.pid)
        figure(f"{count} idle HTTP connections opened in {t_open:.2f} s; livegate fds {fd0} -> {fd1}")
        if answered:
            figure(f"fresh GET /live/canary/index.m3u8 during the flood: answered in {latency * 1000:.0f} ms: {head[:15]!r}")
        else:
            figure(f"fresh GET during the flood: NO answer in {hold_limit} s; after closing the idle "
                   f"connections it answered {drain * 1000:.0f} ms later: {head[:15]!r}")
        figure(f"after closing them: playlist GET {status_after} in {lat_after * 1000:.0f} ms; fds back to {fd2}")
        self.assertTrue(answered, f"a fresh playlist GET got no answer within {hold_limit} s while "
                                  f"{count} idle connections were open (HTTP worker pool starved)")
        self.assertLessEqual(latency, HTTP_READ_TIMEOUT_S + 2)
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertEqual(status_after, 200)

    # ============================================================ RE-01 2,000 garbage RTMP connections
    def test_re01_garbage_rtmp_connections(self):
        total, batch, sources = 2000, 200, 40  # 5 per source address per batch, under max_connections_per_ip
        time.sleep(0.5)
        fd0, rss0 = fd_count(self.pid), harness.rss_kib(self.pid)
        fd_peak, sent_bytes, refused = fd0, 0, 0
        t0 = time.monotonic()
        for start in range(0, total, batch):
            socks = []
            for i in range(start, start + batch):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(5)
                s.bind((f"127.0.1.{i % sources + 1}", 0))
                try:
                    s.connect(("127.0.0.1", self.lg.rtmp_port))
                except OSError:
                    refused += 1
                    s.close()
                    continue
                if i % 2 == 0:
                    if send_quietly(s, os.urandom(1537)):
                        sent_bytes += 1537
                socks.append(s)
            fd_peak = max(fd_peak, fd_count(self.pid))
            for s in socks:
                s.close()
        elapsed = time.monotonic() - t0
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and fd_count(self.pid) > fd0 + 10:
            time.sleep(0.1)
        time.sleep(0.3)
        fd1, rss1 = fd_count(self.pid), harness.rss_kib(self.pid)
        log = self.logs.lines(self.log0)
        accept_failed = [l for l in log if "accept failed" in l]
        cap_refusals = [l for l in log if "limit max_connections" in l]
        figure(f"{total} garbage RTMP connections in {elapsed:.2f} s ({refused} connect errors, "
               f"{sent_bytes / 1e6:.2f} MB sent); livegate fds {fd0} -> peak {fd_peak} -> {fd1}; "
               f"RSS {rss0} -> {rss1} KiB ({(rss1 - rss0) / 1024:+.1f} MiB); "
               f"'accept failed' lines {len(accept_failed)}, cap refusals {len(cap_refusals)}")
        self.assertEqual(refused, 0)
        self.assertLessEqual(fd1, fd0 + 10)
        if not harness.sanitized():  # ASan's quarantine holds freed memory
            self.assertLess(rss1 - rss0, 8 * 1024)
        self.assertEqual(accept_failed, [])
        # Accept still works for an honest client.
        with self.publisher(connect=True) as c:
            self.assertEqual(c.create_stream(), 1)

    # ======================================================================== PA-01 racing publishers
    def test_pa01_two_publishers_race(self):
        rounds = 5
        for r in range(rounds):
            key = f"race{r}x{random.randrange(1 << 30)}"
            a = self.publisher(key, connect=True, chunk_size=4096)
            b = self.publisher(key, connect=True, chunk_size=4096)
            barrier = threading.Barrier(2)
            codes = {}

            def go(name, c):
                barrier.wait()
                try:
                    codes[name] = c.publish()
                except (RtmpError, OSError) as e:
                    codes[name] = f"error: {e}"

            threads = [threading.Thread(target=go, args=("a", a)), threading.Thread(target=go, args=("b", b))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            with self.subTest(round=r):
                self.assertEqual(sorted(codes.values()), ["NetStream.Publish.BadName", "NetStream.Publish.Start"],
                                 codes)
                loser = a if codes["a"] == "NetStream.Publish.BadName" else b
                winner = b if loser is a else a
                self.assertTrue(wait_closed(loser.sock, 2)[0], "the refused publisher was not disconnected")
                self.assertFalse(wait_closed(winner.sock, 0.2)[0], "the winner was disconnected")
                self.assertIsNotNone(self.logs.wait_conn(self.log0, local_port(loser.sock), "refused"))
            a.close()
            b.close()
        figure(f"{rounds} races: each had exactly one Publish.Start and one Publish.BadName")


if __name__ == "__main__":
    harness.main()
