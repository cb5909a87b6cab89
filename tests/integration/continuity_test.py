"""Stream continuity with a real livegate and real publishers: a publisher that goes away and comes back
within hls.reconnect_grace_ms continues the same playlist (no EXT-X-ENDLIST in between, one
discontinuity, sequence numbers and URIs carrying on); the stream ends after the grace; timestamp wraps
at 2^31 ms (ffmpeg's FLV muxer) and 2^32 ms (the wire) continue seamlessly; a clock reset and audio and
video jumping by different amounts get one discontinuity and decode cleanly; a backup publisher
(?backup=1) takes over from a lost primary and hands the stream back."""
import itertools
import os
import signal
import subprocess
import time
import unittest

import harness
import hls_check
import rtmp_client

GRACE_MS = 6000


def segment_seq(uri):
    return int(uri.rsplit("-", 1)[1][:-3])


def publish(lg, media, key):
    """A real ffmpeg encoder publishing `media` in a loop, in real time."""
    return harness.ffmpeg_publish(media, lg.rtmp_url(key), realtime=True, loop=True)


def kill(proc):
    proc.kill()  # SIGKILL: the encoder dies, the TCP connection goes with it
    proc.communicate(timeout=30)


def probe_segment(test, lg, key, segment):
    """Fetches a listed segment and returns hls_check.check_segment's probe of it."""
    status, body = lg.get(f"/live/{key}/{segment['uri']}")
    test.assertEqual(status, 200)
    path = os.path.join(harness.WORK, f"{key}-{segment['uri']}")
    with open(path, "wb") as f:
        f.write(body)
    return hls_check.check_segment(path)


class Follower:
    """Polls a stream's playlist, checking the rules at every poll (hls_check.PlaylistRules) and noting
    when EXT-X-ENDLIST first appears."""

    def __init__(self, lg, key):
        self.lg, self.key = lg, key
        self.rules = hls_check.PlaylistRules()
        self.last = None
        self.ended_at = None

    def poll(self):
        text = self.lg.playlist(self.key)
        if text:
            self.last = self.rules.check(text)
            if self.last.ended and self.ended_at is None:
                self.ended_at = time.monotonic()
        return self.last

    def until(self, done, timeout=harness.WAIT_S, what="the playlist"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            p = self.poll()
            if p is not None and done(p):
                return p
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; last playlist:\n{self.last and self.last.text}\n"
                             f"--- livegate log ---\n{self.lg.log_text()}")


