// The process's memory as the kernel and the allocator see it, and purging the allocator's
// freed pages. jemalloc is found at run time (the server binary links it; tests that embed the
// server may not), so the server library needs no link to it.
#ifndef DATABRIDGE_SERVER_ALLOCATOR_H_
#define DATABRIDGE_SERVER_ALLOCATOR_H_

#include <cstdint>

namespace dbkv {

// The process's resident set (what the kernel charges it), from /proc/self/statm; 0 if unknown.
int64_t RssBytes();

// Whether the allocator is jemalloc (then the two below do something).
bool AllocatorIsJemalloc();

// Bytes the allocator has handed out (jemalloc's stats.allocated), or 0.
int64_t AllocatedBytes();

// Returns the allocator's unused dirty pages to the system now, instead of after their decay
// time (jemalloc: every arena). False if the allocator is not jemalloc.
bool PurgeAllocator();

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_ALLOCATOR_H_
