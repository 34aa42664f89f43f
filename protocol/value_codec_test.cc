// Tests of the msgpack value codec: one round trip per value type, and one test per rule of
// protocol/PROTOCOL.md "Values".
#include "protocol/value_codec.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <string>
#include <string_view>

#include "protocol/test_util.h"
#include "protocol/wire_format.h"

// The largest single allocation made while tracking is on. Replacing the global operator new is
// the only way to prove that a length field claiming 4 G elements is rejected before anything
// is reserved (a reserve of 64 GiB may well throw bad_alloc, which the decoder would turn into
// an ordinary PROTOCOL error and hide).
namespace {
bool g_track_allocations = false;
size_t g_largest_allocation = 0;

void Track(size_t n) {
  if (g_track_allocations && n > g_largest_allocation) g_largest_allocation = n;
}
}  // namespace

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Under a sanitizer (make test-asan/test-tsan), its allocator serves operator new everywhere:
// a replacement here would pair with its operator delete in the shared libraries (ASan reports
// the mismatch). Its allocation hook sees every allocation instead.
// The sanitizers' runtime API (GCC does not install the header that declares it).
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             size_t),
                                                         void (*free_hook)(const volatile void*));
namespace {
void OnMalloc(const volatile void*, size_t n) { Track(n); }
void OnFree(const volatile void*) {}
const int g_hooks_installed = __sanitizer_install_malloc_and_free_hooks(OnMalloc, OnFree);
}  // namespace
#else
void* operator new(size_t n) {
  Track(n);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// GCC cannot tell that operator new is replaced above and warns that free() meets new.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

namespace dbkv::protocol {
namespace {

using testing::D;
using testing::Hex;

std::string Encode(const Value& v) {
  std::string out;
  AppendValue(&out, v);
  return out;
}

Value Decode(std::string_view data) {
  Value v;
  Status s = DecodeValue(data, &v);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return v;
}

// Encodes v, decodes it back, and checks the result is equal (same type, same content).
Value RoundTrip(const Value& v) {
  Value back = Decode(Encode(v));
  INFO(v.DebugString() << " came back as " << back.DebugString());
  CHECK(back == v);
  CHECK(back.type() == v.type());
  return back;
}

// Decodes data, expecting a kProtocol error whose message contains reason.
void ExpectError(std::string_view data, std::string_view reason, bool allow_simple = false) {
  Value v;
  bool simple = false;
  Status s = DecodeValue(data, &v, allow_simple ? &simple : nullptr);
  INFO(s.ToString());
  CHECK(s.code() == Code::kProtocol);
  CHECK(s.message().find(reason) != std::string::npos);
}

Value Nested(int depth) {
  Value v = Value::Int(1);
  for (int i = 0; i < depth; ++i) {
    ValueList l;
    l.push_back(std::move(v));
    v = Value::List(std::move(l));
  }
  return v;
}

}  // namespace

TEST_CASE("nil and booleans round trip in one byte each", "[value_codec]") {
  CHECK(Encode(Value()) == Hex("c0"));
  CHECK(Encode(Value::Bool(false)) == Hex("c2"));
  CHECK(Encode(Value::Bool(true)) == Hex("c3"));
  RoundTrip(Value());
  RoundTrip(Value::Bool(false));
  RoundTrip(Value::Bool(true));
}

TEST_CASE("integers round trip over the whole int64 range, in the shortest form", "[value_codec]") {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  for (int64_t i : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{127}, int64_t{128}, int64_t{-32},
                    int64_t{-33}, int64_t{255}, int64_t{256}, int64_t{65535}, int64_t{65536},
                    int64_t{-32768}, int64_t{1} << 32, -(int64_t{1} << 40), kMin, kMax}) {
    INFO(i);
    RoundTrip(Value::Int(i));
  }
  CHECK(Encode(Value::Int(5)) == Hex("05"));
  CHECK(Encode(Value::Int(-1)) == Hex("ff"));
  CHECK(Encode(Value::Int(200)) == Hex("cc c8"));
  CHECK(Encode(Value::Int(kMax)) == Hex("cf 7fffffffffffffff"));
  CHECK(Encode(Value::Int(kMin)) == Hex("d3 8000000000000000"));
}

TEST_CASE("any msgpack integer width decodes to the same int", "[value_codec]") {
  for (const char* hex : {"05", "cc 05", "cd 0005", "ce 00000005", "cf 0000000000000005", "d0 05",
                          "d1 0005", "d2 00000005", "d3 0000000000000005"}) {
    INFO(hex);
    CHECK(Decode(Hex(hex)) == Value::Int(5));
  }
  CHECK(Decode(Hex("d3 8000000000000000")) == Value::Int(std::numeric_limits<int64_t>::min()));
  CHECK(Decode(Hex("cf 7fffffffffffffff")) == Value::Int(std::numeric_limits<int64_t>::max()));
}

TEST_CASE("an unsigned integer above INT64_MAX is rejected", "[value_codec]") {
  ExpectError(Hex("cf 8000000000000000"), "signed 64-bit");
  ExpectError(Hex("cf ffffffffffffffff"), "signed 64-bit");
  // Also inside a container.
  ExpectError(Hex("91 cf 8000000000000000"), "signed 64-bit");
}

TEST_CASE("non-integral doubles round trip bit for bit, float32 input widens to double",
          "[value_codec]") {
  for (double d : {1.5, -2.25e300, 0.1, -1e-300, std::numeric_limits<double>::denorm_min()}) {
    INFO(d);
    Value back = RoundTrip(Value::Double(d));
    CHECK(back.AsDouble() == d);
  }
  CHECK(Encode(Value::Double(1.5)) == Hex("cb 3ff8000000000000"));
  CHECK(std::isnan(RoundTrip(Value::Double(std::nan(""))).AsDouble()));

  // Any float64 on the wire decodes to a double, integral or not.
  CHECK(Decode(Hex("cb 3ff0000000000000")) == Value::Double(1.0));
  CHECK(std::signbit(Decode(Hex("cb 8000000000000000")).AsDouble()));
  CHECK(Decode(Hex("cb 43e158e460913d00")) == Value::Double(1e19));

  Value f = Decode(Hex("ca 3fc00000"));  // float32 1.5
  CHECK(f.type() == ValueType::kDouble);
  CHECK(f.AsDouble() == 1.5);
  Value tenth = Decode(Hex("ca 3dcccccd"));  // float32 0.1: widened exactly, not re-rounded
  CHECK(tenth.AsDouble() == static_cast<double>(0.1f));
  CHECK(Encode(tenth).size() == 9);  // re-encoded as float64
  CHECK(Encode(tenth)[0] == '\xcb');
}

// msgpack-cxx's packer::pack_double would write an integral double as a msgpack integer (1.0 as
// int 1, 1e19 as a uint64 the decoder rejects); the encoder writes float64 for every double.
TEST_CASE("integral doubles stay doubles", "[value_codec]") {
  for (double d :
       {0.0, -0.0, 1.0, -3.0, 1e15, 1e19, -9.223372036854775808e18,
        std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
    INFO(d);
    CHECK(Encode(Value::Double(d)).size() == 9);
    Value back;
    Status s = DecodeValue(Encode(Value::Double(d)), &back);
    INFO(s.ToString());
    CHECK(s.ok());
    CHECK(back.type() == ValueType::kDouble);
    CHECK(back == Value::Double(d));
    CHECK(std::signbit(back.AsDouble()) == std::signbit(d));
  }
}

TEST_CASE("str decodes to string and bin to bytes; they stay distinct", "[value_codec]") {
  CHECK(Encode(Value::String("abc")) == Hex("a3 616263"));
  CHECK(Encode(Value::Bytes("abc")) == Hex("c4 03 616263"));
  Value s = RoundTrip(Value::String("abc"));
  Value b = RoundTrip(Value::Bytes("abc"));
  CHECK(s.type() == ValueType::kString);
  CHECK(b.type() == ValueType::kBytes);
  CHECK(s != b);
  RoundTrip(Value::String(""));
  RoundTrip(Value::Bytes(""));
  CHECK(Encode(Value::String("")) == Hex("a0"));
  CHECK(Encode(Value::Bytes("")) == Hex("c4 00"));
  // Binary content, and every length class (fixstr, str8, str16, str32; bin8, bin16, bin32).
  RoundTrip(Value::Bytes(std::string("\0\xff\x80 ", 4)));
  RoundTrip(Value::String(std::string("nul\0inside", 10)));
  for (size_t n :
       {size_t{31}, size_t{32}, size_t{255}, size_t{256}, size_t{65535}, size_t{65536}}) {
    std::string text(n, 'x');
    for (size_t i = 0; i < n; ++i) text[i] = static_cast<char>('a' + i % 26);
    INFO(n);
    RoundTrip(Value::String(text));
    RoundTrip(Value::Bytes(text));
  }
  // A short text in str8 form (0xd9; the encoder would use fixstr) decodes the same.
  CHECK(Decode(Hex("d9 02 6869")) == Value::String("hi"));
}

TEST_CASE("Decimal travels as ext 1 text and keeps its exponent", "[value_codec]") {
  CHECK(Encode(Value::Dec(D("1.10"))) == Hex("d6 01 312e3130"));  // fixext4, type 1, "1.10"
  for (const char* text :
       {"1.10", "1.1", "0", "-0", "0.00", "1E+3", "1.2E+3", "0.000001", "1E-7", "-12345.6789",
        "99999999999999999999999999999999999999", "1E+999999", "1E-999999", "0E-7"}) {
    INFO(text);
    Value back = RoundTrip(Value::Dec(D(text)));
    CHECK(back.AsDecimal().ToString() == text);
  }
  CHECK(Decode(Encode(Value::Dec(D("1.10")))).AsDecimal().exponent() == -2);
  CHECK(Decode(Encode(Value::Dec(D("1.10")))) != Value::Dec(D("1.1")));
  CHECK(Decode(Encode(Value::Dec(D("1E+3")))).AsDecimal().exponent() == 3);
}

TEST_CASE("ext 1 accepts every form Decimal::Parse accepts", "[value_codec]") {
  // "1e3": lower-case exponent, no sign; the value is coefficient 1, exponent 3.
  std::string ext = Hex("c7 03 01") + "1e3";  // ext8, length 3, type 1
  Value d = Decode(ext);
  REQUIRE(d.type() == ValueType::kDecimal);
  CHECK(d.AsDecimal() == D("1E+3"));
  CHECK(Decode(Hex("c7 02 01") + ".5").AsDecimal() == D("0.5"));
  CHECK(Decode(Hex("c7 02 01") + "+5").AsDecimal() == D("5"));
}

TEST_CASE("bad decimal text in ext 1 is a PROTOCOL error", "[value_codec]") {
  for (const std::string& text :
       std::initializer_list<std::string>{"", "abc", "NaN", "Infinity", "1.2.3", "1e", " 1", "1 ",
                                          "--1", "1E+1000000", std::string(39, '9')}) {
    INFO("'" << text << "'");
    std::string ext = Hex("c7") + static_cast<char>(text.size()) + Hex("01") + text;
    ExpectError(ext, "bad decimal");
  }
}

TEST_CASE("lists and maps round trip, nested, empty, keys of any type in order", "[value_codec]") {
  RoundTrip(Value::List({}));
  RoundTrip(Value::Map({}));
  CHECK(Encode(Value::List({})) == Hex("90"));
  CHECK(Encode(Value::Map({})) == Hex("80"));

  ValueMap m;
  m.emplace_back(Value::String("z"), Value::Int(1));
  m.emplace_back(Value::Int(7), Value::String("seven"));
  m.emplace_back(Value::Bytes("a"), Value::Dec(D("1.10")));
  m.emplace_back(Value(), Value::Bool(true));
  m.emplace_back(Value::List({Value::Int(1), Value::Int(2)}), Value::Map({}));
  m.emplace_back(Value::String("z"), Value::Int(2));  // duplicate keys are kept as sent
  Value map = Value::Map(m);
  Value back = RoundTrip(map);
  REQUIRE(back.AsMap().size() == 6);
  CHECK(back.AsMap()[0].first == Value::String("z"));  // insertion order, not sorted
  CHECK(back.AsMap()[1].first == Value::Int(7));
  CHECK(back.AsMap()[5].second == Value::Int(2));

  ValueList l;
  l.push_back(Value::List({}));
  l.push_back(map);
  l.push_back(Value::List({Value::List({Value::Double(0.5), Value::Bytes("b")})}));
  l.push_back(Value::String(std::string(300, 's')));
  RoundTrip(Value::List(l));

  // A map with 16 entries and a list with 16 elements switch to map16/array16.
  ValueList big;
  ValueMap bigm;
  for (int i = 0; i < 70000; ++i) big.push_back(Value::Int(i));
  for (int i = 0; i < 16; ++i) bigm.emplace_back(Value::Int(i), Value::Int(-i));
  RoundTrip(Value::List(big));
  RoundTrip(Value::Map(bigm));
}

TEST_CASE("nesting of 64 containers is accepted, 65 is rejected", "[value_codec]") {
  RoundTrip(Nested(kMaxNestingDepth));
  ExpectError(Encode(Nested(kMaxNestingDepth + 1)), "nested deeper than 64");
  // Maps count as levels too.
  Value v = Value::Int(1);
  for (int i = 0; i < kMaxNestingDepth + 1; ++i) {
    ValueMap m;
    m.emplace_back(Value::Int(i), std::move(v));
    v = Value::Map(std::move(m));
  }
  ExpectError(Encode(v), "nested deeper than 64");
  // A deeply nested header run with no elements at all is stopped at the limit, too.
  ExpectError(std::string(100000, '\x91'), "nested deeper than 64");
}

// Decoding hex fails with PROTOCOL and exactly message, and allocates nothing large on the way.
void ExpectRejectedUnallocated(const char* hex, const char* message) {
  INFO(hex);
  g_largest_allocation = 0;
  g_track_allocations = true;
  Value v;
  Status s = DecodeValue(Hex(hex), &v);
  g_track_allocations = false;
  CHECK(s.code() == Code::kProtocol);
  CHECK(s.message() == message);
  CHECK(g_largest_allocation < 1024);
}

TEST_CASE("an array header claiming 2^32-1 elements fails fast without allocating",
          "[value_codec]") {
  // The hook works: a 300-element array reserves its 300 slots at once.
  g_largest_allocation = 0;
  g_track_allocations = true;
  Value big = Decode(Hex("dc 012c") + std::string(300, '\x01'));
  g_track_allocations = false;
  CHECK(big.AsList().size() == 300);
  CHECK(g_largest_allocation >= 300 * sizeof(Value));

  for (const char* hex :
       {"dd ffffffff", "dd ffffffff 01 02 03", "91 dd ffffffff 01", "dc ffff 01"}) {
    ExpectRejectedUnallocated(hex, "array length exceeds the frame");
  }
}

TEST_CASE("a map header claiming more pairs than the payload can hold fails fast",
          "[value_codec]") {
  for (const char* hex : {"df ffffffff", "df ffffffff 01 02", "de 0005 01 02 03 04 05 06"}) {
    ExpectRejectedUnallocated(hex, "map length exceeds the frame");
  }
  // A plausible count with too few bytes is merely truncated.
  ExpectError(Hex("82 01 02 03"), "truncated");
}

TEST_CASE("a simple status (ext 2) is accepted only as a whole reply", "[value_codec]") {
  std::string ok;
  AppendSimple(&ok, "OK");
  CHECK(ok == Hex("d5 02 4f4b"));  // fixext2, type 2, "OK"
  Value v;
  bool simple = false;
  REQUIRE(DecodeValue(ok, &v, &simple).ok());
  CHECK(simple);
  CHECK(v == Value::String("OK"));

  // A plain string is not simple.
  REQUIRE(DecodeValue(Hex("a2 4f4b"), &v, &simple).ok());
  CHECK_FALSE(simple);

  // Where simple statuses are not expected (requests, values) ext 2 is unsupported.
  ExpectError(ok, "unsupported ext type 2");
  // Inside a list or map, never.
  ExpectError(Hex("91") + ok, "unsupported ext type 2", /*allow_simple=*/true);
  ExpectError(Hex("81 01") + ok, "unsupported ext type 2", /*allow_simple=*/true);
  ExpectError(Hex("81") + ok + Hex("01"), "unsupported ext type 2", /*allow_simple=*/true);
}

TEST_CASE("ext types other than 1 and 2 are rejected", "[value_codec]") {
  ExpectError(Hex("d4 03 00"), "unsupported ext type 3");
  ExpectError(Hex("d4 ff 00"), "unsupported ext type -1");
  ExpectError(Hex("c7 00 00"), "unsupported ext type 0");
  ExpectError(Hex("d6 ff ffffffff"), "unsupported ext type -1");  // msgpack timestamp
  ExpectError(Hex("93 01 d4 05 00 02"), "unsupported ext type 5");
}

TEST_CASE("malformed msgpack is a PROTOCOL error", "[value_codec]") {
  ExpectError("", "empty payload");
  ExpectError(Hex("c1"), "malformed msgpack");  // the one never-used type byte
  ExpectError(Hex("01 02"), "trailing bytes after the payload value");
  ExpectError(Hex("90 90"), "trailing bytes after the payload value");
  ExpectError(Hex("a5 6869"), "truncated");  // str claims 5 bytes, 2 present
  ExpectError(Hex("c4 05 00"), "truncated");
  ExpectError(Hex("cb 3ff8"), "truncated");
  ExpectError(Hex("92 01"), "truncated");
  ExpectError(Hex("d6 01 31"), "truncated");
  ExpectError(Hex("dd 00000002 01"), "truncated");
}

TEST_CASE("DecodeArray wants exactly one array", "[value_codec]") {
  ValueList l;
  REQUIRE(DecodeArray(Hex("92 a3 474554 01"), &l).ok());
  REQUIRE(l.size() == 2);
  CHECK(l[0] == Value::String("GET"));
  CHECK(l[1] == Value::Int(1));
  REQUIRE(DecodeArray(Hex("90"), &l).ok());
  CHECK(l.empty());

  for (const char* hex : {"01", "a3 474554", "80", "c0"}) {
    INFO(hex);
    Status s = DecodeArray(Hex(hex), &l);
    CHECK(s.code() == Code::kProtocol);
    CHECK(s.message() == "request payload must be an array");
  }
  CHECK(DecodeArray("", &l).message() == "empty payload");
  CHECK(DecodeArray(Hex("90 90"), &l).message() == "trailing bytes after the payload value");
}

TEST_CASE("AppendArrayHeader and AppendString write plain msgpack", "[value_codec]") {
  std::string out;
  AppendArrayHeader(&out, 2);
  AppendString(&out, "GET");
  AppendValue(&out, Value::Bytes("k"));
  CHECK(out == Hex("92 a3 474554 c4 01 6b"));
  out.clear();
  AppendArrayHeader(&out, 70000);
  CHECK(out == Hex("dd 00011170"));
}

}  // namespace dbkv::protocol
