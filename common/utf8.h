// Client bytes made safe to show: valid UTF-8 (for JSON and logs) and, for log lines, no control bytes.
#pragma once

#include <string>
#include <string_view>

namespace livegate {

// `bytes` with every ill-formed UTF-8 sequence replaced by U+FFFD, one per maximal ill-formed subpart
// (Unicode 15, 3.9 "U+FFFD Substitution of Maximal Subparts", as browsers decode): overlong forms,
// surrogates, code points above U+10FFFF and truncated sequences included. Valid input comes back unchanged.
std::string valid_utf8(std::string_view bytes);

bool is_valid_utf8(std::string_view bytes) noexcept;

// For one log line: valid_utf8, then control characters (U+0000-U+001F, U+007F) written as \xNN and
// the backslash as \\, so no client string can end a line early or forge one.
std::string escape_for_log(std::string_view text);

}  // namespace livegate
