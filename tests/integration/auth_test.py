"""Publish authorization against a real livegate: static stream keys, and an nginx-rtmp compatible
on_publish / on_publish_done HTTP callback served by a small local HTTP server."""
import http.server
import socket
import threading
import time
import unittest
import urllib.parse

import harness
import rtmp_client

SLOW_HOOK_S = 20  # how long the callback server keeps a publisher called "slow" waiting


class Hook(http.server.BaseHTTPRequestHandler):
    calls = []
    release = threading.Event()  # a "slow" callback answers once this is set (or after SLOW_HOOK_S)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        form = dict(urllib.parse.parse_qsl(body))
        Hook.calls.append((self.path, form))
        if form.get("name") == "slow":
            Hook.release.wait(SLOW_HOOK_S)  # far past livegate's auth.timeout_ms
        allowed = form.get("call") == "publish_done" or form.get("token") == "letmein"
        try:
            self.send_response(200 if allowed else 403)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:
            pass  # livegate gave up on a slow answer and closed the connection

    def log_message(self, *args):
        pass


def publish(lg, key, timeout=10):
    """Returns the onStatus code a publisher gets for `key` (with its query string)."""
    p = rtmp_client.RtmpPublisher("127.0.0.1", lg.rtmp_port, "live", key, timeout=timeout)
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
            lg.wait_log("stream key not allowed")
        finally:
            self.assertEqual(lg.stop(), 0)

    def test_open_publishing_is_announced(self):
        lg = harness.Livegate()
        try:
            lg.wait_log("publishing is open")
        finally:
            lg.stop()


class OnPublishCallback(unittest.TestCase):
    def setUp(self):
        Hook.calls = []
        Hook.release = threading.Event()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.lg = harness.Livegate(config={"auth": {"on_publish": self.base + "/on_publish",
                                                    "on_publish_done": self.base + "/done", "timeout_ms": 1000}})

    def tearDown(self):
        Hook.release.set()  # a slow callback still waiting answers now
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
        self.lg.wait_for(lambda: any(p == "/done" for p, _ in Hook.calls), 30, "on_publish_done")
        done = next(f for p, f in Hook.calls if p == "/done")
        self.assertEqual((done["call"], done["name"]), ("publish_done", "cam"))

    def test_refusal_and_timeout_refuse(self):
        self.assertEqual(publish(self.lg, "cam?token=wrong"), "NetStream.Publish.BadName")
        self.lg.wait_log("answered 403")
        started = time.time()
        self.assertEqual(publish(self.lg, "slow?token=letmein"), "NetStream.Publish.BadName")
        # auth.timeout_ms is 1 s and the callback would answer after SLOW_HOOK_S: the slack between is for
        # slow builds.
        self.assertLess(time.time() - started, SLOW_HOOK_S / 2, "the callback timeout refuses, it does not wait")

    def test_other_connections_are_not_blocked_by_a_slow_callback(self):
        """While a publisher waits for its callback's answer, HTTP answers and another publisher gets in."""
        # A callback timeout longer than the whole case, so the slow publisher is still waiting when the
        # quick one is done however slow this build or machine is: the order is what is checked, not a time.
        self.lg.stop()
        self.lg = harness.Livegate(config={"auth": {"on_publish": self.base + "/on_publish",
                                                    "on_publish_done": self.base + "/done", "timeout_ms": 60000}})
        media = harness.test_media(4, 640, 360, 30, gop_s=1)
        codes = []
        slow = threading.Thread(target=lambda: codes.append(publish(self.lg, "slow?token=letmein", timeout=60)))
        slow.start()
        try:
            self.lg.wait_for(lambda: any(f.get("name") == "slow" for _, f in Hook.calls), 30,
                             "the slow callback to be in flight")
            started = time.time()
            self.assertEqual(self.lg.get("/healthz")[0], 200)
            quick = rtmp_client.publish_flv(media, "127.0.0.1", self.lg.rtmp_port, "live", "quick?token=letmein")
            print(f"\nquick publish done in {time.time() - started:.2f} s while the slow callback was pending")
            self.assertEqual(quick["status"], "NetStream.Publish.Start")
            self.assertTrue(slow.is_alive() and not codes, "the slow publisher was answered before the quick one")
        finally:
            Hook.release.set()  # the callback answers now: the slow publisher gets in too
            slow.join(30)
        self.assertEqual(codes, ["NetStream.Publish.Start"])


class ShutdownWithACallbackPending(unittest.TestCase):
    def test_sigterm_does_not_wait_for_a_blocked_callback(self):
        """A callback server that accepts and never answers: SIGTERM still ends livegate at once."""
        listener = socket.create_server(("127.0.0.1", 0))
        accepted = []
        threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
        lg = harness.Livegate(config={"auth": {"on_publish": f"http://127.0.0.1:{listener.getsockname()[1]}/p",
                                               "timeout_ms": 30000}})
        def publish_quietly():
            try:
                publish(lg, "waiting")
            except (rtmp_client.RtmpError, OSError):
                pass  # the server going away is the point
        pending = threading.Thread(target=publish_quietly, daemon=True)
        pending.start()
        try:
            lg.wait_for(lambda: accepted, 30, "the callback to be in flight")
            started = time.monotonic()
            self.assertEqual(lg.stop(timeout=20), 0)
            took = time.monotonic() - started
            print(f"\nexit {took:.2f} s after SIGTERM with a callback blocked (auth.timeout_ms 30000)")
            self.assertLess(took, 10, "shutdown waited for the blocked callback")  # of 30 s
        finally:
            listener.close()
            for conn, _ in accepted:
                conn.close()
        pending.join(10)


if __name__ == "__main__":
    harness.main()
