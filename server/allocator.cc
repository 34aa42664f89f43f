// Allocator purging: the process's resident set and jemalloc's statistics (read through
// mallctl, found at run time), and Server::Impl::WatchMemory, which purges jemalloc's freed
// pages when the process holds much more than --max-memory.
#include "server/allocator.h"

#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>

#include "server/server_impl.h"

namespace dbkv {

namespace {

using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
Mallctl FindMallctl() {
  static const Mallctl mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  return mallctl;
}

}  // namespace

int64_t RssBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long size = 0, resident = 0;
  const int got = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  return got == 2 ? static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE) : 0;
}

bool AllocatorIsJemalloc() { return FindMallctl() != nullptr; }

bool PurgeAllocator() {
  const Mallctl mallctl = FindMallctl();
  if (mallctl == nullptr) return false;
  return mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0) == 0;  // MALLCTL_ARENAS_ALL
}

int64_t AllocatedBytes() {
  const Mallctl mallctl = FindMallctl();
  if (mallctl == nullptr) return 0;
  uint64_t epoch = 1;
  size_t len = sizeof(epoch);
  mallctl("epoch", &epoch, &len, &epoch, len);  // refresh the statistics
  size_t allocated = 0;
  len = sizeof(allocated);
  if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) != 0) return 0;
  return static_cast<int64_t>(allocated);
}

void Server::Impl::WatchMemory() {
  const uint64_t limit = state.options.max_memory;
  if (limit == 0 || !AllocatorIsJemalloc()) return;
  memory_timer.expires_after(std::chrono::milliseconds(100));
  memory_timer.async_wait([this, limit](const boost::system::error_code& ec) {
    if (ec || state.shutting_down) return;
    if (static_cast<uint64_t>(RssBytes()) > limit + limit / 4 && PurgeAllocator()) ++purges;
    WatchMemory();
  });
}

}  // namespace dbkv
