#include "core/status.h"

namespace dbkv {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      return "ERR";
    case Code::kUnknownCommand:
      return "UNKNOWN";
    case Code::kWrongType:
      return "WRONGTYPE";
    case Code::kOverflow:
      return "OVERFLOW";
    case Code::kProtocol:
      return "PROTOCOL";
    case Code::kFrameTooLarge:
      return "TOOBIG";
    case Code::kAuth:
      return "NOAUTH";
    case Code::kOutOfMemory:
      return "OOM";
    case Code::kIoError:
      return "IOERR";
    case Code::kTimeout:
      return "TIMEOUT";
    case Code::kBusy:
      return "BUSY";
    case Code::kCorruption:
      return "CORRUPT";
    case Code::kInternal:
      return "INTERNAL";
    case Code::kNotOwner:
      return "NOTOWNER";
    case Code::kNotFound:
      return "NOTFOUND";
    case Code::kCrossShard:
      return "CROSSSHARD";
  }
  return "ERR";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(CodeName(code_));
  if (!message_.empty()) {
    out += ' ';
    out += message_;
  }
  return out;
}

}  // namespace dbkv
