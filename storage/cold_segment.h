// Cold segments: the files tiered storage moves values to (see storage/COLD_FORMAT.md).
//
// A segment is written by one shard, append only, then sealed; a value's place in it (segment,
// offset, length: a ColdRef) stays in the shard's entry for the key. Records carry their
// namespace, key and version so that compaction can tell which records are still live without
// anything but the file and the partition.
#ifndef DATABRIDGE_STORAGE_COLD_SEGMENT_H_
#define DATABRIDGE_STORAGE_COLD_SEGMENT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/value.h"
#include "core/value_ref.h"
#include "storage/env.h"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace dbkv::storage {

constexpr size_t kColdHeaderSize = 32;
// Bytes before a record's body: masked CRC, body length.
constexpr size_t kColdRecordPrefix = 8;
// A record body larger than this is damage, not data (values are bounded by the frame limit).
constexpr uint32_t kMaxColdRecordBody = 0xF0000000u;

// "cold-<id, 8 digits>.seg".
std::string ColdSegmentFileName(uint32_t id);
bool ParseColdSegmentFileName(std::string_view name, uint32_t* id);

struct ColdSegmentFile {
  uint32_t id = 0;
  std::string path;
  uint64_t size = 0;
};
// The cold segments in dir, by id.
Status ListColdSegments(Env* env, const std::string& dir, std::vector<ColdSegmentFile>* out);

std::string EncodeColdHeader(uint32_t id, uint32_t shard, int64_t created_ms);
// Checks the header of a segment that should be `id`.
Status CheckColdHeader(std::string_view header, uint32_t id);

// Builds records. Holds a compression context: one per thread.
class ColdRecordEncoder {
 public:
  ColdRecordEncoder();
  ~ColdRecordEncoder();
  ColdRecordEncoder(const ColdRecordEncoder&) = delete;
  ColdRecordEncoder& operator=(const ColdRecordEncoder&) = delete;

  // Appends the record of key's value to out; returns the record's length. The value is
  // compressed (zstd) when that saves at least an eighth of it.
  size_t Append(std::string_view ns, std::string_view key, uint64_t version, const ValueRef& value,
                std::string* out);

  uint64_t raw_bytes() const { return raw_bytes_; }        // encoded values, uncompressed
  uint64_t stored_bytes() const { return stored_bytes_; }  // what the records hold

 private:
  ZSTD_CCtx_s* cctx_;
  std::string payload_;
  std::string compressed_;
  uint64_t raw_bytes_ = 0;
  uint64_t stored_bytes_ = 0;
};

// A record's fields; ns and key point into the record's bytes.
struct ColdRecord {
  std::string_view ns;
  std::string_view key;
  uint64_t version = 0;
  Value value;
};

// Reads records. Holds a decompression context: one per thread.
class ColdRecordDecoder {
 public:
  ColdRecordDecoder();
  ~ColdRecordDecoder();
  ColdRecordDecoder(const ColdRecordDecoder&) = delete;
  ColdRecordDecoder& operator=(const ColdRecordDecoder&) = delete;

  // record: exactly one record (its ColdRef's length in bytes). Verifies its checksum, then
  // decodes; with decode_value false, leaves out->value null (compaction needs only the key).
  Status Decode(std::string_view record, ColdRecord* out, bool decode_value = true);

 private:
  ZSTD_DCtx_s* dctx_;
  std::string payload_;
};

// The length of the record that starts at data (at least kColdRecordPrefix bytes), or 0 if
// its length field is damaged.
uint32_t ColdRecordLength(std::string_view data);

}  // namespace dbkv::storage

#endif  // DATABRIDGE_STORAGE_COLD_SEGMENT_H_
