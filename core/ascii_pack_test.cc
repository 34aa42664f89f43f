#include "core/ascii_pack.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <random>
#include <string>

namespace dbkv {
namespace {

std::string Ascii(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0x7f);  // NULs included
  return s;
}

std::string Pack(std::string_view s) {
  std::string out(PackedSize(s.size()), '\0');
  AsciiPack(s, out.data());
  return out;
}

std::string Unpack(const std::string& packed, size_t n) {
  std::string out(n, '\0');
  AsciiUnpack(packed.data(), n, out.data());
  return out;
}

}  // namespace

TEST_CASE("packed ASCII takes 7 bytes for every 8 and round-trips", "[ascii_pack]") {
  CHECK(PackedSize(0) == 0);
  CHECK(PackedSize(7) == 7);
  CHECK(PackedSize(8) == 7);
  CHECK(PackedSize(53) == 47);
  CHECK(PackedSize(171) == 150);
  for (size_t n = 0; n <= 600; ++n) {
    const std::string s = Ascii(n, static_cast<uint32_t>(n));
    INFO("length " << n);
    REQUIRE(IsAscii(s));
    const std::string packed = Pack(s);
    CHECK(Unpack(packed, n) == s);
    CHECK(AsciiPackedEquals(packed.data(), s));
  }
  // Every byte value below 0x80 in every position of a group.
  for (int c = 0; c < 0x80; ++c) {
    for (size_t pos = 0; pos < 16; ++pos) {
      std::string s(16, 'a');
      s[pos] = static_cast<char>(c);
      CHECK(Unpack(Pack(s), 16) == s);
    }
  }
}

TEST_CASE("the BMI2 and the portable code pack the same bytes", "[ascii_pack]") {
  INFO("this CPU has BMI2: " << ascii_pack_internal::HaveBmi2());
  for (size_t n = 0; n <= 300; ++n) {
    const std::string s = Ascii(n, static_cast<uint32_t>(n + 1000));
    const std::string packed = Pack(s);
    std::string portable(PackedSize(n), '\0');
    ascii_pack_internal::PackPortable(s, portable.data());
    CHECK(portable == packed);
    std::string out(n, '\0');
    ascii_pack_internal::UnpackPortable(packed.data(), n, out.data());
    CHECK(out == s);
    CHECK(ascii_pack_internal::EqualsPortable(packed.data(), s));
    if (n > 0) {
      std::string other = s;
      other[n / 2] = static_cast<char>(other[n / 2] ^ 0x40);
      CHECK_FALSE(ascii_pack_internal::EqualsPortable(packed.data(), other));
      CHECK_FALSE(AsciiPackedEquals(packed.data(), other));
    }
  }
}

TEST_CASE("packing writes and reads nothing outside its bytes", "[ascii_pack]") {
  // Guard bytes around exact-size buffers (ASan checks the heap ones in make test-asan).
  for (size_t n = 0; n <= 40; ++n) {
    const std::string s = Ascii(n, 9);
    std::string buf(PackedSize(n) + 2, '\x55');
    AsciiPack(s, buf.data() + 1);
    CHECK(buf.front() == '\x55');
    CHECK(buf.back() == '\x55');
    // Exact-size heap blocks: a read or write past them is an ASan report.
    auto packed = std::make_unique<char[]>(PackedSize(n));
    std::memcpy(packed.get(), buf.data() + 1, PackedSize(n));
    auto exact = std::make_unique<char[]>(n);
    AsciiUnpack(packed.get(), n, exact.get());
    CHECK(std::string(exact.get(), n) == s);
    auto packed_again = std::make_unique<char[]>(PackedSize(n));
    AsciiPack(s, packed_again.get());
    CHECK(AsciiPackedEquals(packed_again.get(), s));
    std::string out(n + 2, '\x55');
    AsciiUnpack(packed.get(), n, out.data() + 1);
    CHECK(out.substr(1, n) == s);
    CHECK(out.front() == '\x55');
    CHECK(out.back() == '\x55');
  }
}

TEST_CASE("IsAscii finds a high byte anywhere", "[ascii_pack]") {
  // Lengths past every step of both scans (64, 32 and 16 bytes, a word, single bytes), each
  // string in a heap block of its exact size (ASan sees a read past it).
  INFO("AVX2: " << ascii_pack_internal::HaveAvx2());
  for (size_t n = 1; n <= 200; ++n) {
    const std::string clean = Ascii(n, 7);
    auto copy = std::make_unique<char[]>(n);
    std::memcpy(copy.get(), clean.data(), n);
    CHECK(IsAscii({copy.get(), n}));
    CHECK(ascii_pack_internal::IsAsciiSse2({copy.get(), n}));
    for (size_t pos = 0; pos < n; ++pos) {
      copy[pos] = static_cast<char>(0x80 | (pos & 0x7f));
      CHECK_FALSE(IsAscii({copy.get(), n}));
      CHECK_FALSE(ascii_pack_internal::IsAsciiSse2({copy.get(), n}));
      copy[pos] = clean[pos];
    }
  }
  CHECK(IsAscii(""));
  CHECK(ascii_pack_internal::IsAsciiSse2(""));
  CHECK(IsAscii(std::string(1, '\0')));
}

TEST_CASE("AsciiPackIfAscii packs ASCII as AsciiPack does and refuses a high byte",
          "[ascii_pack]") {
  // Lengths past every step (eight groups, four, one, the tail); the output in a block of its
  // exact size (ASan sees a write past it), both with BMI2 (where the CPU has it) and without.
  for (size_t n = 0; n <= 300; ++n) {
    const std::string s = Ascii(n, static_cast<uint32_t>(n + 77));
    INFO("length " << n);
    const std::string want = Pack(s);
    const size_t m = PackedSize(n);
    auto out = std::make_unique<char[]>(m);
    REQUIRE(AsciiPackIfAscii(s, out.get()));
    CHECK(std::string(out.get(), m) == want);
    auto portable = std::make_unique<char[]>(m);
    REQUIRE(ascii_pack_internal::PackIfAsciiPortable(s, portable.get()));
    CHECK(std::string(portable.get(), m) == want);
    for (size_t pos = 0; pos < n; ++pos) {
      std::string high = s;
      high[pos] = static_cast<char>(0x80 | high[pos]);
      CHECK_FALSE(AsciiPackIfAscii(high, out.get()));
      CHECK_FALSE(ascii_pack_internal::PackIfAsciiPortable(high, portable.get()));
    }
  }
}

TEST_CASE("AsciiPackedEquals tells every other string apart", "[ascii_pack]") {
  const std::string s = Ascii(53, 3);
  const std::string packed = Pack(s);
  for (size_t pos = 0; pos < s.size(); ++pos) {
    std::string other = s;
    other[pos] = static_cast<char>(other[pos] ^ 1);  // another ASCII byte
    CHECK_FALSE(AsciiPackedEquals(packed.data(), other));
    other = s;
    other[pos] = static_cast<char>(other[pos] | 0x80);  // the same 7 bits, the top bit set
    CHECK_FALSE(AsciiPackedEquals(packed.data(), other));
  }
}

}  // namespace dbkv
