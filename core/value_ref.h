// ValueRef: a read-only view of the value a Record holds, with the reading half of Value's
// interface.
//
// A record keeps a short string or bytes value inline, as bytes after its key (record.h); any
// other value is a Value inside the record ("boxed"). A ValueRef reads both the same way. It is
// valid as long as the record is: until the key is written or erased.
#ifndef DATABRIDGE_CORE_VALUE_REF_H_
#define DATABRIDGE_CORE_VALUE_REF_H_

#include <string>
#include <string_view>

#include "core/value.h"

namespace dbkv {

class ValueRef {
 public:
  // A boxed value (or any Value: a ValueRef parameter takes one as it is).
  explicit ValueRef(const Value* boxed) : boxed_(boxed), type_(boxed->type()) {}
  ValueRef(const Value& v) : ValueRef(&v) {}  // NOLINT(google-explicit-constructor)
  // An inline string or bytes value (type kString or kBytes).
  ValueRef(ValueType type, std::string_view bytes) : bytes_(bytes), type_(type) {}

  ValueType type() const { return type_; }
  bool is_null() const { return type_ == ValueType::kNull; }
  bool is_cold() const { return type_ == ValueType::kCold; }
  bool is_string_like() const { return type_ == ValueType::kString || type_ == ValueType::kBytes; }
  // The type of the value, looking through a cold reference.
  ValueType stored_type() const { return boxed_ != nullptr ? boxed_->stored_type() : type_; }
  ColdRef cold_ref() const { return boxed_->cold_ref(); }

  // As Value's accessors: calling one for another type is a bug.
  std::string_view AsStringView() const {
    return boxed_ != nullptr ? boxed_->AsStringView() : bytes_;
  }
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
    return type_ == ValueType::kBytes ? Value::Bytes(bytes_) : Value::String(bytes_);
  }

  bool operator==(const Value& o) const {
    if (boxed_ != nullptr) return *boxed_ == o;
    return o.type() == type_ && o.AsStringView() == bytes_;
  }
  bool operator!=(const Value& o) const { return !(*this == o); }
  std::string DebugString() const { return ToValue().DebugString(); }

 private:
  const Value* boxed_ = nullptr;
  std::string_view bytes_;
  ValueType type_;
};

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_VALUE_REF_H_
