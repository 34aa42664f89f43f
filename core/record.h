// Record: one key of a KeyTable in one allocation: a 16-byte header, the expiry only when the
// key has one, the key's bytes, and the value: a string or bytes value of up to kInlineMax
// bytes as bytes after the key ("inline"), anything else as a 16-byte Value ("boxed": numbers,
// containers, longer strings, which keep their own heap block, and cold references).
//
//   0   version (56 bits) | bits (8: EntryFlag bits, then the layout bits below)
//   8   access clock (32 bits)          12  key length (32 bits)
//   16  expiry, ms since the epoch (int64), if kRecordExpiry
//   B   boxed:  Value (16 bytes), then the key
//       inline: value length (16 bits), then the key, then the value bytes
//
// A Celery result (53-byte key, ~171-byte value, a TTL) is 16 + 8 + 2 + 53 + 171 = 250 bytes:
// one block of jemalloc's 256-byte class. The table holds 8-byte pointers to records
// (key_table.h). A record is rewritten when its key is written; it moves (a new allocation)
// only when the new contents need another size class (Reset): hold a Record* across a read,
// never across a write of the same key.
#ifndef DATABRIDGE_CORE_RECORD_H_
#define DATABRIDGE_CORE_RECORD_H_

#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

#include "core/alloc_size.h"
#include "core/entry.h"
#include "core/value.h"
#include "core/value_ref.h"

namespace dbkv {

class Record {
 public:
  // The longest string or bytes value kept inline (longer ones keep their own block, shared
  // with replies without a copy).
  static constexpr size_t kInlineMax = 512;

  Record(const Record&) = delete;
  Record& operator=(const Record&) = delete;

  static bool Inlines(const Value& v) {
    return v.is_string_like() && v.AsStringView().size() <= kInlineMax;
  }
  // Bytes of a record of a key of key_size bytes holding v (before the allocator's rounding).
  static size_t SizeFor(size_t key_size, const Value& v, bool has_expiry) {
    const size_t body = kHeaderBytes + (has_expiry ? 8 : 0) + key_size;
    return Inlines(v) ? body + 2 + v.AsStringView().size() : body + sizeof(Value);
  }
  // What the allocator gives such a record.
  static size_t AllocBytesFor(size_t key_size, const Value& v, bool has_expiry) {
    return AllocSize(SizeFor(key_size, v, has_expiry));
  }

  // Everything of an entry but its value.
  struct Header {
    int64_t expire_at_ms = kNoExpiry;
    uint64_t version = 0;
    uint32_t access = 0;
    uint32_t flags = 0;  // EntryFlag bits
  };

  static Header HeaderOf(const Entry& e) {
    return Header{e.expire_at_ms, e.version, e.access, e.flags};
  }

  // A new record of key holding e (its value moved in, or copied inline).
  static Record* Make(std::string_view key, Entry&& e) {
    return Make(key, std::move(e.value), HeaderOf(e));
  }
  // The same from a value and a header; a const value is copied (an inline one costs no more
  // than moving it).
  static Record* Make(std::string_view key, Value&& v, const Header& h);
  static Record* Make(std::string_view key, const Value& v, const Header& h);
  // Frees r and its value.
  static void Delete(Record* r);
  // Puts e in r's place and returns where it now is: r itself when the new contents take the
  // same allocator class, else a new record. In that case r keeps its key (the table finds its
  // slot by it) and no value, and the caller frees it with Delete once its slot points at the
  // new one. r's old value is destroyed either way.
  static Record* Reset(Record* r, Entry&& e) { return Reset(r, std::move(e.value), HeaderOf(e)); }
  static Record* Reset(Record* r, Value&& v, const Header& h);
  static Record* Reset(Record* r, const Value& v, const Header& h);

