#include "plugins/glob.h"

#include <cstddef>
#include <utility>

#include "core/ascii.h"

namespace dbkv {
namespace {

char Fold(char c, bool nocase) {
  return nocase ? absl::ascii_tolower(static_cast<unsigned char>(c)) : c;
}

// Whether the pattern element at pattern[*p] (not '*') matches c; advances *p past it.
bool MatchOne(std::string_view pattern, size_t* p, char c, bool nocase) {
  const size_t n = pattern.size();
  size_t i = *p;
  c = Fold(c, nocase);
  switch (pattern[i]) {
    case '?':
      *p = i + 1;
      return true;
    case '\\':
      if (i + 1 < n) {
        *p = i + 2;
        return Fold(pattern[i + 1], nocase) == c;
      }
      *p = i + 1;
      return c == '\\';
    case '[': {
      ++i;
      const bool negate = i < n && pattern[i] == '^';
      if (negate) ++i;
      bool match = false;
      // A class without its ']' runs to the end of the pattern, as in Redis.
      while (i < n && pattern[i] != ']') {
        if (pattern[i] == '\\' && i + 1 < n) {
          if (Fold(pattern[i + 1], nocase) == c) match = true;
          i += 2;
        } else if (i + 2 < n && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
          char lo = Fold(pattern[i], nocase), hi = Fold(pattern[i + 2], nocase);
          if (lo > hi) std::swap(lo, hi);
          if (c >= lo && c <= hi) match = true;
          i += 3;
        } else {
          if (Fold(pattern[i], nocase) == c) match = true;
          ++i;
        }
      }
      *p = i < n ? i + 1 : n;
      return match != negate;
    }
    default:
      *p = i + 1;
      return Fold(pattern[i], nocase) == c;
  }
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase) {
  // Greedy, remembering the last '*' only: an element other than '*' always takes exactly one
  // byte, so retrying from the last star is enough (and keeps the time polynomial).
  size_t p = 0, t = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      if (pattern[p] == '*') {
        star_p = ++p;
        star_t = t;
        continue;
      }
      size_t next = p;
      if (MatchOne(pattern, &next, text[t], nocase)) {
        p = next;
        ++t;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace dbkv
