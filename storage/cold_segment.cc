#include "storage/cold_segment.h"

#include <zstd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "protocol/value_codec.h"
#include "storage/coding.h"
#include "storage/data_dir.h"
#include "storage/log_format.h"

namespace dbkv::storage {
namespace {

constexpr char kMagic[8] = {'D', 'B', 'K', 'V', 'C', 'O', 'L', 'D'};
constexpr uint32_t kFormatVersion = 1;
// The CRC "type" byte of cold records and headers (see MaskedCrc).
constexpr uint8_t kCrcTypeRecord = 'C';
constexpr uint8_t kCrcTypeHeader = 'H';
constexpr uint8_t kFlagZstd = 1;
// Smaller payloads are stored as they are: compression would save too little to matter.
constexpr size_t kMinCompress = 128;
constexpr int kZstdLevel = 1;

uint32_t LoadFixed32(const char* p) {
  std::string_view in(p, 4);
  uint32_t v = 0;
  GetFixed32(&in, &v);
  return v;
}

}  // namespace

std::string ColdSegmentFileName(uint32_t id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "cold-%08u.seg", id);
  return buf;
}

bool ParseColdSegmentFileName(std::string_view name, uint32_t* id) {
  if (name.size() != 17 || name.substr(0, 5) != "cold-" || name.substr(13) != ".seg") return false;
  uint32_t v = 0;
  for (char c : name.substr(5, 8)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  *id = v;
  return true;
}

Status ListColdSegments(Env* env, const std::string& dir, std::vector<ColdSegmentFile>* out) {
  std::vector<std::string> names;
  Status s = env->GetChildren(dir, &names);
  if (!s.ok()) return s;
  out->clear();
  for (const std::string& n : names) {
    ColdSegmentFile f;
    if (!ParseColdSegmentFileName(n, &f.id)) continue;
    f.path = JoinPath(dir, n);
    s = env->GetFileSize(f.path, &f.size);
    if (!s.ok()) return s;
    out->push_back(std::move(f));
  }
  std::sort(out->begin(), out->end(),
            [](const ColdSegmentFile& a, const ColdSegmentFile& b) { return a.id < b.id; });
  return Status::OK();
}

std::string EncodeColdHeader(uint32_t id, uint32_t shard, int64_t created_ms) {
  std::string h(kMagic, sizeof(kMagic));
  PutFixed32(&h, kFormatVersion);
  PutFixed32(&h, id);
  PutFixed64(&h, static_cast<uint64_t>(created_ms));
  PutFixed32(&h, shard);
  PutFixed32(&h, log::MaskedCrc(kCrcTypeHeader, h));
  return h;
}

Status CheckColdHeader(std::string_view header, uint32_t id) {
  if (header.size() < kColdHeaderSize) return Status::Corruption("cold segment header is short");
  if (std::memcmp(header.data(), kMagic, sizeof(kMagic)) != 0) {
    return Status::Corruption("not a cold segment (bad magic)");
  }
  if (LoadFixed32(header.data() + 28) != log::MaskedCrc(kCrcTypeHeader, header.substr(0, 28))) {
    return Status::Corruption("cold segment header checksum mismatch");
  }
  if (LoadFixed32(header.data() + 8) != kFormatVersion) {
    return Status::Corruption("unknown cold segment format version " +
                              std::to_string(LoadFixed32(header.data() + 8)));
  }
  if (LoadFixed32(header.data() + 12) != id) {
    return Status::Corruption("cold segment header names segment " +
                              std::to_string(LoadFixed32(header.data() + 12)) + ", not " +
                              std::to_string(id));
  }
  return Status::OK();
}

ColdRecordEncoder::ColdRecordEncoder() : cctx_(ZSTD_createCCtx()) {}
ColdRecordEncoder::~ColdRecordEncoder() { ZSTD_freeCCtx(cctx_); }

size_t ColdRecordEncoder::Append(std::string_view ns, std::string_view key, uint64_t version,
                                 const ValueRef& value, std::string* out) {
  payload_.clear();
  protocol::AppendValue(&payload_, value);
  std::string_view stored = payload_;
  uint8_t flags = 0;
  if (payload_.size() >= kMinCompress && cctx_ != nullptr) {
    compressed_.resize(ZSTD_compressBound(payload_.size()));
    const size_t n = ZSTD_compressCCtx(cctx_, compressed_.data(), compressed_.size(),
                                       payload_.data(), payload_.size(), kZstdLevel);
    if (!ZSTD_isError(n) && n <= payload_.size() - payload_.size() / 8) {
      stored = std::string_view(compressed_.data(), n);
      flags |= kFlagZstd;
    }
  }
  const size_t start = out->size();
  out->append(kColdRecordPrefix, '\0');  // CRC and length, filled in below
  out->push_back(static_cast<char>(flags));
  PutLengthPrefixed(out, ns);
  PutLengthPrefixed(out, key);
  PutFixed64(out, version);
  PutVarint(out, payload_.size());
  out->append(stored.data(), stored.size());
  const std::string_view body(out->data() + start + kColdRecordPrefix,
                              out->size() - start - kColdRecordPrefix);
  std::string prefix;
  PutFixed32(&prefix, log::MaskedCrc(kCrcTypeRecord, body));
  PutFixed32(&prefix, static_cast<uint32_t>(body.size()));
  std::memcpy(out->data() + start, prefix.data(), kColdRecordPrefix);
  raw_bytes_ += payload_.size();
  stored_bytes_ += out->size() - start;
  return out->size() - start;
}

uint32_t ColdRecordLength(std::string_view data) {
  if (data.size() < kColdRecordPrefix) return 0;
  const uint32_t body = LoadFixed32(data.data() + 4);
  if (body == 0 || body > kMaxColdRecordBody) return 0;
  return body + static_cast<uint32_t>(kColdRecordPrefix);
}

ColdRecordDecoder::ColdRecordDecoder() : dctx_(ZSTD_createDCtx()) {}
ColdRecordDecoder::~ColdRecordDecoder() { ZSTD_freeDCtx(dctx_); }

Status ColdRecordDecoder::Decode(std::string_view record, ColdRecord* out, bool decode_value) {
  if (record.size() < kColdRecordPrefix + 1 || ColdRecordLength(record) != record.size()) {
    return Status::Corruption("cold record length mismatch");
  }
  std::string_view body = record.substr(kColdRecordPrefix);
  if (LoadFixed32(record.data()) != log::MaskedCrc(kCrcTypeRecord, body)) {
    return Status::Corruption("cold record checksum mismatch");
  }
  const uint8_t flags = static_cast<uint8_t>(body[0]);
  body.remove_prefix(1);
  uint64_t raw_len = 0;
  if ((flags & ~kFlagZstd) != 0 || !GetLengthPrefixed(&body, &out->ns) ||
      !GetLengthPrefixed(&body, &out->key) || !GetFixed64(&body, &out->version) ||
      !GetVarint(&body, &raw_len) || raw_len > kMaxColdRecordBody) {
    return Status::Corruption("cold record fields are malformed");
  }
  out->value = Value();
  if (!decode_value) return Status::OK();
  std::string_view payload = body;
  if (flags & kFlagZstd) {
    if (dctx_ == nullptr) return Status::Internal("no zstd context");
    payload_.resize(raw_len);
    const size_t n =
        ZSTD_decompressDCtx(dctx_, payload_.data(), payload_.size(), body.data(), body.size());
    if (ZSTD_isError(n) || n != raw_len) {
      return Status::Corruption("cold record does not decompress: " +
                                std::string(ZSTD_isError(n) ? ZSTD_getErrorName(n) : "length"));
    }
    payload = payload_;
  } else if (payload.size() != raw_len) {
    return Status::Corruption("cold record payload length mismatch");
  }
  Status s = protocol::DecodeValue(payload, &out->value);
  if (!s.ok()) return Status::Corruption("cold record value: " + s.message());
  return Status::OK();
}

}  // namespace dbkv::storage
