#include "client/options.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace dbkv::client {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

ClientOptions ParseOk(std::string_view url, ClientOptions base = {}) {
  Status s = ParseUrl(url, &base);
  INFO(url << ": " << s.ToString());
  REQUIRE(s.ok());
  return base;
}

Status ParseErr(std::string_view url) {
  ClientOptions o;
  Status s = ParseUrl(url, &o);
  INFO(url << " unexpectedly parsed as " << o.host << ":" << o.port << "/" << o.ns);
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK_THAT(s.message(), StartsWith("invalid URL '" + std::string(url) + "'"));
  return s;
}

TEST_CASE("ParseUrl: host:port", "[client][url]") {
  ClientOptions o = ParseOk("db.example.com:7000");
  CHECK(o.host == "db.example.com");
  CHECK(o.port == 7000);
  CHECK(o.ns.empty());
  CHECK(o.password.empty());
  CHECK_FALSE(o.tls);

  o = ParseOk("127.0.0.1:1");
  CHECK(o.host == "127.0.0.1");
  CHECK(o.port == 1);
  CHECK(ParseOk("h:65535").port == 65535);
}

TEST_CASE("ParseUrl: a host alone keeps the default port", "[client][url]") {
  ClientOptions o = ParseOk("db.example.com");
  CHECK(o.host == "db.example.com");
  CHECK(o.port == 7379);
  o = ParseOk("db.example.com/jobs");
  CHECK(o.host == "db.example.com");
  CHECK(o.port == 7379);
  CHECK(o.ns == "jobs");
}

TEST_CASE("ParseUrl: host:port/ns", "[client][url]") {
  ClientOptions o = ParseOk("localhost:7380/celery-results");
  CHECK(o.host == "localhost");
  CHECK(o.port == 7380);
  CHECK(o.ns == "celery-results");
  // Only the first '/' separates: the rest belongs to the namespace.
  CHECK(ParseOk("h:1/a/b").ns == "a/b");
  // An empty path is the default namespace.
  CHECK(ParseOk("h:1/").ns.empty());
  // A query string after the namespace sets options (see below).
  o = ParseOk("h:1/ns?timeout=3");
  CHECK(o.ns == "ns");
  CHECK(o.port == 1);
  CHECK(o.timeout_s == 3);
}

TEST_CASE("ParseUrl: the query string sets options", "[client][url]") {
  std::vector<std::string> keys;
  ClientOptions o;
  REQUIRE(ParseUrl("databridges://:pw@h:1/ns?timeout=0.25&connect_timeout=2&ca_file=%2Fetc%2Fca.pem"
                   "&cert_file=/c.pem&key_file=/k.pem&server_name=kv.internal",
                   &o, &keys)
              .ok());
  CHECK(o.host == "h");
  CHECK(o.ns == "ns");
  CHECK(o.password == "pw");
  CHECK(o.tls);
  CHECK(o.timeout_s == 0.25);
  CHECK(o.connect_timeout_s == 2);
  CHECK(o.ca_file == "/etc/ca.pem");
  CHECK(o.cert_file == "/c.pem");
  CHECK(o.key_file == "/k.pem");
  CHECK(o.server_name == "kv.internal");
  CHECK(keys == std::vector<std::string>{"timeout", "connect_timeout", "ca_file", "cert_file",
                                         "key_file", "server_name"});

  // Without a path, without a scheme; empty items are skipped; '+' is not a space.
  o = ParseOk("h:1?timeout=7");
  CHECK(o.timeout_s == 7);
  CHECK(o.ns.empty());
  o = ParseOk("databridge://h?&timeout=1e-3&&ca_file=a+b&");
  CHECK(o.timeout_s == 0.001);
  CHECK(o.ca_file == "a+b");
  CHECK(o.port == 7379);
  // An empty query is no option at all; options it does not name keep their values.
  ClientOptions base;
  base.timeout_s = 9;
  base.connect_timeout_s = 8;
  o = ParseOk("h:1/ns?", base);
  CHECK(o.timeout_s == 9);
  o = ParseOk("h:1/ns?connect_timeout=1", base);
  CHECK(o.timeout_s == 9);
  CHECK(o.connect_timeout_s == 1);
  REQUIRE(ParseUrl("h:1", &o, &keys).ok());
  CHECK(keys.empty());
}

