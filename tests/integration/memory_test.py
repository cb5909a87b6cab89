"""Memory is bounded and returns: 50 streams start, produce segments and end; once their retention
has passed livegate holds no segment bytes, and a second round of 50 does not grow its RSS."""
import time
import unittest

import harness

ROUNDS, STREAMS_PER_ROUND, PARALLEL = 2, 25, 5


class Memory(unittest.TestCase):
    def test_streams_start_and_end_without_growth(self):
        media = harness.test_media(5, 640, 360, 30, gop_s=1)
        lg = harness.Livegate(config={"hls": {"retention_s": 3}})
        try:
            baseline = harness.rss_kib(lg.proc.pid)
            after = []
            n = 0
            seen_held = 0  # a lower bound of the segment bytes the streams produced
            for _ in range(ROUNDS):
                for _ in range(STREAMS_PER_ROUND // PARALLEL):
                    procs = [harness.ffmpeg_publish(media, lg.rtmp_url(f"m{n + i}"), realtime=False)
                             for i in range(PARALLEL)]
                    n += PARALLEL
                    for p in procs:
                        _, err = p.communicate(timeout=60)
                        self.assertEqual(p.returncode, 0, err.decode(errors="replace"))
                    # Ended streams keep their segments for the retention time: the counter sees them.
                    # (a gauge, refreshed once a second; the streams are held for retention_s after they end)
                    seen_held += lg.wait_metric("livegate_hls_bytes_held", lambda v: v > 0)
                lg.wait_metric("livegate_hls_streams", lambda v: v == 0, timeout=60)  # ended streams freed
                lg.wait_metric("livegate_hls_bytes_held", lambda v: v == 0)
                after.append(harness.rss_kib(lg.proc.pid))
            print(f"\nRSS KiB: baseline {baseline}, after each round of {STREAMS_PER_ROUND} streams: {after}; "
                  f"segment bytes seen held: {seen_held}")
            self.assertEqual(n, ROUNDS * STREAMS_PER_ROUND)
            # The exact check is the counter above. RSS only bounds it from outside: the allocator keeps
            # some freed pages (a few MiB, varying run to run), but keeping the segments would cost at
            # least what we saw held.
            if not harness.sanitized():
                self.assertLess((after[-1] - baseline) * 1024, seen_held / 2, "RSS kept the segments")
        finally:
            self.assertEqual(lg.stop(), 0)


if __name__ == "__main__":
    harness.main()
