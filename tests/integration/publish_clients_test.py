"""Three independent RTMP client implementations publish generated H.264 (B-frames) + AAC to a real
livegate: FFmpeg's native client, GStreamer's rtmp2sink, and GStreamer's librtmp-based rtmpsink.
What livegate observed is read back from GET /api/streams, and each stream is played back through
livegate's HLS with ffprobe and ffmpeg."""
import os
import signal
import subprocess
import time
import unittest

import harness
import hls_check

SECONDS, FPS = 10, 30


class PublishClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.media = harness.test_media(SECONDS, 1280, 720, FPS, gop_s=2)
        cls.lg = harness.Livegate()

    @classmethod
    def tearDownClass(cls):
        code = cls.lg.stop()
        assert code == 0, f"livegate exited with {code}"

    def publish_and_check(self, key, proc):
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            self.fail(f"publisher {key} did not finish: {err.decode(errors='replace')[-2000:]}")
        self.assertEqual(proc.returncode, 0, f"publisher {key} failed: {err.decode(errors='replace')[-2000:]}")
        s = self.lg.wait_stream_ended(key)
        v, a = s["video"], s["audio"]
        self.assertEqual(v["codec"], "h264")
        self.assertEqual(v["profile"], "Main")
        self.assertEqual((v["width"], v["height"]), (1280, 720))
        self.assertAlmostEqual(v["frame_rate"], FPS, places=2)
        self.assertEqual(v["stats"]["frames"], SECONDS * FPS, "every video frame arrives")
        self.assertEqual(v["stats"]["keyframes"], SECONDS // 2, "one keyframe per 2 s GOP")
        self.assertEqual(v["stats"]["dts_backwards"], 0, "video DTS monotonic")
        self.assertEqual(v["stats"]["pts_before_dts"], 0, "B-frame PTS never before DTS")
        # GStreamer's flvmux clamps the negative DTS of the first B-frame-delayed frames to 0, so the span
        # may be up to two frame durations shorter than the 299 frame intervals.
        span = v["stats"]["last_dts_ms"] - v["stats"]["first_dts_ms"]
        self.assertGreaterEqual(span, (SECONDS * FPS - 3) * 1000 / FPS - 1)
        self.assertLessEqual(span, (SECONDS * FPS - 1) * 1000 / FPS + 1)
        self.assertAlmostEqual(v["measured_frame_rate"], FPS, delta=0.25)
        self.assertEqual(a["codec"], "aac")
        self.assertEqual((a["sample_rate"], a["channels"]), (48000, 2))
        # 10 s at 48 kHz is 468.75 AAC frames of 1024 samples; the encoder rounds up and adds priming.
        self.assertGreaterEqual(a["stats"]["frames"], 468)
        self.assertLessEqual(a["stats"]["frames"], 472)
        self.assertEqual(a["stats"]["dts_backwards"], 0, "audio DTS monotonic")
        self.check_playback(key)
        return s

    def check_playback(self, key):
        """Interop: what each client published plays back through livegate's HLS without errors."""
        # The API saying "ended" does not mean the playlist has its EXT-X-ENDLIST yet (another part of
        # livegate writes it): wait for it.
        text = self.lg.wait_playlist_ended(key)
        playlist = hls_check.Playlist(text)
        self.assertTrue(playlist.ended)
        # A 2 s GOP gives 2 s segments from every client, the first one included (GStreamer's first frames
        # come a frame before its first keyframe's time: that keyframe still cuts).
        self.assertEqual(playlist.target, 2, text)
        self.assertAlmostEqual(sum(s["duration"] for s in playlist.segments), SECONDS, delta=0.1)
        for s in playlist.segments:
            status, data = self.lg.get(f"/live/{key}/{s['uri']}")
            path = os.path.join(harness.WORK, f"{key}-{s['uri']}")
            with open(path, "wb") as f:
                f.write(data)
            hls_check.check_segment(path)
        url = f"http://127.0.0.1:{self.lg.http_port}/live/{key}/index.m3u8"
        self.assertEqual(hls_check.decode_errors(url), "", f"{key} decodes without errors")

    def test_ffmpeg(self):
        s = self.publish_and_check("ffmpeg", harness.ffmpeg_publish(self.media, self.lg.rtmp_url("ffmpeg?token=x")))
        self.assertIn("Lavf", s["publisher"]["encoder"])
        self.assertNotIn("address", s["publisher"], "the public API hides where encoders are")
        self.assertTrue(self.lg.stream("ffmpeg", admin=True)["publisher"]["address"].startswith("127.0.0.1:"))

    def test_gstreamer_rtmp2sink(self):
        self.publish_and_check("gst2", harness.gst_publish(self.media, self.lg.rtmp_url("gst2"), "rtmp2sink"))

    def test_gstreamer_librtmp_rtmpsink(self):
        self.publish_and_check("librtmp", harness.gst_publish(self.media, self.lg.rtmp_url("librtmp"), "rtmpsink"))

    def test_second_publisher_is_refused_and_first_continues(self):
        first = harness.ffmpeg_publish(self.media, self.lg.rtmp_url("dup"), realtime=True, loop=True)
        try:
            self.lg.wait_for(lambda: (self.lg.stream("dup") or {}).get("video"), 30, "first publisher's video")
            second = harness.ffmpeg_publish(self.media, self.lg.rtmp_url("dup"))
            _, err = second.communicate(timeout=30)
            self.assertNotEqual(second.returncode, 0, "the second publisher must be refused")
            self.lg.wait_log("already being published")
            before = self.lg.stream("dup")["video"]["stats"]["frames"]
            self.lg.wait_for(lambda: self.lg.stream("dup")["video"]["stats"]["frames"] >= before + 30, 30,
                             "the first publisher to keep going")
            s = self.lg.stream("dup")
            self.assertEqual(s["state"], "live")
            self.assertEqual(s["video"]["stats"]["dts_backwards"], 0)
        finally:
            first.send_signal(signal.SIGINT)
            first.communicate(timeout=20)
        self.lg.wait_stream_ended("dup")  # when its publisher stops


if __name__ == "__main__":
    harness.main()