  std::string_view key() const { return {KeyBytes(), key_size_}; }
  uint64_t version() const { return version_; }
  void set_version(uint64_t v) { version_ = v & kMaxVersion; }
  // EntryFlag bits.
  uint8_t flags() const { return static_cast<uint8_t>(bits_ & kEntryFlagMask); }
  void set_flags(uint8_t f) { bits_ = (bits_ & ~kEntryFlagMask) | (f & kEntryFlagMask); }
  uint32_t access() const { return access_; }
  void set_access(uint32_t a) { access_ = a; }

  bool HasExpiry() const { return (bits_ & kRecordExpiry) != 0; }
  int64_t expire_at_ms() const {
    if (!HasExpiry()) return kNoExpiry;
    int64_t t;
    std::memcpy(&t, Base() + kHeaderBytes, sizeof(t));
    return t;
  }
  bool IsExpired(int64_t now_ms) const {
    if (!HasExpiry()) return false;
    return expire_at_ms() <= now_ms;
  }

  bool is_inline() const { return (bits_ & kRecordInline) != 0; }
  ValueRef value() const {
    if (!is_inline()) return ValueRef(Boxed());
    return ValueRef((bits_ & kRecordBytes) != 0 ? ValueType::kBytes : ValueType::kString,
                    {KeyBytes() + key_size_, InlineSize()});
  }
  bool is_cold() const { return !is_inline() && Boxed()->is_cold(); }
  // The boxed value, for a change that keeps it boxed and the record's size (a cold
  // reference moved); nullptr for an inline value.
  Value* mutable_boxed() { return is_inline() ? nullptr : Boxed(); }

  // The entry as a detached copy (the value copied).
  Entry Copy() const;
  // Moves the entry out into *e for a change in place (Reset puts it back): a boxed value is
  // moved (the record's becomes null), an inline one copied.
  void TakeInto(Entry* e);

  // Bytes the allocator gives the record.
  size_t AllocBytes() const { return AllocSize(Size()); }
  // The record and its value's own heap blocks: what the key costs beyond its table slot.
  size_t Charge() const { return AllocBytes() + (is_inline() ? 0 : Boxed()->HeapBytes()); }

 private:
  static constexpr size_t kHeaderBytes = 16;
  // Layout bits, above the EntryFlag bits (kEntryFlagMask).
  static constexpr uint8_t kRecordExpiry = 1u << 4;
  static constexpr uint8_t kRecordInline = 1u << 5;
  static constexpr uint8_t kRecordBytes = 1u << 6;

  Record() : version_(0), bits_(0) {}
  ~Record() = default;

  template <class V>
  static Record* MakeImpl(std::string_view key, V&& v, const Header& h);
  template <class V>
  static Record* ResetImpl(Record* r, V&& v, const Header& h);
  // Writes the header, the key's position and v into this memory, whose key bytes (key_size_
  // of them) are at old_key (moved if the layout puts them elsewhere).
  template <class V>
  void Fill(const char* old_key, V&& v, const Header& h);

  const char* Base() const { return reinterpret_cast<const char*>(this); }
  char* Base() { return reinterpret_cast<char*>(this); }
  size_t BodyOffset() const { return kHeaderBytes + (HasExpiry() ? 8 : 0); }
  const char* KeyBytes() const { return Base() + BodyOffset() + (is_inline() ? 2 : sizeof(Value)); }
  const Value* Boxed() const { return reinterpret_cast<const Value*>(Base() + BodyOffset()); }
  Value* Boxed() { return reinterpret_cast<Value*>(Base() + BodyOffset()); }
  size_t InlineSize() const {
    uint16_t n;
    std::memcpy(&n, Base() + BodyOffset(), sizeof(n));
    return n;
  }
  size_t Size() const {
    const size_t body = BodyOffset() + key_size_;
    return is_inline() ? body + 2 + InlineSize() : body + sizeof(Value);
  }

  uint64_t version_ : 56;
  uint64_t bits_ : 8;
  uint32_t access_ = 0;
  uint32_t key_size_ = 0;
};

static_assert(sizeof(Record) == 16, "a record's header is 16 bytes");
static_assert(Record::kInlineMax <= UINT16_MAX, "an inline value's length has 16 bits");

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_RECORD_H_
