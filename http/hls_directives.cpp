// Parsing of the LL-HLS delivery directives.
#include "http/hls_directives.h"

#include <charconv>

#include "http/form_encoding.h"

namespace livegate {
namespace {

// `field` = the decimal number `value`, once: an error if it is given twice or is not a number.
template <class T>
Status set_once(std::optional<T>& field, const std::string& name, const std::string& value) {
  if (field) return Error{name + " given twice"};
  T v{};
  const char* end = value.data() + value.size();
  const bool digits = !value.empty() && value.size() <= 20 && value.front() != '+' && value.front() != '-';
  const auto [stop, ec] = std::from_chars(value.data(), end, v);
  if (!digits || ec != std::errc() || stop != end) return Error{name + " must be a decimal number"};
  field = v;
  return {};
}

}  // namespace

Result<HlsDirectives> parse_hls_directives(std::string_view query) {
  HlsDirectives d;
  for (const auto& [name, value] : parse_form(query)) {
    if (name == "_HLS_msn") {
      if (Status s = set_once(d.msn, name, value); !s) return Error{s.error()};
    } else if (name == "_HLS_part") {
      if (Status s = set_once(d.part, name, value); !s) return Error{s.error()};
    } else if (name == "_HLS_skip") {
      d.skip = d.skip || value == "YES" || value == "v2";
    }
  }
  if (d.part && !d.msn) return Error{"_HLS_part needs _HLS_msn"};
  return d;
}

}  // namespace livegate
