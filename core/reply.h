// Reply: what a command answers, independent of the wire format.
#ifndef DATABRIDGE_CORE_REPLY_H_
#define DATABRIDGE_CORE_REPLY_H_

#include <string>
#include <utility>

#include "core/status.h"
#include "core/value.h"

namespace dbkv {

struct Reply {
  Code code = Code::kOk;
  // The reply value when code is kOk.
  Value value;
  // The error text when code is not kOk (without the code name).
  std::string error;
  // A simple status ("OK", "PONG"): value holds the text. Clients show it bare, as redis-cli
  // shows +OK.
  bool simple = false;
  // The command is waiting (see ShardContext::Block); its real reply comes later.
  bool blocked = false;
  // A nil that stands for a missing array (LPOP key count, a blocking pop's timeout): RESP2
  // sends it as *-1, as Redis does (RESP3 and the binary protocol: nil, as any nil).
  bool null_array = false;

  bool ok() const { return code == Code::kOk; }

  static Reply Of(Value v) {
    Reply r;
    r.value = std::move(v);
    return r;
  }
  static Reply Simple(std::string_view text) {
    Reply r;
    r.value = Value::String(text);
    r.simple = true;
    return r;
  }
  static Reply Ok() { return Simple("OK"); }
  static Reply Nil() { return Reply(); }
  static Reply NilArray() {
    Reply r;
    r.null_array = true;
    return r;
  }
  static Reply Blocked() {
    Reply r;
    r.blocked = true;
    return r;
  }
  static Reply Error(Code code, std::string text) {
    Reply r;
    r.code = code;
    r.error = std::move(text);
    return r;
  }
  static Reply Error(const Status& s) { return Error(s.code(), s.message()); }
};

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_REPLY_H_
