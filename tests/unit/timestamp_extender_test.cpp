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
