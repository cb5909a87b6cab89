"""The HTTP origin as curl sees it: every route, its headers, HEAD and Range, CORS preflight, 404s,
path traversal, oversized requests, bodies, and a segment fetched twice being byte-identical."""
import http.client
import json
import socket
import subprocess
import unittest

import harness
import rtmp_client
import hls_check


def curl(lg, path, *args):
    """Returns (status, headers dict with lower-case names, body bytes)."""
    r = subprocess.run(["curl", "-sS", "--path-as-is", "-D", "-", "-o", "-", *args,
                        f"http://127.0.0.1:{lg.http_port}{path}"], capture_output=True, timeout=30)
    raw = r.stdout
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def raw_request(lg, data, timeout=10):
    with socket.create_connection(("127.0.0.1", lg.http_port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
                if b"\r\n\r\n" in b"".join(chunks):
                    break
        except (ConnectionResetError, socket.timeout):
            pass
    return b"".join(chunks)


class Http(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lg = harness.Livegate()
        media = harness.test_media(4, 640, 360, 30, gop_s=1)
        proc = harness.ffmpeg_publish(media, cls.lg.rtmp_url("web"), realtime=False)
        proc.communicate(timeout=60)
        cls.playlist = hls_check.Playlist(cls.lg.wait_playlist_ended("web"))
        cls.lg.wait_stream_ended("web")  # and the API's final word on it, for test_api
        cls.segment = f"/live/web/{cls.playlist.segments[0]['uri']}"

    @classmethod
    def tearDownClass(cls):
        assert cls.lg.stop() == 0

    def test_playlist(self):
        status, h, body = curl(self.lg, "/live/web/index.m3u8")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "application/vnd.apple.mpegurl")
        self.assertEqual(h["cache-control"], "max-age=1")
        self.assertEqual(h["access-control-allow-origin"], "*")
        self.assertEqual(int(h["content-length"]), len(body))
        self.assertTrue(body.startswith(b"#EXTM3U\n"))

    def test_segment_headers_head_and_identical_bytes(self):
        status, h, first = curl(self.lg, self.segment)
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "video/mp2t")
        self.assertIn("immutable", h["cache-control"])
        self.assertIn("max-age=31536000", h["cache-control"])
        self.assertEqual(h["access-control-allow-origin"], "*")
        self.assertEqual(int(h["content-length"]), len(first))
        _, _, second = curl(self.lg, self.segment)
        self.assertEqual(first, second, "a segment fetched twice is byte-identical")
        conn = http.client.HTTPConnection("127.0.0.1", self.lg.http_port, timeout=10)
        conn.request("HEAD", self.segment)
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.getheader("Content-Length")), len(first))
        self.assertEqual(r.getheader("Content-Type"), "video/mp2t")
        self.assertEqual(r.read(), b"")
        conn.close()

    def test_range_requests(self):
        _, _, whole = curl(self.lg, self.segment)
        status, h, body = curl(self.lg, self.segment, "-H", "Range: bytes=188-375")
        self.assertEqual(status, 206)
        self.assertEqual(h["content-range"], f"bytes 188-375/{len(whole)}")
        self.assertEqual(body, whole[188:376])
        status, h, body = curl(self.lg, self.segment, "-H", "Range: bytes=-188")
        self.assertEqual(status, 206)
        self.assertEqual(body, whole[-188:])
        status, h, _ = curl(self.lg, self.segment, "-H", f"Range: bytes={len(whole) + 10}-")
        self.assertEqual(status, 416)
        self.assertEqual(h["content-range"], f"bytes */{len(whole)}")

    def test_cors_preflight(self):
        for path in ("/live/web/index.m3u8", self.segment, "/api/streams"):
            status, h, _ = curl(self.lg, path, "-X", "OPTIONS", "-H", "Origin: http://example.test",
                                "-H", "Access-Control-Request-Method: GET", "-H", "Access-Control-Request-Headers: range")
            self.assertEqual(status, 204, path)
            self.assertEqual(h["access-control-allow-origin"], "*")
            self.assertIn("GET", h["access-control-allow-methods"])
            self.assertIn("Range", h["access-control-allow-headers"])

    def test_api(self):
        status, h, body = curl(self.lg, "/api/streams")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "application/json")
        self.assertEqual(h["access-control-allow-origin"], "*")
        streams = json.loads(body)["streams"]
        web = next(s for s in streams if s["key"] == "web")
        for field in ("app", "key", "state", "publisher", "start_time_ms", "video", "audio", "bitrate_kbps",
                      "keyframe_interval_s", "hls", "playlist"):
            self.assertIn(field, web)
        self.assertEqual(web["playlist"], "/live/web/index.m3u8")
        self.assertEqual((web["video"]["width"], web["video"]["height"]), (640, 360))
        self.assertEqual(web["hls"]["segments_listed"], len(self.playlist.segments))
        status, _, body = curl(self.lg, "/api/streams/live/web")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["key"], "web")
        # Where the publisher is: for operators only (the admin listener, or the api.token).
        self.assertNotIn("address", web["publisher"])
        self.assertTrue(self.lg.stream("web", admin=True)["publisher"]["address"].startswith("127.0.0.1:"))
        status, h, _ = curl(self.lg, "/api/streams/live/nosuch")
        self.assertEqual(status, 404)
        self.assertEqual(h["content-type"], "application/json")

    def test_health_metrics_and_page(self):
        self.assertEqual(curl(self.lg, "/healthz")[0], 200)
        # /metrics is for operators: refused on the public listener, served on the admin listener.
        status, h, body = curl(self.lg, "/metrics")
        self.assertEqual(status, 403)
        self.assertNotIn(b"livegate_", body)
        self.assertIn("livegate_streams_live ", self.lg.metrics())
        status, h, body = curl(self.lg, "/")
        self.assertEqual(status, 200)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertIn(b"<video", body)
        for path, kind in (("/app.js", "text/javascript"), ("/style.css", "text/css"), ("/hls.min.js", "text/javascript")):
            status, h, _ = curl(self.lg, path)
            self.assertEqual(status, 200, path)
            self.assertTrue(h["content-type"].startswith(kind), path)

    def test_not_found_is_short_lived(self):
        for path in ("/live/nosuch/index.m3u8", "/live/web/zzz-999.ts", "/nothing/here", "/live/web/index.m3u9"):
            status, h, body = curl(self.lg, path)
            self.assertEqual(status, 404, path)
            self.assertEqual(h["cache-control"], "max-age=1", path)
            self.assertLess(len(body), 100)

    def test_path_traversal_never_reaches_files(self):
        for path in ("/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
                     "//etc/passwd", "/live/web/../../../etc/passwd", "/%252e%252e/etc/passwd",
                     "/www/../README.md", "/index.html%00.ts", "/.%2e/CMakeLists.txt", "/app.js/..%5c..%5cmain.cpp",
                     "/node_modules/hls.js/package.json"):
            status, _, body = curl(self.lg, path)
            self.assertIn(status, (400, 404), path)
            self.assertNotIn(b"root:", body, path)
            self.assertNotIn(b"cmake", body.lower(), path)
        # A NUL byte sent raw, not encoded.
        reply = raw_request(self.lg, b"GET /index.html\x00/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertNotIn(b"root:", reply)

    def test_oversized_and_unwanted_requests(self):
        status, _, _ = curl(self.lg, "/api/streams?" + "a" * 3000)
        self.assertEqual(status, 414)
        status, _, _ = curl(self.lg, "/healthz", "-H", "X-Big: " + "b" * 9000)
        self.assertIn(status, (400, 431))
        reply = raw_request(self.lg, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"c" * (10 * 1024 * 1024) + b"\r\n\r\n")
        self.assertFalse(reply.startswith(b"HTTP/1.1 200"), "a 10 MB header is not served")
        status, h, _ = curl(self.lg, "/api/streams", "-X", "POST", "--data", "x=1")
        self.assertIn(status, (405, 413))
        status, h, _ = curl(self.lg, "/live/web/index.m3u8", "-X", "DELETE")
        self.assertEqual(status, 405)
        self.assertIn("GET", h["allow"])
        # Two Content-Length (or Host) headers could be read differently by a proxy in front: 400.
        for dup in (b"Content-Length: 0\r\nContent-Length: 0\r\n", b"Content-Length: 0\r\nContent-Length: 7\r\n",
                    b"Host: y\r\n"):
            reply = raw_request(self.lg, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + dup + b"\r\n")
            self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), reply[:100])
        # The server still answers afterwards.
        self.assertEqual(curl(self.lg, "/healthz")[0], 200)


