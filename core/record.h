// Record: one key of a KeyTable in one allocation: a 16-byte header, the expiry only when the
// key has one, the key's bytes, and the value: a string or bytes value of up to kInlineMax
// bytes as bytes after the key ("inline"), anything else as a 16-byte Value ("boxed": numbers,
// containers, longer strings, which keep their own heap block, and cold references).
//
//   0   version (56 bits) | bits (8: EntryFlag bits, then the layout bits below)
//   8   access clock (32 bits)
//   12  key length (31 bits) | key packed (top bit)
//   16  expiry, ms since the epoch (int64), if kRecordExpiry
//   B   boxed:  Value (16 bytes), then the key
//       inline: value length (16 bits), then the key, then the value bytes
//
// Packed ASCII (ascii_pack.h): a 7-bit key of 8 to kPackKeyMax bytes and a 7-bit inline value
// are stored 8 characters in 7 bytes when, and only when, that puts the record in a smaller
// allocator class; the lengths above stay the unpacked ones. A Celery result (53-byte key,
// ~171-byte JSON value, a TTL) is 16 + 8 + 2 + 53 + 171 = 250 bytes, jemalloc's 256-byte class;
// packed, 16 + 8 + 2 + 47 + 150 = 223 bytes, the 224-byte class. The table holds 8-byte
// pointers to records (key_table.h). A record is rewritten when its key is written; it moves
// (a new allocation) only when the new contents need another size class (Reset): hold a
// Record* across a read, never across a write of the same key.
#ifndef DATABRIDGE_CORE_RECORD_H_
#define DATABRIDGE_CORE_RECORD_H_

#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "core/alloc_size.h"
#include "core/ascii_pack.h"
#include "core/entry.h"
#include "core/value.h"
#include "core/value_ref.h"

namespace dbkv {

class Record;

// A record's key as text: a view of the record's bytes, or of its own copy of a packed key.
// Valid while both it and the record are: name it (`const KeyText k = r->key();`); a view of a
// temporary does not compile.
class KeyText {
 public:
  // The longest key that may be packed (its unpacked copy lives here).
  static constexpr size_t kPackKeyMax = 256;

  KeyText(const KeyText&) = delete;
  KeyText& operator=(const KeyText&) = delete;

  std::string_view view() const& { return view_; }
  std::string_view view() const&& = delete;
  std::string str() const { return std::string(view_); }

 private:
  friend class Record;
  // Unpacks n characters from packed, or views plain bytes.
  KeyText(const char* bytes, size_t n, bool packed) {  // NOLINT(*-pro-type-member-init): buf_
    if (packed) {
      AsciiUnpack(bytes, n, buf_);
      view_ = std::string_view(buf_, n);
    } else {
      view_ = std::string_view(bytes, n);
    }
  }

  std::string_view view_;
  char buf_[kPackKeyMax];
};

class Record {
 public:
  // The longest string or bytes value kept inline (longer ones keep their own block, shared
  // with replies without a copy).
  static constexpr size_t kInlineMax = ValueRef::kPackedMax;
  static constexpr size_t kPackKeyMax = KeyText::kPackKeyMax;
  // The longest key (its length has 31 bits; --max-frame-bytes allows frames up to 4 GiB).
  static constexpr size_t kKeyMax = (size_t{1} << 31) - 1;

  Record(const Record&) = delete;
  Record& operator=(const Record&) = delete;

  static bool Inlines(const Value& v) {
    return v.is_string_like() && v.AsStringView().size() <= kInlineMax;
  }

