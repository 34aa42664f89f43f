// Glob-style patterns, as Redis matches them (KEYS, SCAN MATCH, CONFIG GET): `*` any run of
// bytes, `?` one byte, `[abc]` / `[^abc]` / `[a-z]` a class, `\x` the byte x itself.
#ifndef DATABRIDGE_PLUGINS_GLOB_H_
#define DATABRIDGE_PLUGINS_GLOB_H_

#include <string_view>

namespace dbkv {

// Whether text matches pattern. Time O(|pattern| * |text|) at worst, whatever the pattern (no
// exponential backtracking on "a*a*a*...b"). nocase: ASCII letters match either case.
bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase = false);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_GLOB_H_