class ReconnectGrace(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A window long enough to keep every segment of a test in view.
        cls.lg = harness.Livegate(config={"hls": {"reconnect_grace_ms": GRACE_MS, "retention_s": 120,
                                                  "window": 40}})
        cls.media = harness.test_media(seconds=10, width=640, height=360)

    @classmethod
    def tearDownClass(cls):
        assert cls.lg.stop() == 0

    def publish(self, key):
        return publish(self.lg, self.media, key)

    def test_killed_publisher_back_within_the_grace_continues_the_playlist(self):
        key = "back"
        f = Follower(self.lg, key)
        pub = self.publish(key)
        f.until(lambda p: len(p.segments) >= 3, what="three segments")
        kill(pub)
        lost_at = time.monotonic()
        s = self.lg.wait_for(lambda: (lambda j: j if j and j["state"] == "reconnecting" else None)(
            self.lg.stream(key)), harness.WAIT_S, "the API to say reconnecting")
        self.assertGreater(s["reconnect_in_s"], 0)
        self.assertLessEqual(s["reconnect_in_s"], GRACE_MS / 1000)
        self.assertNotIn("end_time_ms", s)
        # Nothing received is lost: the open segment was closed and listed, so the listed durations add up
        # to the video received (frames at 30 fps).
        frames = s["video"]["stats"]["frames"]
        p = f.until(lambda p: abs(sum(x["duration"] for x in p.segments) - frames / 30) < 0.1,
                    what=f"the listed segments to hold all {frames} frames received")
        self.assertFalse(p.ended)
        before = [x["uri"] for x in p.segments]

        time.sleep(1.5)  # the encoder's reconnect delay
        pub = self.publish(key)
        try:
            p = f.until(lambda p: len(p.segments) >= len(before) + 3, what="three segments after the reconnect")
            self.assertLess(time.monotonic() - lost_at, GRACE_MS / 1000 + harness.WAIT_S)
            s = self.lg.stream(key)
            self.assertEqual(s["state"], "live")
            self.assertFalse(p.ended, "no EXT-X-ENDLIST while the stream continues")
            self.assertIsNone(f.ended_at, "EXT-X-ENDLIST was never shown during the gap")
            after = [x for x in p.segments if x["uri"] not in before]
            self.assertEqual([x["discontinuity"] for x in after][:1], [True], "one discontinuity at the join")
            self.assertEqual(sum(x["discontinuity"] for x in p.segments), 1)
            seqs = [x["seq"] for x in p.segments]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "the media sequence carries on")
            self.assertEqual([segment_seq(x["uri"]) for x in p.segments], seqs, "URIs carry on with it")
            self.assertEqual(p.target, 2)
            # The health counts it, in words an operator understands.
            problems = {x["code"]: x for x in self.lg.wait_for(
                lambda: (lambda j: j if any(x["code"] == "reconnects" for x in j["health"]["problems"]) else None)(
                    self.lg.stream(key))["health"]["problems"], harness.WAIT_S, "the reconnects problem")}
            self.assertIn("reconnected 1 time in 10 minutes: check its network", problems["reconnects"]["hint"])
        finally:
            kill(pub)
        # Gone for good: the playlist stays open for the grace, then ends.
        gone_at = time.monotonic()
        f.until(lambda p: p.ended, timeout=GRACE_MS / 1000 + harness.WAIT_S, what="EXT-X-ENDLIST after the grace")
        self.assertGreaterEqual(f.ended_at - gone_at, GRACE_MS / 1000 - 1.0,
                                "EXT-X-ENDLIST came before the grace was over")
        self.assertEqual(self.lg.wait_stream_ended(key)["state"], "ended")
        self.assertEqual(hls_check.decode_errors(f"http://127.0.0.1:{self.lg.http_port}/live/{key}/index.m3u8"), "")

    def test_unpublish_commands_wait_too_and_another_publisher_may_continue(self):
        # FCUnpublish + deleteStream (what OBS sends on "Stop Streaming"), then a publisher from another
        # client (the Python one) continues the key.
        key = "cmds"
        media = harness.test_media(seconds=6, width=320, height=240)
        rtmp_client.publish_flv(media, "127.0.0.1", self.lg.rtmp_port, "live", key)
        self.lg.wait_for(lambda: (lambda j: j and j["state"] == "reconnecting")(self.lg.stream(key)),
                         harness.WAIT_S, "reconnecting after FCUnpublish/deleteStream")
        self.assertFalse(self.lg.playlist(key).endswith("#EXT-X-ENDLIST\n"))
        rtmp_client.publish_flv(media, "127.0.0.1", self.lg.rtmp_port, "live", key)
        self.lg.wait_log(f"[live/{key}] publisher is back")
        text = self.lg.wait_playlist_ended(key, timeout=GRACE_MS / 1000 + harness.WAIT_S)
        p = hls_check.PlaylistRules().check(text)
        self.assertEqual(sum(x["discontinuity"] for x in p.segments), 1)
        self.assertAlmostEqual(sum(x["duration"] for x in p.segments), 12, delta=0.1)
        self.assertEqual(hls_check.decode_errors(f"http://127.0.0.1:{self.lg.http_port}/live/{key}/index.m3u8"), "")


