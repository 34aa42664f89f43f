// AllocSize: the bytes an allocation of n bytes really takes, for memory accounting.
//
// jemalloc 5's size classes (the server links jemalloc): 8, then multiples of 16 up to 128, then
// four classes per doubling (160, 192, 224, 256, 320, ...). The same arithmetic as its nallocx()
// for every size (alloc_size_test checks it against nallocx). Under another allocator (a test
// that embeds the server) it stays a close estimate.
#ifndef DATABRIDGE_CORE_ALLOC_SIZE_H_
#define DATABRIDGE_CORE_ALLOC_SIZE_H_

#include <cstddef>

namespace dbkv {

constexpr size_t AllocSize(size_t n) {
  if (n <= 8) return 8;
  if (n <= 128) return (n + 15) & ~size_t{15};
  // The class spacing in n's doubling group: a quarter of the group's base, 2^(lg - 2) where
  // lg = floor(log2(n - 1)). A few instructions: it is on every write's path.
  const int lg = 63 - __builtin_clzll(static_cast<unsigned long long>(n - 1));
  const size_t delta = size_t{1} << (lg - 2);
  return (n + delta - 1) & ~(delta - 1);
}

static_assert(AllocSize(1) == 8 && AllocSize(9) == 16 && AllocSize(97) == 112);
static_assert(AllocSize(129) == 160 && AllocSize(248) == 256 && AllocSize(257) == 320);

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_ALLOC_SIZE_H_
