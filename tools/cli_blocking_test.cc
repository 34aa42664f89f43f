// The CLI's reply deadlines: blocking commands wait as long as they say, others -t.
#include "tools/cli_blocking.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace dbkv::cli {
namespace {

using Args = std::vector<std::string>;

TEST_CASE("commands that do not block get -t", "[cli]") {
  CHECK(ReplyTimeout("GET", {"k"}, 30) == 30);
  CHECK(ReplyTimeout("SET", {"k", "0"}, 30) == 30);
  CHECK(ReplyTimeout("LPOP", {"q", "5"}, 30) == 30);
  CHECK(ReplyTimeout("THROTTLE", {"k", "1", "1", "60"}, 2) == 2);
  // LOCK without a timeout tries once.
  CHECK(ReplyTimeout("LOCK", {"l", "tok", "1000"}, 30) == 30);
  CHECK(BlockingTimeoutArg("LOCK", {"l", "tok", "1000"}) == nullptr);
  CHECK(BlockingTimeoutArg("UNLOCK", {"l", "tok"}) == nullptr);
}

TEST_CASE("blocking commands wait their own timeout, then -t", "[cli]") {
  CHECK(ReplyTimeout("WAIT", {"k", "60"}, 30) == 90);
  CHECK(ReplyTimeout("wait", {"k", "0.5"}, 1) == 1.5);
  CHECK(ReplyTimeout("MWAIT", {"45", "a", "b"}, 30) == 75);
  CHECK(ReplyTimeout("WaitAny", {"2", "a", "b"}, 30) == 32);
  CHECK(ReplyTimeout("WAITANYV", {"2", "a", "7"}, 30) == 32);
  CHECK(ReplyTimeout("BLPOP", {"a", "b", "100"}, 30) == 130);
  CHECK(ReplyTimeout("brpop", {"q", "1.5"}, 30) == 31.5);
  CHECK(ReplyTimeout("LOCK", {"l", "tok", "1000", "40"}, 30) == 70);
}

TEST_CASE("a timeout of 0 waits as long as the server does", "[cli]") {
  CHECK(ReplyTimeout("BLPOP", {"q", "0"}, 30) == 0);
  CHECK(ReplyTimeout("WAIT", {"k", "0"}, 30) == 0);
  CHECK(ReplyTimeout("LOCK", {"l", "tok", "1000", "0"}, 30) == 0);
  CHECK(ReplyTimeout("MWAIT", {"0.0", "a"}, 30) == 0);
  // -t 0: no deadline for anything.
  CHECK(ReplyTimeout("GET", {"k"}, 0) == 0);
  CHECK(ReplyTimeout("BLPOP", {"q", "5"}, 0) == 0);
}

TEST_CASE("a timeout the server will refuse keeps -t", "[cli]") {
  CHECK(ReplyTimeout("BLPOP", {"q", "soon"}, 30) == 30);
  CHECK(ReplyTimeout("WAIT", {"k", "-1"}, 30) == 30);
  CHECK(ReplyTimeout("WAIT", {"k", ""}, 30) == 30);
  CHECK(ReplyTimeout("WAIT", {"k", "inf"}, 30) == 30);
  CHECK(ReplyTimeout("WAIT", {"k", "nan"}, 30) == 30);
  CHECK(ReplyTimeout("LOCK", {"l", "tok", "1000", "x"}, 30) == 30);
  // Wrong argument counts: the server answers at once.
  CHECK(ReplyTimeout("WAIT", {"k"}, 30) == 30);
  CHECK(ReplyTimeout("BLPOP", {"q"}, 30) == 30);
  CHECK(ReplyTimeout("MWAIT", {}, 30) == 30);
}

}  // namespace
}  // namespace dbkv::cli
