#include "bench/histogram.h"

#include <catch2/catch.hpp>
#include <cmath>

namespace dbkv::bench {

TEST_CASE("Histogram buckets are contiguous and within 1.6 percent", "[bench]") {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 129ull, 1000ull, 65535ull, 1000000ull,
                     123456789ull, 1ull << 40}) {
    const size_t i = Histogram::Index(v);
    CHECK(Histogram::UpperBound(i) >= v);
    if (v >= 128) CHECK(static_cast<double>(Histogram::UpperBound(i) - v) <= 0.016 * v);
    if (i > 0) CHECK(Histogram::UpperBound(i - 1) < v);
  }
}

TEST_CASE("Histogram quantiles", "[bench]") {
  Histogram h;
  for (uint64_t v = 1; v <= 10000; ++v) h.Record(v * 1000);
  CHECK(h.count() == 10000);
  CHECK(std::abs(static_cast<double>(h.Quantile(0.5)) - 5e6) < 5e6 * 0.02);
  CHECK(std::abs(static_cast<double>(h.Quantile(0.99)) - 9.9e6) < 9.9e6 * 0.02);
  CHECK(h.Quantile(1.0) >= 10000 * 1000);
}

}  // namespace dbkv::bench
