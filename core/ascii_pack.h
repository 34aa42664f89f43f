// Packed ASCII: 7-bit text stored 8 characters in 7 bytes (as Dragonfly packs short strings).
//
// A run of n bytes, each below 0x80, packs into PackedSize(n) = n - n / 8 bytes: every full
// group of 8 bytes becomes 7 (bit i of the group's 56 holds bit i % 7 of byte i / 7), and the
// last n % 8 bytes are kept as they are. Packing is a function of the bytes alone, so two equal
// strings pack the same. A group is one BMI2 bit gather (pext) or scatter (pdep) where the CPU
// has them (checked once at start-up), else a dozen shifts and masks; both give the same bytes.
#ifndef DATABRIDGE_CORE_ASCII_PACK_H_
#define DATABRIDGE_CORE_ASCII_PACK_H_

#include <cstddef>
#include <string_view>

namespace dbkv {

constexpr size_t PackedSize(size_t n) { return n - n / 8; }

// True if every byte of s is below 0x80 (the empty string included).
bool IsAscii(std::string_view s);
// Writes PackedSize(s.size()) bytes to out. s must be ASCII.
void AsciiPack(std::string_view s, char* out);
// Packs s as AsciiPack does if s is ASCII, and returns whether it was: false leaves out's
// PackedSize(s.size()) bytes partly written. One pass where IsAscii and AsciiPack make two.
bool AsciiPackIfAscii(std::string_view s, char* out);
// Writes the n bytes that packed (PackedSize(n) bytes) holds to out.
void AsciiUnpack(const char* packed, size_t n, char* out);
// True if packed (PackedSize(s.size()) bytes) holds s; s may be any bytes.
bool AsciiPackedEquals(const char* packed, std::string_view s);

// For tests: the shift-and-mask code and the SSE2 scan, whatever the CPU has, and which ones
// the above use.
namespace ascii_pack_internal {
void PackPortable(std::string_view s, char* out);
bool PackIfAsciiPortable(std::string_view s, char* out);
void UnpackPortable(const char* packed, size_t n, char* out);
bool EqualsPortable(const char* packed, std::string_view s);
bool HaveBmi2();
bool IsAsciiSse2(std::string_view s);  // IsAscii without AVX2
bool HaveAvx2();
}  // namespace ascii_pack_internal

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_ASCII_PACK_H_
