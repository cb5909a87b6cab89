#include "ingest/timestamp_extender.h"

#include <doctest/doctest.h>

using namespace livegate;

TEST_CASE("timestamp extender: passes ordinary timestamps through") {
  TimestampExtender x;
  CHECK(x.extend(0) == 0);
  CHECK(x.extend(33) == 33);
  CHECK(x.extend(1000) == 1000);
}

TEST_CASE("timestamp extender: continues past the 32-bit wrap at 2^32 ms") {
  TimestampExtender x;
  CHECK(x.extend(0xFFFFFF00u) == 0xFFFFFF00ll);
  CHECK(x.extend(0xFFFFFFF0u) == 0xFFFFFFF0ll);
  CHECK(x.extend(0x00000010u) == 0x100000010ll);
  CHECK(x.extend(0x00000100u) == 0x100000100ll);
}

TEST_CASE("timestamp extender: a step back stays a step back, also across the wrap") {
  TimestampExtender x;
  CHECK(x.extend(5000) == 5000);
  CHECK(x.extend(4000) == 4000);
  TimestampExtender y;
  CHECK(y.extend(0x00000010u) == 0x10);
  CHECK(y.extend(0xFFFFFFF0u) == -0x10);  // just before the wrap: behind, not 49 days ahead
}

TEST_CASE("timestamp extender: ffmpeg's 31-bit clock (top byte masked with 0x7F) continues past 2^31 ms") {
  TimestampExtender x;  // default tolerance: 10 s
  const RtmpMs w = 0x80000000u;
  CHECK(x.extend(w - 40) == int64_t{w} - 40);
  CHECK(x.extend(w - 7) == int64_t{w} - 7);
  CHECK(x.wraps() == 0);
  CHECK(x.extend(26) == int64_t{w} + 26);  // the masked clock restarts at 0: one frame later
  CHECK(x.wraps() == 1);
  CHECK(x.extend(59) == int64_t{w} + 59);
  CHECK(x.extend(40) == int64_t{w} + 40);  // jitter back after the wrap stays a small step back
  // A second 31-bit wrap (4294967296 ms on a clock that started near 2^31) continues the same way.
  CHECK(x.extend(w - 20) == 2 * int64_t{w} - 20);
  CHECK(x.extend(13) == 2 * int64_t{w} + 13);
  CHECK(x.wraps() == 2);
}

TEST_CASE("timestamp extender: the 31-bit wrap tolerance tells a wrap from a step back") {
  const RtmpMs w = 0x80000000u;
  TimestampExtender x(1000);
  CHECK(x.extend(w - 500) == int64_t{w} - 500);
  CHECK(x.extend(400) == int64_t{w} + 400);  // 900 ms forward across the wrap: within 1000
  CHECK(x.wraps() == 1);
  TimestampExtender y(1000);
  CHECK(y.extend(w - 500) == int64_t{w} - 500);
  CHECK(y.extend(600) == 600);  // 1100 ms across it: outside the tolerance, a step back (an encoder reset)
  CHECK(y.wraps() == 0);
  TimestampExtender z(1000);
  CHECK(z.extend(5000000) == 5000000);
  CHECK(z.extend(0) == 0);  // an ordinary reset to 0 far from 2^31: a step back, for the segmenter to judge
  CHECK(z.wraps() == 0);
}

TEST_CASE("timestamp extender: the 32-bit wrap is counted") {
  TimestampExtender x;
  x.extend(0xFFFFFFF0u);
  CHECK(x.wraps() == 0);
  CHECK(x.extend(0x10u) == 0x100000010ll);
  CHECK(x.wraps() == 1);
}
