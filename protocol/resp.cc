#include "protocol/resp.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/numeric.h"
#include "protocol/wire_format.h"

namespace dbkv::protocol {
namespace {

// "*<count>\r\n" and "$<length>\r\n" lines are short: a longer one is not RESP.
constexpr size_t kMaxHeaderLine = 32;
// Redis refuses more arguments than this in one request (INT_MAX in 7.0; a smaller bound that
// keeps count * 6 far from overflowing is just as good).
constexpr int64_t kMaxMultibulkCount = int64_t{1} << 30;

bool IsLetter(unsigned char b) { return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z'); }

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

void AppendLine(std::string* out, char type, int64_t n) {
  out->push_back(type);
  AppendInt(out, n);
  out->append("\r\n", 2);
}

void AppendBulk(std::string* out, std::string_view s) {
  AppendLine(out, '$', static_cast<int64_t>(s.size()));
  out->append(s);
  out->append("\r\n", 2);
}

// Simple strings and errors may not hold CR or LF.
void AppendSanitized(std::string* out, std::string_view s) {
  const size_t at = out->size();
  out->append(s);
  for (size_t i = at; i < out->size(); ++i) {
    if ((*out)[i] == '\r' || (*out)[i] == '\n') (*out)[i] = ' ';
  }
}

Status Protocol(std::string message) { return Status::Protocol(std::move(message)); }

// The header line at data[from] (after its type byte), without the CRLF. kNeedMore if it is not
// complete; kError if it is too long or the CR is not followed by LF.
RespParse HeaderLine(std::string_view data, size_t from, std::string_view* line, size_t* next,
                     const char* what, Status* error) {
  const size_t limit = std::min(data.size(), from + kMaxHeaderLine);
  for (size_t i = from; i < limit; ++i) {
    if (data[i] != '\r') continue;
    if (i + 1 >= data.size()) return RespParse::kNeedMore;
    if (data[i + 1] != '\n') {
      *error = Protocol(what);
      return RespParse::kError;
    }
    *line = data.substr(from, i - from);
    *next = i + 2;
    return RespParse::kCommand;
  }
  if (data.size() < from + kMaxHeaderLine) return RespParse::kNeedMore;
  *error = Protocol(what);
  return RespParse::kError;
}

}  // namespace

Wire DetectWire(std::string_view first_bytes, uint64_t max_frame_bytes) {
  if (first_bytes.empty()) return Wire::kUnknown;
  const auto b = static_cast<unsigned char>(first_bytes[0]);
  if (b != '*' && !IsLetter(b)) return Wire::kBinary;
  // The shortest binary frame whose length field starts with b: could the server accept it?
  if ((uint64_t{b} << 24) + kLengthFieldSize > max_frame_bytes) return Wire::kResp;
  if (first_bytes.size() <= kLengthFieldSize) return Wire::kUnknown;
  return static_cast<unsigned char>(first_bytes[kLengthFieldSize]) == kVersion ? Wire::kBinary
                                                                               : Wire::kResp;
}

// -- Requests.

RespParse RespRequestParser::Parse(std::string_view data, const RespLimits& limits, ValueList* argv,
                                   size_t* consumed, Status* error) {
  if (state_ == State::kStart) {
    if (data.empty()) {
      needed_ = 1;
      return RespParse::kNeedMore;
    }
    state_ = data[0] == '*' ? State::kMultibulk : State::kInline;
    remaining_ = -1;
    pos_ = 0;
    scanned_ = 0;
    args_.clear();
  }
  if (state_ == State::kMultibulk) return ParseMultibulk(data, limits, argv, consumed, error);
  return ParseInline(data, limits, argv, consumed, error);
}

RespParse RespRequestParser::Finish(ValueList* argv, size_t* consumed) {
  *consumed = pos_;
  argv->swap(args_);
  args_.clear();
  state_ = State::kStart;
  remaining_ = 0;
  pos_ = 0;
  scanned_ = 0;
  needed_ = 0;
  return RespParse::kCommand;
}

RespParse RespRequestParser::ParseMultibulk(std::string_view data, const RespLimits& limits,
                                            ValueList* argv, size_t* consumed, Status* error) {
  if (remaining_ < 0) {
    std::string_view line;
    size_t next = 0;
    RespParse r = HeaderLine(data, 1, &line, &next, "invalid multibulk length", error);
    if (r != RespParse::kCommand) {
      needed_ = data.size() + 1;
      return r;
    }
    int64_t count;
    if (!ParseInt64(line, &count) || count > kMaxMultibulkCount) {
      *error = Protocol("invalid multibulk length");
      return RespParse::kError;
    }
    pos_ = next;
    if (count <= 0) return Finish(argv, consumed);  // "*0" and "*-1": nothing to run
    if (limits.unauthenticated && count > kUnauthenticatedMaxArgs) {
      *error = Protocol("unauthenticated multibulk length");
      return RespParse::kError;
    }
    // Every argument takes at least 6 bytes ("$0\r\n\r\n"): a count that cannot fit is refused
    // before anything is allocated or waited for.
    if (next + 6 * static_cast<uint64_t>(count) > limits.max_request_bytes) {
      *error = Status(Code::kFrameTooLarge, "invalid multibulk length (" + std::to_string(count) +
                                                " arguments do not fit in --max-frame-bytes " +
                                                std::to_string(limits.max_request_bytes) + ")");
      return RespParse::kError;
    }
    remaining_ = count;
    args_.reserve(static_cast<size_t>(std::min<int64_t>(count, 1024)));
  }
  while (remaining_ > 0) {
    if (pos_ >= data.size()) {
      needed_ = pos_ + 1;
      return RespParse::kNeedMore;
    }
    if (data[pos_] != '$') {
      const auto c = static_cast<unsigned char>(data[pos_]);
      std::string shown =
          c >= 0x20 && c < 0x7f ? std::string(1, static_cast<char>(c)) : "\\x" + std::to_string(c);
      *error = Protocol("expected '$', got '" + shown + "'");
      return RespParse::kError;
    }
    std::string_view line;
    size_t body = 0;
    RespParse r = HeaderLine(data, pos_ + 1, &line, &body, "invalid bulk length", error);
    if (r != RespParse::kCommand) {
      needed_ = data.size() + 1;
      return r;
    }
    int64_t len;
    if (!ParseInt64(line, &len) || len < 0) {
      *error = Protocol("invalid bulk length");
      return RespParse::kError;
    }
    if (limits.unauthenticated && len > kUnauthenticatedMaxBulk) {
      *error = Protocol("unauthenticated bulk length");
      return RespParse::kError;
    }
    if (static_cast<uint64_t>(len) > limits.max_request_bytes ||
        body + static_cast<uint64_t>(len) + 2 > limits.max_request_bytes) {
      *error =
          Status(Code::kFrameTooLarge, "invalid bulk length (a request of " +
                                           std::to_string(body + static_cast<uint64_t>(len) + 2) +
                                           " bytes or more exceeds --max-frame-bytes " +
                                           std::to_string(limits.max_request_bytes) + ")");
      return RespParse::kError;
    }
    const size_t end = body + static_cast<size_t>(len) + 2;
    if (data.size() < end) {
      needed_ = end;
      return RespParse::kNeedMore;
    }
    if (data[end - 2] != '\r' || data[end - 1] != '\n') {
      *error = Protocol("bulk string not followed by CRLF");
      return RespParse::kError;
    }
    args_.push_back(Value::Bytes(data.substr(body, static_cast<size_t>(len))));
    pos_ = end;
    --remaining_;
  }
  return Finish(argv, consumed);
}

RespParse RespRequestParser::ParseInline(std::string_view data, const RespLimits& limits,
                                         ValueList* argv, size_t* consumed, Status* error) {
  const uint64_t max_line = std::min<uint64_t>(limits.max_inline_bytes, limits.max_request_bytes);
  const size_t nl = data.find('\n', scanned_);
  if (nl == std::string_view::npos || nl + 1 > max_line) {
    if (data.size() >= max_line) {
      *error = Status(Code::kFrameTooLarge, "too big inline request");
      return RespParse::kError;
    }
    scanned_ = data.size();
    needed_ = data.size() + 1;
    return RespParse::kNeedMore;
  }
  std::string_view line = data.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string> words;
  if (!SplitInlineArgs(line, &words)) {
    *error = Protocol("unbalanced quotes in request");
    return RespParse::kError;
  }
  args_.clear();
  for (const std::string& w : words) args_.push_back(Value::Bytes(w));
  pos_ = nl + 1;
  return Finish(argv, consumed);
}

bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out) {
  out->clear();
  auto blank = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\0';
  };
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  size_t i = 0;
  const size_t n = line.size();
  for (;;) {
    while (i < n && blank(line[i])) ++i;
    if (i >= n) return true;
    std::string cur;
    enum { kPlain, kDouble, kSingle } mode = kPlain;
    for (bool done = false; !done;) {
      if (mode == kDouble) {
        if (i >= n) return false;  // unterminated quotes
        const char c = line[i];
        if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && hex(line[i + 2]) >= 0 &&
            hex(line[i + 3]) >= 0) {
          cur.push_back(static_cast<char>(hex(line[i + 2]) * 16 + hex(line[i + 3])));
          i += 4;
        } else if (c == '\\' && i + 1 < n) {
          const char e = line[i + 1];
          switch (e) {
            case 'n':
              cur.push_back('\n');
              break;
            case 'r':
              cur.push_back('\r');
              break;
            case 't':
              cur.push_back('\t');
              break;
            case 'b':
              cur.push_back('\b');
              break;
            case 'a':
              cur.push_back('\a');
              break;
            default:
              cur.push_back(e);
              break;
          }
          i += 2;
        } else if (c == '"') {
          // The closing quote must be followed by a blank or the end.
          if (i + 1 < n && !blank(line[i + 1])) return false;
          ++i;
          done = true;
        } else {
          cur.push_back(c);
          ++i;
        }
      } else if (mode == kSingle) {
        if (i >= n) return false;
        const char c = line[i];
        if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
          cur.push_back('\'');
          i += 2;
        } else if (c == '\'') {
          if (i + 1 < n && !blank(line[i + 1])) return false;
          ++i;
          done = true;
        } else {
          cur.push_back(c);
          ++i;
        }
      } else {
        if (i >= n || blank(line[i])) {
          done = true;
        } else if (line[i] == '"') {
          mode = kDouble;
          ++i;
        } else if (line[i] == '\'') {
          mode = kSingle;
          ++i;
        } else {
          cur.push_back(line[i]);
          ++i;
        }
      }
    }
    out->push_back(std::move(cur));
  }
}

