// msgpack encoding of Values (protocol/PROTOCOL.md, "Values").
#ifndef DATABRIDGE_PROTOCOL_VALUE_CODEC_H_
#define DATABRIDGE_PROTOCOL_VALUE_CODEC_H_

#include <string>
#include <string_view>

#include "core/reply.h"
#include "core/status.h"
#include "core/value.h"
#include "core/value_ref.h"

namespace dbkv::protocol {

// Appends the msgpack encoding of v to out.
void AppendValue(std::string* out, const Value& v);
// A record's value (core/value_ref.h): an inline string as the Value it stands for.
void AppendValue(std::string* out, const ValueRef& v);
// Appends a simple status (ext type 2) to out.
void AppendSimple(std::string* out, std::string_view text);
// Appends a msgpack array header for n elements.
void AppendArrayHeader(std::string* out, uint32_t n);
// Appends a msgpack str.
void AppendString(std::string* out, std::string_view s);
// A bytes value (msgpack bin), as AppendValue(out, Value::Bytes(b)) without building it.
void AppendBytes(std::string* out, std::string_view b);

// Decodes exactly one msgpack value that fills data completely. A simple status (ext 2) is
// accepted only if simple is non-null, and sets *simple. Errors: kProtocol with the reason.
Status DecodeValue(std::string_view data, Value* out, bool* simple = nullptr);

// Decodes a msgpack array that fills data completely into its elements.
Status DecodeArray(std::string_view data, ValueList* out);

}  // namespace dbkv::protocol

#endif  // DATABRIDGE_PROTOCOL_VALUE_CODEC_H_
