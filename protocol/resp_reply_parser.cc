#include "protocol/resp_reply_parser.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>

#include "core/numeric.h"
#include "core/value.h"

namespace dbkv::protocol {
namespace {

// Aggregates nest at most this deep (a deeper reply is refused, not recursed into).
constexpr int kMaxReplyDepth = 64;

class ReplyParser {
 public:
  ReplyParser(std::string_view data, Status* error) : d_(data), error_(error) {}

  RespParse Top(Reply* out) {
    if (pos_ >= d_.size()) return RespParse::kNeedMore;
    const char type = d_[pos_];
    if (type == '+' || type == '-') {
      ++pos_;
      std::string_view line;
      RespParse r = Line(&line);
      if (r != RespParse::kCommand) return r;
      if (type == '+') {
        *out = Reply::Simple(line);
        return RespParse::kCommand;
      }
      *out = ErrorReply(line);
      return RespParse::kCommand;
    }
    Value v;
    RespParse r = Parse(&v, 1);
    if (r != RespParse::kCommand) return r;
    *out = Reply::Of(std::move(v));
    return RespParse::kCommand;
  }

  size_t pos() const { return pos_; }

 private:
  static Reply ErrorReply(std::string_view line) {
    struct Known {
      std::string_view prefix;
      Code code;
    };
    static constexpr Known kKnown[] = {
        {"ERR", Code::kInvalidArgument}, {"WRONGTYPE", Code::kWrongType},
        {"NOAUTH", Code::kAuth},         {"WRONGPASS", Code::kAuth},
        {"OOM", Code::kOutOfMemory},     {"CROSSSLOT", Code::kCrossShard},
        {"NOTOWNER", Code::kNotOwner},   {"IOERR", Code::kIoError},
        {"TIMEOUT", Code::kTimeout},
    };
    const size_t space = line.find(' ');
    const std::string_view word = line.substr(0, space);
    for (const Known& k : kKnown) {
      if (k.prefix == word) {
        return Reply::Error(k.code,
                            std::string(space == std::string_view::npos ? std::string_view()
                                                                        : line.substr(space + 1)));
      }
    }
    return Reply::Error(Code::kInvalidArgument, std::string(line));
  }

  RespParse Fail(const char* what) {
    *error_ = Status::Protocol(what);
    return RespParse::kError;
  }

  // The rest of the line at pos_, without CRLF; advances past it.
  RespParse Line(std::string_view* line) {
    const size_t cr = d_.find('\r', pos_);
    if (cr == std::string_view::npos || cr + 1 >= d_.size()) return RespParse::kNeedMore;
    if (d_[cr + 1] != '\n') return Fail("CR not followed by LF");
    *line = d_.substr(pos_, cr - pos_);
    pos_ = cr + 2;
    return RespParse::kCommand;
  }

  RespParse Count(int64_t* n) {
    std::string_view line;
    RespParse r = Line(&line);
    if (r != RespParse::kCommand) return r;
    if (!ParseInt64(line, n) || *n < -1) return Fail("invalid length");
    return RespParse::kCommand;
  }

