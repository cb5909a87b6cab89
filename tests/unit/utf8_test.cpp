// UTF-8 repair and log escaping: valid text passes unchanged, every ill-formed class becomes U+FFFD per
// maximal subpart (the expected strings are what Python's bytes.decode('utf-8', 'replace') gives), and a
// log field can neither end its line nor carry a control byte.
#include "common/utf8.h"

#include <doctest/doctest.h>

#include <string>

using namespace livegate;

#define FFFD "\xef\xbf\xbd"  // U+FFFD in UTF-8, to splice into literals

TEST_CASE("utf8: valid text, from one to four bytes per code point, is valid and comes back unchanged") {
  const char* valid[] = {
      "",
      "plain ascii \t with a tab",
      "caf\xc3\xa9",                       // U+00E9
      "\xc2\x80\xdf\xbf",                  // U+0080, U+07FF: the two-byte bounds
      "\xe0\xa0\x80\xe2\x82\xac",          // U+0800, U+20AC
      "\xed\x9f\xbf\xee\x80\x80",          // U+D7FF, U+E000: either side of the surrogates
      "\xef\xbf\xbd\xef\xbf\xbf",          // U+FFFD, U+FFFF
      "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",  // U+10000, U+10FFFF
      "\xf0\x9f\x8e\xa5 live",             // U+1F3A5
  };
  for (const char* s : valid) {
    CAPTURE(s);
    CHECK(is_valid_utf8(s));
    CHECK(valid_utf8(s) == s);
  }
  // An embedded NUL is a valid code point, not the end of the text.
  const std::string with_nul("a\0b", 3);
  CHECK(is_valid_utf8(with_nul));
  CHECK(valid_utf8(with_nul) == with_nul);
}

TEST_CASE("utf8: each ill-formed class is replaced by U+FFFD per maximal subpart, as Python decodes it") {
  struct Case {
    const char* what;
    std::string in;
    std::string out;
  };
  const Case cases[] = {
      {"overlong 2-byte NUL", "\xc0\x80", FFFD FFFD},
      {"overlong C1", "\xc1\xbf", FFFD FFFD},
      {"overlong 3-byte", "\xe0\x80\x80", FFFD FFFD FFFD},
      {"overlong 4-byte", "\xf0\x80\x80\x80", FFFD FFFD FFFD FFFD},
      {"surrogate U+D800", "\xed\xa0\x80", FFFD FFFD FFFD},
      {"above U+10FFFF", "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD},
      {"F5 lead", "\xf5", FFFD},
      {"FF lead", "\xff", FFFD},
      {"FE FE FF FF", "\xfe\xfe\xff\xff", FFFD FFFD FFFD FFFD},
      {"old 5-byte form", "\xf8\x88\x80\x80\x80", FFFD FFFD FFFD FFFD FFFD},
      {"stray continuation", "\x80", FFFD},
      {"two stray continuations", "\xbf\xbf", FFFD FFFD},
      {"truncated 3-byte at the end", "a\xe2\x82", "a" FFFD},
      {"truncated 3-byte before ASCII",
       "\xe2\x82"
       "a",
       FFFD "a"},
      {"truncated 3-byte before a whole one", "\xe2\x82\xe2\x82\xac", FFFD "\xe2\x82\xac"},
      {"truncated E0 A0 at the end", "\xe0\xa0", FFFD},
      {"truncated 4-byte at the end", "\xf0\x90\x80", FFFD},
      {"truncated 4-byte before ASCII",
       "\xf0\x90\x80"
       "a",
       FFFD "a"},
      {"truncated F4 8F BF at the end", "\xf4\x8f\xbf", FFFD},
      {"C2 before ASCII",
       "\xc2"
       "a",
       FFFD "a"},
      {"C2 at the end", "x\xc2", "x" FFFD},
      // Unicode 15 table 3-8's example.
      {"table 3-8", "\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64",
       "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d"},
      {"valid around invalid",
       "caf\xc3\xa9\xff"
       "caf\xc3\xa9",
       "caf\xc3\xa9" FFFD "caf\xc3\xa9"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    CHECK_FALSE(is_valid_utf8(c.in));
    const std::string got = valid_utf8(c.in);
    CHECK(got == c.out);
    CHECK(is_valid_utf8(got));
  }
}

TEST_CASE("utf8: escape_for_log writes control bytes as \\xNN and doubles the backslash") {
  CHECK(escape_for_log("\n") == "\\x0a");
  CHECK(escape_for_log("\r") == "\\x0d");
  CHECK(escape_for_log(std::string("\0", 1)) == "\\x00");
  CHECK(escape_for_log("\x7f") == "\\x7f");
  CHECK(escape_for_log("\x1b[2J") == "\\x1b[2J");
  CHECK(escape_for_log("\t\x1f") == "\\x09\\x1f");
  CHECK(escape_for_log("a\\b") == "a\\\\b");
  CHECK(escape_for_log("\\x0a") == "\\\\x0a");  // an escape sent by the client cannot pass for ours
  CHECK(escape_for_log("plain text ~!") == "plain text ~!");
  CHECK(escape_for_log("caf\xc3\xa9 \xf0\x9f\x8e\xa5 \xc2\x80") == "caf\xc3\xa9 \xf0\x9f\x8e\xa5 \xc2\x80");
  CHECK(escape_for_log("bad \xff\xc0\x80") == "bad " FFFD FFFD FFFD);
  CHECK(escape_for_log("") == "");
}

TEST_CASE("utf8: a forged log line stays on the one line it was given") {
  const std::string forged = "key\n2026-01-01T00:00:00.000Z error [main] forged";
  const std::string out = escape_for_log(forged);
  CHECK(out == "key\\x0a2026-01-01T00:00:00.000Z error [main] forged");
  CHECK(out.find('\n') == std::string::npos);
  CHECK(out.find('\r') == std::string::npos);
  const std::string with_cr = escape_for_log("key\r\n2026-01-01T00:00:00.000Z info [main] ok\xc0");
  CHECK(with_cr == "key\\x0d\\x0a2026-01-01T00:00:00.000Z info [main] ok" FFFD);
}

#undef FFFD
