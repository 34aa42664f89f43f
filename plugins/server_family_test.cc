// The server family's protocol-dependent forms: HELLO, AUTH and INFO as Redis answers them on a
// RESP connection, and as the binary protocol answers them.
#include "plugins/server_family.h"

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

TEST_CASE("HELLO on RESP switches versions and answers Redis's map", "[server_family]") {
  Shard shard;
  FakeConnection conn;
  conn.proto = 2;
  Reply r = shard.OnConnection(conn, "HELLO", {Value::Bytes("3")});
  REQUIRE(r.ok());
  CHECK(conn.protocol() == 3);
  CHECK(Field(r.value, "server") == S("redis"));
  CHECK(Field(r.value, "proto") == I(3));
  CHECK(Field(r.value, "id") == I(7));
  CHECK(Field(r.value, "mode") == S("standalone"));
  CHECK(Field(r.value, "role") == S("master"));
  REQUIRE(shard.OnConnection(conn, "HELLO", {S("2"), S("SETNAME"), S("me")}).ok());
  CHECK(conn.protocol() == 2);
  CHECK(conn.client_name() == "me");
  // Without a version: the current one.
  CHECK(Field(shard.OnConnection(conn, "HELLO").value, "proto") == I(2));
  CHECK(shard.OnConnection(conn, "HELLO", {S("1")}).error == "unsupported protocol version");
  CHECK(shard.OnConnection(conn, "HELLO", {S("x")}).error ==
        "Protocol version is not an integer or out of range");
  CHECK(shard.OnConnection(conn, "HELLO", {S("3"), S("NAMESPACE"), S("ns")}).error ==
        "syntax error in HELLO option 'NAMESPACE'");
  CHECK(conn.protocol() == 2);  // a failed HELLO changes nothing
}

TEST_CASE("HELLO and AUTH on RESP authenticate with Redis's errors", "[server_family]") {
  Shard shard;
  FakeConnection conn;
  conn.proto = 2;
  conn.password = "secret";
  Reply noauth = shard.OnConnection(conn, "HELLO", {S("3")});
  CHECK(noauth.code == Code::kAuth);
  CHECK(noauth.error == "Authentication required.");
  CHECK(conn.protocol() == 2);
  Reply wrong = shard.OnConnection(conn, "HELLO", {S("3"), S("AUTH"), S("default"), S("nope")});
  CHECK(wrong.code == Code::kAuth);
  CHECK(wrong.error == "invalid username-password pair or user is disabled.");
  CHECK(shard.OnConnection(conn, "HELLO", {S("3"), S("AUTH"), S("alice"), S("secret")}).code ==
        Code::kAuth);
  REQUIRE(shard.OnConnection(conn, "HELLO", {S("3"), S("AUTH"), S("default"), S("secret")}).ok());
  CHECK(conn.authenticated());
  CHECK(conn.protocol() == 3);

  FakeConnection other;
  other.proto = 2;
  other.password = "secret";
  CHECK(shard.OnConnection(other, "AUTH", {S("bad")}).error ==
        "invalid username-password pair or user is disabled.");
  CHECK(shard.OnConnection(other, "AUTH", {S("secret")}).simple);
  FakeConnection open;
  open.proto = 2;
  CHECK_THAT(shard.OnConnection(open, "AUTH", {S("x")}).error,
             Catch::Matchers::StartsWith("AUTH <password> called without any password"));
  // The binary protocol keeps its own texts.
  FakeConnection binary;
  binary.password = "secret";
  CHECK(shard.OnConnection(binary, "AUTH", {S("bad")}).error == "invalid password");
}

// INFO's merge over fake shard replies.
Reply Info(Shard& shard, FakeConnection& conn, ValueList sections) {
  const CommandSpec* info = shard.registry().FindByName("INFO");
  MergeInput in;
  in.args = CommandArgs(sections.data(), sections.size());
  in.parts.push_back(shard.Run("INFO", sections));
  return info->merge(in, conn);
}

TEST_CASE("INFO is Redis's text on RESP and a map on the binary protocol", "[server_family]") {
  Shard shard;
  shard.Ok("SET", {S("k"), S("v")});
  shard.Ok("GET", {S("k")});
  FakeConnection binary;
  Reply map = Info(shard, binary, {});
  REQUIRE(map.ok());
  CHECK(Field(map.value, "keys") == I(1));
  CHECK(Field(map.value, "namespace_keys") == I(1));

  FakeConnection resp;
  resp.proto = 2;
  resp.info.uptime_s = 90000;
  Reply text = Info(shard, resp, {});
  REQUIRE(text.ok());
  const std::string t(text.value.AsStringView());
  for (const char* line : {"# Server\r\n", "redis_version:7.0.0\r\n", "uptime_in_days:1\r\n",
                           "# Clients\r\n", "# Memory\r\n", "# Stats\r\n", "keyspace_hits:1\r\n",
                           "# Keyspace\r\n", "db0:keys=1,expires=0,avg_ttl=0\r\n"}) {
    INFO(line);
    CHECK(t.find(line) != std::string::npos);
  }
  const std::string server(Info(shard, resp, {S("server")}).value.AsStringView());
  CHECK(server.rfind("# Server\r\n", 0) == 0);
  CHECK(server.find("# Clients") == std::string::npos);
  const std::string two(Info(shard, resp, {S("CLIENTS"), S("keyspace")}).value.AsStringView());
  CHECK(two.find("# Clients") != std::string::npos);
  CHECK(two.find("# Keyspace") != std::string::npos);
  CHECK(two.find("# Server") == std::string::npos);
  CHECK(Info(shard, resp, {S("all")}).value == text.value);
}

}  // namespace
}  // namespace dbkv::testing