// -- Replies.

std::string_view RespErrorPrefix(Code code, std::string_view text) {
  switch (code) {
    case Code::kWrongType:
      // Redis's WRONGTYPE has one text; other WRONGTYPE replies (INCR of text that is not a
      // number: "value is not an integer or out of range") are ERR in Redis.
      return text.rfind("Operation against a key holding the wrong kind of value", 0) == 0
                 ? "WRONGTYPE"
                 : "ERR";
    case Code::kAuth:
      // Redis says NOAUTH for "not authenticated yet" and WRONGPASS for a refused password.
      return text.rfind("Authentication required", 0) == 0 ? "NOAUTH" : "WRONGPASS";
    case Code::kOutOfMemory:
      return "OOM";
    case Code::kCrossShard:
      return "CROSSSLOT";
    case Code::kNotOwner:
      return "NOTOWNER";
    case Code::kIoError:
      return "IOERR";
    case Code::kTimeout:
      return "TIMEOUT";
    default:
      return "ERR";
  }
}

std::string FormatDouble(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[40];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, d);
    if (precision == 17 || std::strtod(buf, nullptr) == d) break;
  }
  return buf;
}

void AppendRespValue(std::string* out, const Value& v, RespStyle style) {
  const bool v3 = style.version >= 3;
  switch (v.type()) {
    case ValueType::kNull:
      out->append(v3 ? "_\r\n" : "$-1\r\n");
      return;
    case ValueType::kBool:
      if (style.stored) {
        AppendBulk(out, v.AsBool() ? "1" : "0");
      } else if (v3) {
        out->append(v.AsBool() ? "#t\r\n" : "#f\r\n");
      } else {
        out->append(v.AsBool() ? ":1\r\n" : ":0\r\n");
      }
      return;
    case ValueType::kInt:
      if (style.stored) {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof(buf), v.AsInt());
        AppendBulk(out, std::string_view(buf, r.ptr - buf));
      } else {
        AppendLine(out, ':', v.AsInt());
      }
      return;
    case ValueType::kDouble:
      if (v3 && !style.stored) {
        out->push_back(',');
        out->append(FormatDouble(v.AsDouble()));
        out->append("\r\n", 2);
      } else {
        AppendBulk(out, FormatDouble(v.AsDouble()));
      }
      return;
    case ValueType::kDecimal:
      AppendBulk(out, v.AsDecimal().ToString());
      return;
    case ValueType::kString:
    case ValueType::kBytes:
      AppendBulk(out, v.AsStringView());
      return;
    case ValueType::kList: {
      const ValueList& items = v.AsList();
      AppendLine(out, '*', static_cast<int64_t>(items.size()));
      for (const Value& item : items) AppendRespValue(out, item, style);
      return;
    }
    case ValueType::kMap: {
      const ValueMap& pairs = v.AsMap();
      // RESP2 has no map: the pairs go flat, key then value, as Redis sends HGETALL.
      if (v3) {
        AppendLine(out, '%', static_cast<int64_t>(pairs.size()));
      } else {
        AppendLine(out, '*', static_cast<int64_t>(2 * pairs.size()));
      }
      for (const auto& [k, val] : pairs) {
        AppendRespValue(out, k, style);
        AppendRespValue(out, val, style);
      }
      return;
    }
    case ValueType::kCold:
      // Never reaches the wire: a shard loads a cold value before any command reads it. Should
      // a bug let one through, the client reads an error in its place (as the binary codec
      // sends), never a reply with a value missing, which would shift every later reply.
      out->append("-INTERNAL value not loaded from disk\r\n");
      return;
  }
}

void AppendRespReply(std::string* out, const Reply& reply, RespStyle style) {
  if (!reply.ok()) {
    out->push_back('-');
    out->append(RespErrorPrefix(reply.code, reply.error));
    out->push_back(' ');
    if (reply.code == Code::kProtocol || reply.code == Code::kFrameTooLarge) {
      out->append("Protocol error: ");
    }
    AppendSanitized(out, reply.error);
    out->append("\r\n", 2);
    return;
  }
  if (reply.simple) {
    out->push_back('+');
    AppendSanitized(out, reply.value.AsStringView());
    out->append("\r\n", 2);
    return;
  }
  if (reply.null_array && reply.value.is_null() && style.version < 3) {
    out->append("*-1\r\n");
    return;
  }
  AppendRespValue(out, reply.value, style);
}

// -- The client side (the reply parser is protocol/resp_reply_parser.cc).

void AppendRespCommand(std::string* out, const std::vector<std::string_view>& args) {
  AppendLine(out, '*', static_cast<int64_t>(args.size()));
  for (std::string_view a : args) AppendBulk(out, a);
}

}  // namespace dbkv::protocol
