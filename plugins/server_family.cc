#include "plugins/server_family.h"

#include "core/version.h"
#include "plugins/api/args.h"
#include "plugins/api/contexts.h"
#include "protocol/opcodes.h"

namespace dbkv {
namespace {

namespace op = protocol::op;

Value Text(std::string_view s) { return Value::String(s); }

// PING [message] -> PONG, or the message.
Reply Ping(ConnectionContext&, const CommandArgs& args) {
  if (args.empty()) return Reply::Simple("PONG");
  return Reply::Of(args[0]);
}

Reply DoAuth(ConnectionContext& ctx, const Value& password) {
  if (!ctx.auth_required()) {
    return Reply::Error(Code::kInvalidArgument,
                        "AUTH called without any password configured for the default user");
  }
  if (!password.is_string_like() || !ctx.Authenticate(password.AsStringView())) {
    return Reply::Error(Code::kAuth, "invalid password");
  }
  return Reply::Ok();
}

// AUTH [username] password. The only user is "default".
Reply Auth(ConnectionContext& ctx, const CommandArgs& args) {
  if (args.size() == 2 && !ArgIs(args[0], "default")) {
    return Reply::Error(Code::kAuth, "invalid username-password pair");
  }
  return DoAuth(ctx, args[args.size() - 1]);
}

Status CheckNamespace(const Value& v) {
  if (!v.is_string_like()) return Status::InvalidArgument("namespace must be a string");
  if (v.AsStringView().size() > kMaxNamespaceLength) {
    return Status::InvalidArgument("namespace longer than 255 bytes");
  }
  return Status::OK();
}

// HELLO [protover [AUTH password] [NAMESPACE ns] [SETNAME name]] -> server description.
Reply Hello(ConnectionContext& ctx, const CommandArgs& args) {
  if (!args.empty()) {
    int64_t ver;
    if (!ArgToInt(args[0], &ver)) return Reply::Error(NotAnInteger());
    if (ver != 1) {
      return Reply::Error(Code::kInvalidArgument,
                          "unsupported protocol version " + std::to_string(ver));
    }
  }
  // Validate everything before changing anything.
  const Value* password = nullptr;
  const Value* ns = nullptr;
  const Value* name = nullptr;
  for (size_t i = 1; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) return Reply::Error(SyntaxError());
    if (ArgIs(args[i], "AUTH")) {
      password = &args[i + 1];
    } else if (ArgIs(args[i], "NAMESPACE")) {
      ns = &args[i + 1];
      Status s = CheckNamespace(*ns);
      if (!s.ok()) return Reply::Error(s);
    } else if (ArgIs(args[i], "SETNAME")) {
      name = &args[i + 1];
      if (!name->is_string_like()) return Reply::Error(SyntaxError());
    } else {
      return Reply::Error(SyntaxError());
    }
  }
  if (password != nullptr) {
    Reply r = DoAuth(ctx, *password);
    if (!r.ok()) return r;
  } else if (ctx.auth_required() && !ctx.authenticated()) {
    return Reply::Error(Code::kAuth, "Authentication required.");
  }
  if (ns != nullptr) ctx.set_ns(std::string(ns->AsStringView()));
  if (name != nullptr) ctx.set_client_name(std::string(name->AsStringView()));
  ServerInfo info = ctx.server_info();
  ValueMap m;
  m.emplace_back(Text("server"), Text(kServerName));
  m.emplace_back(Text("version"), Text(kVersion));
  m.emplace_back(Text("proto"), Value::Int(1));
  m.emplace_back(Text("namespace"), Text(ctx.ns()));
  m.emplace_back(Text("shards"), Value::Int(info.shards));
  return Reply::Of(Value::Map(std::move(m)));
}

// QUIT -> OK, then the server closes the connection.
Reply Quit(ConnectionContext& ctx, const CommandArgs&) {
  ctx.CloseAfterReply();
  return Reply::Ok();
}

// INFO, per shard: this shard's counters.
Reply InfoShard(ShardContext& ctx, const CommandArgs&) {
  const PartitionStats& s = ctx.partition().stats();
  ValueMap m;
  m.emplace_back(Text("keys"), Value::Int(static_cast<int64_t>(s.keys)));
  m.emplace_back(Text("memory_bytes"), Value::Int(static_cast<int64_t>(s.memory_bytes)));
  m.emplace_back(Text("expired_keys"), Value::Int(static_cast<int64_t>(s.expired_keys)));
  m.emplace_back(Text("evicted_keys"), Value::Int(static_cast<int64_t>(s.evicted_keys)));
  m.emplace_back(Text("cold_keys"), Value::Int(static_cast<int64_t>(s.cold_keys)));
  m.emplace_back(Text("cold_bytes"), Value::Int(static_cast<int64_t>(s.cold_bytes)));
  m.emplace_back(Text("hits"), Value::Int(static_cast<int64_t>(s.hits)));
  m.emplace_back(Text("misses"), Value::Int(static_cast<int64_t>(s.misses)));
  m.emplace_back(Text("blocked"), Value::Int(static_cast<int64_t>(ctx.blocked_count())));
  return Reply::Of(Value::Map(std::move(m)));
}

// INFO, merged: server figures, then the shards' counters summed.
Reply InfoMerge(MergeInput& in, ConnectionContext& ctx) {
  ServerInfo info = ctx.server_info();
  ValueMap m;
  m.emplace_back(Text("server"), Text(kServerName));
  m.emplace_back(Text("version"), Text(kVersion));
  m.emplace_back(Text("uptime_s"), Value::Int(info.uptime_s));
  m.emplace_back(Text("connections"), Value::Int(static_cast<int64_t>(info.connections)));
  m.emplace_back(Text("shards"), Value::Int(info.shards));
  m.emplace_back(Text("workers"), Value::Int(info.workers));
  m.emplace_back(Text("io_threads"), Value::Int(info.io_threads));
  m.emplace_back(Text("max_memory"), Value::Int(static_cast<int64_t>(info.max_memory)));
  m.emplace_back(Text("eviction"), Text(info.eviction));
  m.emplace_back(Text("persistence"), Text(info.data_dir.empty() ? "none" : "wal"));
  if (!info.data_dir.empty()) {
    m.emplace_back(Text("data_dir"), Text(info.data_dir));
    m.emplace_back(Text("fsync"), Text(info.fsync));
  }
  for (const auto& [name, value] : info.counters) m.emplace_back(Text(name), Value::Int(value));
  m.emplace_back(Text("namespace"), Text(ctx.ns()));
  const size_t first_counter = m.size();
  for (Reply& part : in.parts) {
    if (!part.ok()) return std::move(part);
    if (part.value.type() != ValueType::kMap) continue;
    for (const auto& kv : part.value.AsMap()) {
      bool found = false;
      for (size_t i = first_counter; i < m.size(); ++i) {
        if (m[i].first == kv.first) {
          m[i].second = Value::Int(m[i].second.AsInt() + kv.second.AsInt());
          found = true;
          break;
        }
      }
      if (!found) m.push_back(kv);
    }
  }
  return Reply::Of(Value::Map(std::move(m)));
}

// DBSIZE -> keys in the connection's namespace (expired keys not yet reclaimed included).
Reply DbSizeShard(ShardContext& ctx, const CommandArgs&) {
  return Reply::Of(Value::Int(static_cast<int64_t>(ctx.NamespaceSize())));
}

// A command without keys: the caller sets where it runs (flags) and its handler.
CommandSpec Keyless(std::string name, uint8_t opcode, uint32_t flags, int min_args, int max_args,
                    std::string summary) {
  CommandSpec s;
  s.name = std::move(name);
  s.opcode = opcode;
  s.flags = flags;
  s.min_args = min_args;
  s.max_args = max_args;
  s.summary = std::move(summary);
  return s;
}

CommandSpec OnConnection(std::string name, uint8_t opcode, uint32_t flags, int min_args,
                         int max_args, ConnectionHandler h, std::string summary) {
  CommandSpec s = Keyless(std::move(name), opcode, flags | kCmdConnection, min_args, max_args,
                          std::move(summary));
  s.connection = std::move(h);
  return s;
}

CommandSpec OnAllShards(std::string name, uint8_t opcode, int min_args, int max_args,
                        ShardHandler h, MergeFunction merge, std::string summary) {
  CommandSpec s = Keyless(std::move(name), opcode, kCmdAllShards | kCmdReadOnly, min_args, max_args,
                          std::move(summary));
  s.shard = std::move(h);
  s.merge = std::move(merge);
  return s;
}

}  // namespace

Status RegisterServerFamily(CommandRegistry* r) {
  return r->RegisterAll({
      OnConnection("PING", op::kPing, kCmdNoAuth, 0, 1, Ping, "PING [message]"),
      OnConnection("HELLO", op::kHello, kCmdNoAuth, 0, 7, Hello,
                   "HELLO [1 [AUTH password] [NAMESPACE ns] [SETNAME name]]"),
      OnConnection("AUTH", op::kAuth, kCmdNoAuth, 1, 2, Auth, "AUTH [username] password"),
      OnConnection("QUIT", op::kQuit, kCmdNoAuth, 0, 0, Quit, "QUIT"),
      OnAllShards("INFO", op::kInfo, 0, 1, InfoShard, InfoMerge, "INFO [section]"),
      OnAllShards("DBSIZE", 0, 0, 0, DbSizeShard, MergeSum, "DBSIZE"),
  });
}

}  // namespace dbkv
