// The record log under the write-ahead log: records cut into fragments that never cross a
// 32 KiB block boundary, each with a checksum, so that a reader finds its footing again at the
// next block after damage. Documented in storage/WAL_FORMAT.md; change both together.
#ifndef DATABRIDGE_STORAGE_LOG_FORMAT_H_
#define DATABRIDGE_STORAGE_LOG_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "storage/env.h"

namespace dbkv::storage::log {

constexpr size_t kBlockSize = 32768;
// checksum u32 | length u16 | type u8
constexpr size_t kHeaderSize = 7;

enum RecordType : uint8_t {
  kZeroType = 0,  // padding at the end of a block; never written as a record
  kFullType = 1,
  kFirstType = 2,
  kMiddleType = 3,
  kLastType = 4,
};
constexpr uint8_t kMaxRecordType = kLastType;

// CRC-32 (zlib) of data, masked as leveldb does (a CRC stored next to the data it covers
// must not look like valid data to a CRC over a larger span).
uint32_t MaskedCrc(uint8_t type, std::string_view data);

// Appends records to a file. Not thread-safe.
class Writer {
 public:
  // dest must outlive the writer; initial_size is how much the file already holds.
  explicit Writer(WritableFile* dest, uint64_t initial_size = 0);
  // Appends one record (fragments it across blocks as needed). Not durable until dest->Sync().
  Status AddRecord(std::string_view record);

 private:
  Status EmitFragment(RecordType type, std::string_view data);

  WritableFile* dest_;
  size_t block_offset_;
};

// Reads records back. Damage is reported through the reporter and skipped: a bad fragment
// drops the rest of its block, and reading resumes at the next block.
class Reader {
 public:
  // bytes dropped, offset in the file where the damage starts, and why. A damaged fragment
  // (checksum mismatch, bad length) drops the rest of its block from its header on; a fragment
  // out of place (missing start, unknown type) drops itself, header included; a fragmented
  // record cut short by damage drops its payload read so far, reported at its first header.
  using Reporter = std::function<void(uint64_t bytes, uint64_t offset, const std::string& why)>;

  Reader(SequentialFile* file, Reporter reporter);

  // The next record into *record (backed by *scratch or the reader's buffer); false at the
  // end of the file. A record cut short by the end of the file (a torn write) is not
  // returned, and truncated_tail() then tells so.
  bool ReadRecord(std::string_view* record, std::string* scratch);

  // Offset just past the last record returned: where a torn tail starts.
  uint64_t last_record_end() const { return last_record_end_; }
  // Whether the file ended inside a record (a write torn by a crash).
  bool truncated_tail() const { return truncated_tail_; }
  // I/O error of the underlying file, if any.
  const Status& status() const { return status_; }

 private:
  enum { kEof = kMaxRecordType + 1, kBad = kMaxRecordType + 2 };
  // One fragment: its type, or kEof / kBad. fragment_offset_ is then where its header starts.
  unsigned ReadFragment(std::string_view* fragment);
  void Report(uint64_t bytes, uint64_t offset, const std::string& why);

  SequentialFile* file_;
  Reporter reporter_;
  std::unique_ptr<char[]> backing_;
  std::string_view buffer_;
  bool eof_ = false;
  uint64_t buffer_end_offset_ = 0;  // file offset just past buffer_
  uint64_t fragment_offset_ = 0;    // file offset of the last fragment's header
  uint64_t last_record_end_ = 0;
  bool truncated_tail_ = false;
  Status status_;
};

}  // namespace dbkv::storage::log

#endif  // DATABRIDGE_STORAGE_LOG_FORMAT_H_
