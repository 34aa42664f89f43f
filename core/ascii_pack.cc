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

inline void Store8(char* p, uint64_t x) { std::memcpy(p, &x, 8); }

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

// The same with BMI2's bit gather and scatter: one instruction a group. Written as inline
// assembly so that it inlines into the loops below, which are compiled for the base x86-64
// (a target("bmi2") intrinsic would not inline there: GCC makes each group a call). Only run
// where the CPU has BMI2 (kHaveBmi2).
struct Bmi2 {
  static uint64_t Pack(uint64_t x) {
    uint64_t y;
    asm("pextq %2, %1, %0" : "=r"(y) : "r"(x), "r"(kLow7Bits));
    return y;
  }
  static uint64_t Unpack(uint64_t y) {
    uint64_t x;
    asm("pdepq %2, %1, %0" : "=r"(x) : "r"(y), "r"(kLow7Bits));
    return x;
  }
};

// Every group but the last is stored (and loaded) as a whole word: its eighth byte is the next
// group's first, written (read) in its turn. The last group and the tail stay within bounds.
// Four groups a step while more follow (fewer loop instructions a group). With kCheck, the
// bytes read are also checked for high bits as they go (a step's worth at a time): false as
// soon as one has one, the output then being incomplete.
template <class G, bool kCheck>
inline bool PackWith(const char* p, size_t n, char* out) {
  size_t groups = n / 8;
  // Eight groups a step while another group follows them, then four.
  for (; groups > 8; groups -= 8, p += 64, out += 56) {
    const uint64_t x0 = Load8(p), x1 = Load8(p + 8), x2 = Load8(p + 16), x3 = Load8(p + 24);
    const uint64_t x4 = Load8(p + 32), x5 = Load8(p + 40), x6 = Load8(p + 48), x7 = Load8(p + 56);
    if (kCheck && ((x0 | x1 | x2 | x3 | x4 | x5 | x6 | x7) & kHighBits) != 0) return false;
    Store8(out, G::Pack(x0));
    Store8(out + 7, G::Pack(x1));
    Store8(out + 14, G::Pack(x2));
    Store8(out + 21, G::Pack(x3));
    Store8(out + 28, G::Pack(x4));
    Store8(out + 35, G::Pack(x5));
    Store8(out + 42, G::Pack(x6));
    Store8(out + 49, G::Pack(x7));
  }
  for (; groups > 4; groups -= 4, p += 32, out += 28) {
    const uint64_t w = Load8(p), x = Load8(p + 8), y = Load8(p + 16), z = Load8(p + 24);
    if (kCheck && ((w | x | y | z) & kHighBits) != 0) return false;
    const uint64_t a = G::Pack(w), b = G::Pack(x), c = G::Pack(y), d = G::Pack(z);
    std::memcpy(out, &a, 8);
    std::memcpy(out + 7, &b, 8);
    std::memcpy(out + 14, &c, 8);
    std::memcpy(out + 21, &d, 8);
  }
  uint64_t high = 0;
  for (; groups > 1; --groups, p += 8, out += 7) {
    const uint64_t x = Load8(p);
    high |= x;
    const uint64_t y = G::Pack(x);
    std::memcpy(out, &y, 8);
  }
  if (groups == 1) {
    const uint64_t x = Load8(p);
    high |= x;
    const uint64_t y = G::Pack(x);
    std::memcpy(out, &y, 7);
    p += 8;
    out += 7;
  }
  const size_t tail = n % 8;
  if (tail != 0) {
    std::memcpy(out, p, tail);
    if (kCheck) {
      for (size_t i = 0; i < tail; ++i) high |= static_cast<unsigned char>(p[i]);
    }
  }
  return !kCheck || (high & kHighBits) == 0;
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

void PackBmi2(const char* p, size_t n, char* out) { PackWith<Bmi2, false>(p, n, out); }
bool PackCheckedBmi2(const char* p, size_t n, char* out) { return PackWith<Bmi2, true>(p, n, out); }
void UnpackBmi2(const char* packed, size_t n, char* out) { UnpackWith<Bmi2>(packed, n, out); }
bool EqualsBmi2(const char* packed, const char* p, size_t n) {
  return EqualsWith<Bmi2>(packed, p, n);
}

// The high bits of n < 16 bytes.
inline uint64_t HighBitsOfTail(const char* p, size_t n) {
  uint64_t any = 0;
  if (n >= 8) {
    any = Load8(p);
    p += 8;
    n -= 8;
  }
  for (; n > 0; ++p, --n) any |= static_cast<unsigned char>(*p);
  return any & kHighBits;
}

bool IsAsciiSse2(const char* p, size_t n) {
  __m128i any = _mm_setzero_si128();
  for (; n >= 32; p += 32, n -= 32) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
    any = _mm_or_si128(any, _mm_or_si128(a, b));
  }
  if (n >= 16) {
    any = _mm_or_si128(any, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    p += 16;
    n -= 16;
  }
  return _mm_movemask_epi8(any) == 0 && HighBitsOfTail(p, n) == 0;
}

// 64 bytes a step (unaligned AVX loads fold into the ORs): a 200-byte value takes a third of
// the SSE2 loop's instructions.
__attribute__((target("avx2"))) bool IsAsciiAvx2(const char* p, size_t n) {
  __m256i any = _mm256_setzero_si256();
  for (; n >= 64; p += 64, n -= 64) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    any = _mm256_or_si256(any, _mm256_or_si256(a, b));
  }
  if (n >= 32) {
    any = _mm256_or_si256(any, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    p += 32;
    n -= 32;
  }
  if (n >= 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    any = _mm256_or_si256(any, _mm256_castsi128_si256(x));
    p += 16;
    n -= 16;
  }
  return _mm256_movemask_epi8(any) == 0 && HighBitsOfTail(p, n) == 0;
}

bool DetectBmi2() {
  __builtin_cpu_init();  // this runs before main
  return __builtin_cpu_supports("bmi2") != 0;
}

bool DetectAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") != 0;
}

const bool kHaveBmi2 = DetectBmi2();
const bool kHaveAvx2 = DetectAvx2();

}  // namespace

bool IsAscii(std::string_view s) {
  return kHaveAvx2 ? IsAsciiAvx2(s.data(), s.size()) : IsAsciiSse2(s.data(), s.size());
}

void AsciiPack(std::string_view s, char* out) {
  if (kHaveBmi2) {
    PackBmi2(s.data(), s.size(), out);
  } else {
    PackWith<Portable, false>(s.data(), s.size(), out);
  }
}

bool AsciiPackIfAscii(std::string_view s, char* out) {
  if (kHaveBmi2) return PackCheckedBmi2(s.data(), s.size(), out);
  return PackWith<Portable, true>(s.data(), s.size(), out);
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

void PackPortable(std::string_view s, char* out) {
  PackWith<Portable, false>(s.data(), s.size(), out);
}
bool PackIfAsciiPortable(std::string_view s, char* out) {
  return PackWith<Portable, true>(s.data(), s.size(), out);
}
void UnpackPortable(const char* packed, size_t n, char* out) {
  UnpackWith<Portable>(packed, n, out);
}
bool EqualsPortable(const char* packed, std::string_view s) {
  return EqualsWith<Portable>(packed, s.data(), s.size());
}
bool IsAsciiSse2(std::string_view s) { return dbkv::IsAsciiSse2(s.data(), s.size()); }
bool HaveAvx2() { return kHaveAvx2; }
bool HaveBmi2() { return kHaveBmi2; }

}  // namespace ascii_pack_internal

}  // namespace dbkv
