// Logging set-up: levels, and --log-format json (one JSON object per line, for log shippers).
// Nothing the server logs holds a password or a value: only names, counts, paths and errors.
#ifndef DATABRIDGE_SERVER_LOGGING_H_
#define DATABRIDGE_SERVER_LOGGING_H_

#include <string>

namespace dbkv {

// format: "text" or "json". level: spdlog's names.
void ConfigureLogging(const std::string& level, const std::string& format);

// JSON string escaping of text (quotes, backslashes, control characters).
void AppendJsonEscaped(std::string* out, const char* data, size_t size);

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_LOGGING_H_
