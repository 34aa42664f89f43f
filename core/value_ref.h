// ValueRef: a read-only view of the value a Record holds, with the reading half of Value's
// interface.
//
// A record keeps a short string or bytes value inline, as bytes after its key (record.h), packed
// 8 characters in 7 bytes when that saves an allocator class (ascii_pack.h); any other value is
// a Value inside the record ("boxed"). A ValueRef reads them all the same way: a packed value is
// unpacked into the ValueRef the first time its text is asked for. It is valid as long as the
// record is: until the key is written or erased. Text read from it is valid as long as both it
// and the record are: name a ValueRef whose text you keep (a view of a temporary's text does
// not compile).
#ifndef DATABRIDGE_CORE_VALUE_REF_H_
#define DATABRIDGE_CORE_VALUE_REF_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/ascii_pack.h"
#include "core/value.h"

namespace dbkv {

class ValueRef {
 public:
  // The longest inline value (record.h's kInlineMax): what a packed one unpacks into.
  static constexpr size_t kPackedMax = 512;
  enum PackedTag { kPacked };

  // A boxed value (or any Value: a ValueRef parameter takes one as it is).
  // (buf_ is written only when a packed value is read.)
  explicit ValueRef(const Value* boxed)  // NOLINT(*-pro-type-member-init)
      : boxed_(boxed), type_(boxed->type()) {}
  ValueRef(const Value& v) : ValueRef(&v) {}  // NOLINT(google-explicit-constructor)
  // An inline string or bytes value (type kString or kBytes).
  ValueRef(ValueType type, std::string_view bytes)  // NOLINT(*-pro-type-member-init)
      : bytes_(bytes), type_(type) {}
  // An inline string or bytes value of n characters packed at packed (PackedSize(n) bytes).
  ValueRef(ValueType type, const char* packed, size_t n,  // NOLINT(*-pro-type-member-init)
           PackedTag /*packed*/)
      : bytes_(packed, n), type_(type), packed_(true) {}
  // A copy reads the same record; it unpacks on its own.
  ValueRef(const ValueRef& o)  // NOLINT(*-pro-type-member-init): buf_ is filled when read
      : boxed_(o.boxed_), bytes_(o.bytes_), type_(o.type_), packed_(o.packed_) {}
  ValueRef& operator=(const ValueRef& o) {
    if (this == &o) return *this;
    boxed_ = o.boxed_;
    bytes_ = o.bytes_;
    type_ = o.type_;
    packed_ = o.packed_;
    unpacked_ = false;
    return *this;
  }

  ValueType type() const { return type_; }
  bool is_null() const { return type_ == ValueType::kNull; }
  bool is_cold() const { return type_ == ValueType::kCold; }
  bool is_string_like() const { return type_ == ValueType::kString || type_ == ValueType::kBytes; }
  // The type of the value, looking through a cold reference.
  ValueType stored_type() const { return boxed_ != nullptr ? boxed_->stored_type() : type_; }
  ColdRef cold_ref() const { return boxed_->cold_ref(); }

  // As Value's accessors: calling one for another type is a bug.
  std::string_view AsStringView() const& {
    if (boxed_ != nullptr) return boxed_->AsStringView();
    if (!packed_) return bytes_;
    if (!unpacked_) {
      AsciiUnpack(bytes_.data(), bytes_.size(), buf_);
      unpacked_ = true;
    }
    return {buf_, bytes_.size()};
  }
  std::string_view AsStringView() const&& = delete;
  bool AsBool() const { return boxed_->AsBool(); }
  int64_t AsInt() const { return boxed_->AsInt(); }
  double AsDouble() const { return boxed_->AsDouble(); }
  const Decimal& AsDecimal() const { return boxed_->AsDecimal(); }
  const ValueList& AsList() const { return boxed_->AsList(); }
  const ValueMap& AsMap() const { return boxed_->AsMap(); }

  // The Value inside the record, or nullptr for an inline string.
  const Value* boxed() const { return boxed_; }
  // The value's own heap blocks (0 for an inline string: its bytes are the record's).
  size_t HeapBytes() const { return boxed_ != nullptr ? boxed_->HeapBytes() : 0; }
  // Bytes of value data: a string's length, or the heap bytes of anything else.
  size_t DataBytes() const { return boxed_ != nullptr ? boxed_->HeapBytes() : bytes_.size(); }

  // A copy that outlives the record (a reply, a lent value): an inline string is copied.
  Value ToValue() const {
    if (boxed_ != nullptr) return *boxed_;
    if (packed_ && !unpacked_) return Value::FromPacked(type_, bytes_.data(), bytes_.size());
    const std::string_view s = AsStringView();
    return type_ == ValueType::kBytes ? Value::Bytes(s) : Value::String(s);
  }

  bool operator==(const Value& o) const {
    if (boxed_ != nullptr) return *boxed_ == o;
    return o.type() == type_ && o.AsStringView() == AsStringView();
  }
  bool operator!=(const Value& o) const { return !(*this == o); }
  std::string DebugString() const { return ToValue().DebugString(); }

 private:
  const Value* boxed_ = nullptr;
  // An inline value's bytes; for a packed one, its packed bytes' start and its length.
  std::string_view bytes_;
  ValueType type_;
  bool packed_ = false;
  mutable bool unpacked_ = false;  // buf_ holds the packed value's text
  mutable char buf_[kPackedMax];
};

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_VALUE_REF_H_
