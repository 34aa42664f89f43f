// The plugin API: how a command is described and what its handler sees.
//
// Every command, built-in or loaded with --plugin, is a CommandSpec registered in the one
// CommandRegistry. Handlers never see the wire format: they get the decoded arguments and
// return a Reply, which each protocol encodes its own way.
//
// Where a handler runs depends on the command's flags:
//  - kCmdConnection: on the connection's I/O thread, with a ConnectionContext (PING, HELLO).
//  - kCmdAllShards: once on every shard, then the per-shard replies are merged (INFO).
//  - otherwise the command has keys: it runs on the shard that owns its key, or, for several
//    keys (CommandSpec::keys), once per shard on that shard's keys, then merged.
#ifndef DATABRIDGE_PLUGINS_API_COMMAND_H_
#define DATABRIDGE_PLUGINS_API_COMMAND_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/reply.h"
#include "core/value.h"
#include "plugins/api/key_spec.h"

namespace dbkv {

class ShardContext;
class ConnectionContext;

enum CommandFlag : uint32_t {
  kCmdWrite = 1u << 0,       // modifies data: logged; refused when memory is full (kCmdAllowOom)
  kCmdReadOnly = 1u << 1,    // reads only
  kCmdConnection = 1u << 2,  // runs on the connection, touches no shard
  kCmdAllShards = 1u << 3,   // runs on every shard; replies merged by `merge`
  kCmdNoAuth = 1u << 4,      // allowed before the connection has authenticated
  kCmdBlocking = 1u << 5,    // may wait for an event before replying (never holds the shard)
  kCmdAdmin = 1u << 6,       // server administration
  // Split over shards: once one part answers, the parts still blocked are cancelled (run a last
  // time, see BlockRequest). For "the first of these keys" commands such as WAITANY.
  kCmdFirstPartWins = 1u << 7,
  // Several keys, but they must all be on one shard (the same hash tag): otherwise the
  // request fails with CROSSSHARD, and no merge is needed. For blocking pops.
  kCmdSingleShard = 1u << 8,
  // A write that never makes the data bigger (it deletes, pops, or changes an expiry): still
  // allowed when memory is over --max-memory and the policy cannot free any.
  kCmdAllowOom = 1u << 9,
  // Never reads its keys' values, only their existence, expiry or version (DEL, EXISTS, TTL,
  // EXPIRE, SET, CAS): with tiered storage, a value on disk is not loaded for it. Its handler
  // may see entries whose value is_cold(); it must not read those values. A command that reads
  // values only with some arguments (SET ... GET) also sets CommandSpec::reads_values.
  kCmdNoLoad = 1u << 10,
  // The reply is stored data (GET, MGET, LRANGE ...). Protocols without typed values show it
  // as Redis shows stored data: RESP sends every number and bool in it as a bulk string (an
  // int 10 as "10"), where the reply of a command without this flag (INCR) is an integer.
  kCmdStoredReply = 1u << 11,
};

// The arguments of one command invocation, after the command name. A view: the values are
// owned by the request and live until the reply is sent.
class CommandArgs {
 public:
  CommandArgs() = default;
  CommandArgs(const Value* data, size_t size) : data_(data), size_(size) {}

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const Value& operator[](size_t i) const { return data_[i]; }
  const Value* begin() const { return data_; }
  const Value* end() const { return data_ + size_; }
  CommandArgs subspan(size_t from) const {
    return from >= size_ ? CommandArgs(data_ + size_, 0) : CommandArgs(data_ + from, size_ - from);
  }

 private:
  const Value* data_ = nullptr;
  size_t size_ = 0;
};

// What a multi-shard command's merge function receives.
struct MergeInput {
  // One reply per shard the command ran on, in the order of `groups`.
  std::vector<Reply> parts;
  // For key commands: for each part, the indexes (in the caller's order) of the key groups it
  // handled. parts[i], if a list, holds one element per entry of groups[i]. Empty for
  // kCmdAllShards commands.
  std::vector<std::vector<uint32_t>> groups;
  // Total number of key groups in the request.
  uint32_t group_count = 0;
  // kCmdAllShards commands: the request's arguments (INFO's section). Empty for key commands
  // (their arguments went to the parts).
  CommandArgs args;
};

using ShardHandler = std::function<Reply(ShardContext& ctx, const CommandArgs& args)>;
using ConnectionHandler = std::function<Reply(ConnectionContext& ctx, const CommandArgs& args)>;
using MergeFunction = std::function<Reply(MergeInput& input, ConnectionContext& ctx)>;

struct CommandSpec {
  // Upper-case name, as clients send it (case-insensitive on the wire).
  std::string name;
  // Opcode on the binary protocol, or 0: reachable by name only (all plugin commands).
  uint8_t opcode = 0;
  uint32_t flags = 0;
  // Accepted argument counts (after the name); max_args -1 means unlimited.
  int min_args = 0;
  int max_args = -1;
  // Where the keys are among the arguments (key_spec.h); KeySpec::None() without keys.
  KeySpec keys;
  // Runs on a shard (commands with keys, and kCmdAllShards). When the keys are on several
  // shards it runs once per shard with the prefix, that shard's key groups in the caller's
  // order, and the suffix; when they are all on one shard it runs once with every argument and
  // its reply is the command's reply (merge is not called): so its reply for a subset of
  // the groups must have the same shape as the reply for all of them.
  ShardHandler shard;
  // Runs on the connection (kCmdConnection).
  ConnectionHandler connection;
  // Combines per-shard replies: required for kCmdAllShards and for commands whose keys may
  // span shards (keys.multiple()). Runs on the connection.
  MergeFunction merge;
  // For kCmdNoLoad commands that read values with some arguments: true if these do.
  std::function<bool(const CommandArgs& args)> reads_values;
  // One line for COMMAND/--help listings: "GET key".
  std::string summary;
  // Set by the registry: the command's index in CommandRegistry::commands() (for metrics).
  uint32_t id = 0;
};

// The spec of a command whose one key is its first argument (KeySpec::One(0)), run
// by handler on the key's shard. Commands with other key positions set `keys` (and `merge`) on
// the spec it returns.
CommandSpec KeyCommand(std::string name, uint8_t opcode, uint32_t flags, int min_args, int max_args,
                       ShardHandler handler, std::string summary);

// Whether a run of cmd with args reads its keys' values (see kCmdNoLoad).
inline bool ReadsValues(const CommandSpec& cmd, const CommandArgs& args) {
  if ((cmd.flags & kCmdNoLoad) == 0) return true;
  return cmd.reads_values && cmd.reads_values(args);
}

// Canned merge functions.
// parts are lists with one element per key group: scatter them back into the caller's order.
Reply MergeInKeyOrder(MergeInput& in, ConnectionContext& ctx);
// parts are integers: their sum.
Reply MergeSum(MergeInput& in, ConnectionContext& ctx);
// Every part OK: the first part's reply; else the first error.
Reply MergeFirstError(MergeInput& in, ConnectionContext& ctx);

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_API_COMMAND_H_
