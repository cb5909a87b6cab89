// Tests for SegmentWindow: what is listed, what stays fetchable, what is freed.
#include "segmenter/segment_window.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace livegate;

namespace {

constexpr size_t kSegBytes = 1000;

Segment seg(uint64_t seq, bool disc = false) {
  Segment s;
  s.seq = seq;
  s.duration_s = 2.0;
  s.discontinuity = disc;
  s.uri = "s3f9a2c-" + std::to_string(seq) + ".ts";
  s.bytes = std::make_shared<const std::vector<uint8_t>>(kSegBytes, uint8_t{0x47});
  return s;
}

std::string uri(uint64_t seq) { return "s3f9a2c-" + std::to_string(seq) + ".ts"; }

}  // namespace

TEST_CASE("segment window: empty window lists nothing and finds nothing") {
  SegmentWindow w(6, 6);
  CHECK(w.listed().empty());
  CHECK(w.size() == 0);
  CHECK(w.bytes_held() == 0);
  CHECK(w.media_sequence() == 0);
  CHECK(w.discontinuity_sequence() == 0);
  CHECK(w.find(uri(0)) == nullptr);
}

TEST_CASE("segment window: twenty pushes keep six listed and six in grace") {
  SegmentWindow w(6, 6);
  for (uint64_t i = 1; i <= 20; ++i) REQUIRE(w.push(seg(i)));

  const auto listed = w.listed();
  REQUIRE(listed.size() == 6);
  for (size_t i = 0; i < listed.size(); ++i) CHECK(listed[i].seq == 15 + i);
  CHECK(w.media_sequence() == 15);

  for (uint64_t i = 9; i <= 20; ++i) {
    CAPTURE(i);
    const Segment* s = w.find(uri(i));
    REQUIRE(s != nullptr);
    CHECK(s->seq == i);
  }
  CHECK(w.find(uri(8)) == nullptr);
  CHECK(w.find(uri(1)) == nullptr);
  CHECK(w.find(uri(21)) == nullptr);
  CHECK(w.find("") == nullptr);

  CHECK(w.size() == 12);
  CHECK(w.bytes_held() == 12 * kSegBytes);
}

TEST_CASE("segment window: a dropped segment's bytes are released, a listed one's are shared") {
  SegmentWindow w(2, 1);
  Segment first = seg(0);
  std::weak_ptr<const std::vector<uint8_t>> first_bytes = first.bytes;
  REQUIRE(w.push(std::move(first)));
  REQUIRE(w.push(seg(1)));
  REQUIRE(w.push(seg(2)));  // 0 moves to grace
  CHECK(!first_bytes.expired());
  CHECK(w.find(uri(0)) != nullptr);
  REQUIRE(w.push(seg(3)));  // grace holds 1; 0 is dropped
  CHECK(first_bytes.expired());
  CHECK(w.find(uri(0)) == nullptr);
  CHECK(w.size() == 3);
}

TEST_CASE("segment window: the first push fixes the start, then seq must be previous + 1") {
  SegmentWindow w(6, 6);
  CHECK(w.push(seg(100)));
  CHECK(w.media_sequence() == 100);
  CHECK_FALSE(w.push(seg(100)));  // repeat
  CHECK_FALSE(w.push(seg(102)));  // gap
  CHECK_FALSE(w.push(seg(99)));   // step back
  CHECK(w.size() == 1);
  CHECK(w.push(seg(101)));
  CHECK(w.listed().back().seq == 101);
}

TEST_CASE("segment window: discontinuity sequence counts flagged segments leaving the listed window") {
  SegmentWindow w(3, 3);
  REQUIRE(w.push(seg(0, true)));
  REQUIRE(w.push(seg(1)));
  REQUIRE(w.push(seg(2, true)));
  CHECK(w.discontinuity_sequence() == 0);
  REQUIRE(w.push(seg(3)));  // 0 (flagged) leaves
  CHECK(w.discontinuity_sequence() == 1);
  REQUIRE(w.push(seg(4)));  // 1 leaves
  CHECK(w.discontinuity_sequence() == 1);
  REQUIRE(w.push(seg(5)));  // 2 (flagged) leaves
  CHECK(w.discontinuity_sequence() == 2);
  for (uint64_t i = 6; i < 20; ++i) REQUIRE(w.push(seg(i)));
  CHECK(w.discontinuity_sequence() == 2);  // dropping from grace does not count twice
  CHECK(w.media_sequence() == 17);
}

TEST_CASE("segment window: clear frees everything and the sequences continue") {
  SegmentWindow w(6, 6);
  std::weak_ptr<const std::vector<uint8_t>> held;
  for (uint64_t i = 1; i <= 20; ++i) {
    Segment s = seg(i, i == 18);
    if (i == 20) held = s.bytes;
    REQUIRE(w.push(std::move(s)));
  }
  w.clear();
  CHECK(held.expired());
  CHECK(w.size() == 0);
  CHECK(w.bytes_held() == 0);
  CHECK(w.listed().empty());
  CHECK(w.find(uri(20)) == nullptr);
  // A playlist that continues after clear() must not go back (RFC 8216 6.2.1).
  CHECK(w.media_sequence() == 21);
  CHECK(w.discontinuity_sequence() == 1);  // the listed discontinuity on 18 counts as removed
  CHECK_FALSE(w.push(seg(1)));
  CHECK(w.push(seg(21, true)));
  CHECK(w.media_sequence() == 21);
}

TEST_CASE("segment window: a window of zero is raised to one") {
  SegmentWindow w(0, 0);
  REQUIRE(w.push(seg(0)));
  REQUIRE(w.push(seg(1)));
  REQUIRE(w.listed().size() == 1);
  CHECK(w.listed().front().seq == 1);
  CHECK(w.size() == 1);
}
