// Request encoders and reply parsers of the two protocols the load generator speaks. Both are
// driven by the same engine, so both servers see the same connections and pipelining.
#ifndef DATABRIDGE_BENCH_CODEC_H_
#define DATABRIDGE_BENCH_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace dbkv::bench {

enum class ReplyKind { kOk, kError };

class Codec {
 public:
  virtual ~Codec() = default;
  virtual void Get(std::string* out, std::string_view key) = 0;
  virtual void Set(std::string* out, std::string_view key, std::string_view value,
                   int64_t ttl_s) = 0;
  // Handshake to send first on each connection (auth); may append nothing. Its replies are
  // consumed like others.
  virtual int Handshake(std::string* out, const std::string& password) = 0;
  // Parses one reply at the start of data: returns its length in bytes, 0 if incomplete,
  // -1 if malformed. *kind tells whether it was an error.
  virtual int64_t ParseReply(std::string_view data, ReplyKind* kind, std::string* error) = 0;
};

// Our binary protocol (protocol/frame.h).
class KvCodec final : public Codec {
 public:
  void Get(std::string* out, std::string_view key) override;
  void Set(std::string* out, std::string_view key, std::string_view value, int64_t ttl_s) override;
  int Handshake(std::string* out, const std::string& password) override;
  int64_t ParseReply(std::string_view data, ReplyKind* kind, std::string* error) override;

 private:
  uint32_t next_id_ = 1;
};

// RESP2, as redis-benchmark speaks it.
class RespCodec final : public Codec {
 public:
  void Get(std::string* out, std::string_view key) override;
  void Set(std::string* out, std::string_view key, std::string_view value, int64_t ttl_s) override;
  int Handshake(std::string* out, const std::string& password) override;
  int64_t ParseReply(std::string_view data, ReplyKind* kind, std::string* error) override;
};

}  // namespace dbkv::bench

#endif  // DATABRIDGE_BENCH_CODEC_H_
