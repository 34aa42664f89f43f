// A log-linear latency histogram in the manner of HdrHistogram: 64 sub-buckets per power of two,
// so any recorded value is reported within 1.6 % of itself, in constant memory.
#ifndef DATABRIDGE_BENCH_HISTOGRAM_H_
#define DATABRIDGE_BENCH_HISTOGRAM_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dbkv::bench {

class Histogram {
 public:
  Histogram() : counts_(kBuckets, 0) {}

  void Record(uint64_t value_ns) {
    ++counts_[Index(value_ns)];
    ++total_;
  }
  void Merge(const Histogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
  }
  void Reset() {
    std::fill(counts_.begin(), counts_.end(), 0);
    total_ = 0;
  }
  uint64_t count() const { return total_; }
  // The value at quantile q (0..1), as the upper bound of its bucket.
  uint64_t Quantile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_));
    if (rank >= total_) rank = total_ - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen > rank) return UpperBound(i);
    }
    return UpperBound(kBuckets - 1);
  }

  static size_t Index(uint64_t v) {
    if (v < 128) return static_cast<size_t>(v);
    const int e = 63 - __builtin_clzll(v) - 6;  // >= 1
    size_t i = static_cast<size_t>(64 * e) + static_cast<size_t>(v >> e);
    return i < kBuckets ? i : kBuckets - 1;
  }
  static uint64_t UpperBound(size_t i) {
    if (i < 128) return i;
    const int e = static_cast<int>(i / 64) - 1;
    const uint64_t m = i % 64 + 64;
    return ((m + 1) << e) - 1;
  }

 private:
  static constexpr size_t kBuckets = 64 * 42 + 128;
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
};

}  // namespace dbkv::bench

#endif  // DATABRIDGE_BENCH_HISTOGRAM_H_
