// The connection family (ECHO, SELECT, CLIENT, COMMAND, CONFIG) on a fake connection.
#include "plugins/connection_family.h"

#include <catch2/catch.hpp>
#include <string>

#include "plugins/shard_fixture.h"

namespace dbkv::testing {
namespace {

const Value& Field(const Value& map, std::string_view key) {
  for (const auto& [k, v] : map.AsMap()) {
    if (k.AsStringView() == key) return v;
  }
  FAIL("no field " << key);
  static const Value none;
  return none;
}

TEST_CASE("the connection family registers connection commands by name", "[connection_family]") {
  Shard shard;
  for (const char* name : {"ECHO", "SELECT", "CLIENT", "COMMAND", "CONFIG"}) {
    INFO(name);
    const CommandSpec* cmd = shard.registry().FindByName(name);
    REQUIRE(cmd != nullptr);
    CHECK(cmd->opcode == 0);
    CHECK((cmd->flags & kCmdConnection) != 0);
    CHECK((cmd->flags & kCmdNoAuth) == 0);  // only PING, HELLO, AUTH and QUIT are
    CHECK_FALSE(cmd->summary.empty());
  }
}

TEST_CASE("ECHO answers its argument", "[connection_family]") {
  Shard shard;
  FakeConnection conn;
  CHECK(shard.OnConnection(conn, "ECHO", {Value::Bytes("hi")}).value == Value::Bytes("hi"));
  CHECK(shard.OnConnection(conn, "ECHO", {I(5)}).value == I(5));
}

TEST_CASE("SELECT maps database numbers to namespaces", "[connection_family]") {
  Shard shard;
  FakeConnection conn;
  conn.set_ns("x");
  CHECK(shard.OnConnection(conn, "SELECT", {Value::Bytes("0")}).simple);
  CHECK(conn.ns() == "");
  REQUIRE(shard.OnConnection(conn, "SELECT", {Value::Bytes("3")}).ok());
  CHECK(conn.ns() == "3");
  REQUIRE(shard.OnConnection(conn, "SELECT", {I(15)}).ok());
  CHECK(conn.ns() == "15");
  REQUIRE(shard.OnConnection(conn, "SELECT", {S("jobs")}).ok());
  CHECK(conn.ns() == "jobs");
  Reply bad = shard.OnConnection(conn, "SELECT", {S("-1")});
  CHECK(bad.error == "DB index is out of range");
  CHECK(conn.ns() == "jobs");
  CHECK(shard.OnConnection(conn, "SELECT", {S(std::string(256, 'n'))}).error ==
        "namespace longer than 255 bytes");
  CHECK(shard.OnConnection(conn, "SELECT", {Value::Null()}).error ==
        "value is not an integer or out of range");
}

TEST_CASE("CLIENT SETNAME, GETNAME, ID, SETINFO, INFO", "[connection_family]") {
  Shard shard;
  FakeConnection conn;
  conn.proto = 2;
  CHECK(shard.OnConnection(conn, "CLIENT", {S("GETNAME")}).value.is_null());
  CHECK(shard.OnConnection(conn, "CLIENT", {S("setname"), S("worker-1")}).simple);
  CHECK(shard.OnConnection(conn, "CLIENT", {S("GETNAME")}).value == S("worker-1"));
  CHECK(shard.OnConnection(conn, "CLIENT", {S("SETNAME"), S("has space")}).error ==
        "Client names cannot contain spaces, newlines or special characters.");
  CHECK(conn.client_name() == "worker-1");
  CHECK(shard.OnConnection(conn, "CLIENT", {S("ID")}).value == I(7));
  CHECK(shard.OnConnection(conn, "CLIENT", {S("SETINFO"), S("LIB-NAME"), S("redis-py")}).ok());
  CHECK(shard.OnConnection(conn, "CLIENT", {S("SETINFO"), S("lib-ver"), S("5.2.0")}).ok());
  CHECK(shard.OnConnection(conn, "CLIENT", {S("SETINFO"), S("COLOR"), S("red")}).error ==
        "Unrecognized option 'COLOR'");
  CHECK(shard.OnConnection(conn, "CLIENT", {S("INFO")}).value ==
        S("id=7 name=worker-1 resp=2 ns= db=0\n"));
  CHECK(shard.OnConnection(conn, "CLIENT", {S("KILL")}).error ==
        "unknown subcommand 'KILL'. Try CLIENT HELP.");
}

TEST_CASE("COMMAND describes the registry as Redis does", "[connection_family]") {
  Shard shard;
  FakeConnection conn;
  const int64_t count = static_cast<int64_t>(shard.registry().commands().size());
  CHECK(shard.OnConnection(conn, "COMMAND", {S("COUNT")}).value == I(count));
  Reply all = shard.OnConnection(conn, "COMMAND");
  REQUIRE(all.ok());
  CHECK(all.value.AsList().size() == static_cast<size_t>(count));

  Reply info = shard.OnConnection(conn, "COMMAND", {S("INFO"), S("get"), S("mset"), S("nosuch")});
  REQUIRE(info.ok());
  const ValueList& entries = info.value.AsList();
  REQUIRE(entries.size() == 3);
  // name, arity, flags, first key, last key, step, ACL categories, tips, key specs, subcommands
  const ValueList& get = entries[0].AsList();
  REQUIRE(get.size() == 10);
  CHECK(get[0] == S("get"));
  CHECK(get[1] == I(2));
  CHECK(get[2] == L({S("readonly")}));
  CHECK(get[3] == I(1));
  CHECK(get[4] == I(1));
  CHECK(get[5] == I(1));
  const ValueList& mset = entries[1].AsList();
  CHECK(mset[1] == I(-3));
  CHECK(mset[2] == L({S("write"), S("denyoom")}));
  CHECK(mset[3] == I(1));
  CHECK(mset[4] == I(-1));
  CHECK(mset[5] == I(2));
  CHECK(entries[2].is_null());

  Reply docs = shard.OnConnection(conn, "COMMAND", {S("DOCS"), S("set")});
  REQUIRE(docs.ok());
  REQUIRE(docs.value.AsMap().size() == 1);
  CHECK(docs.value.AsMap()[0].first == S("set"));
  CHECK(Field(docs.value.AsMap()[0].second, "summary").AsStringView().rfind("SET key", 0) == 0);
  CHECK(shard.OnConnection(conn, "COMMAND", {S("DOCS")}).value.AsMap().size() ==
        static_cast<size_t>(count));
  CHECK(shard.OnConnection(conn, "COMMAND", {S("LIST")}).value.AsList().size() ==
        static_cast<size_t>(count));
  CHECK(shard.OnConnection(conn, "COMMAND", {S("GETKEYS")}).code == Code::kInvalidArgument);
}

TEST_CASE("CONFIG GET shows the flags under Redis's names", "[connection_family]") {
  Shard shard;
  FakeConnection conn;
  conn.info.max_memory = 1024;
  conn.info.eviction = "allkeys-lru";
  Reply r = shard.OnConnection(conn, "CONFIG", {S("GET"), S("save"), S("APPENDONLY")});
  REQUIRE(r.ok());
  CHECK(r.value == Value::Map({{S("save"), S("")}, {S("appendonly"), S("no")}}));
  r = shard.OnConnection(conn, "CONFIG", {S("get"), S("maxmemory*")});
  CHECK(r.value ==
        Value::Map({{S("maxmemory"), S("1024")}, {S("maxmemory-policy"), S("allkeys-lru")}}));
  CHECK(shard.OnConnection(conn, "CONFIG", {S("GET"), S("nosuch")}).value == Value::Map({}));
  CHECK(shard.OnConnection(conn, "CONFIG", {S("SET"), S("save"), S("")}).code ==
        Code::kInvalidArgument);
  CHECK(shard.OnConnection(conn, "CONFIG", {S("GET")}).error ==
        "wrong number of arguments for 'config|get' command");
}

}  // namespace
}  // namespace dbkv::testing
