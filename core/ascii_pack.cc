#include "core/ascii_pack.h"

#include <emmintrin.h>
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace dbkv {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "groups are read as little-endian words");

constexpr uint64_t kHighBits = 0x8080808080808080ull;
constexpr uint64_t kLow7Bits = 0x7F7F7F7F7F7F7F7Full;

inline uint64_t Load8(const char* p) {
  uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}

inline uint64_t Load7(const char* p) {
  uint64_t x = 0;
  std::memcpy(&x, p, 7);
  return x;
}

// 8 ASCII bytes (a little-endian word) as 56 bits, with shifts and masks: pairs of bytes into
// 14-bit lanes, pairs of those into 28-bit lanes, then the two halves.
struct Portable {
  static uint64_t Pack(uint64_t x) {
    x = (x & 0x007F007F007F007Full) | ((x & 0x7F007F007F007F00ull) >> 1);
    x = (x & 0x00003FFF00003FFFull) | ((x & 0x3FFF00003FFF0000ull) >> 2);
    return (x & 0x000000000FFFFFFFull) | ((x & 0x0FFFFFFF00000000ull) >> 4);
  }
  static uint64_t Unpack(uint64_t y) {
    y &= 0x00FFFFFFFFFFFFFFull;
    y = (y & 0x000000000FFFFFFFull) | ((y & 0x00FFFFFFF0000000ull) << 4);
    y = (y & 0x00003FFF00003FFFull) | ((y & 0x0FFFC0000FFFC000ull) << 2);
    return (y & 0x007F007F007F007Full) | ((y & 0x3F803F803F803F80ull) << 1);
  }
};

// The same with BMI2's bit gather and scatter: one instruction a group.
struct Bmi2 {
  // (GCC does not inline these into the loops below, which are not BMI2 code: a call each.)
  __attribute__((target("bmi2"))) static uint64_t Pack(uint64_t x) {
    return _pext_u64(x, kLow7Bits);
  }
  __attribute__((target("bmi2"))) static uint64_t Unpack(uint64_t y) {
    return _pdep_u64(y, kLow7Bits);
  }
};

// Every group but the last is stored (and loaded) as a whole word: its eighth byte is the next
// group's first, written (read) in its turn. The last group and the tail stay within bounds.
// Four groups a step while more follow (fewer loop instructions a group).
template <class G>
inline void PackWith(const char* p, size_t n, char* out) {
  size_t groups = n / 8;
  // Four groups a step while another group follows them.
  for (; groups > 4; groups -= 4, p += 32, out += 28) {
    const uint64_t a = G::Pack(Load8(p));
    const uint64_t b = G::Pack(Load8(p + 8));
    const uint64_t c = G::Pack(Load8(p + 16));
    const uint64_t d = G::Pack(Load8(p + 24));
    std::memcpy(out, &a, 8);
    std::memcpy(out + 7, &b, 8);
    std::memcpy(out + 14, &c, 8);
    std::memcpy(out + 21, &d, 8);
  }
  for (; groups > 1; --groups, p += 8, out += 7) {
    const uint64_t y = G::Pack(Load8(p));
    std::memcpy(out, &y, 8);
  }
  if (groups == 1) {
    const uint64_t y = G::Pack(Load8(p));
    std::memcpy(out, &y, 7);
    p += 8;
    out += 7;
  }
  if (n % 8 != 0) std::memcpy(out, p, n % 8);
}

template <class G>
inline void UnpackWith(const char* packed, size_t n, char* out) {
  size_t groups = n / 8;
  for (; groups > 4; groups -= 4, packed += 28, out += 32) {
    const uint64_t a = G::Unpack(Load8(packed));
    const uint64_t b = G::Unpack(Load8(packed + 7));
    const uint64_t c = G::Unpack(Load8(packed + 14));
    const uint64_t d = G::Unpack(Load8(packed + 21));
    std::memcpy(out, &a, 8);
    std::memcpy(out + 8, &b, 8);
    std::memcpy(out + 16, &c, 8);
    std::memcpy(out + 24, &d, 8);
  }
  for (; groups > 1; --groups, packed += 7, out += 8) {
    const uint64_t x = G::Unpack(Load8(packed));
    std::memcpy(out, &x, 8);
  }
  if (groups == 1) {
    const uint64_t x = G::Unpack(Load7(packed));
    std::memcpy(out, &x, 8);
    packed += 7;
    out += 8;
  }
  if (n % 8 != 0) std::memcpy(out, packed, n % 8);
}

