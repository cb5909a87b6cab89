"""HLS output of a real livegate fed by real publishers: playlist rules at every poll, segments that
ffprobe and ffmpeg read without errors, audio-only, video-only, a killed publisher, and republish."""
import os
import re
import signal
import sys
import time
import unittest
import urllib.request

import harness
import hls_check
import rtmp_client


class HlsOutput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lg = harness.Livegate(config={"hls": {"retention_s": 120}})

    @classmethod
    def tearDownClass(cls):
        assert cls.lg.stop() == 0

    def playlist(self, key):
        status, body = self.lg.get(f"/live/{key}/index.m3u8")
        return body.decode() if status == 200 else None

    def fetch_segment(self, key, uri, keep):
        status, body = self.lg.get(f"/live/{key}/{uri}")
        self.assertEqual(status, 200, f"{uri} must be fetchable while listed")
        path = os.path.join(harness.WORK, f"{key}-{uri}")
        with open(path, "wb") as f:
            f.write(body)
        keep[uri] = path

    def follow(self, key, proc, timeout=120):
        """Polls the playlist every 0.5 s while the publisher runs, checking the rules each time and
        downloading every segment as it appears. Returns (final playlist, {uri: file}, rules)."""
        rules = hls_check.PlaylistRules()
        files = {}
        deadline = time.time() + timeout
        final = None
        while time.time() < deadline:
            text = self.playlist(key)
            if text:
                p = rules.check(text)
                for s in p.segments:
                    if s["uri"] not in files:
                        self.fetch_segment(key, s["uri"], files)
                if p.ended:
                    final = p
                    break
            time.sleep(0.5)
        proc.communicate(timeout=30)
        self.assertIsNotNone(final, "the playlist must end with EXT-X-ENDLIST when the publisher stops\n" +
                             self.lg.log_text())
        self.assertGreater(rules.polls, 1)
        return final, files, rules

    def test_h264_aac_segments_and_playlist(self):
        seconds, fps = 20, 30
        media = harness.test_media(seconds, 1280, 720, fps, gop_s=2)
        proc = harness.ffmpeg_publish(media, self.lg.rtmp_url("main"), realtime=True)
        final, files, rules = self.follow("main", proc)
        self.assertEqual(final.target, 2)
        uris = sorted(files, key=lambda u: int(u.rsplit("-", 1)[1][:-3]))
        self.assertEqual(len(uris), 10, "20 s at a 2 s GOP is 10 segments")
        joined = b""
        video_packets = 0
        for uri in uris:
            probe = hls_check.check_segment(files[uri])
            video_packets += sum(1 for p in probe["packets"] if p["codec_type"] == "video")
            with open(files[uri], "rb") as f:
                joined += f.read()
        self.assertEqual(set(rules.uri_duration), set(uris))
        total = sum(rules.uri_duration.values())
        self.assertAlmostEqual(total, seconds, delta=1 / fps, msg="durations sum to the published length")
        self.assertTrue(all(abs(d - 2.0) < 0.04 for d in rules.uri_duration.values()), rules.uri_duration)
        self.assertEqual(video_packets, seconds * fps, "every frame is in exactly one segment")
        self.assertEqual(hls_check.continuity_errors(joined), [])
        joined_path = os.path.join(harness.WORK, "main-joined.ts")
        with open(joined_path, "wb") as f:
            f.write(joined)
        self.assertEqual(hls_check.decode_errors(joined_path), "")
        self.assertEqual(hls_check.decode_errors(f"http://127.0.0.1:{self.lg.http_port}/live/main/index.m3u8"), "")
        # Timestamps continue across segment boundaries: DTS strictly increasing per stream.
        _, probe, _ = hls_check.ffprobe_json(joined_path, "-show_packets")
        for kind in ("video", "audio"):
            dts = [int(p["dts"]) for p in probe["packets"] if p["codec_type"] == kind]
            self.assertTrue(all(b > a for a, b in zip(dts, dts[1:])), f"{kind} DTS not increasing")
            if kind == "video":
                # RTMP carries milliseconds, so 30 fps arrives as steps of 33 or 34 ms.
                steps = {b - a for a, b in zip(dts, dts[1:])}
                self.assertTrue(steps <= {2970, 3060}, f"gaps between video frames: {steps}")

    def test_cmaf_playlist_has_the_same_segments_and_decodes(self):
        """ll.m3u8: the segments of index.m3u8 (numbers, durations, discontinuities) in fragmented MP4 behind
        an EXT-X-MAP; ffmpeg decodes all of it without one error line, and both packagings present every
        frame at the same time."""
        media = harness.test_media(8, 640, 360, 30, gop_s=2)
        proc = harness.ffmpeg_publish(media, self.lg.rtmp_url("cmaf"), realtime=False)
        proc.communicate(timeout=60)

        def ended(path):
            status, body = self.lg.get(path)
            return status == 200 and body.endswith(b"#EXT-X-ENDLIST\n")
        self.lg.wait_for(lambda: ended("/live/cmaf/ll.m3u8") and ended("/live/cmaf/index.m3u8"), harness.WAIT_S,
                         "both playlists to end")
        ts = hls_check.PlaylistRules().check(self.lg.get("/live/cmaf/index.m3u8")[1].decode())
        ll = hls_check.PlaylistRules().check(self.lg.get("/live/cmaf/ll.m3u8")[1].decode())
        self.assertEqual(ll.version, 6)
        self.assertEqual(ts.version, 3)
        self.assertEqual(len(ll.segments), 4)
        self.assertEqual([(s["seq"], s["duration_text"], s["discontinuity"], s["pdt"]) for s in ll.segments],
                         [(s["seq"], s["duration_text"], s["discontinuity"], s["pdt"]) for s in ts.segments])
        self.assertTrue(all(s["uri"].endswith(".m4s") and s["map"] for s in ll.segments), ll.text)
        self.assertTrue(all(s["map"] is None for s in ts.segments))
        fragments = 0  # one per part
        maps = {s["map"] for s in ll.segments}
        self.assertEqual(len(maps), 1, "one publish, one configuration: one init segment")
        status, init = self.lg.get(f"/live/cmaf/{maps.pop()}")
        self.assertEqual((status, init[4:8]), (200, b"ftyp"))
        for s in ll.segments:
            status, body = self.lg.get(f"/live/cmaf/{s['uri']}")
            self.assertEqual((status, body[4:8]), (200, b"moof"))
            fragments += hls_check.top_level_boxes(body).count("moof")
            # Its parts (listed for the newest segments) are its fragments, one moof+mdat each.
            joined = b""
            for part in s["parts"]:
                status, piece = self.lg.get(f"/live/cmaf/{part['uri']}")
                self.assertEqual((status, piece[4:8]), (200, b"moof"), part["uri"])
                joined += piece
            if s["parts"]:
                self.assertEqual(joined, body, f"{s['uri']} is its parts joined")
        hls_check.check_low_latency(ll)
        self.assertTrue(ll.segments[-1]["parts"] and not ll.open_parts and ll.preload_hint is None, ll.text)

        base = f"http://127.0.0.1:{self.lg.http_port}/live/cmaf"
        self.assertEqual(hls_check.decode_errors(f"{base}/ll.m3u8"), "")

        # master.m3u8: the CMAF playlist, with what a player needs to choose it (RFC 8216 4.3.4.2).
        status, master = self.lg.get("/live/cmaf/master.m3u8")
        self.assertEqual(status, 200)
        lines = master.decode().split("\n")
        self.assertEqual((lines[0], lines[2], lines[3:]), ("#EXTM3U", "ll.m3u8", [""]), master)
        m = re.fullmatch(r'#EXT-X-STREAM-INF:BANDWIDTH=(\d+),AVERAGE-BANDWIDTH=(\d+),'
                         r'CODECS="avc1\.4d([0-9a-f]{2})([0-9a-f]{2}),mp4a\.40\.2",RESOLUTION=640x360,FRAME-RATE=30\.000',
                         lines[1])
        self.assertIsNotNone(m, lines[1])
        _, probe, _ = hls_check.ffprobe_json(f"{base}/ll.m3u8", "-show_streams", "-select_streams", "v")
        self.assertEqual(int(m.group(4), 16), probe["streams"][0]["level"], "CODECS carries the SPS's level")
        self.assertGreaterEqual(int(m.group(1)), int(m.group(2)))
        self.assertGreater(int(m.group(2)), 100_000)
        self.assertEqual(hls_check.decode_errors(f"{base}/master.m3u8"), "")
        times = {}
        for name in ("index.m3u8", "ll.m3u8"):
            code, probe, err = hls_check.ffprobe_json(f"{base}/{name}", "-show_packets")
            self.assertEqual((code, err.strip()), (0, ""), name)
            times[name] = {kind: [float(p["pts_time"]) for p in probe["packets"] if p["codec_type"] == kind]
                           for kind in ("video", "audio")}
        self.assertEqual(len(times["ll.m3u8"]["video"]), 8 * 30)
        for kind in ("video", "audio"):
            a, b = sorted(times["index.m3u8"][kind]), sorted(times["ll.m3u8"][kind])
            self.assertEqual(len(a), len(b), kind)
            apart = [abs(x - y) for x, y in zip(a, b)]
            moved = sum(1 for d in apart if d > 1e-6)
            print(f"{kind}: {len(a)} frames, {moved} presented apart in TS and CMAF, at most {max(apart) * 1000:.3f} ms",
                  file=sys.stderr)
            if kind == "video":
                self.assertEqual(moved, 0)
            else:
                # A fragment's (a part's) first audio frame starts where the one before ended (no gap, no overlap),
                # which RTMP's millisecond clock puts up to 1 ms from its own timestamp.
                self.assertLessEqual(max(apart), 0.001 + 1e-6)
                self.assertLessEqual(moved, fragments)

    def test_headers(self):
        media = harness.test_media(4, 640, 360, 30, gop_s=1)
        proc = harness.ffmpeg_publish(media, self.lg.rtmp_url("headers"), realtime=False)
        proc.communicate(timeout=60)
        self.lg.wait_playlist_ended("headers")
        url = f"http://127.0.0.1:{self.lg.http_port}/live/headers/index.m3u8"
        with urllib.request.urlopen(url) as r:
            self.assertEqual(r.headers["Content-Type"], hls_check.PLAYLIST_TYPE)
            self.assertIn("max-age=1", r.headers["Cache-Control"])
            self.assertEqual(r.headers["Access-Control-Allow-Origin"], "*")
            uri = hls_check.Playlist(r.read().decode()).segments[0]["uri"]
        with urllib.request.urlopen(url.replace("index.m3u8", uri)) as r:
            self.assertEqual(r.headers["Content-Type"], "video/mp2t")
            self.assertIn("immutable", r.headers["Cache-Control"])
        self.assertEqual(self.lg.get("/live/headers/nosuch-1.ts")[0], 404)
        self.assertEqual(self.lg.get("/live/nosuchstream/index.m3u8")[0], 404)

    def check_single_track(self, key, media, video, audio, codec):
        proc = harness.ffmpeg_publish(media, self.lg.rtmp_url(key), realtime=False)
        proc.communicate(timeout=60)
        p = hls_check.PlaylistRules().check(self.lg.wait_playlist_ended(key))
        self.assertGreaterEqual(len(p.segments), 2)
        files = {}
        for s in p.segments:
            self.fetch_segment(key, s["uri"], files)
            probe = hls_check.check_segment(files[s["uri"]], expect_video=video, expect_audio=audio)
            self.assertEqual(probe["streams"][0]["codec_name"], codec)
        for s in p.segments[:-1]:
            self.assertAlmostEqual(s["duration"], 2.0, delta=0.1)

    def test_audio_only_aac(self):
        media = harness.make_media("aac-only.flv", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                                   "-t", "7", "-c:a", "aac", "-ac", "2", "-f", "flv")
        self.check_single_track("aaconly", media, False, True, "aac")

    def test_audio_only_mp3(self):
        media = harness.make_media("mp3-only.flv", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                                   "-t", "7", "-c:a", "libmp3lame", "-ac", "2", "-f", "flv")
        self.check_single_track("mp3only", media, False, True, "mp3")

    def test_video_only(self):
        media = harness.make_media("video-only.flv", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                                   "-t", "7", "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-bf", "2",
                                   "-f", "flv")
        self.check_single_track("videoonly", media, True, False, "h264")

    def test_publisher_killed_mid_segment(self):
        media = harness.test_media(20, 1280, 720, 30, gop_s=2)
        proc = harness.ffmpeg_publish(media, self.lg.rtmp_url("killed"), realtime=True)
        self.lg.wait_for(lambda: (self.playlist("killed") or "").count("#EXTINF") >= 2, 30, "two segments")
        # Mid-segment: counted from the moment a segment is cut (a new one is listed), not from whenever a
        # poll noticed the second one, so the kill cannot land at the next keyframe (2 s on).
        def newest():
            uris = [l for l in (self.playlist("killed") or "").splitlines() if l.endswith(".ts")]
            return uris[-1] if uris else None
        listed = newest()
        self.lg.wait_for(lambda: newest() != listed, 30, "a segment cut")
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        p = hls_check.PlaylistRules().check(self.lg.wait_playlist_ended("killed"))  # after SIGKILL
        files = {}
        for s in p.segments:
            self.fetch_segment("killed", s["uri"], files)
            hls_check.check_segment(files[s["uri"]])
        self.assertLess(p.segments[-1]["duration"], 2.0, "the last segment is the partial one")

    def test_republish_continues_the_playlist(self):
        media = harness.test_media(6, 640, 360, 30, gop_s=2)
        first = harness.ffmpeg_publish(media, self.lg.rtmp_url("again"), realtime=False)
        first.communicate(timeout=60)
        rules = hls_check.PlaylistRules()
        before = rules.check(self.lg.wait_playlist_ended("again"))  # the first publish's end
        second = harness.ffmpeg_publish(media, self.lg.rtmp_url("again"), realtime=False)
        second.communicate(timeout=60)
        after = rules.check(self.lg.wait_for(lambda: (lambda t: t if t and t.endswith("#EXT-X-ENDLIST\n") and
                                                      t.count("#EXTINF") > len(before.segments) else None)(
            self.playlist("again")), harness.WAIT_S, "second end"))
        self.assertEqual(sum(1 for s in after.segments if s["discontinuity"]) + after.discontinuity_sequence, 1,
                         "exactly one discontinuity, at the join")
        old_uris = {s["uri"] for s in before.segments}
        joined = [s for s in after.segments if s["uri"] not in old_uris]
        self.assertTrue(joined[0]["discontinuity"])
        self.assertEqual(joined[0]["seq"], before.segments[-1]["seq"] + 1, "media sequence continues")
        files = {}
        for s in joined:
            self.fetch_segment("again", s["uri"], files)
            hls_check.check_segment(files[s["uri"]])

    def test_republish_with_a_longer_gop_keeps_targetduration(self):
        """RFC 8216 6.2.1: EXT-X-TARGETDURATION never changes. A republish that brings an 8 s GOP after a
        2 s one is cut between keyframes at 2 s, and every segment still decodes in order."""
        short = harness.test_media(6, 640, 360, 30, gop_s=2)
        long = harness.test_media(16, 640, 360, 30, gop_s=8)
        harness.ffmpeg_publish(short, self.lg.rtmp_url("gopswitch"), realtime=False).communicate(timeout=60)
        first = hls_check.PlaylistRules().check(self.lg.wait_playlist_ended("gopswitch"))  # the first publish's end
        self.assertEqual(first.target, 2)
        harness.ffmpeg_publish(long, self.lg.rtmp_url("gopswitch"), realtime=False).communicate(timeout=60)
        last_first = first.segments[-1]["seq"]
        text = self.lg.wait_for(lambda: (lambda t: t if t and t.endswith("#EXT-X-ENDLIST\n") and
                                         hls_check.Playlist(t).segments[-1]["seq"] >= last_first + 8 else None)(
            self.playlist("gopswitch")), harness.WAIT_S, "the second publish to end")
        # EXTINF within TARGETDURATION (the join itself has slid out of this window unseen: a fresh checker)
        after = hls_check.PlaylistRules().check(text)
        self.assertEqual(after.target, first.target, "EXT-X-TARGETDURATION changed")
        # 16 s of 8 s GOPs: eight segments of 2 s, three of every four cut between keyframes.
        self.assertEqual(after.segments[-1]["seq"], last_first + 8)
        for s in after.segments:
            self.assertAlmostEqual(s["duration"], 2.0, delta=0.05)
        health = self.lg.wait_stream_ended("gopswitch")["health"]  # the API's final word on it
        self.assertGreaterEqual(health["split_segments"], 5)
        # A player joining at a split segment waits for a keyframe; from the first segment that starts with
        # one, the listed segments play through their splits without a decoding error.
        files = {}
        starts_with_key = []
        for seg in after.segments:
            self.fetch_segment("gopswitch", seg["uri"], files)
            _, probe, _ = hls_check.ffprobe_json(files[seg["uri"]], "-select_streams", "v", "-show_packets",
                                                 "-read_intervals", "%+#1")
            starts_with_key.append("K" in probe["packets"][0]["flags"])
        self.assertIn(True, starts_with_key)
        self.assertIn(False, starts_with_key)
        joined = os.path.join(harness.WORK, "gopswitch-joined.ts")
        with open(joined, "wb") as out:
            for seg in after.segments[starts_with_key.index(True):]:
                with open(files[seg["uri"]], "rb") as f:
                    out.write(f.read())
        self.assertEqual(hls_check.decode_errors(joined), "", "the split segments decode without errors")

    def test_timestamps_wrapping_past_32_bits(self):
        # Our own RTMP client, because ffmpeg's FLV path keeps only 31 bits of timestamp.
        media = harness.test_media(8, 640, 360, 30, gop_s=2)
        rtmp_client.publish_flv(media, "127.0.0.1", self.lg.rtmp_port, "live", "wrap",
                                ts_offset_ms=2**32 - 4000)  # wraps 4 s in
        p = hls_check.PlaylistRules().check(self.lg.wait_playlist_ended("wrap"))
        self.assertEqual(len(p.segments), 4)
        self.assertFalse(any(s["discontinuity"] for s in p.segments), "a wrap is not a discontinuity")
        self.assertAlmostEqual(sum(s["duration"] for s in p.segments), 8.0, delta=1 / 30)
        joined = b""
        files = {}
        for s in p.segments:
            self.assertAlmostEqual(s["duration"], 2.0, delta=0.04)
            self.fetch_segment("wrap", s["uri"], files)
            hls_check.check_segment(files[s["uri"]])
            with open(files[s["uri"]], "rb") as f:
                joined += f.read()
        self.assertEqual(hls_check.continuity_errors(joined), [])
        # The API's statistics are refreshed once a second while live: its final ones once it says ended.
        v = self.lg.wait_stream_ended("wrap")["video"]["stats"]
        self.assertGreater(v["last_dts_ms"], 2**32, "ingest extends timestamps past the wrap")
        self.assertEqual(v["dts_backwards"], 0)


