// Snapshot files: one shard's partition at a point of the WAL, written in blocks while the
// shard keeps serving (see actors/shard_actor.cc). Layout and corruption policy in
// storage/SNAPSHOT_FORMAT.md; change both together.
#ifndef DATABRIDGE_STORAGE_SNAPSHOT_H_
#define DATABRIDGE_STORAGE_SNAPSHOT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/entry.h"
#include "core/record.h"
#include "core/status.h"
#include "core/value_ref.h"
#include "storage/env.h"

namespace dbkv::storage {

constexpr char kSnapshotMagic[8] = {'D', 'B', 'K', 'V', 'S', 'N', 'P', '1'};
constexpr size_t kSnapshotHeaderSize = 8 + 4 + 4 + 8 + 8 + 8 + 4;  // 44
constexpr size_t kSnapshotFooterSize = 4 + 8 + 8 + 8 + 4;          // 32
// The longest block body a reader accepts (a longer length is damage). The reader also refuses,
// before reading it, a block longer than what is left of the file.
constexpr uint32_t kSnapshotMaxBlockBytes = uint32_t{1} << 30;

struct SnapshotHeader {
  uint32_t shard = 0;
  uint32_t shard_count = 0;
  // The WAL position this snapshot starts at: it holds every write of records below it.
  uint64_t start_lsn = 0;
  int64_t created_ms = 0;
};

std::string EncodeSnapshotHeader(const SnapshotHeader& h);
// Reads and checks the header only.
Status ReadSnapshotHeader(Env* env, const std::string& path, SnapshotHeader* header);

// Builds one block of entries.
class SnapshotBlockBuilder {
 public:
  void Add(std::string_view ns, std::string_view key, uint64_t version, int64_t expire_at_ms,
           const ValueRef& value);
  void Add(std::string_view ns, std::string_view key, const Entry& e) {
    Add(ns, key, e.version, e.expire_at_ms, ValueRef(&e.value));
  }
  void Add(std::string_view ns, const Record& r) {
    const KeyText key = r.key();
    Add(ns, key.view(), r.version(), r.expire_at_ms(), r.value());
  }
  size_t entries() const { return entries_; }
  size_t bytes() const { return payload_.size(); }
  bool empty() const { return entries_ == 0; }
  // The block's bytes (length, checksum, payload); resets the builder.
  std::string Finish();

 private:
  std::string payload_;
  size_t entries_ = 0;
};

std::string EncodeSnapshotFooter(uint64_t entries, uint64_t max_version, uint64_t blocks);

// Reads a snapshot file, checking every checksum. The callback gets each entry; on error
// nothing more is delivered and the status says where (the caller discards what it got).
// A file without its footer (a snapshot whose writing was interrupted) is an error.
struct SnapshotStats {
  uint64_t entries = 0;
  uint64_t max_version = 0;
  uint64_t bytes = 0;
};
Status ReadSnapshot(
    Env* env, const std::string& path, SnapshotHeader* header,
    const std::function<void(std::string_view ns, std::string_view key, Entry entry)>& fn,
    SnapshotStats* stats);

}  // namespace dbkv::storage

#endif  // DATABRIDGE_STORAGE_SNAPSHOT_H_