class Failover(unittest.TestCase):
    """Two real ffmpeg publishers on one key, the second with ?backup=1 and another resolution."""
    GRACE_MS = 4000
    RETURN_MS = 3000

    @classmethod
    def setUpClass(cls):
        cls.lg = harness.Livegate(config={
            "hls": {"reconnect_grace_ms": cls.GRACE_MS, "retention_s": 120, "window": 40},
            "failover": {"input_loss_ms": 1000, "return_after_ms": cls.RETURN_MS}})
        cls.primary_media = harness.test_media(seconds=10, width=640, height=360)
        cls.backup_media = harness.test_media(seconds=10, width=320, height=240)

    @classmethod
    def tearDownClass(cls):
        assert cls.lg.stop() == 0

    def publish(self, media, key):
        return publish(self.lg, media, key)

    def resolution(self, key, segment):
        video = next(s for s in probe_segment(self, self.lg, key, segment)["streams"] if s["codec_type"] == "video")
        return video["width"], video["height"]

    def api_until(self, key, done, what):
        return self.lg.wait_for(lambda: (lambda j: j if j and done(j) else None)(self.lg.stream(key, admin=True)),
                                harness.WAIT_S, what)

    def test_backup_takes_over_and_hands_back_and_the_playlist_carries_on(self):
        key = "studio"
        f = Follower(self.lg, key)
        switches = {to: self.lg.metric("livegate_failover_switches_total", to=to) for to in ("backup", "primary")}
        primary = self.publish(self.primary_media, key)
        backup = None
        try:
            f.until(lambda p: len(p.segments) >= 2, what="two segments from the primary")
            backup = self.publish(self.backup_media, key + "?backup=1")
            s = self.api_until(key, lambda j: len(j["inputs"]) == 2 and all(i["healthy"] for i in j["inputs"]),
                               "both publishers healthy in the API")
            roles = {i["role"]: i for i in s["inputs"]}
            self.assertTrue(roles["primary"]["active"])
            self.assertFalse(roles["backup"]["active"])
            self.assertEqual((roles["backup"]["width"], roles["backup"]["height"]), (320, 240))
            self.assertIn("address", roles["backup"])
            self.assertEqual(s["failovers"], [])
            # Any other second publisher is still refused, a second backup too.
            for extra in (key, key + "?backup=1"):
                p = rtmp_client.RtmpPublisher("127.0.0.1", self.lg.rtmp_port, "live", extra)
                try:
                    p.connect()
                    self.assertEqual(p.publish(), "NetStream.Publish.BadName", extra)
                finally:
                    p.close()
            # The backup is not segmented: the playlist goes on from the primary alone.
            p = f.until(lambda p: len(p.segments) >= 4, what="four segments")
            self.assertEqual(self.resolution(key, p.segments[-1]), (640, 360))
            f.rules.check_joins(0)

            # The primary dies: the backup takes over at its next keyframe, in the same playlist.
            kill(primary)
            primary = None
            s = self.api_until(key, lambda j: len(j["failovers"]) == 1, "the switch to the backup in the API")
            self.assertEqual((s["failovers"][0]["from"], s["failovers"][0]["to"], s["failovers"][0]["cause"]),
                             ("primary", "backup", "primary disconnected"))
            self.assertEqual(s["state"], "live")
            self.assertIn("on_backup", [x["code"] for x in s["health"]["problems"]])
            n = len(f.poll().segments)
            p = f.until(lambda p: len(p.segments) >= n + 2, what="two segments from the backup")
            joins = [x for x in p.segments if x["discontinuity"]]
            self.assertEqual(len(joins), 1)
            self.assertEqual(self.resolution(key, joins[0]), (320, 240), "the backup's own SPS after the switch")
            self.assertEqual(self.resolution(key, p.segments[-1]), (320, 240))
            f.rules.check_joins(1)

            # The primary is back: healthy for failover.return_after_ms, it takes the stream back.
            primary = self.publish(self.primary_media, key)
            back_at = time.monotonic()
            s = self.api_until(key, lambda j: len(j["failovers"]) == 2, "the switch back to the primary")
            self.assertGreaterEqual(time.monotonic() - back_at, self.RETURN_MS / 1000)
            self.assertEqual((s["failovers"][1]["from"], s["failovers"][1]["to"]), ("backup", "primary"))
            self.assertEqual(s["failovers"][1]["cause"], f"primary healthy again for {self.RETURN_MS} ms")
            n = len(f.poll().segments)
            p = f.until(lambda p: len(p.segments) >= n + 2, what="two segments from the primary again")
            self.assertEqual(self.resolution(key, p.segments[-1]), (640, 360))
            f.rules.check_joins(2)
            for to in ("backup", "primary"):  # the process's count: other tests' switches included
                self.assertEqual(self.lg.metric("livegate_failover_switches_total", to=to), switches[to] + 1)
            self.lg.wait_log(f"[live/{key}] the stream now comes from the backup publisher")
            self.assertEqual(p.target, 2)
            seqs = [x["seq"] for x in p.segments]
            self.assertEqual([segment_seq(x["uri"]) for x in p.segments], seqs, "URIs carry on with the sequence")
            self.assertIsNone(f.ended_at, "EXT-X-ENDLIST was never shown")
            self.assertEqual(self.lg.stream(key)["health"]["reconnects"], 0, "a switch is not a reconnect")
        finally:
            for proc in (primary, backup):
                if proc:
                    kill(proc)
        # Both gone: the reconnect grace, then the end.
        gone_at = time.monotonic()
        f.until(lambda p: p.ended, timeout=self.GRACE_MS / 1000 + harness.WAIT_S, what="EXT-X-ENDLIST after the grace")
        self.assertGreaterEqual(f.ended_at - gone_at, self.GRACE_MS / 1000 - 1.0)
        self.assertEqual(hls_check.decode_errors(f"http://127.0.0.1:{self.lg.http_port}/live/{key}/index.m3u8"), "")

    def test_a_silent_primary_loses_the_stream(self):
        """A primary that stays connected but sends nothing (a frozen encoder) is lost after
        failover.input_loss_ms."""
        key = "frozen"
        frozen = rtmp_client.RtmpPublisher("127.0.0.1", self.lg.rtmp_port, "live", key)
        backup = None
        try:
            frozen.connect()
            self.assertEqual(frozen.publish(), "NetStream.Publish.Start")
            for tag_type, ts, body in itertools.islice(rtmp_client.read_flv_tags(self.primary_media), 120):
                frozen.send_tag(tag_type, ts, body)  # about two seconds of media, at once, then nothing
            backup = self.publish(self.backup_media, key + "?backup=1")
            s = self.api_until(key, lambda j: len(j["failovers"]) == 1, "the switch to the backup")
            self.assertEqual(s["failovers"][0]["cause"], "primary sent no media for 1000 ms")
            self.assertEqual(s["state"], "live")
            self.assertFalse({i["role"]: i for i in s["inputs"]}["primary"]["healthy"])
            p = Follower(self.lg, key).until(lambda p: len(p.segments) >= 3, what="segments from the backup")
            self.assertEqual(self.resolution(key, p.segments[-1]), (320, 240))
        finally:
            frozen.close()
            if backup:
                kill(backup)
        self.lg.wait_playlist_ended(key, timeout=self.GRACE_MS / 1000 + harness.WAIT_S)


