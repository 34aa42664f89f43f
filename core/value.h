// Value: the typed values the server stores and the protocol carries.
//
// null, bool, int64, double, Decimal (exact), string (UTF-8 text), bytes, list and map.
// A Value is 16 bytes: a tag byte, then either an inline payload (scalars, and strings or bytes
// of up to kInlineCapacity bytes) or a pointer to one heap block. Copying is deep, except that
// long strings and bytes are immutable and shared by reference count (a copy costs one atomic
// increment, and copies may be used and destroyed on different threads); moving is cheap. Maps keep
// their insertion order and may have keys of any type.
#ifndef DATABRIDGE_CORE_VALUE_H_
#define DATABRIDGE_CORE_VALUE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/decimal.h"
#include "core/value_list.h"

namespace dbkv {

enum class ValueType : uint8_t {
  kNull = 0,
  kBool = 1,
  kInt = 2,
  kDouble = 3,
  kDecimal = 4,
  kString = 5,
  kBytes = 6,
  kList = 7,
  kMap = 8,
  // Not a value clients see: the place on disk of a value the shard moved out of memory
  // (tiered storage, see storage/COLD_FORMAT.md). Only a partition's entries hold one; the
  // shard loads it back before a command reads it.
  kCold = 9,
};

// Where a cold value's record is: a segment file, an offset in it, the record's length.
struct ColdRef {
  uint32_t segment = 0;
  uint32_t offset = 0;
  uint32_t length = 0;
  ValueType type = ValueType::kNull;  // the type of the value it holds

  bool operator==(const ColdRef& o) const {
    return segment == o.segment && offset == o.offset && length == o.length;
  }
};

std::string_view ValueTypeName(ValueType t);

class Value;
using ValueMap = std::vector<std::pair<Value, Value>>;

class Value {
 public:
  static constexpr size_t kInlineCapacity = 14;

  // Only the type byte says anything about a null; the rest of rep_ is written with the value
  // that replaces it (hot: values are made by the million).
  Value() { rep_[0] = static_cast<char>(ValueType::kNull); }  // NOLINT(*-pro-type-member-init)
  ~Value() { Destroy(); }
  Value(const Value& o);
  Value(Value&& o) noexcept {  // NOLINT(*-pro-type-member-init): all of rep_ is copied
    std::memcpy(rep_, o.rep_, sizeof(rep_));
    o.rep_[0] = static_cast<char>(ValueType::kNull);
  }
  Value& operator=(const Value& o);
  Value& operator=(Value&& o) noexcept {
    if (this != &o) {
      // Take o's bytes before destroying this value: o may live inside it (v = move(list[0])).
      alignas(8) char taken[sizeof(rep_)];
      std::memcpy(taken, o.rep_, sizeof(rep_));
      o.rep_[0] = static_cast<char>(ValueType::kNull);
      Destroy();
      std::memcpy(rep_, taken, sizeof(rep_));
    }
    return *this;
  }

  static Value Null() { return Value(); }
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Double(double d);
  static Value Dec(const Decimal& d);
  static Value String(std::string_view s);
  static Value Bytes(std::string_view b);
  // A string or bytes value (type kString or kBytes) of the n characters that packed holds as
  // packed ASCII (core/ascii_pack.h), unpacked straight into its own bytes.
  static Value FromPacked(ValueType type, const char* packed, size_t n);
  static Value List(ValueList items);
  static Value Map(ValueMap items);
  static Value Cold(const ColdRef& ref);

  ValueType type() const { return static_cast<ValueType>(rep_[0] & kTypeMask); }
  bool is_null() const { return type() == ValueType::kNull; }
  bool is_cold() const { return type() == ValueType::kCold; }
  // The record of a cold value (is_cold() only).
  ColdRef cold_ref() const {
    ColdRef r;
    std::memcpy(&r.segment, rep_ + 4, 4);
    std::memcpy(&r.offset, rep_ + 8, 4);
    std::memcpy(&r.length, rep_ + 12, 4);
    r.type = static_cast<ValueType>(rep_[1]);
    return r;
  }
  // The type of the value, looking through a cold reference.
  ValueType stored_type() const { return is_cold() ? static_cast<ValueType>(rep_[1]) : type(); }
  bool is_string_like() const {
    return type() == ValueType::kString || type() == ValueType::kBytes;
  }

