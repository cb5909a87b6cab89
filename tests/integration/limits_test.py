"""Each RTMP and HTTP limit that guards the server as a whole, set low and crossed: the offending
connection, publish or request is refused with a log line naming the limit, and honest clients carry on."""
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
        lg = harness.Livegate(config={"rtmp": {"max_connections": 6, "max_connections_per_ip": 3}})
        socks = []
        try:
            socks = [socket.create_connection(("127.0.0.1", lg.rtmp_port)) for _ in range(3)]
            time.sleep(0.2)
            fourth = socket.create_connection(("127.0.0.1", lg.rtmp_port))
            self.assertTrue(closed_by_server(fourth, 2), "a 4th connection from one address is closed")
            fourth.close()
            self.assertIn("limit max_connections_per_ip (3)", lg.log_text())
            for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.3"):
                s = socket.socket()
                s.bind((ip, 0))
                s.connect(("127.0.0.1", lg.rtmp_port))
                socks.append(s)
            time.sleep(0.2)
            extra = socket.socket()
            extra.bind(("127.0.0.4", 0))
            extra.connect(("127.0.0.1", lg.rtmp_port))
            self.assertTrue(closed_by_server(extra, 2), "a 7th connection in all is closed")
            extra.close()
            self.assertIn("limit max_connections (6)", lg.log_text())
            for s in socks:
                s.close()
            time.sleep(0.3)
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
            self.assertIn("limit max_streams (2)", lg.log_text())
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
            self.assertTrue(closed_by_server(p.sock, 3), "a connection holding more than 64 KiB is closed")
            p.close()
            self.assertIn("limit max_buffered_bytes (65536)", lg.log_text())
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
            lg.wait_for(lambda: "limit publish_timeout_ms" in lg.log_text(), 5, "the publish timeout")
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
    text = http_get(lg.http_port, "/metrics")[1].decode()
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
        cls.lg.wait_for(lambda: (cls.lg.get("/live/lim/index.m3u8")[1] or b"").endswith(b"#EXT-X-ENDLIST\n"), 10,
                        "the test stream")
        playlist = cls.lg.get("/live/lim/index.m3u8")[1].decode()
        cls.segment = "/live/lim/" + next(l for l in playlist.splitlines() if l.endswith(".ts"))

    @classmethod
    def tearDownClass(cls):
        assert cls.lg.stop() == 0

    def test_max_connections(self):
        before = violations(self.lg, "http.max_connections")
        socks = [socket.create_connection(("127.0.0.1", self.lg.http_port)) for _ in range(20)]
        try:
            time.sleep(0.2)
            extra = socket.create_connection(("127.0.0.1", self.lg.http_port))
            self.assertTrue(closed_by_server(extra, 2), "a 21st connection is closed")
            extra.close()
            self.assertIn("limit http.max_connections (20)", self.lg.log_text())
        finally:
            for s in socks:
                s.close()
        time.sleep(0.3)
        self.assertEqual(http_get(self.lg.http_port, "/healthz")[0], 200, "room again once they are gone")
        self.assertEqual(violations(self.lg, "http.max_connections"), before + 1)

    def test_read_timeout_and_idle_keep_alive(self):
        slow = socket.create_connection(("127.0.0.1", self.lg.http_port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        idle = socket.create_connection(("127.0.0.1", self.lg.http_port))
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        t0 = time.monotonic()
        slow.settimeout(5)
        reply = slow.recv(200)
        self.assertTrue(reply.startswith(b"HTTP/1.1 408 "), reply)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertIn("limit http.read_timeout_s", self.lg.log_text())
        self.assertTrue(idle.recv(65536).startswith(b"HTTP/1.1 200 "))
        self.assertTrue(closed_by_server(idle, 3), "an idle keep-alive connection is closed after 1 s")
        slow.close()
        idle.close()

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
        self.lg.wait_for(lambda: "limit http.write_timeout_s" in self.lg.log_text(), 10, "the write timeout")
        self.assertEqual(http_get(self.lg.http_port, "/healthz")[0], 200)
        s.close()


if __name__ == "__main__":
    harness.main()