class HlsOnDisk(unittest.TestCase):
    def test_files_mirror_http_and_expire(self):
        folder = os.path.join(harness.WORK, "hls-out")
        lg = harness.Livegate(config={"hls": {"dir": folder, "retention_s": 2}})
        try:
            media = harness.test_media(6, 640, 360, 30, gop_s=2)
            proc = harness.ffmpeg_publish(media, lg.rtmp_url("disk"), realtime=False)
            proc.communicate(timeout=60)
            playlist_path = os.path.join(folder, "live", "disk", "index.m3u8")

            def ended_on_disk():
                if not os.path.exists(playlist_path):
                    return False
                with open(playlist_path) as f:
                    return f.read().endswith("#EXT-X-ENDLIST\n")
            lg.wait_for(ended_on_disk, harness.WAIT_S, "the ended playlist on disk")
            files = set()
            for name in ("index.m3u8", "ll.m3u8"):  # both packagings, CMAF init segments included
                status, body = lg.get(f"/live/disk/{name}")
                with open(os.path.join(folder, "live", "disk", name)) as f:
                    self.assertEqual(f.read(), body.decode())
                p = hls_check.Playlist(body.decode())
                files |= {s["uri"] for s in p.segments} | {s["map"] for s in p.segments if s["map"]}
            self.assertEqual(len(files), 2 * 3 + 1)
            self.assertEqual(set(os.listdir(os.path.join(folder, "live", "disk"))), files | {"index.m3u8", "ll.m3u8"})
            for uri in files:
                status, data = lg.get(f"/live/disk/{uri}")
                with open(os.path.join(folder, "live", "disk", uri), "rb") as f:
                    self.assertEqual(f.read(), data, "the file holds the same bytes as HTTP serves")
            self.assertEqual([n for n in os.listdir(os.path.join(folder, "live", "disk")) if n.endswith(".tmp")], [])
            lg.wait_for(lambda: not os.path.exists(os.path.join(folder, "live", "disk")), harness.WAIT_S,
                        "the stream's folder to be removed after its retention")
        finally:
            self.assertEqual(lg.stop(), 0)

    def test_sigterm_ends_playlists_and_completes_the_disk_copy(self):
        folder = os.path.join(harness.WORK, "hls-sigterm")
        lg = harness.Livegate(config={"hls": {"dir": folder}})
        media = harness.test_media(6, 640, 360, 30, gop_s=1)
        proc = harness.ffmpeg_publish(media, lg.rtmp_url("term"), realtime=True, loop=True)
        try:
            lg.wait_for(lambda: (lg.get("/live/term/index.m3u8")[1] or b"").count(b"#EXTINF") >= 2, 30,
                        "two segments")
            started = time.time()
            self.assertEqual(lg.stop(signal.SIGTERM), 0)
            self.assertLess(time.time() - started, 10, "exits within a few seconds")
        finally:
            proc.kill()
            proc.communicate()
        with open(os.path.join(folder, "live", "term", "index.m3u8")) as f:
            p = hls_check.Playlist(f.read())
        self.assertTrue(p.ended, "the playlist on disk ends with EXT-X-ENDLIST")
        for s in p.segments:
            path = os.path.join(folder, "live", "term", s["uri"])
            self.assertTrue(os.path.exists(path), f"{s['uri']} listed but not on disk")
            hls_check.check_segment(path)
        self.assertIn("shutting down: SIGTERM", lg.log_text())


