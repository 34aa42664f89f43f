// Helpers for the codec tests: payloads written as hex, decimals written as text.
#ifndef DATABRIDGE_PROTOCOL_TEST_UTIL_H_
#define DATABRIDGE_PROTOCOL_TEST_UTIL_H_

#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "core/decimal.h"

namespace dbkv::protocol::testing {

// "93 a3 47" -> the bytes 0x93 0xa3 0x47. Spaces are ignored.
inline std::string Hex(std::string_view hex) {
  std::string out;
  int hi = -1;
  for (char c : hex) {
    if (c == ' ') continue;
    const int nibble = (c >= '0' && c <= '9') ? c - '0' : (c | 0x20) - 'a' + 10;
    if (hi < 0) {
      hi = nibble;
    } else {
      out.push_back(static_cast<char>(hi << 4 | nibble));
      hi = -1;
    }
  }
  return out;
}

// The Decimal written as text; fails the test if it does not parse.
inline Decimal D(std::string_view text) {
  auto d = Decimal::Parse(text);
  REQUIRE(d.ok());
  return *d;
}

}  // namespace dbkv::protocol::testing

#endif  // DATABRIDGE_PROTOCOL_TEST_UTIL_H_
