// Constants of the binary wire protocol. The format is documented in protocol/PROTOCOL.md;
// change both together.
#ifndef DATABRIDGE_PROTOCOL_WIRE_FORMAT_H_
#define DATABRIDGE_PROTOCOL_WIRE_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace dbkv::protocol {

// Frame header: length u32 | version u8 | code u8 | flags u16 | request id u32, big-endian.
constexpr size_t kLengthFieldSize = 4;
constexpr size_t kHeaderSize = 12;  // including the length field
constexpr uint8_t kVersion = 1;

// A frame is at most this long by default (header included); --max-frame-bytes changes it.
constexpr size_t kDefaultMaxFrameBytes = size_t{64} << 20;
// The largest frame any configuration may allow (string lengths are 32-bit).
constexpr size_t kAbsoluteMaxFrameBytes = (size_t{1} << 32) - 1;

// Opcode 0 addresses a command by name: the first element of the payload is the name.
constexpr uint8_t kOpByName = 0;

// msgpack ext types.
constexpr int8_t kExtDecimal = 1;  // payload: ASCII text of the decimal (to-scientific-string)
constexpr int8_t kExtSimple = 2;   // payload: ASCII text of a simple status ("OK", "PONG")
// Never on the wire: in snapshots only, the place of a cold value (storage/SNAPSHOT_FORMAT.md).
constexpr int8_t kExtColdRef = 3;

// Values nested deeper than this (lists in lists ...) are rejected.
constexpr int kMaxNestingDepth = 64;

static_assert(kHeaderSize == kLengthFieldSize + 1 + 1 + 2 + 4, "header layout");

}  // namespace dbkv::protocol

#endif  // DATABRIDGE_PROTOCOL_WIRE_FORMAT_H_
