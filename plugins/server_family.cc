#include "plugins/server_family.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "core/numeric.h"
#include "core/version.h"
#include "plugins/api/args.h"
#include "plugins/api/contexts.h"
#include "protocol/opcodes.h"

namespace dbkv {
namespace {

namespace op = protocol::op;

Value Text(std::string_view s) { return Value::String(s); }

// The Redis version whose protocol and commands RESP clients may assume (HELLO, INFO).
constexpr char kRedisCompatibleVersion[] = "7.0.0";

// PING [message] -> PONG, or the message.
Reply Ping(ConnectionContext&, const CommandArgs& args) {
  if (args.empty()) return Reply::Simple("PONG");
  return Reply::Of(args[0]);
}

bool Resp(const ConnectionContext& ctx) { return ctx.protocol() >= 2; }

// Redis's text for a refused password (RESP sends it as -WRONGPASS).
constexpr char kRedisWrongPass[] = "invalid username-password pair or user is disabled.";

Reply DoAuth(ConnectionContext& ctx, const Value& password) {
  if (!ctx.auth_required()) {
    return Reply::Error(Code::kInvalidArgument,
                        Resp(ctx) ? "AUTH <password> called without any password configured for "
                                    "the default user. Are you sure your configuration is correct?"
                                  : "AUTH called without any password configured for the default "
                                    "user");
  }
  if (!password.is_string_like() || !ctx.Authenticate(password.AsStringView())) {
    return Reply::Error(Code::kAuth, Resp(ctx) ? kRedisWrongPass : "invalid password");
  }
  return Reply::Ok();
}

// AUTH [username] password. The only user is "default".
Reply Auth(ConnectionContext& ctx, const CommandArgs& args) {
  if (args.size() == 2 && !ArgIs(args[0], "default")) {
    return Reply::Error(Code::kAuth,
                        Resp(ctx) ? kRedisWrongPass : "invalid username-password pair");
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

// Client names: printable ASCII without spaces, as Redis requires.
bool ValidClientName(std::string_view s) {
  for (char c : s) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

// HELLO on a RESP connection, as Redis's: HELLO [2|3 [AUTH username password] [SETNAME name]]
// -> switches to RESP2 or RESP3 and describes the server (a map; RESP2 sends it flat).
Reply RespHello(ConnectionContext& ctx, const CommandArgs& args) {
  int64_t version = ctx.protocol();
  if (!args.empty()) {
    if (!ArgToInt(args[0], &version)) {
      return Reply::Error(Code::kInvalidArgument,
                          "Protocol version is not an integer or out of range");
    }
    if (version != 2 && version != 3) {
      return Reply::Error(Code::kInvalidArgument, "unsupported protocol version");
    }
  }
  const Value* user = nullptr;
  const Value* password = nullptr;
  const Value* name = nullptr;
  for (size_t i = 1; i < args.size();) {
    if (ArgIs(args[i], "AUTH") && i + 2 < args.size()) {
      user = &args[i + 1];
      password = &args[i + 2];
      i += 3;
    } else if (ArgIs(args[i], "SETNAME") && i + 1 < args.size()) {
      name = &args[i + 1];
      if (!name->is_string_like() || !ValidClientName(name->AsStringView())) {
        return Reply::Error(Code::kInvalidArgument,
                            "Client names cannot contain spaces, newlines or special characters.");
      }
      i += 2;
    } else {
      return Reply::Error(Code::kInvalidArgument,
                          "syntax error in HELLO option '" + std::string(ArgText(args[i])) + "'");
    }
  }
  if (password != nullptr) {
    if (!ArgIs(*user, "default")) return Reply::Error(Code::kAuth, kRedisWrongPass);
    Reply r = DoAuth(ctx, *password);
    if (!r.ok()) return r;
  } else if (ctx.auth_required() && !ctx.authenticated()) {
    return Reply::Error(Code::kAuth, "Authentication required.");
  }
  if (name != nullptr) ctx.set_client_name(std::string(name->AsStringView()));
  ctx.SetProtocol(static_cast<int>(version));
  ValueMap m;
  m.emplace_back(Text("server"), Text("redis"));
  m.emplace_back(Text("version"), Text(kRedisCompatibleVersion));
  m.emplace_back(Text("proto"), Value::Int(version));
  m.emplace_back(Text("id"), Value::Int(static_cast<int64_t>(ctx.client_id())));
  m.emplace_back(Text("mode"), Text("standalone"));
  m.emplace_back(Text("role"), Text("master"));
  m.emplace_back(Text("modules"), Value::List({}));
  m.emplace_back(Text("dbkv_version"), Text(kVersion));
  return Reply::Of(Value::Map(std::move(m)));
}

// HELLO [protover [AUTH password] [NAMESPACE ns] [SETNAME name]] -> server description.
// On a RESP connection, Redis's HELLO (RespHello).
Reply Hello(ConnectionContext& ctx, const CommandArgs& args) {
  if (Resp(ctx)) return RespHello(ctx, args);
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
  m.emplace_back(Text("namespace_keys"), Value::Int(static_cast<int64_t>(ctx.NamespaceSize())));
  return Reply::Of(Value::Map(std::move(m)));
}

// "1.50M": Redis's used_memory_human.
std::string HumanBytes(int64_t n) {
  const char* units = "BKMGTP";
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%c", v, units[u]);
  return buf;
}

// INFO on a RESP connection: Redis's text, "# Section" headers and field:value lines, for the
// sections asked for (none, "default", "all" or "everything": all of them).
std::string RedisInfoText(const ValueMap& m, const ServerInfo& info, const ConnectionContext& ctx,
                          const CommandArgs& sections) {
  auto field = [&m](std::string_view name) -> int64_t {
    for (const auto& [k, v] : m) {
      if (k.AsStringView() == name && v.type() == ValueType::kInt) return v.AsInt();
    }
    return 0;
  };
  auto wanted = [&sections](std::string_view section) {
    if (sections.empty()) return true;
    for (const Value& s : sections) {
      if (ArgIs(s, section) || ArgIs(s, "all") || ArgIs(s, "default") || ArgIs(s, "everything")) {
        return true;
      }
    }
    return false;
  };
  std::string out;
  auto line = [&out](std::string_view k, const std::string& v) {
    out.append(k);
    out.push_back(':');
    out.append(v);
    out.append("\r\n");
  };
  auto header = [&out](std::string_view name) {
    if (!out.empty()) out.append("\r\n");
    out.append("# ");
    out.append(name);
    out.append("\r\n");
  };
  const auto n = [](int64_t v) { return std::to_string(v); };
  if (wanted("server")) {
    header("Server");
    line("redis_version", kRedisCompatibleVersion);
    line("redis_mode", "standalone");
    line("server_name", kServerName);
    line("server_version", kVersion);
    line("arch_bits", n(static_cast<int64_t>(sizeof(void*) * 8)));
    line("process_id", n(static_cast<int64_t>(getpid())));
    line("uptime_in_seconds", n(info.uptime_s));
    line("uptime_in_days", n(info.uptime_s / 86400));
    line("shards", n(info.shards));
    line("workers", n(info.workers));
    line("io_threads", n(info.io_threads));
  }
  if (wanted("clients")) {
    header("Clients");
    line("connected_clients", n(static_cast<int64_t>(info.connections)));
    line("blocked_clients", n(field("blocked")));
  }
  if (wanted("memory")) {
    header("Memory");
    line("used_memory", n(field("memory_bytes")));
    line("used_memory_human", HumanBytes(field("memory_bytes")));
    line("maxmemory", n(static_cast<int64_t>(info.max_memory)));
    line("maxmemory_human", HumanBytes(static_cast<int64_t>(info.max_memory)));
    line("maxmemory_policy", info.eviction);
  }
  if (wanted("persistence")) {
    header("Persistence");
    line("loading", "0");
    line("aof_enabled", info.data_dir.empty() ? "0" : "1");
    if (!info.data_dir.empty()) line("appendfsync", info.fsync);
    for (const auto& [name, value] : info.counters) line(name, n(value));
  }
  if (wanted("stats")) {
    header("Stats");
    line("keyspace_hits", n(field("hits")));
    line("keyspace_misses", n(field("misses")));
    line("expired_keys", n(field("expired_keys")));
    line("evicted_keys", n(field("evicted_keys")));
    line("total_keys", n(field("keys")));
  }
  if (wanted("replication")) {
    header("Replication");
    line("role", "master");
    line("connected_slaves", "0");
  }
  if (wanted("keyspace")) {
    header("Keyspace");
    // The connection's namespace, under its database number when it has one (SELECT).
    const std::string& ns = ctx.ns();
    int64_t db = 0;
    const int64_t keys = field("namespace_keys");
    if (keys > 0 && (ns.empty() || (ParseInt64(ns, &db) && db > 0))) {
      line("db" + (ns.empty() ? std::string("0") : ns), "keys=" + n(keys) + ",expires=0,avg_ttl=0");
    }
  }
  return out;
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
  if (Resp(ctx)) return Reply::Of(Value::String(RedisInfoText(m, info, ctx, in.args)));
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
      OnAllShards("INFO", op::kInfo, 0, -1, InfoShard, InfoMerge, "INFO [section ...]"),
      OnAllShards("DBSIZE", 0, 0, 0, DbSizeShard, MergeSum, "DBSIZE"),
  });
}

}  // namespace dbkv