TEST_CASE("ParseUrl: unknown or bad query options are errors, never dropped", "[client][url]") {
  CHECK_THAT(ParseErr("h:1/ns?timout=3").message(),
             Contains("unknown query option 'timout' (known: timeout, connect_timeout, ca_file"));
  CHECK_THAT(ParseErr("h:1?password=x").message(), Contains("unknown query option 'password'"));
  CHECK_THAT(ParseErr("h:1?timeout").message(), Contains("'timeout' has no value"));
  CHECK_THAT(ParseErr("h:1?timeout=").message(), Contains("'timeout' has an empty value"));
  CHECK_THAT(ParseErr("h:1?timeout=1&timeout=2").message(), Contains("'timeout' given twice"));
  for (const char* bad : {"0", "-1", "abc", "1s", "inf", "nan", " 1", "1e999"}) {
    INFO(bad);
    CHECK_THAT(ParseErr(std::string("h:1?timeout=") + bad).message(),
               Contains("timeout must be a number of seconds > 0"));
  }
  CHECK_THAT(ParseErr("h:1?connect_timeout=0").message(),
             Contains("connect_timeout must be a number of seconds > 0"));
  CHECK_THAT(ParseErr("h:1?ca_file=%zz").message(), Contains("bad %-escape"));
  CHECK_THAT(ParseErr("h:1?%zz=1").message(), Contains("bad %-escape"));

  // A failed query leaves the options as they were.
  ClientOptions o;
  o.timeout_s = 4;
  CHECK_FALSE(ParseUrl("h:1?timeout=2&bogus=1", &o).ok());
  CHECK(o.timeout_s == 4);
}

TEST_CASE("ParseUrl: databridge:// with a password", "[client][url]") {
  ClientOptions o = ParseOk("databridge://:s3cret@kv.internal:7379/ns1");
  CHECK(o.host == "kv.internal");
  CHECK(o.port == 7379);
  CHECK(o.ns == "ns1");
  CHECK(o.password == "s3cret");
  CHECK_FALSE(o.tls);

  // "user:password": the user part is dropped (the only user is "default").
  CHECK(ParseOk("databridge://default:pw@h:1").password == "pw");
  // "password" alone, without a colon.
  CHECK(ParseOk("databridge://pw@h:1").password == "pw");
  // The last '@' ends the userinfo: a password may contain '@'.
  CHECK(ParseOk("databridge://:a@b@h:1").password == "a@b");
  // A password with a ':' after the first one keeps it.
  CHECK(ParseOk("databridge://:a:b@h:1").password == "a:b");
  // The kv:// alias.
  o = ParseOk("kv://:pw@h:2/x");
  CHECK(o.password == "pw");
  CHECK(o.port == 2);
  CHECK_FALSE(o.tls);
}

TEST_CASE("ParseUrl: percent-escapes in the password and the namespace", "[client][url]") {
  ClientOptions o = ParseOk("databridge://:p%40ss%2Fw%3ard%25@h:1/my%20ns%2fsub");
  CHECK(o.password == "p@ss/w:rd%");
  CHECK(o.ns == "my ns/sub");
  CHECK(o.host == "h");
  CHECK(o.port == 1);
  CHECK(ParseOk("databridge://:%41%42@h:1").password == "AB");

  CHECK_THAT(ParseErr("databridge://:%zz@h:1").message(), Contains("password"));
  CHECK_THAT(ParseErr("databridge://:abc%4@h:1").message(), Contains("password"));
  CHECK_THAT(ParseErr("databridge://:abc%@h:1").message(), Contains("password"));
  CHECK_THAT(ParseErr("h:1/bad%g0").message(), Contains("namespace"));
  CHECK_THAT(ParseErr("h:1/bad%").message(), Contains("namespace"));
}

TEST_CASE("ParseUrl: databridges:// selects TLS", "[client][url]") {
  ClientOptions o = ParseOk("databridges://:pw@secure.example.com:7443/prod");
  CHECK(o.tls);
  CHECK(o.host == "secure.example.com");
  CHECK(o.port == 7443);
  CHECK(o.ns == "prod");
  CHECK(o.password == "pw");
  CHECK(ParseOk("kvs://h:1").tls);
  // A plain scheme turns TLS off again.
  ClientOptions tls_on;
  tls_on.tls = true;
  CHECK_FALSE(ParseOk("databridge://h:1", tls_on).tls);
}

