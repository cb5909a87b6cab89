// application/x-www-form-urlencoded (WHATWG URL, "application/x-www-form-urlencoded"): the body of the
// publish callbacks, and the query string a publisher appends to its stream key. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace livegate {

using FormFields = std::vector<std::pair<std::string, std::string>>;

// Every byte but ALPHA / DIGIT / "*-._" percent-encoded, space as "+": no value can add or end a field.
std::string form_encode(std::string_view value);

// "a=1&b=2" -> {a,1},{b,2}: split at '&', then at the first '='; '+' is a space and %XX a byte; a '%'
// not followed by two hex digits stays as it is. Empty pieces ("a&&b") are skipped; a name without '='
// has an empty value. Bytes come back as sent, not necessarily UTF-8.
FormFields parse_form(std::string_view text);

// name=value pairs joined with '&', each side form_encode'd.
std::string encode_form(const FormFields& fields);

}  // namespace livegate
