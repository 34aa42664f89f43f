// Test helpers for command families: a shard (Partition + ShardContext) with a clock and a
// namespace the test controls, driven through the registry the way a shard runs a command.
#ifndef DATABRIDGE_PLUGINS_SHARD_FIXTURE_H_
#define DATABRIDGE_PLUGINS_SHARD_FIXTURE_H_

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/partition.h"
#include "plugins/api/command.h"
#include "plugins/api/contexts.h"
#include "plugins/api/registry.h"
#include "plugins/builtin.h"
#include "protocol/opcodes.h"
#include "tests/values.h"

namespace dbkv::testing {

constexpr int64_t kStart = 1'700'000'000'000;  // ms since the epoch: a fixed "now"

// The connection merge functions and connection commands see: a binary-protocol connection
// without a password unless the test sets `proto` (2 or 3: RESP) or `password`.
class FakeConnection : public ConnectionContext {
 public:
  const std::string& ns() const override { return ns_; }
  void set_ns(std::string ns) override { ns_ = std::move(ns); }
  const std::string& client_name() const override { return name_; }
  void set_client_name(std::string name) override { name_ = std::move(name); }
  bool authenticated() const override { return password.empty() || authenticated_; }
  bool Authenticate(std::string_view given) override {
    authenticated_ = !password.empty() && given == password;
    return authenticated_;
  }
  bool auth_required() const override { return !password.empty(); }
  void CloseAfterReply() override { close_requested = true; }
  ServerInfo server_info() const override { return info; }
  int protocol() const override { return proto; }
  bool SetProtocol(int version) override {
    if (proto == 1) return version == 1;
    if (version != 2 && version != 3) return false;
    proto = version;
    return true;
  }
  uint64_t client_id() const override { return 7; }

  int proto = 1;
  std::string password;
  ServerInfo info;
  bool close_requested = false;

 private:
  std::string ns_, name_;
  bool authenticated_ = false;
};

// A shard host that records what blocking commands ask for (ShardContext::Block) and which
// keys are written, for the tests of blocking families: nothing is re-run, the test does that.
class FakeHost : public ShardHost {
 public:
  struct Parked {
    std::vector<std::string> keys;
    int64_t deadline_ms = 0;
    int64_t recheck_ms = 0;
  };
  void Block(BlockRequest request) override {
    Parked p;
    for (std::string_view k : request.keys) p.keys.emplace_back(k);
    p.deadline_ms = request.deadline_ms;
    p.recheck_ms = request.recheck_ms;
    parked.push_back(std::move(p));
  }
  void OnWrite(std::string_view, std::string_view key, const Record*, uint64_t,
               const ListChange*) override {
    written.emplace_back(key);
  }
  size_t blocked_count() const override { return parked.size(); }

  std::vector<Parked> parked;
  std::vector<std::string> written;
};

// One shard's partition and the registry of every built-in family.
class Shard {
 public:
  Shard() { REQUIRE(RegisterBuiltinFamilies(&registry_).ok()); }

  const CommandRegistry& registry() const { return registry_; }
  // To register more commands (a plugin's) after the built-in ones.
  CommandRegistry& mutable_registry() { return registry_; }
  Partition& partition() { return partition_; }

  // Runs `name args...` as the shard would (arity checked as the connection does), on this
  // shard's partition or on another one.
  Reply Run(std::string_view name, ValueList args = {}, Partition* partition = nullptr) {
    const CommandSpec* cmd = registry_.FindByName(name);
    INFO(name);
    REQUIRE(cmd != nullptr);
    REQUIRE(cmd->shard);
    const int n = static_cast<int>(args.size());
    if (n < cmd->min_args || (cmd->max_args >= 0 && n > cmd->max_args)) {
      return Reply::Error(Code::kInvalidArgument, "wrong number of arguments");
    }
    ShardContext ctx(partition != nullptr ? partition : &partition_, 0, 1, host);
    ctx.Reset(ns, now, timed_out);
    return cmd->shard(ctx, CommandArgs(args.data(), args.size()));
  }

  // The reply value; fails the test on an error reply.
  Value Ok(std::string_view name, ValueList args = {}) {
    Reply r = Run(name, std::move(args));
    INFO(name << " -> " << r.error);
    REQUIRE(r.ok());
    return r.value;
  }

  // Runs a connection command (kCmdConnection) on conn.
  Reply OnConnection(FakeConnection& conn, std::string_view name, ValueList args = {}) {
    const CommandSpec* cmd = registry_.FindByName(name);
    INFO(name);
    REQUIRE(cmd != nullptr);
    REQUIRE(cmd->connection);
    const int n = static_cast<int>(args.size());
    if (n < cmd->min_args || (cmd->max_args >= 0 && n > cmd->max_args)) {
      return Reply::Error(Code::kInvalidArgument, "wrong number of arguments");
    }
    return cmd->connection(conn, CommandArgs(args.data(), args.size()));
  }

  Reply Err(std::string_view name, ValueList args = {}) {
    Reply r = Run(name, std::move(args));
    INFO(name << " unexpectedly succeeded: " << r.value.DebugString());
    REQUIRE_FALSE(r.ok());
    return r;
  }

  int64_t now = kStart;
  std::string ns;
  // Set: blocking commands may block (else Block answers an error), and Run is their last run
  // (ShardContext::timed_out) when timed_out is.
  ShardHost* host = nullptr;
  bool timed_out = false;

 private:
  CommandRegistry registry_;
  Partition partition_;
};

// What a family's registration test expects of one of its commands.
struct ExpectedCommand {
  const char* name = nullptr;  // upper case
  uint8_t opcode = 0;
  uint32_t flag = 0;  // a flag it must have
  int min_args = 0, max_args = 0;
  int first_key = 0;
};

// The command registered as e.name, checked for what every registration test expects: found by
// name and by opcode, the opcode table agreeing, e.flag set, e's arity and first key, a
// summary. Fails the test if the name is not registered.
inline const CommandSpec* RequireRegistered(const CommandRegistry& r, const ExpectedCommand& e) {
  INFO(e.name);
  const CommandSpec* cmd = r.FindByName(e.name);
  REQUIRE(cmd != nullptr);
  CHECK(r.FindByOpcode(e.opcode) == cmd);
  CHECK(protocol::op::ForName(e.name) == e.opcode);
  CHECK((cmd->flags & e.flag) != 0);
  CHECK(cmd->min_args == e.min_args);
  CHECK(cmd->max_args == e.max_args);
  CHECK(cmd->keys.first == e.first_key);
  CHECK_FALSE(cmd->summary.empty());
  return cmd;
}

}  // namespace dbkv::testing

#endif  // DATABRIDGE_PLUGINS_SHARD_FIXTURE_H_
