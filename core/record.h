// Record: one key of a KeyTable in one allocation: its Entry, then the key's bytes.
//
// The table holds 8-byte pointers to records, so a key costs its record (40 bytes plus the
// key, rounded to the allocator's class), its value's own heap blocks, and a 9-byte slot.
// A record never moves while its key is in the table: an Entry* stays valid until the key is
// erased, whatever else is inserted.
#ifndef DATABRIDGE_CORE_RECORD_H_
#define DATABRIDGE_CORE_RECORD_H_

#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>

#include "core/alloc_size.h"
#include "core/entry.h"

namespace dbkv {

class Record : public Entry {
 public:
  Record(const Record&) = delete;
  Record& operator=(const Record&) = delete;

  // A record of key with a null value and no expiry.
  static Record* New(std::string_view key) {
    void* p = ::operator new(sizeof(Record) + key.size());
    auto* r = new (p) Record(static_cast<uint32_t>(key.size()));
    if (!key.empty()) std::memcpy(r->key_bytes(), key.data(), key.size());
    return r;
  }
  static void Delete(Record* r) {
#if defined(__cpp_sized_deallocation)
    const size_t n = r->size();
    r->~Record();
    ::operator delete(static_cast<void*>(r), n);  // jemalloc skips its size lookup
#else
    r->~Record();
    ::operator delete(static_cast<void*>(r));
#endif
  }

  std::string_view key() const { return {key_bytes(), key_size_}; }
  Entry& entry() { return *this; }
  const Entry& entry() const { return *this; }
  // Bytes the allocator gives the record (its value's heap blocks not included).
  size_t AllocBytes() const { return AllocSize(size()); }
  // What a record of a key of n bytes costs.
  static size_t AllocBytesFor(size_t key_size) { return AllocSize(sizeof(Record) + key_size); }

 private:
  explicit Record(uint32_t key_size) : key_size_(key_size) {}
  ~Record() = default;
  size_t size() const { return sizeof(Record) + key_size_; }
  char* key_bytes() { return reinterpret_cast<char*>(this) + sizeof(Record); }
  const char* key_bytes() const { return reinterpret_cast<const char*>(this) + sizeof(Record); }

  uint32_t key_size_;  // in Entry's tail padding (Entry is not a POD: its padding is reused)
};

static_assert(sizeof(Record) == 40, "a record's header is an Entry and the key's length");
static_assert(alignof(Record) == 8, "records are 8-aligned: their pointers' low bits are free");

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_RECORD_H_