TEST_CASE("ParseUrl: IPv6 hosts in brackets", "[client][url]") {
  ClientOptions o = ParseOk("[::1]:7379");
  CHECK(o.host == "::1");
  CHECK(o.port == 7379);
  o = ParseOk("databridge://:pw@[fe80::1:2]:8000/ns");
  CHECK(o.host == "fe80::1:2");
  CHECK(o.port == 8000);
  CHECK(o.ns == "ns");
  CHECK(o.password == "pw");
  o = ParseOk("[::1]");
  CHECK(o.host == "::1");
  CHECK(o.port == 7379);
  CHECK(ParseOk("[2001:db8::7]/x").ns == "x");

  CHECK_THAT(ParseErr("[::1:7379").message(), Contains("'['"));
  CHECK_THAT(ParseErr("[::1]7379").message(), Contains("']'"));
  CHECK_THAT(ParseErr("[]:7379").message(), Contains("no host"));
}

TEST_CASE("ParseUrl: bad ports", "[client][url]") {
  CHECK_THAT(ParseErr("h:0").message(), Contains("port 0"));
  CHECK_THAT(ParseErr("h:65536").message(), Contains("out of range"));
  CHECK_THAT(ParseErr("h:99999999999999999999999").message(), Contains("out of range"));
  CHECK_THAT(ParseErr("h:http").message(), Contains("not a number"));
  CHECK_THAT(ParseErr("h:-1").message(), Contains("not a number"));
  CHECK_THAT(ParseErr("h:1a").message(), Contains("not a number"));
  CHECK_THAT(ParseErr("h: 1").message(), Contains("not a number"));
  CHECK_THAT(ParseErr("[::1]:x").message(), Contains("not a number"));
}

TEST_CASE("ParseUrl: unknown schemes and missing hosts", "[client][url]") {
  CHECK_THAT(ParseErr("redis://h:6379").message(), Contains("unknown scheme 'redis'"));
  CHECK_THAT(ParseErr("http://h:1").message(), Contains("unknown scheme"));
  CHECK_THAT(ParseErr("://h:1").message(), Contains("unknown scheme"));
  CHECK_THAT(ParseErr("").message(), Contains("no host"));
  CHECK_THAT(ParseErr(":7379").message(), Contains("no host"));
  CHECK_THAT(ParseErr("databridge://").message(), Contains("no host"));
  CHECK_THAT(ParseErr("databridge://:pw@:1/ns").message(), Contains("no host"));
  CHECK_THAT(ParseErr("/ns").message(), Contains("no host"));
}

TEST_CASE("ParseUrl: a namespace is at most 255 bytes", "[client][url]") {
  CHECK(ParseOk("h:1/" + std::string(255, 'n')).ns.size() == 255);
  CHECK_THAT(ParseErr("h:1/" + std::string(256, 'n')).message(), Contains("255"));
  // Escapes count once decoded.
  std::string escaped;
  for (int i = 0; i < 255; ++i) escaped += "%41";
  CHECK(ParseOk("h:1/" + escaped).ns == std::string(255, 'A'));
}

TEST_CASE("ParseUrl: parts the URL does not name keep their values", "[client][url]") {
  ClientOptions base;
  base.host = "old-host";
  base.port = 1234;
  base.password = "old-pw";
  base.ns = "old-ns";
  base.tls = true;
  base.timeout_s = 9;

  ClientOptions o = ParseOk("new-host", base);
  CHECK(o.host == "new-host");
  CHECK(o.port == 1234);
  CHECK(o.password == "old-pw");
  CHECK(o.tls);
  CHECK(o.timeout_s == 9);
  CHECK(o.ns == "old-ns");  // a URL without a path keeps the namespace

  o = ParseOk("new-host:99/new-ns", base);
  CHECK(o.port == 99);
  CHECK(o.ns == "new-ns");
  CHECK(o.password == "old-pw");
}

TEST_CASE("ParseUrl: a failed parse names the URL", "[client][url]") {
  ClientOptions o;
  Status s = ParseUrl("redis://x", &o);
  CHECK(s.ToString() ==
        "ERR invalid URL 'redis://x': unknown scheme 'redis' (databridge:// or "
        "databridges://)");
}

}  // namespace
}  // namespace dbkv::client
