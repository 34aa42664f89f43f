// Write-ahead log records: what a shard changed while running one batch, as mutations that
// replay idempotently (each carries the version its key took, and replay applies a mutation
// only to an older entry). Layout in storage/WAL_FORMAT.md.
#ifndef DATABRIDGE_STORAGE_WAL_H_
#define DATABRIDGE_STORAGE_WAL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/entry.h"
#include "core/partition.h"
#include "core/record.h"
#include "core/status.h"
#include "core/value.h"

namespace dbkv::storage {

enum class MutationType : uint8_t {
  kPut = 1,   // the key's whole entry after the write: value, expiry, version
  kDel = 2,   // the key was deleted by a write of version `version`
  kPush = 3,  // values pushed onto the list at key (end: 0 head, 1 tail), and its expiry after
  kPop = 4,   // `count` elements popped from the list at key (end as kPush); expiry unchanged
};

// Appends mutation encodings to a buffer (one shard's, for one batch).
class MutationEncoder {
 public:
  explicit MutationEncoder(std::string* out) : out_(out) {}
  void Put(std::string_view ns, std::string_view key, const Entry& e);
  void Put(std::string_view ns, const Record& r);
  void Del(std::string_view ns, std::string_view key, uint64_t version);
  // expire_at_ms: the list's expiry after the push (a push keeps it, or creates the list
  // without one), so that replay never brings back a list that has expired since.
  void Push(std::string_view ns, std::string_view key, uint64_t version, int64_t expire_at_ms,
            bool tail, const Value* values, size_t count);
  void Pop(std::string_view ns, std::string_view key, uint64_t version, bool tail, uint64_t count);

 private:
  void Head(MutationType t, std::string_view ns, std::string_view key, uint64_t version);
  std::string* out_;
};

// A WAL record: the header, then the mutations.
struct WalRecordHeader {
  uint64_t lsn = 0;
  uint32_t shard = 0;
  uint32_t count = 0;  // mutations
};
constexpr size_t kWalRecordHeaderSize = 8 + 4 + 4;

// Builds the bytes of a record from its header and encoded mutations.
std::string EncodeWalRecord(const WalRecordHeader& h, std::string_view mutations);

// One decoded mutation (views into the record).
struct Mutation {
  MutationType type{};
  std::string_view ns;
  std::string_view key;
  uint64_t version = 0;
  int64_t expire_at_ms = 0;  // kPut, kPush
  Value value;               // kPut
  bool tail = false;         // kPush, kPop
  ValueList values;          // kPush
  uint64_t count = 0;        // kPop
};

// Decodes a record; calls fn for each mutation in order. Errors: kCorruption.
template <class Fn>
Status DecodeWalRecord(std::string_view record, WalRecordHeader* header, Fn&& fn);

// Loads a cold value (tiered storage) for a replay that changes it in place.
using ColdLoader = std::function<Status(const ColdRef& ref, Value* out)>;

// Applies a mutation to a partition, if it is newer than what the partition holds. now_ms
// decides expiry. A push or pop on a list the snapshot left cold loads it first through
// load_cold (if null, or if the load fails, the change cannot be applied). Returns whether it
// changed something.
bool ApplyMutation(Partition* p, const Mutation& m, int64_t now_ms,
                   const ColdLoader* load_cold = nullptr);

// Internals of DecodeWalRecord.
Status DecodeWalHeader(std::string_view* in, WalRecordHeader* header);
Status DecodeMutation(std::string_view* in, Mutation* m);

template <class Fn>
Status DecodeWalRecord(std::string_view record, WalRecordHeader* header, Fn&& fn) {
  Status s = DecodeWalHeader(&record, header);
  if (!s.ok()) return s;
  for (uint32_t i = 0; i < header->count; ++i) {
    Mutation m;
    s = DecodeMutation(&record, &m);
    if (!s.ok()) return s;
    fn(m);
  }
  if (!record.empty()) return Status::Corruption("trailing bytes after the last mutation");
  return Status::OK();
}

}  // namespace dbkv::storage

#endif  // DATABRIDGE_STORAGE_WAL_H_