class NoGraceAndShutdown(unittest.TestCase):
    def test_grace_zero_ends_the_playlist_at_once(self):
        lg = harness.Livegate(config={"hls": {"reconnect_grace_ms": 0}})
        try:
            media = harness.test_media(seconds=4, width=320, height=240)
            rtmp_client.publish_flv(media, "127.0.0.1", lg.rtmp_port, "live", "k")
            lg.wait_playlist_ended("k", timeout=5)
            self.assertEqual(lg.wait_stream_ended("k")["state"], "ended")
            self.assertNotIn("waits", lg.log_all())
        finally:
            self.assertEqual(lg.stop(), 0)

    def test_shutdown_ends_a_waiting_stream(self):
        lg = harness.Livegate(config={"hls": {"reconnect_grace_ms": 60000}, "http": {"drain_ms": 5000}})
        media = harness.test_media(seconds=4, width=320, height=240)
        rtmp_client.publish_flv(media, "127.0.0.1", lg.rtmp_port, "live", "k")
        lg.wait_for(lambda: (lambda j: j and j["state"] == "reconnecting")(lg.stream("k")), harness.WAIT_S,
                    "reconnecting")
        lg.proc.send_signal(signal.SIGTERM)
        # During the drain, the waiting stream's playlist has ended.
        lg.wait_playlist_ended("k", timeout=5)
        self.assertEqual(lg.stop(), 0)


