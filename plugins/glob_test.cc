// Glob patterns as Redis matches them (KEYS, SCAN MATCH, CONFIG GET).
#include "plugins/glob.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

namespace dbkv {
namespace {

TEST_CASE("glob patterns: stars, question marks, classes, escapes", "[glob]") {
  CHECK(GlobMatch("*", ""));
  CHECK(GlobMatch("*", "anything"));
  CHECK(GlobMatch("", ""));
  CHECK_FALSE(GlobMatch("", "a"));
  CHECK(GlobMatch("h?llo", "hello"));
  CHECK_FALSE(GlobMatch("h?llo", "hllo"));
  CHECK(GlobMatch("h*llo", "hllo"));
  CHECK(GlobMatch("h*llo", "heeeello"));
  CHECK(GlobMatch("user:*:cart", "user:42:cart"));
  CHECK_FALSE(GlobMatch("user:*:cart", "user:42:lock"));
  CHECK(GlobMatch("h[ae]llo", "hallo"));
  CHECK_FALSE(GlobMatch("h[ae]llo", "hillo"));
  CHECK(GlobMatch("h[^e]llo", "hallo"));
  CHECK_FALSE(GlobMatch("h[^e]llo", "hello"));
  CHECK(GlobMatch("h[a-c]llo", "hbllo"));
  CHECK(GlobMatch("h[c-a]llo", "hbllo"));  // a reversed range is the same range
  CHECK_FALSE(GlobMatch("h[a-c]llo", "hdllo"));
  CHECK(GlobMatch("h\\*llo", "h*llo"));
  CHECK_FALSE(GlobMatch("h\\*llo", "hello"));
  CHECK(GlobMatch("[\\]]", "]"));
  CHECK(GlobMatch("a\\", "a\\"));  // a trailing backslash is itself
  CHECK(GlobMatch("[abc", "b"));   // an unterminated class runs to the end
  CHECK(GlobMatch("**a**", "xxa"));
  CHECK(GlobMatch("a*b*c", "aXXbYYbZZc"));
  CHECK_FALSE(GlobMatch("a*b*c", "aXXbYYbZZ"));
  CHECK(GlobMatch(std::string("k\0*", 3), std::string("k\0v", 3)));
}

TEST_CASE("glob patterns ignore case on request", "[glob]") {
  CHECK_FALSE(GlobMatch("SAVE", "save"));
  CHECK(GlobMatch("SAVE", "save", true));
  CHECK(GlobMatch("max*", "MAXMEMORY", true));
  CHECK(GlobMatch("[A-C]x", "bx", true));
}

TEST_CASE("a pattern of many stars does not take exponential time", "[glob]") {
  const std::string text(20000, 'a');
  std::string pattern;
  for (int i = 0; i < 30; ++i) pattern += "a*";
  pattern += "b";
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(GlobMatch(pattern, text));
  CHECK(GlobMatch(pattern + "*", text + "b"));
  // Polynomial: this finishes in milliseconds; an exponential matcher would not finish at all.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

}  // namespace
}  // namespace dbkv
