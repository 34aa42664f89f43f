#include "tools/cli_format.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace dbkv::cli {
namespace {

Value S(std::string_view s) { return Value::String(s); }
Value I(int64_t i) { return Value::Int(i); }
Value D(std::string_view s) { return Value::Dec(*Decimal::Parse(s)); }

std::string Format(Value v) { return FormatReply(Reply::Of(std::move(v))); }

ValueMap MapOf(std::vector<std::pair<Value, Value>> items) { return ValueMap(std::move(items)); }

// --- TypeArgument ---------------------------------------------------------------------------

TEST_CASE("TypeArgument: canonical integers become ints", "[cli]") {
  CHECK(TypeArgument("42", false) == I(42));
  CHECK(TypeArgument("0", false) == I(0));
  CHECK(TypeArgument("-7", false) == I(-7));
  CHECK(TypeArgument("9223372036854775807", false) == I(INT64_MAX));
  CHECK(TypeArgument("-9223372036854775808", false) == I(INT64_MIN));
}

TEST_CASE("TypeArgument: plain decimals become Decimals, kept as written", "[cli]") {
  Value v = TypeArgument("1.10", false);
  REQUIRE(v.type() == ValueType::kDecimal);
  CHECK(v.AsDecimal().ToString() == "1.10");
  CHECK(TypeArgument("-0.5", false) == D("-0.5"));
  CHECK(TypeArgument("0.000", false) == D("0.000"));
  CHECK(TypeArgument(".5", false) == D(".5"));
  CHECK(TypeArgument("5.", false) == D("5."));
  CHECK(TypeArgument("12345678901234567890.5", false) == D("12345678901234567890.5"));
}

TEST_CASE("TypeArgument: everything else stays a string", "[cli]") {
  for (const char* word : {"",
                           "abc",
                           "007",
                           "-0",
                           "+5",
                           "1e5",
                           "1E+3",
                           "Infinity",
                           "NaN",
                           "1.2.3",
                           "-",
                           ".",
                           "-.",
                           "1-2",
                           "--1",
                           "0x10",
                           " 1",
                           "1 ",
                           "1,5",
                           "9223372036854775808",
                           "-9223372036854775809",
                           "3.14abc"}) {
    INFO("'" << word << "'");
    CHECK(TypeArgument(word, false) == S(word));
  }
  // Too many digits for a Decimal (38): text, never rounded.
  const std::string long_decimal = "1." + std::string(40, '1');
  CHECK(TypeArgument(long_decimal, false) == S(long_decimal));
}

TEST_CASE("TypeArgument: strings_only sends every word as a string", "[cli]") {
  for (const char* word : {"42", "-7", "1.10", "abc", ""}) {
    INFO(word);
    CHECK(TypeArgument(word, true) == S(word));
  }
}

// --- SplitLine ------------------------------------------------------------------------------

std::vector<Word> Split(std::string_view line) {
  std::vector<Word> words;
  INFO(line);
  REQUIRE(SplitLine(line, &words));
  return words;
}

std::vector<std::string> Texts(const std::vector<Word>& words) {
  std::vector<std::string> out;
  out.reserve(words.size());
  for (const Word& w : words) out.push_back(w.text);
  return out;
}

using Strings = std::vector<std::string>;

TEST_CASE("SplitLine: whitespace separates words", "[cli]") {
  std::vector<Word> w = Split("SET key value");
  CHECK(Texts(w) == Strings{"SET", "key", "value"});
  for (const Word& word : w) CHECK_FALSE(word.quoted);
  CHECK(Texts(Split("  GET \t k\t")) == Strings{"GET", "k"});
  CHECK(Split("").empty());
  CHECK(Split("   \t ").empty());
  // Quotes inside a bare word are part of it.
  CHECK(Texts(Split("a\"b\" c'd'")) == Strings{"a\"b\"", "c'd'"});
}

TEST_CASE("SplitLine: double quotes group and take escapes", "[cli]") {
  std::vector<Word> w = Split("SET \"hello world\" x");
  REQUIRE(w.size() == 3);
  CHECK(w[1].text == "hello world");
  CHECK(w[1].quoted);
  CHECK_FALSE(w[2].quoted);

  w = Split(R"("a\nb\tc\rd\\e\"f\x41\x7a\xFF")");
  REQUIRE(w.size() == 1);
  CHECK(w[0].text == "a\nb\tc\rd\\e\"fAz\xff");
  // Unknown escapes keep the character; a \x without two hex digits is a plain 'x'.
  CHECK(Split(R"("\q\x4\xzz")")[0].text == "qx4xzz");
  // An empty quoted word is a word.
  w = Split(R"(SET k "")");
  REQUIRE(w.size() == 3);
  CHECK(w[2].text.empty());
  CHECK(w[2].quoted);
  // A quoted word ends at its closing quote.
  CHECK(Texts(Split(R"("a"b)")) == Strings{"a", "b"});
}

TEST_CASE("SplitLine: single quotes are literal", "[cli]") {
  std::vector<Word> w = Split(R"(SET k 'it\'s')");
  // No escapes in single quotes: the backslash stays and the second quote closes the word.
  REQUIRE(w.size() == 4);
  CHECK(w[2].text == "it\\");
  CHECK(w[2].quoted);
  CHECK(w[3].text == "s'");
  CHECK_FALSE(w[3].quoted);
  w = Split(R"('a "b" \n' '')");
  REQUIRE(w.size() == 2);
  CHECK(w[0].text == R"(a "b" \n)");
  CHECK(w[1].text.empty());
  CHECK(w[1].quoted);
}

TEST_CASE("SplitLine: an unbalanced quote is an error", "[cli]") {
  std::vector<Word> words = {{"stale", false}};
  CHECK_FALSE(SplitLine("SET k \"unterminated", &words));
  CHECK_FALSE(SplitLine("SET k 'unterminated", &words));
  CHECK_FALSE(SplitLine("\"", &words));
  CHECK_FALSE(SplitLine("'", &words));
  // A closing quote that is escaped does not close.
  CHECK_FALSE(SplitLine(R"("abc\")", &words));
  CHECK_FALSE(SplitLine(R"("abc\)", &words));
}

// --- FormatReply ----------------------------------------------------------------------------

TEST_CASE("FormatReply: simple replies print bare", "[cli]") {
  CHECK(FormatReply(Reply::Ok()) == "OK\n");
  CHECK(FormatReply(Reply::Simple("PONG")) == "PONG\n");
}

TEST_CASE("FormatReply: errors print their code name and text", "[cli]") {
  CHECK(FormatReply(Reply::Error(Code::kWrongType,
                                 "Operation against a key holding the wrong kind of value")) ==
        "(error) WRONGTYPE Operation against a key holding the wrong kind of value\n");
  CHECK(FormatReply(Reply::Error(Code::kInvalidArgument, "syntax error")) ==
        "(error) ERR syntax error\n");
  CHECK(FormatReply(Reply::Error(Code::kAuth, "Authentication required.")) ==
        "(error) NOAUTH Authentication required.\n");
  CHECK(FormatReply(Reply::Error(Code::kIoError, "connection lost")) ==
        "(error) IOERR connection lost\n");
  CHECK(FormatReply(Reply::Error(Code::kUnknownCommand, "")) == "(error) UNKNOWN\n");
}

TEST_CASE("FormatReply: every scalar type", "[cli]") {
  CHECK(FormatReply(Reply::Nil()) == "(nil)\n");
  CHECK(Format(Value::Bool(true)) == "(true)\n");
  CHECK(Format(Value::Bool(false)) == "(false)\n");
  CHECK(Format(I(5)) == "(integer) 5\n");
  CHECK(Format(I(INT64_MIN)) == "(integer) -9223372036854775808\n");
  CHECK(Format(Value::Double(2.5)) == "(double) 2.5\n");
  CHECK(Format(Value::Double(0.1)) == "(double) 0.10000000000000001\n");
  CHECK(Format(D("1.10")) == "(decimal) 1.10\n");
  CHECK(Format(D("-0.000")) == "(decimal) -0.000\n");
  CHECK(Format(D("1E+3")) == "(decimal) 1E+3\n");
  CHECK(Format(S("v")) == "\"v\"\n");
  CHECK(Format(S("")) == "\"\"\n");
  const std::string bytes = {'\0', '\xff', 'a'};
  CHECK(Format(Value::Bytes(bytes)) == "(bytes) \"\\x00\\xffa\"\n");
}

TEST_CASE("FormatReply: strings are quoted with escapes", "[cli]") {
  CHECK(Format(S("say \"hi\"\\")) == "\"say \\\"hi\\\"\\\\\"\n");
  CHECK(Format(S("a\nb\rc\td")) == "\"a\\nb\\rc\\td\"\n");
  CHECK(Format(S(std::string("\x01\x1f\x7f", 3))) == "\"\\x01\\x1f\\x7f\"\n");
  // Non-ASCII bytes are escaped one by one, as redis-cli does.
  CHECK(Format(S("h\xc3\xa9")) == "\"h\\xc3\\xa9\"\n");
}

TEST_CASE("FormatReply: lists are numbered", "[cli]") {
  CHECK(Format(Value::List({})) == "(empty array)\n");
  CHECK(Format(Value::List({I(1), S("a"), Value::Null()})) ==
        "1) (integer) 1\n"
        "2) \"a\"\n"
        "3) (nil)\n");
  // Ten or more: labels are right-aligned.
  ValueList ten;
  for (int i = 1; i <= 10; ++i) ten.push_back(I(i));
  std::string expected;
  for (int i = 1; i <= 9; ++i)
    expected += " " + std::to_string(i) + ") (integer) " + std::to_string(i) + "\n";
  expected += "10) (integer) 10\n";
  CHECK(Format(Value::List(ten)) == expected);
}

TEST_CASE("FormatReply: nested lists line up under their parent", "[cli]") {
  CHECK(Format(Value::List({I(1), Value::List({I(2), I(3)}), Value::List({})})) ==
        "1) (integer) 1\n"
        "2) 1) (integer) 2\n"
        "   2) (integer) 3\n"
        "3) (empty array)\n");
  CHECK(Format(Value::List({Value::List({Value::List({S("deep"), S("er")})})})) ==
        "1) 1) 1) \"deep\"\n"
        "      2) \"er\"\n");
  ValueList ten;
  for (int i = 1; i <= 9; ++i) ten.push_back(I(i));
  ten.push_back(Value::List({S("a"), S("b")}));
  const std::string out = Format(Value::List(ten));
  CHECK_THAT(out, Catch::Matchers::EndsWith(" 9) (integer) 9\n"
                                            "10) 1) \"a\"\n"
                                            "    2) \"b\"\n"));
}

TEST_CASE("FormatReply: maps print key => value", "[cli]") {
  CHECK(Format(Value::Map({})) == "(empty hash)\n");
  CHECK(Format(Value::Map(MapOf({{S("a"), I(1)}, {I(7), S("seven")}, {S("n"), Value::Null()}}))) ==
        "1# \"a\" => (integer) 1\n"
        "2# (integer) 7 => \"seven\"\n"
        "3# \"n\" => (nil)\n");
  // A container used as a key prints in its debug form.
  CHECK(Format(Value::Map(MapOf({{Value::List({I(1), I(2)}), I(3)}}))) ==
        "1# [1, 2] => (integer) 3\n");
}

TEST_CASE("FormatReply: lists and maps nested in each other", "[cli]") {
  Value map = Value::Map(MapOf({{S("a"), I(1)}, {S("b"), Value::List({I(1), I(2)})}}));
  CHECK(Format(Value::List({map, S("x")})) ==
        "1) 1# \"a\" => (integer) 1\n"
        "   2# \"b\" => 1) (integer) 1\n"
        "             2) (integer) 2\n"
        "2) \"x\"\n");
  Value inner = Value::Map(MapOf({{S("k"), D("1.10")}, {S("kk"), Value::Map({})}}));
  CHECK(Format(Value::Map(MapOf({{S("outer"), inner}}))) ==
        "1# \"outer\" => 1# \"k\" => (decimal) 1.10\n"
        "              2# \"kk\" => (empty hash)\n");
}

}  // namespace
}  // namespace dbkv::cli