  // Accessors: calling one for another type is a bug.
  bool AsBool() const { return rep_[8] != 0; }
  int64_t AsInt() const { return Load<int64_t>(); }
  double AsDouble() const { return Load<double>(); }
  const Decimal& AsDecimal() const { return *Load<Decimal*>(); }
  // Text of a string or bytes value.
  std::string_view AsStringView() const;
  const ValueList& AsList() const { return *Load<ValueList*>(); }
  ValueList& MutableList() { return *Load<ValueList*>(); }
  const ValueMap& AsMap() const { return *Load<ValueMap*>(); }
  ValueMap& MutableMap() { return *Load<ValueMap*>(); }

  // Bytes this value holds on the heap (0 for scalars and inline strings). An estimate of
  // allocator usage for memory accounting, not an exact figure.
  size_t HeapBytes() const;
  // The part of a list's HeapBytes() that is not its elements' own: the list object and its
  // array of `capacity` slots. HeapBytes() of a list is this plus its elements' HeapBytes().
  static size_t ListShellBytes(size_t capacity);

  // Deep equality: same type and same content (Decimal 1.0 != 1.00, as stored).
  bool operator==(const Value& o) const;
  bool operator!=(const Value& o) const { return !(*this == o); }

  // A short human-readable rendering, for logs and tests: 5, 1.10, "text", b"..", [..], {..}.
  std::string DebugString() const;

 private:
  static constexpr char kTypeMask = 0x0f;
  static constexpr char kInlineBit = 0x10;

  template <class T>
  T Load() const {
    T v;
    std::memcpy(&v, rep_ + 8, sizeof(T));  // NOLINT(bugprone-sizeof-expression): T may be a pointer
    return v;
  }
  template <class T>
  void Store(T v) {
    std::memcpy(rep_ + 8, &v, sizeof(T));  // NOLINT(bugprone-sizeof-expression): T may be a pointer
  }
  bool is_inline() const { return (rep_[0] & kInlineBit) != 0; }
  void SetStringLike(ValueType t, std::string_view s);
  void Destroy();

  // rep_[0]: type | inline bit. Inline strings: rep_[1] length, rep_[2..15] bytes.
  // Cold: rep_[1] the value's type, rep_[4..7] segment, rep_[8..11] offset, rep_[12..15]
  // length. Otherwise rep_[8..15] holds the scalar or the heap pointer.
  alignas(8) char rep_[16];
};

static_assert(sizeof(Value) == 16, "Value must stay 16 bytes: it is stored once per key");

// ValueList's members that need Value complete.

inline ValueList::iterator ValueList::begin() noexcept { return buf_ + head_; }
inline ValueList::iterator ValueList::end() noexcept { return buf_ + head_ + size_; }
inline ValueList::const_iterator ValueList::begin() const noexcept { return buf_ + head_; }
inline ValueList::const_iterator ValueList::end() const noexcept { return buf_ + head_ + size_; }
inline Value& ValueList::operator[](size_t i) noexcept { return buf_[head_ + i]; }
inline const Value& ValueList::operator[](size_t i) const noexcept { return buf_[head_ + i]; }
inline Value& ValueList::back() noexcept { return buf_[head_ + size_ - 1]; }
inline const Value& ValueList::back() const noexcept { return buf_[head_ + size_ - 1]; }
inline ValueList::iterator ValueList::erase(const_iterator pos) noexcept {
  return erase(pos, pos + 1);
}

template <class It, class>
ValueList::ValueList(It first, It last) {
  insert(end(), first, last);
}

template <class It, class>
ValueList::iterator ValueList::insert(const_iterator pos, It first, It last) {
  const size_t at = static_cast<size_t>(pos - begin());
  const auto n = static_cast<size_t>(std::distance(first, last));
  if (n == 0) return begin() + at;
  Value* slot = OpenGap(at, n);  // nulls: a copy that throws leaves a valid list
  for (; first != last; ++first, ++slot) *slot = *first;
  return begin() + at;
}

template <class... Args>
Value& ValueList::emplace_back(Args&&... args) {
  Value* slot = OpenGap(size_, 1);
  *slot = Value(std::forward<Args>(args)...);
  return *slot;
}

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_VALUE_H_