class TimestampWraps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lg = harness.Livegate(config={"hls": {"retention_s": 120, "window": 40}})

    @classmethod
    def tearDownClass(cls):
        assert cls.lg.stop() == 0

    def check_ended(self, key, seconds, discontinuities):
        text = self.lg.wait_playlist_ended(key)
        p = hls_check.PlaylistRules().check(text)
        self.assertEqual(p.target, 2, text)
        self.assertEqual(sum(x["discontinuity"] for x in p.segments), discontinuities, text)
        if seconds is not None:
            self.assertAlmostEqual(sum(x["duration"] for x in p.segments), seconds, delta=0.2, msg=text)
        url = f"http://127.0.0.1:{self.lg.http_port}/live/{key}/index.m3u8"
        self.assertEqual(hls_check.decode_errors(url), "", text)
        return p

    def segment_dts(self, key, p):
        """Per segment, per stream type: the packets' DTS in order, from ffprobe."""
        out = []
        for s in p.segments:
            probe = probe_segment(self, self.lg, key, s)
            by_type = {}
            for pkt in probe["packets"]:
                by_type.setdefault(pkt["codec_type"], []).append(int(pkt["dts"]))
            out.append(by_type)
        return out

    def test_ffmpeg_31_bit_wraps_continue_seamlessly(self):
        # ffmpeg's FLV muxer masks the timestamp's top byte with 0x7F: with these offsets its clock
        # wraps to 0 at 2^31 ms a few seconds in (the second one is also where 2^32 would be).
        media = harness.test_media(seconds=12, width=320, height=240)
        for offset_s in (2147480, 4294960):
            with self.subTest(offset_s=offset_s):
                key = f"wrap{offset_s}"
                r = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", media, "-c", "copy",
                                    "-output_ts_offset", str(offset_s), "-f", "flv", self.lg.rtmp_url(key)],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.check_ended(key, 12, discontinuities=0)
                self.lg.wait_log(f"[live/{key}] video timestamps wrapped around")
                self.assertEqual(self.lg.stream(key)["health"]["timestamp_wraps"], 1)

    def test_32_bit_wire_wrap_continues_seamlessly(self):
        media = harness.test_media(seconds=12, width=320, height=240)
        s = rtmp_client.publish_flv(media, "127.0.0.1", self.lg.rtmp_port, "live", "wrap32",
                                    ts_offset_ms=2**32 - 5000)
        self.assertLess(s["last_ts"], s["first_ts"], "the timestamps sent did wrap")
        self.check_ended("wrap32", 12, discontinuities=0)

    def publish_twice(self, key, first_offset_ms, second_video_ms, second_audio_ms):
        """One connection: the media once from `first_offset_ms`, then again with video from
        `second_video_ms` and audio from `second_audio_ms` (an encoder resetting its clocks)."""
        media = harness.test_media(seconds=6, width=320, height=240)
        tags = list(rtmp_client.read_flv_tags(media, include_script=False))
        first = min(ts for t, ts, _ in tags if t in (rtmp_client.AUDIO, rtmp_client.VIDEO))
        with rtmp_client.RtmpPublisher("127.0.0.1", self.lg.rtmp_port, "live", key) as c:
            c.connect()
            self.assertEqual(c.publish(), "NetStream.Publish.Start")
            for t, ts, body in tags:
                c.send_tag(t, ts - first + first_offset_ms, body)
            for t, ts, body in tags:
                base = second_video_ms if t == rtmp_client.VIDEO else second_audio_ms
                c.send_tag(t, ts - first + base, body)
            c.unpublish()

    def test_clock_reset_to_zero_mid_stream_gets_one_discontinuity(self):
        self.publish_twice("reset", 3600000, 0, 0)  # an hour in, then back to 0 on the same connection
        p = self.check_ended("reset", 12, discontinuities=1)
        self.assertEqual(self.lg.stream("reset")["health"]["timestamp_jumps"], 1)
        for i, seg in enumerate(self.segment_dts("reset", p)):
            for kind, dts in seg.items():
                self.assertEqual(dts, sorted(set(dts)), f"segment {i} {kind}: DTS must rise")

    def test_audio_and_video_jumping_by_different_amounts_keep_dts_rising(self):
        for name, audio_ms in (("avjump-a", 700), ("avjump-b", -700)):
            with self.subTest(audio_ms=audio_ms):
                self.publish_twice(name, 3600000, 1000, 1000 + audio_ms)
                p = self.check_ended(name, None, discontinuities=1)
                for i, seg in enumerate(self.segment_dts(name, p)):
                    for kind, dts in seg.items():
                        self.assertEqual(dts, sorted(set(dts)), f"segment {i} {kind}: no backward or repeated DTS")


if __name__ == "__main__":
    harness.main()
