"""Publish authorization against a real livegate: static stream keys, and an nginx-rtmp compatible
on_publish / on_publish_done HTTP callback served by a small local HTTP server."""
import http.server
import threading
import time
import unittest
import urllib.parse

import harness
import rtmp_client


class Hook(http.server.BaseHTTPRequestHandler):
    calls = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        form = dict(urllib.parse.parse_qsl(body))
        Hook.calls.append((self.path, form))
        if form.get("name") == "slow":
            time.sleep(3)  # past livegate's auth.timeout_ms
        allowed = form.get("call") == "publish_done" or form.get("token") == "letmein"
        self.send_response(200 if allowed else 403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def publish(lg, key):
    """Returns the onStatus code a publisher gets for `key` (with its query string)."""
    p = rtmp_client.RtmpPublisher("127.0.0.1", lg.rtmp_port, "live", key)
    try:
        p.connect()
        return p.publish()
    finally:
        p.close()


class StaticKeys(unittest.TestCase):
    def test_only_listed_keys_publish(self):
        lg = harness.Livegate(config={"auth": {"keys": ["s3cret"]}})
        try:
            self.assertEqual(publish(lg, "s3cret"), "NetStream.Publish.Start")
            self.assertEqual(publish(lg, "guess"), "NetStream.Publish.BadName")
            self.assertIn("stream key not allowed", lg.log_text())
        finally:
            self.assertEqual(lg.stop(), 0)

    def test_open_publishing_is_announced(self):
        lg = harness.Livegate()
        try:
            self.assertIn("publishing is open", lg.log_text())
        finally:
            lg.stop()


class OnPublishCallback(unittest.TestCase):
    def setUp(self):
        Hook.calls = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.lg = harness.Livegate(config={"auth": {"on_publish": base + "/on_publish",
                                                    "on_publish_done": base + "/done", "timeout_ms": 1000}})

    def tearDown(self):
        self.assertEqual(self.lg.stop(), 0)
        self.server.shutdown()
        self.server.server_close()

    def test_callback_decides_and_gets_nginx_rtmp_fields(self):
        self.assertEqual(publish(self.lg, "cam?token=letmein&room=7"), "NetStream.Publish.Start")
        path, form = Hook.calls[0]
        self.assertEqual(path, "/on_publish")
        self.assertEqual(form["call"], "publish")
        self.assertEqual(form["app"], "live")
        self.assertEqual(form["name"], "cam")
        self.assertEqual(form["addr"], "127.0.0.1")
        self.assertEqual(form["tcurl"], f"rtmp://127.0.0.1:{self.lg.rtmp_port}/live")
        self.assertEqual((form["token"], form["room"]), ("letmein", "7"))
        self.lg.wait_for(lambda: any(p == "/done" for p, _ in Hook.calls), 5, "on_publish_done")
        done = next(f for p, f in Hook.calls if p == "/done")
        self.assertEqual((done["call"], done["name"]), ("publish_done", "cam"))

    def test_refusal_and_timeout_refuse(self):
        self.assertEqual(publish(self.lg, "cam?token=wrong"), "NetStream.Publish.BadName")
        self.assertIn("answered 403", self.lg.log_text())
        started = time.time()
        self.assertEqual(publish(self.lg, "slow?token=letmein"), "NetStream.Publish.BadName")
        self.assertLess(time.time() - started, 2.5, "the callback timeout refuses, it does not wait")

    def test_other_connections_are_not_blocked_by_a_slow_callback(self):
        media = harness.test_media(4, 640, 360, 30, gop_s=1)
        slow = threading.Thread(target=publish, args=(self.lg, "slow?token=letmein"))
        slow.start()
        time.sleep(0.2)
        started = time.time()
        self.assertEqual(self.lg.get("/healthz")[0], 200)
        rtmp_client.publish_flv(media, "127.0.0.1", self.lg.rtmp_port, "live", "quick?token=letmein")
        self.assertLess(time.time() - started, 3)
        slow.join()


if __name__ == "__main__":
    harness.main()
