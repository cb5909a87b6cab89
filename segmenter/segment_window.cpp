// Which segments a live playlist lists, and which stay fetchable for a while after leaving it.
#include "segmenter/segment_window.h"

#include <algorithm>
#include <utility>

namespace livegate {

SegmentWindow::SegmentWindow(size_t window, size_t grace)
    : window_(std::max<size_t>(window, 1)), grace_(grace) {
  segs_.reserve(window_ + grace_ + 1);
}

bool SegmentWindow::push(Segment s) {
  if (started_ && s.seq != next_seq_) return false;
  started_ = true;
  next_seq_ = s.seq + 1;
  segs_.push_back(std::move(s));
  // The segment that just left the listed window takes its discontinuity with it (4.3.3.3).
  if (segs_.size() > window_ && segs_[segs_.size() - window_ - 1].discontinuity) ++disc_seq_;
  if (segs_.size() > window_ + grace_) segs_.erase(segs_.begin());
  return true;
}

std::span<const Segment> SegmentWindow::listed() const {
  const size_t n = std::min(segs_.size(), window_);
  return std::span<const Segment>(segs_).last(n);
}

const Segment* SegmentWindow::find(std::string_view uri) const {
  // Newest first: players mostly ask for the live edge. A linear scan over window + grace entries
  // beats hashing for a dozen short strings.
  for (auto it = segs_.rbegin(); it != segs_.rend(); ++it) {
    if (it->uri == uri) return &*it;
  }
  return nullptr;
}

uint64_t SegmentWindow::media_sequence() const {
  const auto l = listed();
  return l.empty() ? next_seq_ : l.front().seq;
}

uint64_t SegmentWindow::discontinuity_sequence() const { return disc_seq_; }

size_t SegmentWindow::bytes_held() const {
  size_t n = 0;
  for (const Segment& s : segs_) n += s.bytes ? s.bytes->size() : 0;
  return n;
}

size_t SegmentWindow::size() const { return segs_.size(); }

void SegmentWindow::clear() {
  for (const Segment& s : listed()) disc_seq_ += s.discontinuity ? 1 : 0;
  // swap, not clear(): clear() keeps the capacity, and freeing memory is the point.
  std::vector<Segment>().swap(segs_);
}

}  // namespace livegate
