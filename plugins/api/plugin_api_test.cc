// The plugin API's own guarantees: the ABI fingerprint changes with anything a plugin is built
// against, and plugin commands cannot take the binary protocol's opcodes.
#include <catch2/catch.hpp>
#include <cstdint>
#include <utility>
#include <vector>

#include "plugins/api/plugin.h"

namespace dbkv {
namespace {

constexpr size_t kFlagCount = sizeof(plugin_abi::kFlags) / sizeof(plugin_abi::kFlags[0]);

uint64_t FingerprintWith(uint32_t version, uint64_t headers_hash, std::vector<uint32_t> flags) {
  return plugin_abi::Fingerprint(version, headers_hash, flags.data(), flags.size());
}

TEST_CASE("the ABI fingerprint carries the API version in its top 16 bits", "[plugin_api]") {
  STATIC_REQUIRE(kPluginApiVersion == 5);
  CHECK(PluginAbiFingerprint() >> 48 == kPluginApiVersion);
  CHECK(FingerprintWith(1, DBKV_PLUGIN_HEADERS_HASH, {}) >> 48 == 1);
}

TEST_CASE("the ABI fingerprint changes with the flags' bits and the headers", "[plugin_api]") {
  const std::vector<uint32_t> now(plugin_abi::kFlags, plugin_abi::kFlags + kFlagCount);
  const uint64_t fp = FingerprintWith(kPluginApiVersion, DBKV_PLUGIN_HEADERS_HASH, now);
  CHECK(fp == PluginAbiFingerprint());
  // The flags as they were before API version 2: kCmdStoredReply at bit 10, no kCmdNoLoad.
  std::vector<uint32_t> before = now;
  before.pop_back();
  before.back() = 1u << 10;
  CHECK(FingerprintWith(kPluginApiVersion, DBKV_PLUGIN_HEADERS_HASH, before) != fp);
  // Two flags swapping bits, as kCmdNoLoad and kCmdStoredReply would.
  std::vector<uint32_t> swapped = now;
  std::swap(swapped[kFlagCount - 1], swapped[kFlagCount - 2]);
  CHECK(FingerprintWith(kPluginApiVersion, DBKV_PLUGIN_HEADERS_HASH, swapped) != fp);
  // Other header text, same version: another fingerprint, same top bits.
  const uint64_t other = FingerprintWith(kPluginApiVersion, DBKV_PLUGIN_HEADERS_HASH ^ 1, now);
  CHECK(other != fp);
  CHECK(other >> 48 == fp >> 48);
  // The flag list is complete: every bit up to the highest flag is one of them.
  uint32_t all = 0;
  for (uint32_t f : now) {
    CHECK((all & f) == 0);
    all |= f;
  }
  CHECK(all == (uint32_t{kCmdStoredReply} << 1) - 1);
}

CommandSpec Named(const char* name, uint8_t opcode) {
  CommandSpec s = KeyCommand(
      name, opcode, kCmdReadOnly, 1, 1,
      [](ShardContext&, const CommandArgs&) { return Reply::Nil(); }, "");
  return s;
}

TEST_CASE("after ReserveOpcodes, only commands without an opcode register", "[plugin_api]") {
  CommandRegistry r;
  REQUIRE(r.Register(Named("BUILTIN", 0x40)).ok());
  CHECK_FALSE(r.opcodes_reserved());
  r.ReserveOpcodes();
  CHECK(r.opcodes_reserved());
  Status s = r.Register(Named("MINE", 0xF0));  // a free opcode
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK_THAT(s.message(), Catch::Matchers::Contains("opcode 240 is reserved for built-in"));
  CHECK(r.FindByName("MINE") == nullptr);
  CHECK(r.FindByOpcode(0xF0) == nullptr);
  CHECK(r.Register(Named("MINE", 0)).ok());
  CHECK(r.FindByName("mine") != nullptr);
  CHECK(r.FindByOpcode(0x40)->name == "BUILTIN");
}

}  // namespace
}  // namespace dbkv