  // How a key and a value are laid out: which of them are packed, and the record's bytes
  // (before the allocator's rounding).
  struct Layout {
    size_t size = 0;
    size_t alloc = 0;  // AllocSize(size)
    bool key_packed = false;
    bool value_packed = false;
  };
  // The layout of a record of key holding v: packed where, and only where, that gives a smaller
  // allocator class, the value alone before the key too (reading a packed key costs an unpack).
  static Layout LayoutFor(std::string_view key, const Value& v, bool has_expiry) {
    return LayoutFor(key.size(), key.data(), v, has_expiry);
  }
  // What the allocator gives a record of key holding v.
  static size_t AllocBytesFor(std::string_view key, const Value& v, bool has_expiry) {
    return LayoutFor(key, v, has_expiry).alloc;
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

  // A new record of key holding e (its value moved in, or copied inline). key has at most
  // kKeyMax bytes (KeyTable::TryEmplace refuses longer ones before a record is made).
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
  // same allocator class (and the key the same form), else a new record. In that case r keeps
  // its key (the table finds its slot by it) and no value, and the caller frees it with Delete
  // once its slot points at the new one. r's old value is destroyed either way.
  static Record* Reset(Record* r, Entry&& e) { return Reset(r, std::move(e.value), HeaderOf(e)); }
  static Record* Reset(Record* r, Value&& v, const Header& h);
  static Record* Reset(Record* r, const Value& v, const Header& h);

  // The key's text (unpacked into the KeyText if it is packed).
  KeyText key() const { return KeyText(KeyBytes(), key_size(), key_packed()); }
  size_t key_size() const { return key_size_ & kKeySizeMask; }
  // Whether the key is k, without unpacking it.
  bool KeyEquals(std::string_view k) const {
    if (k.size() != key_size()) return false;
    return key_packed() ? AsciiPackedEquals(KeyBytes(), k)
                        : std::memcmp(KeyBytes(), k.data(), k.size()) == 0;
  }
  // Whether o has the same key.
  bool KeyEquals(const Record& o) const {
    if (key_size_ == o.key_size_) {  // the same length and form: the same stored bytes
      return std::memcmp(KeyBytes(), o.KeyBytes(), KeyStoredSize()) == 0;
    }
    const KeyText k = o.key();
    return KeyEquals(k.view());
  }
  bool key_packed() const { return (key_size_ & kKeyPacked) != 0; }
  bool value_packed() const { return (bits_ & kRecordPackedValue) != 0; }

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
    const ValueType type = (bits_ & kRecordBytes) != 0 ? ValueType::kBytes : ValueType::kString;
    const char* bytes = KeyBytes() + KeyStoredSize();
    const size_t n = InlineSize();
    if (value_packed()) return ValueRef(type, bytes, n, ValueRef::kPacked);
    return ValueRef(type, {bytes, n});
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
  static constexpr uint8_t kRecordPackedValue = 1u << 7;
  static constexpr uint32_t kKeyPacked = 1u << 31;
  static constexpr uint32_t kKeySizeMask = kKeyPacked - 1;

  Record() : version_(0), bits_(0) {}
  ~Record() = default;

  // How InlineLayout learns whether a value is ASCII: it reads it, it assumes so (the fill
  // that packs it finds out), or it was found not to be.
  enum class ValueText { kScan, kAssumeAscii, kBinary };

  // raw_key: the key's bytes, or nullptr for a key known to be ASCII (stored packed).
  static Layout LayoutFor(size_t key_size, const char* raw_key, const Value& v, bool has_expiry);
  // The layout of an inline value's record.
  static Layout InlineLayout(size_t key_size, const char* raw_key, std::string_view value,
                             bool has_expiry, ValueText text);
  // A block of l's class with the key's size and form set, to be filled.
  static Record* Allocate(size_t key_size, const Layout& l);
  static void Free(Record* r, size_t alloc_bytes);
  // Whether this record's block and key form suit layout l (a Reset in place).
  bool Holds(const Layout& l) const {
    return l.alloc == AllocBytes() && l.key_packed == key_packed();
  }
  template <class V>
  static Record* MakeImpl(std::string_view key, V&& v, const Header& h);
  // text: kAssumeAscii or kBinary.
  static Record* MakeInline(std::string_view key, ValueType type, std::string_view value,
                            const Header& h, ValueText text);
  template <class V>
  static Record* ResetImpl(Record* r, V&& v, const Header& h);
  // Writes the header and the key into this memory, key_size_ being set: the key from key (its
  // text) if given, else already in this record, at old_key (moved if the layout puts it
  // elsewhere). value_bits: the record bits of the value to be written (none for a boxed one).
  void FillHead(std::string_view key, const char* old_key, const Header& h, uint64_t value_bits);
  // FillHead, then an inline value as l says. False if l packs the value and it is not ASCII:
  // the record is then inline, of l's size, its key in place, and its value unfinished.
  bool FillInline(std::string_view key, const char* old_key, ValueType type, std::string_view value,
                  const Header& h, const Layout& l);

  const char* Base() const { return reinterpret_cast<const char*>(this); }
  char* Base() { return reinterpret_cast<char*>(this); }
  size_t BodyOffset() const { return kHeaderBytes + (HasExpiry() ? 8 : 0); }
  const char* KeyBytes() const { return Base() + BodyOffset() + (is_inline() ? 2 : sizeof(Value)); }
  size_t KeyStoredSize() const { return key_packed() ? PackedSize(key_size()) : key_size(); }
  const Value* Boxed() const { return reinterpret_cast<const Value*>(Base() + BodyOffset()); }
  Value* Boxed() { return reinterpret_cast<Value*>(Base() + BodyOffset()); }
  size_t InlineSize() const {
    uint16_t n;
    std::memcpy(&n, Base() + BodyOffset(), sizeof(n));
    return n;
  }
  size_t Size() const {
    const size_t body = BodyOffset() + KeyStoredSize();
    if (!is_inline()) return body + sizeof(Value);
    const size_t n = InlineSize();
    return body + 2 + (value_packed() ? PackedSize(n) : n);
  }

  uint64_t version_ : 56;
  uint64_t bits_ : 8;
  uint32_t access_ = 0;
  uint32_t key_size_ = 0;  // | kKeyPacked
};

static_assert(sizeof(Record) == 16, "a record's header is 16 bytes");
static_assert(Record::kInlineMax <= UINT16_MAX, "an inline value's length has 16 bits");

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_RECORD_H_
