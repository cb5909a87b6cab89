"""Observability against one real livegate: three streams published at once (an 8 s GOP from ffmpeg,
drifting audio from the test publisher, a healthy one from ffmpeg) get the right health problems and
hints in /api/streams; /metrics, parsed by the Prometheus client library's own text-format parser,
moves as it should (bytes, segments, accepted connections, a provoked handshake timeout, a refused
key) and its per-stream series vanish with their stream; every log line is a JSON object."""
import json
import socket
import subprocess
import threading
import time
import unittest

import harness
import rtmp_client

SECONDS = 18          # of media per stream: two 8 s GOPs, and enough to measure drift
AUDIO_STRETCH = 1.03  # the drifting stream's audio timestamps run 3 % fast: +1800 ms a minute
RETENTION_S = 3       # short, so the per-stream series can be seen to vanish
KEYS = ["gop8", "drift", "healthy"]

# Debian's python3-prometheus-client is installed for /usr/bin/python3, which need not be the python3
# running this test, so the parser runs there and hands back its samples as JSON.
PARSER = r"""
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([family.name, family.type, s.name, s.labels, s.value])
print(json.dumps(out))
"""


class Scrape:
    """One /metrics page as the Prometheus parser read it."""

    def __init__(self, lg):
        self.at = time.time()  # when it was asked for, not when the parser was done with it
        status, body = lg.get("/metrics", admin=True)
        assert status == 200, status
        r = subprocess.run(["/usr/bin/python3", "-c", PARSER], input=body, capture_output=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("the Prometheus parser refused /metrics:\n" + r.stderr.decode()[-3000:] +
                                 "\n--- /metrics ---\n" + body.decode(errors="replace")[:3000])
        self.text = body.decode()
        self.samples = json.loads(r.stdout)
        self.types = {family: kind for family, kind, _, _, _ in self.samples}

    def find(self, name, **labels):
        return [(l, v) for _, _, n, l, v in self.samples
                if n == name and all(l.get(k) == v for k, v in labels.items())]

    def value(self, name, **labels):
        found = self.find(name, **labels)
        assert len(found) == 1, f"{name}{labels}: {found}"
        return found[0][1]


def publish_drifting(lg, key, media, errors):
    """Publishes `media` in real time with its audio timestamps stretched by AUDIO_STRETCH."""
    try:
        tags = list(rtmp_client.read_flv_tags(media, include_script=True))
        first = min(ts for kind, ts, _ in tags if kind in (rtmp_client.AUDIO, rtmp_client.VIDEO))
        with rtmp_client.RtmpPublisher("127.0.0.1", lg.rtmp_port, "live", key) as c:
            c.connect()
            code = c.publish()
            if code != "NetStream.Publish.Start":
                raise AssertionError(f"publish of {key}: {code}")
            start = time.monotonic()
            for kind, ts, body in tags:
                if kind == rtmp_client.SCRIPT:
                    values = rtmp_client.amf0_decode(body)
                    if len(values) > 1 and values[0] == "onMetaData" and isinstance(values[1], dict):
                        c.send_metadata(values[1])
                    continue
                delay = start + (ts - first) / 1000.0 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if kind == rtmp_client.AUDIO:
                    ts = first + round((ts - first) * AUDIO_STRETCH)
                c.send_tag(kind, ts, body)
            c.unpublish()
    except Exception as e:  # reported by the test thread
        errors.append(e)


def fresh_frames(lg, key):
    """(livegate_stream_video_frames_total of the stream, when): read just after the value moved, since the
    per-stream series are refreshed once a second and a value read at any moment may be a second old."""
    name = "livegate_stream_video_frames_total"
    old = lg.metric(name, app="live", key=key)
    deadline = time.time() + harness.WAIT_S
    while time.time() < deadline:
        at = time.time()
        value = lg.metric(name, app="live", key=key)
        if value != old:
            return value, at
        time.sleep(0.02)
    raise AssertionError(f"{name} of {key} stayed {old} for {harness.WAIT_S} s")


def codes(stream):
    return [p["code"] for p in stream["health"]["problems"]]


class Observability(unittest.TestCase):
    def test_health_metrics_and_logs(self):
        healthy_media = harness.test_media(SECONDS, 320, 240, 15, gop_s=2)
        gop8_media = harness.make_media(
            "obs-gop8.flv", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(SECONDS),
            "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast", "-g", "120",
            "-keyint_min", "120", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
            "-f", "flv")
        lg = harness.Livegate(config={"log_format": "json",
                                      "rtmp": {"handshake_timeout_ms": 1000},
                                      "hls": {"retention_s": RETENTION_S},
                                      "auth": {"keys": KEYS}})
        procs, errors = [], []
        try:
            started = time.time()
            procs.append(harness.ffmpeg_publish(gop8_media, lg.rtmp_url("gop8")))
            procs.append(harness.ffmpeg_publish(healthy_media, lg.rtmp_url("healthy")))
            drift = threading.Thread(target=publish_drifting, args=(lg, "drift", healthy_media, errors))
            drift.start()

            # A connection that never says a word meets the handshake timeout.
            silent = socket.create_connection(("127.0.0.1", lg.rtmp_port), timeout=harness.WAIT_S)
            self.assertEqual(silent.recv(1), b"", "livegate should close a silent connection")
            silent.close()
            # A key that is not listed is refused.
            with rtmp_client.RtmpPublisher("127.0.0.1", lg.rtmp_port, "live", "intruder") as c:
                c.connect()
                self.assertEqual(c.publish(), "NetStream.Publish.BadName")

            lg.wait_for(lambda: all(lg.stream(k) and lg.stream(k)["state"] == "live" for k in KEYS), harness.WAIT_S,
                        "the three streams to be live")
            # The intruder's refusal is counted as livegate closes its connection, which may be after ours.
            lg.wait_metric("livegate_publish_refusals_total", lambda v: v >= 1, reason="auth_refused")
            first = Scrape(lg)
            frames0 = fresh_frames(lg, "healthy")

            def diagnosed():
                s = {k: lg.stream(k) for k in KEYS}
                ready = ({"keyframe_interval", "long_segments"} <= set(codes(s["gop8"])) and
                         "av_drift" in codes(s["drift"]) and s["healthy"]["health"]["av_drift_ms"] is not None)
                return s if ready else None
            streams = lg.wait_for(diagnosed, SECONDS - 2, "the 8 s GOP and the drift to be diagnosed")
            frames1 = fresh_frames(lg, "healthy")
            second = Scrape(lg)
            print(f"\ndiagnosed after {time.time() - started:.1f} s")
            for k in KEYS:
                self.assertEqual(streams[k]["state"], "live", k)

            # (a) the 8 s GOP
            gop8 = streams["gop8"]["health"]
            print("gop8 health:", json.dumps(gop8))
            self.assertEqual(gop8["status"], "warn")
            self.assertEqual(gop8["keyframe_interval_s"], 8)
            hints = {p["code"]: p for p in gop8["problems"]}
            self.assertEqual(hints["keyframe_interval"]["hint"],
                             "keyframe interval is 8 s; set it to 2 s in your encoder to get 2 s segments and "
                             "lower latency")
            self.assertEqual(hints["keyframe_interval"]["severity"], "warn")
            self.assertIn("because keyframes were too far apart", hints["long_segments"]["hint"])
            self.assertGreaterEqual(gop8["long_segments"], 1)
            self.assertNotIn("av_drift", hints)

            # (b) drifting audio
            drifting = streams["drift"]["health"]
            print("drift health:", json.dumps(drifting))
            self.assertEqual(codes(streams["drift"]), ["av_drift"])
            self.assertTrue(drifting["problems"][0]["hint"].startswith("audio drifts ahead of video"))
            self.assertIn("sample rate", drifting["problems"][0]["hint"])
            self.assertAlmostEqual(drifting["av_drift_ms_per_min"], (AUDIO_STRETCH - 1) * 60000, delta=360)
            self.assertGreater(drifting["av_drift_ms"], 100)

            # (c) the healthy one
            healthy = streams["healthy"]["health"]
            print("healthy health:", json.dumps(healthy))
            self.assertEqual(healthy["problems"], [])
            self.assertEqual(healthy["status"], "ok")
            self.assertEqual(healthy["keyframe_interval_s"], 2)
            self.assertEqual(healthy["declared_frame_rate"], 15)
            self.assertAlmostEqual(healthy["measured_frame_rate"], 15, delta=0.5)
            self.assertLess(abs(healthy["av_drift_ms"]), 100)
            for field in ("timestamp_jumps", "timestamp_wraps", "dts_backwards", "long_segments",
                          "dropped_frames", "late_frames", "reconnects"):
                self.assertEqual(healthy[field], 0, field)

            # The history the operator page draws.
            history = streams["healthy"]["history"]
            self.assertEqual(history["interval_s"], 2)
            samples = history["samples"]
            self.assertGreaterEqual(len(samples), 3)
            self.assertEqual(sorted(samples[0]), ["bitrate_kbps", "frame_rate", "keyframe_interval_s", "t_ms"])
            self.assertEqual([s["t_ms"] for s in samples], sorted(s["t_ms"] for s in samples))
            self.assertAlmostEqual(samples[-1]["frame_rate"], 15, delta=2)
            self.assertGreater(samples[-1]["bitrate_kbps"], 10)

            # /metrics while live: the parser read it; counters move.
            print("--- /metrics (second scrape) ---\n" + second.text)
            self.assertEqual(second.types["livegate_rtmp_connections_accepted"], "counter")
            self.assertEqual(second.types["livegate_loop_lag_seconds"], "histogram")
            self.assertGreater(second.value("livegate_rtmp_received_bytes_total"),
                               first.value("livegate_rtmp_received_bytes_total"))
            self.assertGreater(second.value("livegate_hls_segments_total"),
                               first.value("livegate_hls_segments_total"))
            # Three publishers, the silent socket and the intruder.
            self.assertEqual(second.value("livegate_rtmp_connections_accepted_total"), 5)
            self.assertEqual(second.value("livegate_limit_violations_total", limit="rtmp.handshake_timeout_ms"), 1)
            self.assertEqual(second.value("livegate_publish_refusals_total", reason="auth_refused"), 1)
            self.assertEqual(second.value("livegate_streams_live"), 3)
            self.assertGreaterEqual(second.value("livegate_hls_long_segments_total"), 1)
            self.assertGreater(second.value("livegate_loop_lag_seconds_count"), 0)
            self.assertEqual(second.value("livegate_stream_keyframe_interval_seconds", app="live", key="gop8"), 8)
            # Rates are the query's job: counters in base units, so rate() over two scrapes gives them.
            self.assertAlmostEqual((frames1[0] - frames0[0]) / (frames1[1] - frames0[1]), 15, delta=3)
            seconds = second.at - first.at
            received = (second.value("livegate_stream_received_bytes_total", app="live", key="healthy") -
                        first.value("livegate_stream_received_bytes_total", app="live", key="healthy"))
            self.assertGreater(received * 8 / seconds, 10000)
            # The Prometheus project's own linter finds nothing to say about the page while streams are live.
            lint = subprocess.run(["promtool", "check", "metrics"], input=second.text.encode(), capture_output=True,
                                  timeout=60)
            self.assertEqual((lint.returncode, lint.stdout + lint.stderr), (0, b""), "promtool check metrics")
            self.assertGreater(second.value("livegate_stream_av_drift_seconds", app="live", key="drift"), 0.1)
            self.assertEqual(second.value("livegate_stream_problems", app="live", key="healthy"), 0)
            self.assertGreaterEqual(second.value("livegate_stream_problems", app="live", key="gop8"), 2)

            for p in procs:
                _, err = p.communicate(timeout=30)
                self.assertEqual(p.returncode, 0, err.decode(errors="replace"))
            drift.join(30)
            self.assertEqual(errors, [])

            # Forgotten streams take their series with them.
            lg.wait_for(lambda: not Scrape(lg).find("livegate_stream_received_bytes_total"),
                        RETENTION_S + harness.WAIT_S, "the per-stream series to vanish")
            lg.wait_for(lambda: Scrape(lg).value("livegate_streams_live") == 0, harness.WAIT_S,
                        "livegate_streams_live to be 0")  # a gauge, refreshed once a second
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            self.assertEqual(lg.stop(), 0)

        # Every log line is one JSON object with the four fields.
        with open(lg.log_path, encoding="utf-8") as f:
            lines = [line for line in f.read().splitlines() if line]
        self.assertGreater(len(lines), 5)
        events = [json.loads(line) for line in lines]
        for e in events:
            self.assertEqual(list(e), ["time", "level", "subject", "msg"])
        self.assertTrue(any("limit handshake_timeout_ms" in e["msg"] and e["level"] == "warn" for e in events))
        self.assertTrue(any(e["subject"] == "main" and "ready" in e["msg"] for e in events))


if __name__ == "__main__":
    harness.main()
