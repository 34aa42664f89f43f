#include "core/value.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "core/ascii_pack.h"

namespace dbkv {
namespace {

Decimal D(std::string_view text) {
  auto d = Decimal::Parse(text);
  REQUIRE(d.ok());
  return *d;
}

// A 1000-byte string whose bytes differ, so that a bad copy would show.
std::string LongText(size_t n = 1000) {
  std::string s(n, 'x');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

}  // namespace

TEST_CASE("Value is 16 bytes and defaults to null", "[value]") {
  STATIC_REQUIRE(sizeof(Value) == 16);
  Value v;
  CHECK(v.type() == ValueType::kNull);
  CHECK(v.is_null());
  CHECK(Value::Null().is_null());
  CHECK(v == Value::Null());
}

TEST_CASE("Value scalars construct and read back", "[value]") {
  Value t = Value::Bool(true), f = Value::Bool(false);
  CHECK(t.type() == ValueType::kBool);
  CHECK(t.AsBool());
  CHECK_FALSE(f.AsBool());

  for (int64_t i : {int64_t{0}, int64_t{1}, int64_t{-1}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    Value v = Value::Int(i);
    CHECK(v.type() == ValueType::kInt);
    CHECK(v.AsInt() == i);
  }

  for (double d : {0.0, -0.0, 1.5, -2.25e300, std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::denorm_min()}) {
    Value v = Value::Double(d);
    CHECK(v.type() == ValueType::kDouble);
    CHECK(v.AsDouble() == d);
  }
  CHECK(std::signbit(Value::Double(-0.0).AsDouble()));
  CHECK(std::isnan(Value::Double(std::nan("")).AsDouble()));

  Value dec = Value::Dec(D("1.10"));
  CHECK(dec.type() == ValueType::kDecimal);
  CHECK(dec.AsDecimal() == D("1.10"));
  CHECK(dec.AsDecimal().ToString() == "1.10");
}

TEST_CASE("Value strings up to 14 bytes are inline, longer ones on the heap", "[value]") {
  for (size_t n : {size_t{0}, size_t{1}, size_t{13}, size_t{14}}) {
    std::string s = LongText(n);
    Value v = Value::String(s);
    INFO("length " << n);
    CHECK(v.type() == ValueType::kString);
    CHECK(v.is_string_like());
    CHECK(v.AsStringView() == s);
    CHECK(v.HeapBytes() == 0);
  }
  for (size_t n : {size_t{15}, size_t{16}, size_t{255}, size_t{256}, size_t{100000}}) {
    std::string s = LongText(n);
    Value v = Value::String(s);
    INFO("length " << n);
    CHECK(v.type() == ValueType::kString);
    CHECK(v.AsStringView() == s);
    CHECK(v.HeapBytes() >= n);
  }
}

TEST_CASE("Value empty strings and bytes", "[value]") {
  Value s = Value::String("");
  Value b = Value::Bytes("");
  CHECK(s.type() == ValueType::kString);
  CHECK(b.type() == ValueType::kBytes);
  CHECK(s.AsStringView().empty());
  CHECK(b.AsStringView().empty());
  CHECK(s.HeapBytes() == 0);
  CHECK(s == Value::String(""));
  CHECK(s != b);
  CHECK(s != Value::Null());
}

TEST_CASE("Value strings keep embedded NUL bytes", "[value]") {
  const std::string inline_nul("a\0b\0", 4);
  const std::string heap_nul = std::string("\0\0\0", 3) + LongText(20) + std::string("\0", 1);
  for (const std::string& s : {inline_nul, heap_nul}) {
    Value v = Value::Bytes(s);
    CHECK(v.AsStringView().size() == s.size());
    CHECK(v.AsStringView() == s);
    Value copy = v;  // NOLINT(performance-unnecessary-copy-initialization): the copy is tested
    CHECK(copy.AsStringView() == s);
    CHECK(copy == v);
  }
  // A value differing only after a NUL is a different value.
  CHECK(Value::Bytes(std::string("a\0b", 3)) != Value::Bytes(std::string("a\0c", 3)));
  CHECK(Value::Bytes(std::string("a\0", 2)) != Value::Bytes("a"));
}

TEST_CASE("Value string and bytes with the same content are not equal", "[value]") {
  CHECK(Value::String("abc") != Value::Bytes("abc"));
  CHECK(Value::String(LongText(40)) != Value::Bytes(LongText(40)));
  CHECK(Value::Bytes("abc").type() == ValueType::kBytes);
  CHECK(Value::Bytes("abc").AsStringView() == "abc");
  CHECK(Value::String("abc") == Value::String("abc"));
  CHECK(Value::String(LongText(40)) == Value::String(LongText(40)));
  CHECK(Value::String(LongText(40)) != Value::String(LongText(41)));
}

TEST_CASE("Value equality requires the same type", "[value]") {
  CHECK(Value::Int(1) != Value::Bool(true));
  CHECK(Value::Int(1) != Value::Double(1.0));
  CHECK(Value::Int(1) != Value::Dec(D("1")));
  CHECK(Value::Int(0) != Value::Null());
  CHECK(Value::String("1") != Value::Int(1));
  CHECK(Value::List({}) != Value::Map({}));
  CHECK(Value::Bool(false) == Value::Bool(false));
  CHECK(Value::Bool(false) != Value::Bool(true));
  CHECK(Value::Double(0.0) == Value::Double(-0.0));
  CHECK(Value::Double(std::nan("")) == Value::Double(std::nan("")));
  // Decimals compare as stored: 1.0 and 1.00 are different values.
  CHECK(Value::Dec(D("1.0")) != Value::Dec(D("1.00")));
  CHECK(Value::Dec(D("1.0")) == Value::Dec(D("1.0")));
}

TEST_CASE("Value list and map read back in order", "[value]") {
  Value l = Value::List({Value::Int(1), Value::String("two"), Value::Null()});
  CHECK(l.type() == ValueType::kList);
  REQUIRE(l.AsList().size() == 3);
  CHECK(l.AsList()[0] == Value::Int(1));
  CHECK(l.AsList()[1] == Value::String("two"));
  CHECK(l.AsList()[2].is_null());

  // Maps keep insertion order and take keys of any type.
  Value m = Value::Map({{Value::String("z"), Value::Int(1)},
                        {Value::Int(7), Value::Bool(true)},
                        {Value::String("a"), Value::Null()}});
  CHECK(m.type() == ValueType::kMap);
  REQUIRE(m.AsMap().size() == 3);
  CHECK(m.AsMap()[0].first == Value::String("z"));
  CHECK(m.AsMap()[1].first == Value::Int(7));
  CHECK(m.AsMap()[1].second == Value::Bool(true));
  CHECK(m.AsMap()[2].first == Value::String("a"));

  m.MutableMap().emplace_back(Value::String("b"), Value::Int(2));
  CHECK(m.AsMap().size() == 4);
  l.MutableList().push_back(Value::Int(4));
  CHECK(l.AsList().size() == 4);
}

TEST_CASE("Value nested list and map equality is deep", "[value]") {
  auto make = [](int64_t leaf) {
    return Value::List({Value::Int(1),
                        Value::Map({{Value::String("k"), Value::List({Value::String(LongText(30)),
                                                                      Value::Int(leaf)})}}),
                        Value::Dec(D("2.50"))});
  };
  CHECK(make(5) == make(5));
  CHECK(make(5) != make(6));
  CHECK(Value::List({Value::Int(1), Value::Int(2)}) != Value::List({Value::Int(2), Value::Int(1)}));
  CHECK(Value::List({Value::Int(1)}) != Value::List({Value::Int(1), Value::Int(1)}));
  CHECK(Value::List({}) == Value::List({}));
  // Map order is part of the value.
  Value ab = Value::Map({{Value::String("a"), Value::Int(1)}, {Value::String("b"), Value::Int(2)}});
  Value ba = Value::Map({{Value::String("b"), Value::Int(2)}, {Value::String("a"), Value::Int(1)}});
  CHECK(ab != ba);
  CHECK(ab == Value(ab));
  CHECK(Value::Map({{Value::String("a"), Value::Int(1)}}) !=
        Value::Map({{Value::String("a"), Value::Int(2)}}));
}

TEST_CASE("Value copies are deep", "[value]") {
  SECTION("list") {
    Value original = Value::List({Value::Int(1), Value::String(LongText(50))});
    Value copy = original;
    CHECK(copy == original);
    copy.MutableList().push_back(Value::Int(3));
    copy.MutableList()[0] = Value::Int(100);
    REQUIRE(original.AsList().size() == 2);
    CHECK(original.AsList()[0] == Value::Int(1));
    CHECK(original.AsList()[1].AsStringView() == LongText(50));
    CHECK(copy != original);
    CHECK(&copy.AsList() != &original.AsList());
  }
  SECTION("nested list inside a map") {
    Value original = Value::Map({{Value::String("k"), Value::List({Value::Int(1)})}});
    Value copy(original);
    copy.MutableMap()[0].second.MutableList().push_back(Value::Int(2));
    CHECK(original.AsMap()[0].second.AsList().size() == 1);
    CHECK(copy.AsMap()[0].second.AsList().size() == 2);
  }
  SECTION("heap string: immutable, so copies share the bytes") {
    Value original = Value::String(LongText(100));
    Value copy = original;
    CHECK(copy.AsStringView() == original.AsStringView());
    CHECK(copy.AsStringView().data() == original.AsStringView().data());
    original = Value::Int(1);  // the copy keeps the shared bytes alive
    CHECK(copy.AsStringView() == LongText(100));
  }
  SECTION("decimal") {
    Value original = Value::Dec(D("1.10"));
    Value copy = original;  // NOLINT(performance-unnecessary-copy-initialization): tested
    CHECK(&copy.AsDecimal() != &original.AsDecimal());
    CHECK(copy.AsDecimal() == D("1.10"));
  }
  SECTION("copy assignment over every kind of old value") {
    const Value sources[] = {Value::Null(),
                             Value::Int(5),
                             Value::Dec(D("3.3")),
                             Value::String("short"),
                             Value::Bytes(LongText(64)),
                             Value::List({Value::String(LongText(20))}),
                             Value::Map({{Value::Int(1), Value::String(LongText(20))}})};
    for (const Value& target_init : sources) {
      for (const Value& src : sources) {
        Value target = target_init;
        target = src;
        CHECK(target == src);
      }
    }
  }
  SECTION("self assignment keeps the value") {
    Value v = Value::List({Value::String(LongText(30))});
    Value& alias = v;
    v = alias;
    CHECK(v == Value::List({Value::String(LongText(30))}));
    v = std::move(alias);
    CHECK(v == Value::List({Value::String(LongText(30))}));
  }
}

TEST_CASE("Value assignment from an element of itself", "[value]") {
  Value v = Value::List({Value::String(LongText(40)), Value::Int(2)});
  v = v.AsList()[0];
  CHECK(v == Value::String(LongText(40)));

  Value m = Value::Map({{Value::Int(1), Value::List({Value::Dec(D("9.99"))})}});
  m = m.AsMap()[0].second;
  CHECK(m == Value::List({Value::Dec(D("9.99"))}));
}

TEST_CASE("Value moves leave the source null", "[value]") {
  const Value samples[] = {Value::Bool(true),
                           Value::Int(42),
                           Value::Double(2.5),
                           Value::Dec(D("1.10")),
                           Value::String("inline"),
                           Value::String(LongText(200)),
                           Value::Bytes(LongText(20)),
                           Value::List({Value::Int(1), Value::String(LongText(30))}),
                           Value::Map({{Value::String("k"), Value::Int(1)}})};
  for (const Value& sample : samples) {
    INFO(sample.DebugString());
    Value src = sample;
    Value moved(std::move(src));
    CHECK(src.is_null());  // NOLINT(bugprone-use-after-move): the contract under test
    CHECK(moved == sample);

    Value target = Value::String(LongText(50));
    target = std::move(moved);
    CHECK(moved.is_null());  // NOLINT(bugprone-use-after-move)
    CHECK(target == sample);
  }
}

TEST_CASE("Value move keeps heap pointers, so it is cheap", "[value]") {
  Value src = Value::String(LongText(100));
  const char* data = src.AsStringView().data();
  Value dst = std::move(src);
  CHECK(dst.AsStringView().data() == data);

  Value list = Value::List({Value::Int(1)});
  const ValueList* items = &list.AsList();
  Value list2 = std::move(list);
  CHECK(&list2.AsList() == items);
}

TEST_CASE("Value HeapBytes is zero for scalars and inline strings", "[value]") {
  CHECK(Value::Null().HeapBytes() == 0);
  CHECK(Value::Bool(true).HeapBytes() == 0);
  CHECK(Value::Int(-5).HeapBytes() == 0);
  CHECK(Value::Double(1e300).HeapBytes() == 0);
  CHECK(Value::String("").HeapBytes() == 0);
  CHECK(Value::String(LongText(14)).HeapBytes() == 0);
  CHECK(Value::Bytes(LongText(14)).HeapBytes() == 0);
  // A Decimal lives in a heap block of its own.
  CHECK(Value::Dec(D("1")).HeapBytes() >= sizeof(Decimal));
}

TEST_CASE("Value HeapBytes grows with content", "[value]") {
  const size_t s15 = Value::String(LongText(15)).HeapBytes();
  const size_t s100 = Value::String(LongText(100)).HeapBytes();
  const size_t s1000 = Value::String(LongText(1000)).HeapBytes();
  CHECK(s15 >= 15);
  CHECK(s100 > s15);
  CHECK(s1000 > s100);
  CHECK(s1000 >= 1000);
  CHECK(Value::Bytes(LongText(100)).HeapBytes() == s100);

  const size_t empty_list = Value::List({}).HeapBytes();
  CHECK(empty_list > 0);
  ValueList small_items = {Value::Int(1)};
  ValueList big_items;
  for (int i = 0; i < 100; ++i) big_items.push_back(Value::Int(i));
  const size_t small = Value::List(small_items).HeapBytes();
  const size_t big = Value::List(big_items).HeapBytes();
  CHECK(small > empty_list);
  CHECK(big > small);
  CHECK(big >= 100 * sizeof(Value));

  // Heap children count on top of the list's own storage.
  Value with_strings = Value::List({Value::String(LongText(1000)), Value::String(LongText(1000))});
  CHECK(with_strings.HeapBytes() >= 2 * s1000);
  Value inline_strings = Value::List({Value::String("a"), Value::String("b")});
  CHECK(with_strings.HeapBytes() - inline_strings.HeapBytes() == 2 * s1000);

  Value map = Value::Map({{Value::String(LongText(500)), Value::String(LongText(1000))}});
  CHECK(map.HeapBytes() >= Value::String(LongText(500)).HeapBytes() + s1000);
  CHECK(map.HeapBytes() > Value::Map({}).HeapBytes());

  // A copy accounts the same as its original.
  Value nested = Value::Map({{Value::Int(1), with_strings}});
  CHECK(Value(nested).HeapBytes() == nested.HeapBytes());
}

TEST_CASE("Value DebugString samples", "[value]") {
  CHECK(Value::Null().DebugString() == "null");
  CHECK(Value::Bool(true).DebugString() == "true");
  CHECK(Value::Bool(false).DebugString() == "false");
  CHECK(Value::Int(5).DebugString() == "5");
  CHECK(Value::Int(std::numeric_limits<int64_t>::min()).DebugString() == "-9223372036854775808");
  CHECK(Value::Double(1.5).DebugString() == "1.5");
  CHECK(Value::Dec(D("1.10")).DebugString() == "1.10");
  CHECK(Value::Dec(D("0.0000001")).DebugString() == "1E-7");
  CHECK(Value::String("text").DebugString() == "\"text\"");
  CHECK(Value::Bytes("raw").DebugString() == "b\"raw\"");
  CHECK(Value::String("a\"b\\c").DebugString() == "\"a\\\"b\\\\c\"");
  CHECK(Value::String("l1\nl2\r\t").DebugString() == "\"l1\\nl2\\r\\t\"");
  CHECK(Value::Bytes(std::string("\x00\x01\xff", 3)).DebugString() == "b\"\\x00\\x01\\xff\"");
  CHECK(Value::List({}).DebugString() == "[]");
  CHECK(Value::Map({}).DebugString() == "{}");
  CHECK(Value::List({Value::Int(1), Value::String("a"), Value::Null()}).DebugString() ==
        "[1, \"a\", null]");
  CHECK(Value::Map({{Value::String("k"), Value::Int(1)}, {Value::Int(2), Value::List({})}})
            .DebugString() == "{\"k\": 1, 2: []}");
}

TEST_CASE("ValueTypeName names every type", "[value]") {
  CHECK(ValueTypeName(ValueType::kNull) == "null");
  CHECK(ValueTypeName(ValueType::kBool) == "bool");
  CHECK(ValueTypeName(ValueType::kInt) == "int");
  CHECK(ValueTypeName(ValueType::kDouble) == "double");
  CHECK(ValueTypeName(ValueType::kDecimal) == "decimal");
  CHECK(ValueTypeName(ValueType::kString) == "string");
  CHECK(ValueTypeName(ValueType::kBytes) == "bytes");
  CHECK(ValueTypeName(ValueType::kList) == "list");
  CHECK(ValueTypeName(ValueType::kMap) == "map");
}

}  // namespace dbkv

namespace dbkv {

TEST_CASE("Value::FromPacked unpacks into an inline or a heap string", "[value]") {
  for (size_t n = 0; n <= 40; ++n) {
    std::string text(n, '\0');
    for (size_t i = 0; i < n; ++i) text[i] = static_cast<char>('!' + (i * 13) % 90);
    std::string packed(PackedSize(n), '\0');
    AsciiPack(text, packed.data());
    CHECK(Value::FromPacked(ValueType::kString, packed.data(), n) == Value::String(text));
    CHECK(Value::FromPacked(ValueType::kBytes, packed.data(), n) == Value::Bytes(text));
  }
}

}  // namespace dbkv
