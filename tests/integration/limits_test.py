"""Each RTMP and HTTP limit that guards the server as a whole, set low and crossed: the offending
connection, publish or request is refused with a log line naming the limit, and honest clients carry on."""
import os
import socket
import time
import unittest

import harness
import rtmp_client


def closed_by_server(sock, within):
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class Limits(unittest.TestCase):
    def test_max_connections_and_per_ip(self):
        # A handshake timeout longer than the case: the silent connections held below stay however slowly
        # this machine runs.
        lg = harness.Livegate(config={"rtmp": {"max_connections": 6, "max_connections_per_ip": 3,
                                               "handshake_timeout_ms": 120000}})
        socks = []

        def taken(n):  # livegate has accepted n connections (each holding its place) before the next comes
            lg.wait_metric("livegate_rtmp_connections_accepted_total", lambda v: v >= n)
        try:
            socks = [socket.create_connection(("127.0.0.1", lg.rtmp_port)) for _ in range(3)]
            taken(3)
            fourth = socket.create_connection(("127.0.0.1", lg.rtmp_port))
            self.assertTrue(closed_by_server(fourth, 10), "a 4th connection from one address is closed")
            fourth.close()
            lg.wait_log("limit max_connections_per_ip (3)")
            for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.3"):
                s = socket.socket()
                s.bind((ip, 0))
                s.connect(("127.0.0.1", lg.rtmp_port))
                socks.append(s)
            taken(6)
            extra = socket.socket()
            extra.bind(("127.0.0.4", 0))
            extra.connect(("127.0.0.1", lg.rtmp_port))
            self.assertTrue(closed_by_server(extra, 10), "a 7th connection in all is closed")
            extra.close()
            lg.wait_log("limit max_connections (6)")
            for s in socks:
                s.close()
            # Their places are given back as livegate closes them (the gauge is refreshed once a second).
            lg.wait_metric("livegate_rtmp_connections", lambda v: v == 0)
            p = rtmp_client.RtmpPublisher("127.0.0.1", lg.rtmp_port, "live", "after")
            p.connect()
            self.assertEqual(p.publish(), "NetStream.Publish.Start", "room again once they are gone")
            p.close()
        finally:
            for s in socks:
                s.close()
            self.assertEqual(lg.stop(), 0)

    def test_max_streams(self):
        lg = harness.Livegate(config={"rtmp": {"max_streams": 2}})
        publishers, codes = [], []
        try:
            for key in ("one", "two", "three"):
                p = rtmp_client.RtmpPublisher("127.0.0.1", lg.rtmp_port, "live", key)
                publishers.append(p)
                p.connect()
                codes.append(p.publish())
            self.assertEqual(codes, ["NetStream.Publish.Start"] * 2 + ["NetStream.Publish.BadName"])
            lg.wait_log("limit max_streams (2)")
        finally:
            for p in publishers:
                p.close()
            self.assertEqual(lg.stop(), 0)

    def test_max_buffered_bytes(self):
        lg = harness.Livegate(config={"rtmp": {"max_buffered_bytes": 65536}})
        try:
            p = rtmp_client.RtmpPublisher("127.0.0.1", lg.rtmp_port, "live", "hoard")
            p.connect()
            self.assertEqual(p.publish(), "NetStream.Publish.Start")
            # Start 1 MiB video messages on 20 chunk streams (4 KiB each, 80 KiB in all), never finish them.
            # livegate may cut the connection before the last of them is sent.
            try:
                for csid in range(10, 30):
                    header = bytes([csid]) + (0).to_bytes(3, "big") + (1 << 20).to_bytes(3, "big") + b"\x09" + \
                        (1).to_bytes(4, "little")
                    p.send_raw(header + b"\x17" + b"\x00" * 4095)
            except (ConnectionResetError, BrokenPipeError):
                pass
            self.assertTrue(closed_by_server(p.sock, 10), "a connection holding more than 64 KiB is closed")
            p.close()
            lg.wait_log("limit max_buffered_bytes (65536)")
            self.assertEqual(lg.get("/healthz")[0], 200)
        finally:
            self.assertEqual(lg.stop(), 0)

    def test_backpressure_on_a_peer_that_does_not_read(self):
        # Ping requests make answers; a peer that reads none of them is not read either once
        # max_buffered_bytes of answers wait, so memory stays flat and its publish timeout ends it.
        lg = harness.Livegate(config={"rtmp": {"max_buffered_bytes": 65536, "publish_timeout_ms": 3000}})
        try:
            rss0 = harness.rss_kib(lg.proc.pid)
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", lg.rtmp_port))
            client = rtmp_client.RtmpPublisher.over_socket(sock)
            client._handshake()
            ping = b"\x02" + b"\x00\x00\x00" + (6).to_bytes(3, "big") + b"\x04" + b"\x00" * 4 + b"\x00\x06" + b"\x00" * 4
            flood = ping + (b"\xc2\x00\x06\x00\x00\x00\x01") * ((40 << 20) // 7)
            sender, sent = harness.send_in_background(sock, flood)
            sender.join(2.5)
            self.assertLess(sent[0], len(flood) // 2, "livegate stopped reading the flood")
            if not harness.sanitized():  # ASan keeps freed memory in quarantine: RSS says nothing there
                peak = harness.rss_kib(lg.proc.pid) - rss0
                self.assertLess(peak, 16 * 1024, f"RSS rose {peak} KiB")
            lg.wait_log("limit publish_timeout_ms")
            sender.join(5)
            sock.close()
            self.assertEqual(lg.get("/healthz")[0], 200)
        finally:
            self.assertEqual(lg.stop(), 0)


def http_get(port, path, timeout=5):
    """A fresh connection's GET: (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            data += c
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def violations(lg, limit):
    text = lg.metrics()
    prefix = f'livegate_limit_violations_total{{limit="{limit}"}} '
    return sum(int(line[len(prefix):]) for line in text.splitlines() if line.startswith(prefix))


class HttpLimits(unittest.TestCase):
    """One livegate with low HTTP limits and one short stream to fetch."""

    @classmethod
    def setUpClass(cls):
        cls.lg = harness.Livegate(config={"http": {"max_connections": 20, "read_timeout_s": 1,
                                                   "keep_alive_timeout_s": 1, "write_timeout_s": 1}})
        media = harness.test_media(4, 320, 240, 30, gop_s=1)
        harness.ffmpeg_publish(media, cls.lg.rtmp_url("lim"), realtime=False).communicate(timeout=60)
        playlist = cls.lg.wait_playlist_ended("lim")
        cls.segment = "/live/lim/" + next(l for l in playlist.splitlines() if l.endswith(".ts"))
        # Random pixels, losslessly coded: segments of about 16 MB, more than the kernel's socket buffers
        # hold, so a slow reader takes seconds to fetch one.
        noise = harness.make_media("noise-480x360.flv", "-f", "lavfi", "-i",
                                   "nullsrc=s=480x360:r=30,geq=random(1)*255:128:128", "-t", "4",
                                   "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-g", "60", "-f", "flv")
        harness.ffmpeg_publish(noise, cls.lg.rtmp_url("noise"), realtime=False).communicate(timeout=120)
        playlist = cls.lg.wait_playlist_ended("noise", timeout=60)
        cls.big_segment = "/live/noise/" + next(l for l in playlist.splitlines() if l.endswith(".ts"))

    @classmethod
    def tearDownClass(cls):
        assert cls.lg.stop() == 0

    def test_max_connections(self):
        # A livegate of its own: with this class's 1 s read and keep-alive timeouts, the 20 connections held
        # here could be cut before the 21st arrives on a slow machine.
        lg = harness.Livegate(config={"http": {"max_connections": 20, "read_timeout_s": 120,
                                               "keep_alive_timeout_s": 120}})
        socks = []
        try:
            fd0 = len(os.listdir(f"/proc/{lg.proc.pid}/fd"))
            for _ in range(20):
                s = socket.create_connection(("127.0.0.1", lg.http_port), timeout=30)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            for s in socks:  # answered, so accepted and holding a place (then kept alive, idle)
                self.assertTrue(s.recv(200).startswith(b"HTTP/1.1 200 "))
            extra = socket.create_connection(("127.0.0.1", lg.http_port))
            self.assertTrue(closed_by_server(extra, 10), "a 21st connection is closed")
            extra.close()
            lg.wait_log("limit http.max_connections (20)")
            for s in socks:
                s.close()
            # Each gives its place back as livegate closes it, before its descriptor goes.
            lg.wait_for(lambda: len(os.listdir(f"/proc/{lg.proc.pid}/fd")) <= fd0 + 2, harness.WAIT_S,
                        "livegate to close the 20 connections")
            self.assertEqual(http_get(lg.http_port, "/healthz")[0], 200, "room again once they are gone")
            self.assertEqual(violations(lg, "http.max_connections"), 1)
        finally:
            for s in socks:
                s.close()
            self.assertEqual(lg.stop(), 0)

    def test_read_timeout_and_idle_keep_alive(self):
        slow = socket.create_connection(("127.0.0.1", self.lg.http_port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        idle = socket.create_connection(("127.0.0.1", self.lg.http_port))
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        t0 = time.monotonic()
        slow.settimeout(10)
        idle.settimeout(10)
        reply = slow.recv(200)
        self.assertTrue(reply.startswith(b"HTTP/1.1 408 "), reply)
        self.assertLess(time.monotonic() - t0, 5, "408 well after http.read_timeout_s (1 s)")
        self.lg.wait_log("limit http.read_timeout_s")
        self.assertTrue(idle.recv(65536).startswith(b"HTTP/1.1 200 "))
        self.assertTrue(closed_by_server(idle, 10), "an idle keep-alive connection is closed after 1 s")
        slow.close()
        idle.close()

    def test_slow_but_steady_reader_is_not_cut(self):
        # http.write_timeout_s is an inactivity limit: a viewer on a slow link that keeps taking bytes gets
        # the whole segment, however long that takes.
        size = len(self.lg.get(self.big_segment)[1])
        self.assertGreater(size, 10 << 20)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.connect(("127.0.0.1", self.lg.http_port))
        s.settimeout(10)
        s.sendall(f"GET {self.big_segment} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data, t0 = b"", time.monotonic()
        while True:
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep and len(body) >= size:
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            time.sleep(0.02)  # about 3 MB/s at most: the answer takes several write timeouts
        took = time.monotonic() - t0
        s.close()
        print(f"\n{size} bytes read slowly in {took:.1f} s (http.write_timeout_s 1)")
        self.assertGreater(took, 1.5, "the read was not slower than the write timeout: the case proves nothing")
        self.assertEqual(len(data.partition(b"\r\n\r\n")[2]), size, "the slow reader was cut off")

    def test_write_timeout(self):
        # A client that asks for a segment 300 times in a row and reads nothing: once the socket buffers
        # are full, the connection is cut after http.write_timeout_s.
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", self.lg.http_port))
        s.settimeout(10)
        request = f"GET {self.segment} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        try:
            s.sendall(request * 300)
        except OSError:
            pass
        self.lg.wait_log("limit http.write_timeout_s")
        self.assertEqual(http_get(self.lg.http_port, "/healthz")[0], 200)
        s.close()


if __name__ == "__main__":
    harness.main()
