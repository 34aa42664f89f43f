#include "storage/stored_value.h"

#include "protocol/value_codec.h"
#include "protocol/wire_format.h"
#include "storage/coding.h"

namespace dbkv::storage {
namespace {
constexpr size_t kColdRefBytes = 18;  // d8 03, 16 bytes
}  // namespace

void AppendStoredValue(std::string* out, const Value& v) {
  if (!v.is_cold()) {
    protocol::AppendValue(out, v);
    return;
  }
  const ColdRef r = v.cold_ref();
  out->push_back(static_cast<char>(0xd8));
  out->push_back(static_cast<char>(protocol::kExtColdRef));
  PutFixed32(out, r.segment);
  PutFixed32(out, r.offset);
  PutFixed32(out, r.length);
  out->push_back(static_cast<char>(r.type));
  out->append(3, '\0');
}

void AppendStoredValue(std::string* out, const ValueRef& v) {
  if (v.boxed() != nullptr) {
    AppendStoredValue(out, *v.boxed());
  } else {
    protocol::AppendValue(out, v);
  }
}

Status DecodeStoredValue(std::string_view bytes, Value* v) {
  if (bytes.size() == kColdRefBytes && static_cast<uint8_t>(bytes[0]) == 0xd8 &&
      bytes[1] == protocol::kExtColdRef) {
    std::string_view in = bytes.substr(2);
    ColdRef r;
    GetFixed32(&in, &r.segment);
    GetFixed32(&in, &r.offset);
    GetFixed32(&in, &r.length);
    const uint8_t type = static_cast<uint8_t>(in[0]);
    if (type > static_cast<uint8_t>(ValueType::kMap) || r.length == 0) {
      return Status::Corruption("bad cold reference");
    }
    r.type = static_cast<ValueType>(type);
    *v = Value::Cold(r);
    return Status::OK();
  }
  Status s = protocol::DecodeValue(bytes, v);
  if (!s.ok()) return Status::Corruption("bad value: " + s.message());
  return Status::OK();
}

}  // namespace dbkv::storage
