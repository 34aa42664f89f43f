// How the CLI reads arguments and prints replies (redis-cli style).
#ifndef DATABRIDGE_TOOLS_CLI_FORMAT_H_
#define DATABRIDGE_TOOLS_CLI_FORMAT_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/reply.h"
#include "core/value.h"

namespace dbkv::cli {

// Types a command-line argument: a canonical integer ("42", "-7") becomes an int, a decimal
// number with a point ("1.10", "-0.5") a Decimal; everything else, and everything when
// strings_only is set, a string. Quoting in the interactive prompt forces a string.
Value TypeArgument(std::string_view word, bool strings_only);

// A word of an interactive line, and whether it was quoted.
struct Word {
  std::string text;
  bool quoted = false;
};

// Splits an interactive line into words: whitespace separates; "double quotes" take the escapes
// \n \t \r \" \\ \xHH; 'single quotes' are literal. false on an unbalanced quote.
bool SplitLine(std::string_view line, std::vector<Word>* out);

// Renders a reply as redis-cli does: OK, (nil), (integer) 5, "text", (decimal) 1.10,
// (error) ..., numbered lists and maps.
std::string FormatReply(const Reply& reply);

}  // namespace dbkv::cli

#endif  // DATABRIDGE_TOOLS_CLI_FORMAT_H_
