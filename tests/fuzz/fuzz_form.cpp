// Fuzz target: parse_form, encode_form and form_encode on a query string or callback body, and
// parse_hls_directives on a playlist URL's query.
//
// Input: the raw bytes after the '?' of a stream key. Parsing never fails; the fields it gives survive
// encoding and parsing again unchanged; the encoded form uses only the unreserved characters, '+', '%XX'
// and the separators, and is its own canonical form.
#include <string>
#include <string_view>

#include "fuzz_input.h"
#include "http/form_encoding.h"
#include "http/hls_directives.h"

using namespace livegate;

namespace {

bool allowed_in_encoding(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '*' || c == '-' ||
         c == '.' || c == '_' || c == '+' || c == '%' || c == '=' || c == '&';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const FormFields fields = parse_form(in);

  // Empty pieces are skipped: never more fields than pieces between '&'s, none longer than the input.
  size_t pieces = 1;
  for (const char c : in) pieces += c == '&';
  FUZZ_CHECK(fields.size() <= pieces);
  for (const auto& [name, value] : fields) FUZZ_CHECK(name.size() + value.size() <= size);

  const std::string encoded = encode_form(fields);
  for (const char c : encoded) FUZZ_CHECK(allowed_in_encoding(c));
  FUZZ_CHECK(parse_form(encoded) == fields);
  FUZZ_CHECK(encode_form(parse_form(encoded)) == encoded);

  // One value on its own: form_encode's output decodes back to it as a name and as a value.
  const std::string one = form_encode(in);
  const FormFields as_value = parse_form("k=" + one);
  FUZZ_CHECK(as_value.size() == 1 && as_value[0].first == "k" && as_value[0].second == in);
  if (!in.empty()) {
    const FormFields as_name = parse_form(one);
    FUZZ_CHECK(as_name.size() == 1 && as_name[0].first == in && as_name[0].second.empty());
  }

  // LL-HLS directives: an error or directives that make sense; never a part without a segment.
  const Result<HlsDirectives> d = parse_hls_directives(in);
  if (d) FUZZ_CHECK(!d->part || d->msn);
  if (!d) FUZZ_CHECK(!d.error().empty());
  return 0;
}