template <class G>
inline bool EqualsWith(const char* packed, const char* p, size_t n) {
  // A byte of s at or above 0x80 differs from the unpacked byte (below 0x80) in its top bit.
  size_t groups = n / 8;
  for (; groups > 4; groups -= 4, packed += 28, p += 32) {
    const uint64_t diff = (G::Unpack(Load8(packed)) ^ Load8(p)) |
                          (G::Unpack(Load8(packed + 7)) ^ Load8(p + 8)) |
                          (G::Unpack(Load8(packed + 14)) ^ Load8(p + 16)) |
                          (G::Unpack(Load8(packed + 21)) ^ Load8(p + 24));
    if (diff != 0) return false;
  }
  for (; groups > 1; --groups, packed += 7, p += 8) {
    if (G::Unpack(Load8(packed)) != Load8(p)) return false;
  }
  if (groups == 1) {
    if (G::Unpack(Load7(packed)) != Load8(p)) return false;
    packed += 7;
    p += 8;
  }
  return n % 8 == 0 || std::memcmp(packed, p, n % 8) == 0;
}

__attribute__((target("bmi2"))) void PackBmi2(const char* p, size_t n, char* out) {
  PackWith<Bmi2>(p, n, out);
}
__attribute__((target("bmi2"))) void UnpackBmi2(const char* packed, size_t n, char* out) {
  UnpackWith<Bmi2>(packed, n, out);
}
__attribute__((target("bmi2"))) bool EqualsBmi2(const char* packed, const char* p, size_t n) {
  return EqualsWith<Bmi2>(packed, p, n);
}

bool DetectBmi2() {
  __builtin_cpu_init();  // this runs before main
  return __builtin_cpu_supports("bmi2") != 0;
}

const bool kHaveBmi2 = DetectBmi2();

}  // namespace

bool IsAscii(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  __m128i any16 = _mm_setzero_si128();
  for (; n >= 32; p += 32, n -= 32) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
    any16 = _mm_or_si128(any16, _mm_or_si128(a, b));
  }
  for (; n >= 16; p += 16, n -= 16) {
    any16 = _mm_or_si128(any16, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  if (_mm_movemask_epi8(any16) != 0) return false;
  uint64_t any = 0;
  if (n >= 8) {
    any = Load8(p);
    p += 8;
    n -= 8;
  }
  for (; n > 0; ++p, --n) any |= static_cast<unsigned char>(*p);
  return (any & kHighBits) == 0;
}

void AsciiPack(std::string_view s, char* out) {
  if (kHaveBmi2) {
    PackBmi2(s.data(), s.size(), out);
  } else {
    PackWith<Portable>(s.data(), s.size(), out);
  }
}

void AsciiUnpack(const char* packed, size_t n, char* out) {
  if (kHaveBmi2) {
    UnpackBmi2(packed, n, out);
  } else {
    UnpackWith<Portable>(packed, n, out);
  }
}

bool AsciiPackedEquals(const char* packed, std::string_view s) {
  if (kHaveBmi2) return EqualsBmi2(packed, s.data(), s.size());
  return EqualsWith<Portable>(packed, s.data(), s.size());
}

namespace ascii_pack_internal {

void PackPortable(std::string_view s, char* out) { PackWith<Portable>(s.data(), s.size(), out); }
void UnpackPortable(const char* packed, size_t n, char* out) {
  UnpackWith<Portable>(packed, n, out);
}
bool EqualsPortable(const char* packed, std::string_view s) {
  return EqualsWith<Portable>(packed, s.data(), s.size());
}
bool HaveBmi2() { return kHaveBmi2; }

}  // namespace ascii_pack_internal

}  // namespace dbkv
