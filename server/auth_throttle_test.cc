#include "server/auth_throttle.h"

#include <catch2/catch.hpp>

namespace dbkv {
namespace {

TEST_CASE("AuthThrottle: the delay doubles per failure from an address, up to 4 s", "[auth]") {
  AuthThrottle t;
  const int64_t want[] = {250, 500, 1000, 2000, 4000, 4000, 4000};
  int64_t now = 1000;
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); ++i) {
    const AuthThrottle::Penalty p = t.OnFailure("10.0.0.1", now);
    INFO("failure " << i + 1);
    CHECK(p.delay_ms == want[i]);
    CHECK(p.failures == static_cast<int>(i + 1));
    now += 10;
  }
  // Another address has a count of its own.
  CHECK(t.OnFailure("10.0.0.2", now).delay_ms == 250);
}

TEST_CASE("AuthThrottle: a right password or a quiet minute starts the count over", "[auth]") {
  AuthThrottle t;
  t.OnFailure("a", 0);
  t.OnFailure("a", 1);
  CHECK(t.OnFailure("a", 2).delay_ms == 1000);
  t.OnSuccess("a");
  CHECK(t.OnFailure("a", 3).delay_ms == 250);
  CHECK(t.OnFailure("a", 4).delay_ms == 500);
  // Just within the minute: still counting; past it: a new count.
  CHECK(t.OnFailure("a", 4 + AuthThrottle::kForgetAfterMs).delay_ms == 1000);
  CHECK(t.OnFailure("a", 5 + 2 * AuthThrottle::kForgetAfterMs).delay_ms == 250);
}

TEST_CASE("AuthThrottle: the table is bounded; the stalest address goes first", "[auth]") {
  AuthThrottle t(3);
  t.OnFailure("old", 0);
  t.OnFailure("old", 1);
  t.OnFailure("b", 10);
  t.OnFailure("c", 20);
  CHECK(t.sources() == 3);
  t.OnFailure("d", 30);  // full: "old" (last failure at 1) is forgotten
  CHECK(t.sources() == 3);
  CHECK(t.OnFailure("b", 40).failures == 2);    // kept
  CHECK(t.OnFailure("old", 50).failures == 1);  // forgotten, so counted afresh
}

}  // namespace
}  // namespace dbkv
