// ASCII case for command names, keywords and metric labels: abseil's (absl/strings/ascii.h and
// match.h), for std::string_view (Debian's abseil has a string_view type of its own).
#ifndef DATABRIDGE_CORE_ASCII_H_
#define DATABRIDGE_CORE_ASCII_H_

#include <absl/strings/ascii.h>
#include <absl/strings/match.h>

#include <string>
#include <string_view>

namespace dbkv {

inline absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(AbslView(a), AbslView(b));
}

inline std::string AsciiLower(std::string_view s) { return absl::AsciiStrToLower(AbslView(s)); }

inline std::string AsciiUpper(std::string_view s) { return absl::AsciiStrToUpper(AbslView(s)); }

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_ASCII_H_
