"""Faults a live server meets: a publisher frozen (kill -STOP), a connection cut mid-chunk, viewers
that leave mid-segment, and 1,000 connect/publish/disconnect cycles. Nothing crashes or leaks, and
playlists end or continue as they should."""
import os
import signal
import socket
import struct
import time
import unittest

import harness
import hls_check
import rtmp_client


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))




class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lg = harness.Livegate(config={"rtmp": {"idle_timeout_ms": 2000}})
        cls.media = harness.test_media(6, 640, 360, 30, gop_s=1)

    @classmethod
    def tearDownClass(cls):
        assert cls.lg.stop() == 0

    def playlist(self, key):
        return self.lg.playlist(key)

    def test_frozen_publisher_is_dropped_and_the_key_freed(self):
        proc = harness.ffmpeg_publish(self.media, self.lg.rtmp_url("frozen"), realtime=True, loop=True)
        try:
            self.lg.wait_for(lambda: self.playlist("frozen").count("#EXTINF") >= 2, 30, "two segments")
            proc.send_signal(signal.SIGSTOP)  # the TCP connection stays open, nothing more arrives
            stopped = time.time()
            self.lg.wait_playlist_ended("frozen")  # by the idle timeout (2 s)
            print(f"\nfrozen publisher dropped after {time.time() - stopped:.1f} s")
            self.lg.wait_log("idle_timeout_ms")
            self.assertEqual(rtmp_client.publish_flv(self.media, "127.0.0.1", self.lg.rtmp_port, "live", "frozen")
                             ["status"], "NetStream.Publish.Start", "the key is free again")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()

    def test_connection_cut_mid_chunk(self):
        p = rtmp_client.RtmpPublisher("127.0.0.1", self.lg.rtmp_port, "live", "cut")
        p.connect()
        self.assertEqual(p.publish(), "NetStream.Publish.Start")
        tags = list(rtmp_client.read_flv_tags(self.media))
        for tag_type, ts, body in tags[:120]:
            p.send_tag(tag_type, ts, body)
        # Half of a message's first chunk, then a reset instead of a clean close.
        p.send_raw(b"\x06" + (1000).to_bytes(3, "big") + (50000).to_bytes(3, "big") + b"\x09" + b"\x01\x00\x00\x00"
                   + b"\x17" * 100)
        p.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        p.sock.close()
        self.lg.wait_playlist_ended("cut")
        for s in hls_check.Playlist(self.playlist("cut")).segments:
            status, body = self.lg.get(f"/live/cut/{s['uri']}")
            self.assertEqual(status, 200)

    def test_viewers_leaving_mid_segment(self):
        rtmp_client.publish_flv(self.media, "127.0.0.1", self.lg.rtmp_port, "live", "leave")
        # Our client has closed; livegate ends the playlist once it has read the close.
        self.lg.wait_playlist_ended("leave")
        uri = hls_check.Playlist(self.playlist("leave")).segments[0]["uri"]
        pid = self.lg.proc.pid
        before = fds(pid)
        for _ in range(200):
            with socket.create_connection(("127.0.0.1", self.lg.http_port)) as s:
                s.sendall(f"GET /live/leave/{uri} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                s.recv(2000)  # a little of the segment, then gone
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.lg.wait_for(lambda: fds(pid) <= before + 2, 30, "connections to be released")
        self.assertEqual(self.lg.get(f"/live/leave/{uri}")[0], 200)

    def test_thousand_publish_cycles(self):
        pid = self.lg.proc.pid
        warmup = 50
        for i in range(warmup):
            self._cycle(i)
        fd0, rss0 = fds(pid), harness.rss_kib(pid)
        started = time.time()
        for i in range(1000):
            self._cycle(i)
        elapsed = time.time() - started
        self.lg.wait_for(lambda: fds(pid) <= fd0 + 2, 30, "fds back to their level")
        fd1, rss1 = fds(pid), harness.rss_kib(pid)
        print(f"\n1000 connect/publish/disconnect cycles in {elapsed:.1f} s: fds {fd0} -> {fd1}, "
              f"RSS {rss0} -> {rss1} KiB")
        if not harness.sanitized():
            self.assertLess(rss1 - rss0, 4096)
        self.assertEqual(self.lg.get("/healthz")[0], 200)

    def _cycle(self, i):
        p = rtmp_client.RtmpPublisher("127.0.0.1", self.lg.rtmp_port, "live", f"cycle{i % 7}")
        try:
            p.connect()
            self.assertEqual(p.publish(), "NetStream.Publish.Start")
        finally:
            p.close()
        # The key is released once livegate sees the close; a later cycle on the same key must not race it.
        self.lg.wait_for(lambda: (self.lg.stream(f"cycle{i % 7}") or {}).get("state") != "live", 30, "unpublish")


if __name__ == "__main__":
    harness.main()