  RespParse Blob(std::string_view* body, bool* null) {
    int64_t len;
    RespParse r = Count(&len);
    if (r != RespParse::kCommand) return r;
    *null = len < 0;
    if (*null) return RespParse::kCommand;
    if (static_cast<uint64_t>(len) > d_.size() - pos_) return RespParse::kNeedMore;
    if (d_.size() - pos_ - static_cast<size_t>(len) < 2) return RespParse::kNeedMore;
    *body = d_.substr(pos_, static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    if (d_[pos_] != '\r' || d_[pos_ + 1] != '\n') return Fail("bulk string not followed by CRLF");
    pos_ += 2;
    return RespParse::kCommand;
  }

  RespParse Parse(Value* out, int depth) {
    if (pos_ >= d_.size()) return RespParse::kNeedMore;
    const char type = d_[pos_++];
    std::string_view line;
    switch (type) {
      case '+':
      case '(': {
        RespParse r = Line(&line);
        if (r == RespParse::kCommand) *out = Value::String(line);
        return r;
      }
      case '-':
        return Fail("an error inside an aggregate");
      case ':': {
        RespParse r = Line(&line);
        if (r != RespParse::kCommand) return r;
        int64_t n;
        if (!ParseInt64(line, &n)) return Fail("invalid integer");
        *out = Value::Int(n);
        return r;
      }
      case '_': {
        RespParse r = Line(&line);
        if (r != RespParse::kCommand) return r;
        if (!line.empty()) return Fail("invalid null");
        *out = Value::Null();
        return r;
      }
      case '#': {
        RespParse r = Line(&line);
        if (r != RespParse::kCommand) return r;
        if (line != "t" && line != "f") return Fail("invalid boolean");
        *out = Value::Bool(line == "t");
        return r;
      }
      case ',': {
        RespParse r = Line(&line);
        if (r != RespParse::kCommand) return r;
        double d;
        if (line == "inf") {
          d = HUGE_VAL;
        } else if (line == "-inf") {
          d = -HUGE_VAL;
        } else if (line == "nan") {
          d = std::nan("");
        } else {
          std::string text(line);
          char* end = nullptr;
          d = std::strtod(text.c_str(), &end);
          if (text.empty() || end != text.c_str() + text.size()) return Fail("invalid double");
        }
        *out = Value::Double(d);
        return r;
      }
      case '$':
      case '=': {
        std::string_view body;
        bool null = false;
        RespParse r = Blob(&body, &null);
        if (r != RespParse::kCommand) return r;
        if (null) {
          *out = Value::Null();
          return r;
        }
        if (type == '=') {
          if (body.size() < 4 || body[3] != ':') return Fail("invalid verbatim string");
          body.remove_prefix(4);
        }
        *out = Value::Bytes(body);
        return r;
      }
      case '*':
      case '~':
      case '>':
      case '%': {
        int64_t n;
        RespParse r = Count(&n);
        if (r != RespParse::kCommand) return r;
        if (n < 0) {
          if (type != '*') return Fail("invalid length");
          *out = Value::Null();
          return r;
        }
        if (depth > kMaxReplyDepth) return Fail("replies nested deeper than 64");
        // Each element takes at least 3 bytes: a count the data cannot hold yet waits.
        const uint64_t elements = static_cast<uint64_t>(n) * (type == '%' ? 2 : 1);
        if (elements > (d_.size() - pos_) / 3) return RespParse::kNeedMore;
        if (type == '%') {
          ValueMap pairs;
          pairs.reserve(static_cast<size_t>(n));
          for (int64_t i = 0; i < n; ++i) {
            Value k, v;
            r = Parse(&k, depth + 1);
            if (r == RespParse::kCommand) r = Parse(&v, depth + 1);
            if (r != RespParse::kCommand) return r;
            pairs.emplace_back(std::move(k), std::move(v));
          }
          *out = Value::Map(std::move(pairs));
          return RespParse::kCommand;
        }
        ValueList items;
        items.reserve(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) {
          Value item;
          r = Parse(&item, depth + 1);
          if (r != RespParse::kCommand) return r;
          items.push_back(std::move(item));
        }
        *out = Value::List(std::move(items));
        return RespParse::kCommand;
      }
      default:
        return Fail("unknown reply type");
    }
  }

  std::string_view d_;
  size_t pos_ = 0;
  Status* error_;
};

}  // namespace

RespParse ParseRespReply(std::string_view data, Reply* out, size_t* consumed, Status* error) {
  ReplyParser p(data, error);
  RespParse r = p.Top(out);
  if (r == RespParse::kCommand) *consumed = p.pos();
  return r;
}

}  // namespace dbkv::protocol
