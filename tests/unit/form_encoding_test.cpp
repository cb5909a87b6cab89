// application/x-www-form-urlencoded: what each byte encodes to, how a query string splits and decodes
// (malformed escapes included), and that fields full of separators and arbitrary bytes survive a round trip.
#include "http/form_encoding.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

using namespace livegate;

// Failures print the fields, bytes outside printable ASCII as \xNN.
template <>
struct doctest::StringMaker<FormFields> {
  static doctest::String convert(const FormFields& fields) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "{";
    const auto quote = [&out](const std::string& s) {
      out += '"';
      for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
          out += "\\x";
          out += kHex[u >> 4];
          out += kHex[u & 0xF];
        } else {
          out += c;
        }
      }
      out += '"';
    };
    for (const auto& [name, value] : fields) {
      if (out.size() > 1) out += ", ";
      out += '{';
      quote(name);
      out += ", ";
      quote(value);
      out += '}';
    }
    out += '}';
    return out.c_str();
  }
};

TEST_CASE("form: form_encode keeps ALPHA / DIGIT / *-._, writes space as + and percent-encodes the rest") {
  CHECK(form_encode("") == "");
  CHECK(form_encode("AZaz09*-._") == "AZaz09*-._");
  CHECK(form_encode("?") == "%3F");
  CHECK(form_encode("&") == "%26");
  CHECK(form_encode("=") == "%3D");
  CHECK(form_encode("%") == "%25");
  CHECK(form_encode("+") == "%2B");
  CHECK(form_encode(" ") == "+");
  CHECK(form_encode("? & = % + space") == "%3F+%26+%3D+%25+%2B+space");
  CHECK(form_encode("caf\xc3\xa9") == "caf%C3%A9");
  CHECK(form_encode("\xff") == "%FF");
  CHECK(form_encode(std::string("\0\n", 2)) == "%00%0A");
  CHECK(form_encode("~/#:@!'()") == "%7E%2F%23%3A%40%21%27%28%29");
  CHECK(form_encode("rtmp://h/live?x=1") == "rtmp%3A%2F%2Fh%2Flive%3Fx%3D1");
}

TEST_CASE("form: parse_form splits at & and then at the first =") {
  CHECK(parse_form("a=1&b=2") == FormFields{{"a", "1"}, {"b", "2"}});
  CHECK(parse_form("") == FormFields{});
  CHECK(parse_form("&&a") == FormFields{{"a", ""}});
  CHECK(parse_form("a&&b&") == FormFields{{"a", ""}, {"b", ""}});
  CHECK(parse_form("a") == FormFields{{"a", ""}});
  CHECK(parse_form("a=") == FormFields{{"a", ""}});
  CHECK(parse_form("a=b=c") == FormFields{{"a", "b=c"}});
  CHECK(parse_form("=v") == FormFields{{"", "v"}});
  CHECK(parse_form("=") == FormFields{{"", ""}});
  CHECK(parse_form("a=1&a=2") == FormFields{{"a", "1"}, {"a", "2"}});  // repeats kept, in order
  CHECK(parse_form("x=?y") == FormFields{{"x", "?y"}});
}

TEST_CASE("form: + is a space, %XX a byte, and a % without two hex digits stays as it is") {
  CHECK(parse_form("+%41%zz%4") == FormFields{{" A%zz%4", ""}});
  CHECK(parse_form("k=+%41%zz%4") == FormFields{{"k", " A%zz%4"}});
  CHECK(parse_form("%4") == FormFields{{"%4", ""}});
  CHECK(parse_form("%") == FormFields{{"%", ""}});
  CHECK(parse_form("%%41") == FormFields{{"%A", ""}});
  CHECK(parse_form("%4g%g4") == FormFields{{"%4g%g4", ""}});
  CHECK(parse_form("%2B=%20") == FormFields{{"+", " "}});
  CHECK(parse_form("a%26b=c%3Dd") == FormFields{{"a&b", "c=d"}});  // decoded after the split
  CHECK(parse_form("%41%42") == FormFields{{"AB", ""}});
}

TEST_CASE("form: percent-decoding gives back non-ASCII and non-UTF-8 bytes as sent") {
  CHECK(parse_form("caf%C3%A9=%FF") == FormFields{{"caf\xc3\xa9", "\xff"}});
  CHECK(parse_form("caf%c3%a9=%fe%80") == FormFields{{"caf\xc3\xa9", "\xfe\x80"}});  // lower-case hex
  CHECK(parse_form("n=%00%0A") == FormFields{{"n", std::string("\0\n", 2)}});
  CHECK(parse_form("\xff=\xc3\xa9") == FormFields{{"\xff", "\xc3\xa9"}});  // raw bytes pass through
}

TEST_CASE("form: encode_form joins the encoded pairs with &") {
  CHECK(encode_form({}) == "");
  CHECK(encode_form({{"a", "1"}, {"b", "2"}}) == "a=1&b=2");
  CHECK(encode_form({{"a b", "c&d"}, {"", ""}, {"k", ""}}) == "a+b=c%26d&=&k=");
}

TEST_CASE("form: parse_form(encode_form(fields)) gives the fields back, separators and bytes included") {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  const FormFields fields{
      {"call", "publish"},
      {"?&=%+", "=&?%+ "},
      {"a=b", "c&d=e"},
      {"%41%zz%", "+++"},
      {"caf\xc3\xa9", "\xff\xfe\x80"},
      {"", ""},
      {"", "only a value"},
      {"only a name", ""},
      {every_byte, every_byte},
      {"dup", "1"},
      {"dup", "2"},
  };
  const std::string encoded = encode_form(fields);
  CHECK(parse_form(encoded) == fields);
  // Every byte that could end or split a field is encoded, so nothing but the pairs' own separators show.
  CHECK(encoded.find_first_of(" ?") == std::string::npos);
  CHECK(std::all_of(encoded.begin(), encoded.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x80; }));
  const auto amps = static_cast<size_t>(std::count(encoded.begin(), encoded.end(), '&'));
  CHECK(amps == fields.size() - 1);
}
