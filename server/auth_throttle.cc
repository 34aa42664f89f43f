#include "server/auth_throttle.h"

#include <algorithm>

namespace dbkv {

AuthThrottle::Penalty AuthThrottle::OnFailure(const std::string& source, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(source);
  if (it == records_.end()) {
    if (records_.size() >= max_sources_) {
      // Forget the address whose last failure is oldest (a linear scan: only while the table
      // is full, and only on a wrong password).
      auto oldest = std::min_element(records_.begin(), records_.end(), [](auto& a, auto& b) {
        return a.second.last_ms < b.second.last_ms;
      });
      records_.erase(oldest);
    }
    it = records_.emplace(source, Record()).first;
  }
  Record& r = it->second;
  if (r.failures > 0 && now_ms - r.last_ms > kForgetAfterMs) r.failures = 0;
  ++r.failures;
  r.last_ms = now_ms;
  Penalty p;
  p.failures = r.failures;
  p.delay_ms = std::min(kFirstDelayMs << std::min(r.failures - 1, 4), kMaxDelayMs);
  return p;
}

void AuthThrottle::OnSuccess(const std::string& source) {
  std::lock_guard<std::mutex> lock(mu_);
  records_.erase(source);
}

size_t AuthThrottle::sources() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_.size();
}

}  // namespace dbkv