class LowLatency(unittest.TestCase):
    """ll.m3u8 while a publisher streams in real time: the RFC 8216bis rules on every poll, blocking
    reload and the preload hint answered when the part is published, 400 and 503 where the rules say."""

    @classmethod
    def setUpClass(cls):
        # A long reconnect grace: the 503 case needs a stream that waits for its publisher.
        cls.lg = harness.Livegate(config={"hls": {"retention_s": 120, "reconnect_grace_ms": 60000}})

    @classmethod
    def tearDownClass(cls):
        assert cls.lg.stop() == 0

    def ll(self, key, query=""):
        status, body = self.lg.get(f"/live/{key}/ll.m3u8{query}")
        return status, body.decode(errors="replace")

    def test_blocking_reload_and_preload_hint(self):
        media = harness.test_media(30, 640, 360, 30, gop_s=2)
        proc = harness.ffmpeg_publish(media, self.lg.rtmp_url("ll"), realtime=True)
        try:
            rules = hls_check.PlaylistRules()
            self.lg.wait_for(lambda: self.ll("ll")[0] == 200 and
                             len(hls_check.Playlist(self.ll("ll")[1]).segments) >= 2, harness.WAIT_S,
                             "two segments in ll.m3u8")
            for _ in range(6):  # a few blocking rounds, as a low-latency player makes them
                p = rules.check(self.ll("ll")[1])
                hls_check.check_low_latency(p)
                hint = p.preload_hint
                m = re.fullmatch(r"[0-9a-z]+-(\d+)\.(\d+)\.m4s", hint)
                self.assertIsNotNone(m, hint)
                msn, part = int(m.group(1)), int(m.group(2))
                started = time.monotonic()
                # The hinted part, asked for before it exists, and the playlist that will list it.
                status, body = self.lg.get(f"/live/ll/{hint}")
                self.assertEqual((status, hls_check.top_level_boxes(body)[:1]), (200, ["moof"]), hint)
                status, text = self.ll("ll", f"?_HLS_msn={msn}&_HLS_part={part}&token=ignored")
                waited = time.monotonic() - started
                self.assertEqual(status, 200, text)
                after = hls_check.Playlist(text)
                hls_check.check_low_latency(after)
                listed = [x["uri"] for s in after.segments for x in s["parts"]] + [x["uri"] for x in after.open_parts]
                self.assertIn(hint, listed, "the blocking answer lists the part asked for")
                status, again = self.lg.get(f"/live/ll/{hint}")
                self.assertEqual((status, again), (200, body), "the part as hinted is the part as listed")
                print(f"part {hint}: held {waited * 1000:.0f} ms", file=sys.stderr)
                self.assertLess(waited, 3 * p.target, "a part comes well within the hold limit")
            # A whole segment: _HLS_msn alone.
            p = hls_check.Playlist(self.ll("ll")[1])
            last = p.segments[-1]["seq"]
            status, text = self.ll("ll", f"?_HLS_msn={last + 1}")
            self.assertEqual(status, 200)
            self.assertEqual(hls_check.Playlist(text).segments[-1]["seq"], last + 1)
            # Refused at once.
            p = hls_check.Playlist(self.ll("ll")[1])
            last = p.segments[-1]["seq"]
            for query in (f"?_HLS_msn={last + 3}", "?_HLS_part=1", "?_HLS_msn=x", f"?_HLS_msn={last + 1}&_HLS_part=99999"):
                status, _ = self.ll("ll", query)
                self.assertEqual(status, 400, query)
            # A delta update, once the playlist is longer than the skip boundary (6 x 2 s).
            status, text = self.ll("ll", "?_HLS_skip=YES")
            self.assertEqual(status, 200)
            delta = hls_check.Playlist(text)
            full = hls_check.Playlist(self.ll("ll")[1])
            if delta.skipped:
                self.assertEqual(delta.version, 9)
                self.assertEqual(delta.segments[0]["seq"], delta.media_sequence + delta.skipped)
                self.assertEqual(full.version, 6)
            # The headers a CDN keys and caches on.
            for query, cache in (("", "no-cache"), (f"?_HLS_msn={last}", "public, max-age=6")):
                with urllib.request.urlopen(f"http://127.0.0.1:{self.lg.http_port}/live/ll/ll.m3u8{query}") as r:
                    self.assertEqual(r.headers["Cache-Control"], cache, query)
                    self.assertEqual(r.headers["Content-Type"], hls_check.PLAYLIST_TYPE)
        finally:
            proc.kill()
            proc.communicate()
        self.assertGreaterEqual(len(delta.segments), 1)

        # The publisher is gone and the stream waits for it: the next part never comes, 503 in time.
        self.lg.wait_for(lambda: hls_check.Playlist(self.ll("ll")[1]).open_parts == [], harness.WAIT_S,
                         "the open segment to be closed")
        p = hls_check.Playlist(self.ll("ll")[1])
        m = re.fullmatch(r"[0-9a-z]+-(\d+)\.0\.m4s", p.preload_hint or "")
        self.assertIsNotNone(m, p.text)
        started = time.monotonic()
        status, _ = self.ll("ll", f"?_HLS_msn={m.group(1)}&_HLS_part=0")
        waited = time.monotonic() - started
        self.assertEqual(status, 503)
        print(f"held {waited:.2f} s, then 503", file=sys.stderr)
        self.assertGreaterEqual(waited, 3 * p.target - 0.3)
        self.assertEqual(self.lg.get(f"/live/ll/{p.preload_hint}")[0], 503)


if __name__ == "__main__":
    harness.main()
