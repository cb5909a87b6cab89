// Fuzz target: valid_utf8, is_valid_utf8 and escape_for_log on client bytes.
//
// Input: the raw bytes, as a client sends them in a stream key, a tcUrl or a header. The repaired text is
// always valid and repairing it again changes nothing; valid input comes back unchanged; the log form has
// no control byte, is valid UTF-8, and unescapes to exactly the repaired text (nothing lost or forged).
#include <string>
#include <string_view>

#include "common/utf8.h"
#include "fuzz_input.h"

using namespace livegate;

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // escape_for_log writes lower-case digits only
}

// The inverse of escape_for_log's escaping: "\\\\" -> '\\', "\\xNN" -> the byte. Anything else after a
// backslash is a broken escape: aborts.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    FUZZ_CHECK(i + 1 < s.size());
    if (s[i + 1] == '\\') {
      out += '\\';
      i += 1;
      continue;
    }
    FUZZ_CHECK(s[i + 1] == 'x' && i + 3 < s.size());
    const int hi = hex(s[i + 2]), lo = hex(s[i + 3]);
    FUZZ_CHECK(hi >= 0 && lo >= 0);
    const auto byte = static_cast<unsigned char>(hi << 4 | lo);
    FUZZ_CHECK(byte < 0x20 || byte == 0x7f);  // only control bytes are escaped
    out += static_cast<char>(byte);
    i += 3;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool valid = is_valid_utf8(in);

  const std::string repaired = valid_utf8(in);
  FUZZ_CHECK(is_valid_utf8(repaired));
  FUZZ_CHECK(valid_utf8(repaired) == repaired);
  if (valid) {
    FUZZ_CHECK(repaired == in);
  } else {
    FUZZ_CHECK(repaired.find("\xef\xbf\xbd") != std::string::npos);
  }
  // One U+FFFD (3 bytes) per ill-formed subpart of at least one byte: at most three times as long.
  FUZZ_CHECK(repaired.size() <= 3 * size);

  const std::string logged = escape_for_log(in);
  FUZZ_CHECK(is_valid_utf8(logged));
  for (const char c : logged) {
    const auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u >= 0x20 && u != 0x7f);
  }
  FUZZ_CHECK(unescape(logged) == repaired);
  return 0;
}
