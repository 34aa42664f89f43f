// Values as the on-disk formats store them (WAL records, snapshot entries): the msgpack of the
// wire protocol, or, for a cold value (tiered storage), its place in a cold segment as a
// msgpack fixext 16 of type 3 — a form that never appears on the wire (SNAPSHOT_FORMAT.md).
#ifndef DATABRIDGE_STORAGE_STORED_VALUE_H_
#define DATABRIDGE_STORAGE_STORED_VALUE_H_

#include <string>
#include <string_view>

#include "core/status.h"
#include "core/value.h"
#include "core/value_ref.h"

namespace dbkv::storage {

void AppendStoredValue(std::string* out, const Value& v);
// The same for a record's value (an inline string is written as the Value it stands for).
void AppendStoredValue(std::string* out, const ValueRef& v);
// Decodes exactly one stored value filling bytes. Errors: kCorruption with the reason.
Status DecodeStoredValue(std::string_view bytes, Value* v);

}  // namespace dbkv::storage

#endif  // DATABRIDGE_STORAGE_STORED_VALUE_H_
