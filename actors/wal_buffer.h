// WalBuffer: the write-ahead-log mutations of the batch a shard is running, encoded as the
// writes happen (storage/wal.h), then handed to the persistence actor in one message.
#ifndef DATABRIDGE_ACTORS_WAL_BUFFER_H_
#define DATABRIDGE_ACTORS_WAL_BUFFER_H_

#include <cstdint>
#include <string>

#include "actors/command_runner.h"
#include "storage/wal.h"

namespace dbkv {

class WalBuffer final : public WriteListener {
 public:
  void OnWrite(std::string_view ns, std::string_view key, const Record* record, uint64_t version,
               const ListChange* change) override {
    storage::MutationEncoder enc(&bytes_);
    if (record == nullptr) {
      enc.Del(ns, key, version);
    } else if (change != nullptr && change->push) {
      enc.Push(ns, key, version, record->expire_at_ms(), change->tail, change->values,
               change->count);
    } else if (change != nullptr) {
      enc.Pop(ns, key, version, change->tail, change->count);
    } else {
      enc.Put(ns, *record);
    }
    ++count_;
  }

  bool empty() const { return count_ == 0; }
  uint32_t count() const { return count_; }
  // The mutations so far; the buffer starts over.
  std::string Take(uint32_t* count) {
    *count = count_;
    count_ = 0;
    std::string out;
    out.swap(bytes_);
    return out;
  }

 private:
  std::string bytes_;
  uint32_t count_ = 0;
};

}  // namespace dbkv

#endif  // DATABRIDGE_ACTORS_WAL_BUFFER_H_