class ApiToken(unittest.TestCase):
    def test_the_token_opens_the_operators_routes_on_the_public_port(self):
        token = "0123456789abcdef-operators"
        lg = harness.Livegate(config={"api": {"token": token, "port": 0}})  # no admin listener at all
        try:
            rtmp_client.publish_flv(harness.test_media(3, 320, 240, 30, gop_s=1), "127.0.0.1", lg.rtmp_port,
                                    "live", "tok")
            lg.wait_stream_ended("tok")  # what the API says below is then settled
            self.assertEqual(lg.get("/metrics")[0], 401)
            self.assertEqual(lg.get("/metrics", headers={"Authorization": "Bearer wrong-token-of-same-len"})[0], 401)
            self.assertEqual(lg.get("/metrics", headers={"Authorization": token})[0], 401)
            status, body = lg.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            self.assertEqual(status, 200)
            self.assertIn(b"livegate_streams_live", body)
            status, body = lg.get("/api/streams/live/tok", headers={"Authorization": f"Bearer {token}"})
            self.assertTrue(json.loads(body)["publisher"]["address"].startswith("127.0.0.1:"))
            self.assertNotIn("address", lg.stream("tok")["publisher"])
            # The startup lines are all written once the last of them ("ready") is.
            lg.wait_log(" ready: ")
            self.assertNotIn("admin listener", lg.log_all(), "api.port 0 opens no admin listener")
        finally:
            self.assertEqual(lg.stop(), 0)


if __name__ == "__main__":
    harness.main()
