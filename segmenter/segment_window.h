// Which segments a live playlist lists, and which stay fetchable for a while after leaving it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "segmenter/segment.h"

namespace livegate {

// The last `window` pushed segments are listed; the `grace` segments before them are no longer
// listed but still served, because a player (or CDN) may have fetched a playlist that lists them
// just before they slid out (RFC 8216 6.2.2). With segments of equal length, 6.2.2's "segment
// duration plus playlist duration" needs grace >= window + 1.
//
// Not thread-safe: one owner mutates it; readers on other threads copy Segments (cheap, shared
// bytes) under the owner's lock.
class SegmentWindow {
 public:
  // window < 1 is raised to 1: a live playlist with nothing listed never advances a player.
  SegmentWindow(size_t window, size_t grace);

  // The first push (ever) fixes the starting seq. After that seq must be previous + 1, also across
  // clear(), because the media sequence of a playlist only grows (RFC 8216 6.2.1); any other seq is
  // ignored and push returns false, so a caller bug cannot make the playlist jump or repeat.
  bool push(Segment s);

  std::span<const Segment> listed() const;                // the last `window` segments, oldest first
  std::span<const Segment> all() const { return segs_; }  // grace then listed: everything fetchable
  const Segment* find(std::string_view uri) const;        // listed or in grace; nullptr otherwise
  uint64_t media_sequence() const;                        // seq of listed().front(), or the next seq if empty
  uint64_t discontinuity_sequence() const;                // flagged segments slid out (RFC 8216 4.3.3.3)
  size_t bytes_held() const;                              // sum of segment bytes, listed + grace
  size_t size() const;                                    // listed + grace
  // Drops every segment to free memory. Sequence counters survive so a playlist that continues
  // afterwards stays valid: listed discontinuities count as removed.
  void clear();

 private:
  // One contiguous run, grace first then listed, so listed() can be a span. A vector, not a deque
  // (deque storage is not contiguous); erasing its front moves at most window + grace small
  // elements, which costs nothing next to building a segment.
  std::vector<Segment> segs_;
  size_t window_;
  size_t grace_;
  uint64_t next_seq_ = 0;
  bool started_ = false;
  uint64_t disc_seq_ = 0;
};

}  // namespace livegate
