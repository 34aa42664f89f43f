// Opcodes of the built-in commands (protocol/PROTOCOL.md, "Commands"). Every command is also
// reachable by name (opcode 0); opcodes save the name on the wire for the common ones.
// Numbers are part of the protocol: never reuse one.
#ifndef DATABRIDGE_PROTOCOL_OPCODES_H_
#define DATABRIDGE_PROTOCOL_OPCODES_H_

#include <cstdint>
#include <string_view>

namespace dbkv::protocol::op {

// Connection and server (0x01-0x0f).
constexpr uint8_t kPing = 0x01;
constexpr uint8_t kHello = 0x02;
constexpr uint8_t kAuth = 0x03;
constexpr uint8_t kInfo = 0x04;
constexpr uint8_t kQuit = 0x05;

// Core family (0x10-0x1f).
constexpr uint8_t kGet = 0x10;
constexpr uint8_t kSet = 0x11;
constexpr uint8_t kDel = 0x12;
constexpr uint8_t kExists = 0x13;
constexpr uint8_t kIncr = 0x14;
constexpr uint8_t kDecr = 0x15;
constexpr uint8_t kTtl = 0x16;
constexpr uint8_t kPttl = 0x17;
constexpr uint8_t kExpire = 0x18;
constexpr uint8_t kPexpire = 0x19;
constexpr uint8_t kPersist = 0x1a;

// Batch family (0x20-0x2f).
constexpr uint8_t kMget = 0x20;
constexpr uint8_t kMset = 0x21;
constexpr uint8_t kMsetpx = 0x22;
constexpr uint8_t kMdel = 0x23;
constexpr uint8_t kMexists = 0x24;

// CAS family (0x30-0x3f).
constexpr uint8_t kGetv = 0x30;
constexpr uint8_t kCas = 0x31;
constexpr uint8_t kMgetv = 0x32;

// List family (0x40-0x4f).
constexpr uint8_t kRpush = 0x40;
constexpr uint8_t kLpush = 0x41;
constexpr uint8_t kLpop = 0x42;
constexpr uint8_t kRpop = 0x43;
constexpr uint8_t kLrange = 0x44;
constexpr uint8_t kLlen = 0x45;
constexpr uint8_t kBlpop = 0x46;
constexpr uint8_t kBrpop = 0x47;

// Wait family (0x50-0x57).
constexpr uint8_t kWait = 0x50;
constexpr uint8_t kMWait = 0x51;
constexpr uint8_t kWaitAny = 0x52;
constexpr uint8_t kWaitAnyV = 0x53;

// Lock family (0x58-0x5f).
constexpr uint8_t kLock = 0x58;
constexpr uint8_t kUnlock = 0x59;
constexpr uint8_t kLockExtend = 0x5a;

// The rest of 0x20-0x7f is reserved for the other built-in families; 0x80-0xff are never
// assigned (plugins are addressed by name).

// The opcode of a built-in command name (upper case), or kOpByName (0) if it has none. Lets
// clients save the name on the wire for the common commands.
inline uint8_t ForName(std::string_view upper_name) {
  struct Entry {
    std::string_view name;
    uint8_t opcode;
  };
  static constexpr Entry kTable[] = {
      {"PING", kPing},
      {"HELLO", kHello},
      {"AUTH", kAuth},
      {"INFO", kInfo},
      {"QUIT", kQuit},
      {"GET", kGet},
      {"SET", kSet},
      {"DEL", kDel},
      {"EXISTS", kExists},
      {"INCR", kIncr},
      {"DECR", kDecr},
      {"TTL", kTtl},
      {"PTTL", kPttl},
      {"EXPIRE", kExpire},
      {"PEXPIRE", kPexpire},
      {"PERSIST", kPersist},
      {"MGET", kMget},
      {"MSET", kMset},
      {"MSETPX", kMsetpx},
      {"MDEL", kMdel},
      {"MEXISTS", kMexists},
      {"GETV", kGetv},
      {"CAS", kCas},
      {"RPUSH", kRpush},
      {"LPUSH", kLpush},
      {"LPOP", kLpop},
      {"RPOP", kRpop},
      {"LRANGE", kLrange},
      {"LLEN", kLlen},
      {"BLPOP", kBlpop},
      {"BRPOP", kBrpop},
      {"WAIT", kWait},
      {"MWAIT", kMWait},
      {"WAITANY", kWaitAny},
      {"LOCK", kLock},
      {"UNLOCK", kUnlock},
      {"LOCKEXTEND", kLockExtend},
      {"MGETV", kMgetv},
      {"WAITANYV", kWaitAnyV},
  };
  for (const Entry& e : kTable) {
    if (e.name == upper_name) return e.opcode;
  }
  return 0;
}

}  // namespace dbkv::protocol::op

#endif  // DATABRIDGE_PROTOCOL_OPCODES_H_
