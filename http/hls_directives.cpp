// Parsing of the LL-HLS delivery directives.
#include "http/hls_directives.h"

#include <charconv>

#include "http/form_encoding.h"

namespace livegate {
namespace {

template <class T>
std::optional<T> decimal(const std::string& s) {
  T v{};
  if (s.empty() || s.size() > 20 || s.front() == '+' || s.front() == '-') return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

Result<HlsDirectives> parse_hls_directives(std::string_view query) {
  HlsDirectives d;
  for (const auto& [name, value] : parse_form(query)) {
    if (name == "_HLS_msn" || name == "_HLS_part") {
      const bool is_msn = name == "_HLS_msn";
      if (is_msn ? d.msn.has_value() : d.part.has_value()) return Error{name + " given twice"};
      if (is_msn) {
        d.msn = decimal<uint64_t>(value);
        if (!d.msn) return Error{"_HLS_msn must be a decimal number"};
      } else {
        d.part = decimal<uint32_t>(value);
        if (!d.part) return Error{"_HLS_part must be a decimal number"};
      }
    } else if (name == "_HLS_skip") {
      d.skip = d.skip || value == "YES" || value == "v2";
    }
  }
  if (d.part && !d.msn) return Error{"_HLS_part needs _HLS_msn"};
  return d;
}

}  // namespace livegate
