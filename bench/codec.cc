#include "bench/codec.h"

#include "core/value.h"
#include "protocol/frame.h"
#include "protocol/opcodes.h"
#include "protocol/wire_format.h"

namespace dbkv::bench {

void KvCodec::Get(std::string* out, std::string_view key) {
  Value k = Value::String(key);
  protocol::AppendRequest(out, next_id_++, protocol::op::kGet, "GET", &k, 1);
}

void KvCodec::Set(std::string* out, std::string_view key, std::string_view value, int64_t ttl_s) {
  Value args[4] = {Value::String(key), Value::String(value), Value::String("EX"),
                   Value::Int(ttl_s)};
  protocol::AppendRequest(out, next_id_++, protocol::op::kSet, "SET", args, ttl_s > 0 ? 4 : 2);
}

int KvCodec::Handshake(std::string* out, const std::string& password) {
  if (password.empty()) return 0;
  Value args[3] = {Value::Int(1), Value::String("AUTH"), Value::String(password)};
  protocol::AppendRequest(out, next_id_++, protocol::op::kHello, "HELLO", args, 3);
  return 1;
}

int64_t KvCodec::ParseReply(std::string_view data, ReplyKind* kind, std::string* error) {
  protocol::FrameView frame;
  Status s;
  switch (protocol::SplitFrame(data, protocol::kAbsoluteMaxFrameBytes, &frame, &s)) {
    case protocol::SplitResult::kNeedMore:
      return 0;
    case protocol::SplitResult::kError:
      *error = s.ToString();
      return -1;
    case protocol::SplitResult::kFrame:
      break;
  }
  *kind = frame.header.code == 0 ? ReplyKind::kOk : ReplyKind::kError;
  if (*kind == ReplyKind::kError) {
    Reply r;
    Status s = protocol::DecodeResponse(frame, &r);
    *error = s.ok() ? r.error : "undecodable error reply: " + s.ToString();
  }
  return static_cast<int64_t>(frame.size());
}

namespace {

void AppendBulk(std::string* out, std::string_view s) {
  out->push_back('$');
  *out += std::to_string(s.size());
  *out += "\r\n";
  out->append(s.data(), s.size());
  *out += "\r\n";
}

}  // namespace

void RespCodec::Get(std::string* out, std::string_view key) {
  *out += "*2\r\n$3\r\nGET\r\n";
  AppendBulk(out, key);
}

void RespCodec::Set(std::string* out, std::string_view key, std::string_view value, int64_t ttl_s) {
  *out += ttl_s > 0 ? "*5\r\n$3\r\nSET\r\n" : "*3\r\n$3\r\nSET\r\n";
  AppendBulk(out, key);
  AppendBulk(out, value);
  if (ttl_s > 0) {
    AppendBulk(out, "EX");
    AppendBulk(out, std::to_string(ttl_s));
  }
}

int RespCodec::Handshake(std::string* out, const std::string& password) {
  if (password.empty()) return 0;
  *out += "*2\r\n$4\r\nAUTH\r\n";
  AppendBulk(out, password);
  return 1;
}

int64_t RespCodec::ParseReply(std::string_view data, ReplyKind* kind, std::string* error) {
  if (data.empty()) return 0;
  const size_t eol = data.find("\r\n");
  if (eol == std::string_view::npos) return 0;
  switch (data[0]) {
    case '+':
    case ':':
      *kind = ReplyKind::kOk;
      return static_cast<int64_t>(eol + 2);
    case '-':
      *kind = ReplyKind::kError;
      *error = std::string(data.substr(1, eol - 1));
      return static_cast<int64_t>(eol + 2);
    case '$': {
      *kind = ReplyKind::kOk;
      const long long n = std::stoll(std::string(data.substr(1, eol - 1)));
      if (n < 0) return static_cast<int64_t>(eol + 2);
      const size_t total = eol + 2 + static_cast<size_t>(n) + 2;
      return data.size() >= total ? static_cast<int64_t>(total) : 0;
    }
    default:
      *error = "unexpected RESP reply type '" + std::string(1, data[0]) + "'";
      return -1;
  }
}

}  // namespace dbkv::bench
