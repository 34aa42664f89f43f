#include "plugins/connection_family.h"

#include <string>
#include <vector>

#include "core/ascii.h"
#include "core/numeric.h"
#include "plugins/api/args.h"
#include "plugins/api/contexts.h"
#include "plugins/glob.h"
#include "plugins/server_family.h"

namespace dbkv {
namespace {

Value Text(std::string_view s) { return Value::String(s); }

Reply UnknownSubcommand(const Value& sub, std::string_view command) {
  return Reply::Error(Code::kInvalidArgument, "unknown subcommand '" +
                                                  std::string(ArgText(sub).substr(0, 64)) +
                                                  "'. Try " + std::string(command) + " HELP.");
}

// ECHO message -> message.
Reply Echo(ConnectionContext&, const CommandArgs& args) { return Reply::Of(args[0]); }

// SELECT db: Redis's numbered databases are namespaces. 0 is the default namespace ""; any
// other number n is the namespace named by its decimal text ("3"), the one a typed client
// reaches with databridge://host:port/3. Text that is not an integer selects the namespace of
// that name (an extension: Redis accepts numbers only).
Reply Select(ConnectionContext& ctx, const CommandArgs& args) {
  const Value& db = args[0];
  int64_t n;
  if (ArgToInt(db, &n)) {
    if (n < 0) return Reply::Error(Code::kInvalidArgument, "DB index is out of range");
    ctx.set_ns(n == 0 ? std::string() : std::to_string(n));
    return Reply::Ok();
  }
  if (!db.is_string_like()) return Reply::Error(NotAnInteger());
  if (db.AsStringView().size() > kMaxNamespaceLength) {
    return Reply::Error(Code::kInvalidArgument, "namespace longer than 255 bytes");
  }
  ctx.set_ns(std::string(db.AsStringView()));
  return Reply::Ok();
}

// Client names and CLIENT SETINFO values: printable ASCII without spaces, as Redis requires.
bool PrintableWord(std::string_view s) {
  for (char c : s) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

// CLIENT SETNAME name | GETNAME | ID | SETINFO LIB-NAME|LIB-VER value | INFO.
Reply Client(ConnectionContext& ctx, const CommandArgs& args) {
  const Value& sub = args[0];
  if (ArgIs(sub, "SETNAME") && args.size() == 2) {
    if (!args[1].is_string_like() || !PrintableWord(args[1].AsStringView())) {
      return Reply::Error(Code::kInvalidArgument,
                          "Client names cannot contain spaces, newlines or special characters.");
    }
    ctx.set_client_name(std::string(args[1].AsStringView()));
    return Reply::Ok();
  }
  if (ArgIs(sub, "GETNAME") && args.size() == 1) {
    if (ctx.client_name().empty()) return Reply::Nil();
    return Reply::Of(Text(ctx.client_name()));
  }
  if (ArgIs(sub, "ID") && args.size() == 1) {
    return Reply::Of(Value::Int(static_cast<int64_t>(ctx.client_id())));
  }
  if (ArgIs(sub, "SETINFO") && args.size() == 3) {
    // Accepted (redis-py sends it on connect) and not kept.
    if (!ArgIs(args[1], "LIB-NAME") && !ArgIs(args[1], "LIB-VER")) {
      return Reply::Error(Code::kInvalidArgument,
                          "Unrecognized option '" + std::string(ArgText(args[1])) + "'");
    }
    if (!args[2].is_string_like() || !PrintableWord(args[2].AsStringView())) {
      return Reply::Error(
          Code::kInvalidArgument,
          AsciiUpper(ArgText(args[1])) + " cannot contain spaces, newlines or special characters.");
    }
    return Reply::Ok();
  }
  if (ArgIs(sub, "INFO") && args.size() == 1) {
    const std::string& ns = ctx.ns();
    std::string line = "id=" + std::to_string(ctx.client_id()) + " name=" + ctx.client_name() +
                       " resp=" + std::to_string(ctx.protocol()) + " ns=" + ns;
    int64_t db;
    if (ns.empty() || (ParseInt64(ns, &db) && db > 0)) line += " db=" + (ns.empty() ? "0" : ns);
    return Reply::Of(Text(line + "\n"));
  }
  return UnknownSubcommand(sub, "CLIENT");
}

// -- COMMAND.

// Redis's arity: the argument count with the name, negative for "at least".
int64_t Arity(const CommandSpec& s) {
  return s.max_args == s.min_args ? s.min_args + 1 : -(s.min_args + 1);
}

Value Flags(const CommandSpec& s) {
  ValueList f;
  if (s.flags & kCmdWrite) f.push_back(Text("write"));
  if (s.flags & kCmdReadOnly) f.push_back(Text("readonly"));
  if ((s.flags & kCmdWrite) && !(s.flags & kCmdAllowOom)) f.push_back(Text("denyoom"));
  if (s.flags & kCmdAdmin) f.push_back(Text("admin"));
  if (s.flags & kCmdBlocking) f.push_back(Text("blocking"));
  if (s.flags & kCmdNoAuth) f.push_back(Text("no_auth"));
  if (s.flags & kCmdConnection) f.push_back(Text("fast"));
  return Value::List(std::move(f));
}

// Redis's COMMAND INFO entry: name, arity, flags, first key, last key, step (1-based, with the
// name at 0; last -1: the last argument), ACL categories, tips, key specs, subcommands.
Value CommandEntry(const CommandSpec& s) {
  const KeySpec::RedisPositions keys = s.keys.redis_positions();
  return Value::List({Text(AsciiLower(s.name)), Value::Int(Arity(s)), Flags(s),
                      Value::Int(keys.first), Value::Int(keys.last), Value::Int(keys.step),
                      Value::List({}), Value::List({}), Value::List({}), Value::List({})});
}

Value Doc(const CommandSpec& s) {
  return Value::Map({{Text("summary"), Text(s.summary)},
                     {Text("since"), Text("0.1.0")},
                     {Text("group"), Text("generic")}});
}

// COMMAND | COMMAND COUNT | COMMAND INFO [name ...] | COMMAND DOCS [name ...] | COMMAND LIST.
Reply Command(const CommandRegistry* registry, const CommandArgs& args) {
  const auto& all = registry->commands();
  if (args.empty()) {
    ValueList out;
    for (const auto& s : all) out.push_back(CommandEntry(*s));
    return Reply::Of(Value::List(std::move(out)));
  }
  const Value& sub = args[0];
  if (ArgIs(sub, "COUNT") && args.size() == 1) {
    return Reply::Of(Value::Int(static_cast<int64_t>(all.size())));
  }
  if (ArgIs(sub, "LIST") && args.size() == 1) {
    ValueList out;
    for (const auto& s : all) out.push_back(Text(AsciiLower(s->name)));
    return Reply::Of(Value::List(std::move(out)));
  }
  if (ArgIs(sub, "INFO")) {
    ValueList out;
    if (args.size() == 1) {
      for (const auto& s : all) out.push_back(CommandEntry(*s));
    }
    for (size_t i = 1; i < args.size(); ++i) {
      const CommandSpec* s = registry->FindByName(ArgText(args[i]));
      out.push_back(s != nullptr ? CommandEntry(*s) : Value::Null());
    }
    return Reply::Of(Value::List(std::move(out)));
  }
  if (ArgIs(sub, "DOCS")) {
    ValueMap out;
    if (args.size() == 1) {
      for (const auto& s : all) out.emplace_back(Text(AsciiLower(s->name)), Doc(*s));
    }
    for (size_t i = 1; i < args.size(); ++i) {
      const CommandSpec* s = registry->FindByName(ArgText(args[i]));
      if (s != nullptr) out.emplace_back(Text(AsciiLower(s->name)), Doc(*s));
    }
    return Reply::Of(Value::Map(std::move(out)));
  }
  return UnknownSubcommand(sub, "COMMAND");
}

// -- CONFIG.

// CONFIG GET parameter [parameter ...] -> the matching parameters and their values (a map).
// The server is configured by its flags: these are read-only views of them under Redis's
// names, for tools that ask (redis-benchmark asks for save and appendonly).
Reply Config(ConnectionContext& ctx, const CommandArgs& args) {
  const Value& sub = args[0];
  if (!ArgIs(sub, "GET")) {
    if (ArgIs(sub, "SET") || ArgIs(sub, "RESETSTAT") || ArgIs(sub, "REWRITE")) {
      return Reply::Error(Code::kInvalidArgument,
                          "CONFIG " + AsciiUpper(ArgText(sub)) +
                              " is not supported: the server is configured by its flags");
    }
    return UnknownSubcommand(sub, "CONFIG");
  }
  if (args.size() < 2) return Reply::Error(WrongArity("config|get"));
  const ServerInfo info = ctx.server_info();
  const std::pair<std::string, std::string> params[] = {
      {"save", ""},
      {"appendonly", info.data_dir.empty() ? "no" : "yes"},
      {"appendfsync", info.data_dir.empty() ? "no" : info.fsync},
      {"maxmemory", std::to_string(info.max_memory)},
      {"maxmemory-policy", info.eviction},
      {"databases", "16"},
  };
  ValueMap out;
  for (const auto& [name, value] : params) {
    for (size_t i = 1; i < args.size(); ++i) {
      if (GlobMatch(ArgText(args[i]), name, /*nocase=*/true)) {
        out.emplace_back(Text(name), Text(value));
        break;
      }
    }
  }
  return Reply::Of(Value::Map(std::move(out)));
}

CommandSpec OnConnection(std::string name, uint32_t flags, int min_args, int max_args,
                         ConnectionHandler h, std::string summary) {
  CommandSpec s;
  s.name = std::move(name);
  s.flags = flags | kCmdConnection;
  s.min_args = min_args;
  s.max_args = max_args;
  s.connection = std::move(h);
  s.summary = std::move(summary);
  return s;
}

}  // namespace

Status RegisterConnectionFamily(CommandRegistry* r) {
  const CommandRegistry* registry = r;
  return r->RegisterAll({
      OnConnection("ECHO", kCmdReadOnly, 1, 1, Echo, "ECHO message"),
      OnConnection("SELECT", kCmdReadOnly, 1, 1, Select, "SELECT db"),
      OnConnection("CLIENT", kCmdReadOnly, 1, 3, Client,
                   "CLIENT SETNAME name | GETNAME | ID | INFO | SETINFO LIB-NAME|LIB-VER value"),
      OnConnection(
          "COMMAND", kCmdReadOnly, 0, -1,
          [registry](ConnectionContext&, const CommandArgs& args) {
            return Command(registry, args);
          },
          "COMMAND [COUNT | LIST | INFO [name ...] | DOCS [name ...]]"),
      OnConnection("CONFIG", kCmdAdmin, 1, -1, Config, "CONFIG GET parameter [parameter ...]"),
  });
}

}  // namespace dbkv
