#include "plugins/string_family.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "plugins/api/args.h"
#include "plugins/api/contexts.h"
#include "plugins/redis_text.h"

namespace dbkv {
namespace {

// Redis's proto-max-bulk-len: the longest string APPEND, SETRANGE and SETBIT make.
constexpr int64_t kMaxStringBytes = int64_t{512} << 20;

std::string_view KeyArg(const CommandArgs& args) { return args[0].AsStringView(); }

Reply WrongType() { return Reply::Error(Status::WrongType()); }
Reply Int(int64_t n) { return Reply::Of(Value::Int(n)); }
Reply TooLong() {
  return Reply::Error(Code::kInvalidArgument,
                      "string exceeds maximum allowed size (proto-max-bulk-len)");
}

// A written value's type: the old one if it was text, else the argument's if that is text
// (bytes from RESP), else a string.
ValueType WrittenType(const Value* old, const Value& arg) {
  if (old != nullptr && old->is_string_like()) return old->type();
  return arg.is_string_like() ? arg.type() : ValueType::kString;
}

Value MakeText(ValueType type, std::string_view s) {
  return type == ValueType::kBytes ? Value::Bytes(s) : Value::String(s);
}

// The text of a key's value for a read: `value` holds the value, `scratch` any text that is not
// its own bytes; `text` is unset if the key does not exist.
struct TextOfKey {
  Value value;
  std::string scratch;
  std::optional<std::string_view> text;  // unset: no key
};
// Reads key's text into *out; a WRONGTYPE error for a list or a map.
std::optional<Reply> ReadText(ShardContext& ctx, std::string_view key, TextOfKey* out) {
  const Record* r = ctx.Find(key);
  if (r == nullptr) return std::nullopt;
  out->value = r->value().ToValue();
  out->text = RedisText(out->value, &out->scratch);
  if (!out->text) return WrongType();
  return std::nullopt;
}

// APPEND key value -> the new length.
Reply Append(ShardContext& ctx, const CommandArgs& args) {
  std::string arg_scratch;
  const std::optional<std::string_view> add = RedisText(args[1], &arg_scratch);
  if (!add) return Reply::Error(Code::kInvalidArgument, "value is not a string or a number");
  EntryRef ref = ctx.Upsert(KeyArg(args));
  std::string old_scratch;
  std::optional<std::string_view> old = std::string_view();
  if (!ref.created) {
    old = RedisText(ref.entry->value, &old_scratch);
    if (!old) {
      ctx.Abort(ref);
      return WrongType();
    }
  }
  const auto length = static_cast<int64_t>(old->size() + add->size());
  if (length > kMaxStringBytes) {
    ctx.Abort(ref);
    return TooLong();
  }
  std::string text;
  text.reserve(static_cast<size_t>(length));
  text.append(*old).append(*add);
  const ValueType type = WrittenType(ref.created ? nullptr : &ref.entry->value, args[1]);
  ref.entry->value = MakeText(type, text);
  ctx.Commit(ref);
  return Int(length);
}

// STRLEN key -> the length of its text; 0 if the key does not exist.
Reply Strlen(ShardContext& ctx, const CommandArgs& args) {
  const Record* r = ctx.Find(KeyArg(args));
  if (r == nullptr) return Int(0);
  const ValueRef v = r->value();
  if (v.is_string_like()) return Int(static_cast<int64_t>(v.AsStringView().size()));
  std::string scratch;
  const Value copy = v.ToValue();
  const std::optional<std::string_view> text = RedisText(copy, &scratch);
  if (!text) return WrongType();
  return Int(static_cast<int64_t>(text->size()));
}

// GETRANGE key start end (SUBSTR) -> the bytes from start to end, both included; negative
// offsets count from the end; out of range clamps (Redis's getrangeCommand).
Reply GetRange(ShardContext& ctx, const CommandArgs& args) {
  int64_t start, end;
  if (!ArgToInt(args[1], &start) || !ArgToInt(args[2], &end)) return Reply::Error(NotAnInteger());
  const Record* r = ctx.Find(KeyArg(args));
  if (r == nullptr) return Reply::Of(Value::Bytes(""));
  const Value v = r->value().ToValue();
  std::string scratch;
  const std::optional<std::string_view> text = RedisText(v, &scratch);
  if (!text) return WrongType();
  const ValueType type = v.is_string_like() ? v.type() : ValueType::kString;
  const auto n = static_cast<int64_t>(text->size());
  if (start < 0 && end < 0 && start > end) return Reply::Of(MakeText(type, ""));
  if (start < 0) start = n + start;
  if (end < 0) end = n + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= n) end = n - 1;
  if (start > end || n == 0) return Reply::Of(MakeText(type, ""));
  return Reply::Of(MakeText(
      type, text->substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1))));
}

// SETRANGE key offset value -> the new length. Zero bytes pad a gap; an empty value changes
// nothing (and creates no key).
Reply SetRange(ShardContext& ctx, const CommandArgs& args) {
  int64_t offset;
  if (!ArgToInt(args[1], &offset)) return Reply::Error(NotAnInteger());
  if (offset < 0) return Reply::Error(Code::kInvalidArgument, "offset is out of range");
  std::string arg_scratch;
  const std::optional<std::string_view> put = RedisText(args[2], &arg_scratch);
  if (!put) return Reply::Error(Code::kInvalidArgument, "value is not a string or a number");
  const std::string_view key = KeyArg(args);
  const Record* r = ctx.Peek(key);
  std::string old_scratch;
  std::optional<std::string_view> old = std::string_view();
  Value old_value;
  if (r != nullptr) {
    old_value = r->value().ToValue();
    old = RedisText(old_value, &old_scratch);
    if (!old) return WrongType();
  }
  if (put->empty()) return Int(static_cast<int64_t>(old->size()));
  if (offset + static_cast<int64_t>(put->size()) > kMaxStringBytes) return TooLong();
  std::string text(*old);
  const size_t end = static_cast<size_t>(offset) + put->size();
  if (text.size() < end) text.resize(end, '\0');
  text.replace(static_cast<size_t>(offset), put->size(), *put);
  const ValueType type = WrittenType(r != nullptr ? &old_value : nullptr, args[2]);
  EntryRef ref = ctx.Upsert(key);
  ref.entry->value = MakeText(type, text);
  ctx.Commit(ref);
  return Int(static_cast<int64_t>(text.size()));
}

// GETEX key [EX s | PX ms | EXAT unix-s | PXAT unix-ms | PERSIST] -> the value, its expiry
// changed as asked. An absolute time in the past deletes the key (the value is still given).
Reply GetEx(ShardContext& ctx, const CommandArgs& args) {
  // As Redis: an option may be repeated (the last time counts), but not mixed with another.
  enum { kKeep, kSet, kPersist } what = kKeep;
  const Value* n = nullptr;
  std::string_view option;
  int64_t unit_ms = 1, base_ms = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    const Value& a = args[i];
    const bool has_next = i + 1 < args.size();
    if ((ArgIs(a, "EX") || ArgIs(a, "PX") || ArgIs(a, "EXAT") || ArgIs(a, "PXAT")) && has_next &&
        (what == kKeep || (what == kSet && ArgIs(a, option)))) {
      what = kSet;
      option = ArgText(a);
      unit_ms = ArgIs(a, "EX") || ArgIs(a, "EXAT") ? 1000 : 1;
      base_ms = ArgIs(a, "EX") || ArgIs(a, "PX") ? ctx.now_ms() : 0;
      n = &args[++i];
    } else if (ArgIs(a, "PERSIST") && what != kSet) {
      what = kPersist;
    } else {
      return Reply::Error(SyntaxError());
    }
  }
  const std::string_view key = KeyArg(args);
  const Record* r = ctx.Find(key);
  if (r == nullptr) return Reply::Nil();
  Value value = r->value().ToValue();
  std::string scratch;
  if (!RedisText(value, &scratch)) return WrongType();  // a list or a map, as Redis
  Reply reply = Reply::Of(std::move(value));
  if (what == kKeep) return reply;
  int64_t at = kNoExpiry;
  if (what == kSet) {
    int64_t count;
    if (!ArgToInt(*n, &count)) return Reply::Error(NotAnInteger());
    if (!ArgToExpiry(*n, unit_ms, base_ms, &at)) {
      return Reply::Error(Code::kInvalidArgument, "invalid expire time in 'getex' command");
    }
    if (at <= ctx.now_ms()) {
      ctx.Erase(key);
      return reply;
    }
  } else if (!r->HasExpiry()) {
    return reply;  // PERSIST of a key without one: nothing to write
  }
  EntryRef ref = ctx.Upsert(key);
  ref.entry->expire_at_ms = at;
  ctx.Commit(ref);
  return reply;
}

// A bit offset for SETBIT and GETBIT: 0 to 2^32 - 1 (Redis's limit, 512 MiB of bits).
bool BitOffset(const Value& v, uint64_t* out) {
  int64_t n;
  if (!ArgToInt(v, &n) || n < 0 || n >= (int64_t{1} << 32)) return false;
  *out = static_cast<uint64_t>(n);
  return true;
}

Reply BadBitOffset() {
  return Reply::Error(Code::kInvalidArgument, "bit offset is not an integer or out of range");
}

// Bit i of text, the most significant bit of each byte first (as Redis counts).
int BitAt(std::string_view text, uint64_t i) {
  const uint64_t byte = i >> 3;
  if (byte >= text.size()) return 0;
  return (static_cast<unsigned char>(text[byte]) >> (7 - (i & 7))) & 1;
}

// SETBIT key offset 0|1 -> the bit's old value.
Reply SetBit(ShardContext& ctx, const CommandArgs& args) {
  uint64_t offset;
  if (!BitOffset(args[1], &offset)) return BadBitOffset();
  int64_t bit;
  if (!ArgToInt(args[2], &bit) || (bit != 0 && bit != 1)) {
    return Reply::Error(Code::kInvalidArgument, "bit is not an integer or out of range");
  }
  EntryRef ref = ctx.Upsert(KeyArg(args));
  std::string text;
  if (!ref.created) {
    std::string scratch;
    const std::optional<std::string_view> old = RedisText(ref.entry->value, &scratch);
    if (!old) {
      ctx.Abort(ref);
      return WrongType();
    }
    text.assign(*old);
  }
  const int was = BitAt(text, offset);
  const size_t byte = offset >> 3;
  if (text.size() <= byte) text.resize(byte + 1, '\0');
  const auto mask = static_cast<unsigned char>(1u << (7 - (offset & 7)));
  auto c = static_cast<unsigned char>(text[byte]);
  c = bit != 0 ? (c | mask) : (c & ~mask);
  text[byte] = static_cast<char>(c);
  ref.entry->value = Value::Bytes(text);
  ctx.Commit(ref);
  return Int(was);
}

// GETBIT key offset -> 0 or 1 (0 past the end or for a missing key).
Reply GetBit(ShardContext& ctx, const CommandArgs& args) {
  uint64_t offset;
  if (!BitOffset(args[1], &offset)) return BadBitOffset();
  TextOfKey k;
  if (std::optional<Reply> err = ReadText(ctx, KeyArg(args), &k)) return std::move(*err);
  return k.text ? Int(BitAt(*k.text, offset)) : Int(0);
}

int64_t PopCount(std::string_view s) {
  int64_t n = 0;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    n += __builtin_popcountll(w);
  }
  for (; i < s.size(); ++i) n += __builtin_popcount(static_cast<unsigned char>(s[i]));
  return n;
}

// BITCOUNT key [start end [BYTE | BIT]] -> the bits set in the range (bytes by default; both
// ends included, negative from the end, as GETRANGE).
Reply BitCount(ShardContext& ctx, const CommandArgs& args) {
  // As Redis 7.0: the key is looked up (a missing one counts 0) before the range is read.
  TextOfKey k;
  if (std::optional<Reply> err = ReadText(ctx, KeyArg(args), &k)) return std::move(*err);
  if (!k.text) return Int(0);
  const std::optional<std::string_view>& text = k.text;
  int64_t start = 0, end = -1;
  bool bits = false;
  const bool ranged = args.size() >= 3;
  if (args.size() == 2 || args.size() > 4) return Reply::Error(SyntaxError());
  if (ranged) {
    if (!ArgToInt(args[1], &start) || !ArgToInt(args[2], &end)) {
      return Reply::Error(NotAnInteger());
    }
    // (Redis 7.0 answers an empty negative range before it reads BYTE or BIT.)
    if (start < 0 && end < 0 && start > end) return Int(0);
    if (args.size() == 4) {
      if (ArgIs(args[3], "BIT")) {
        bits = true;
      } else if (!ArgIs(args[3], "BYTE")) {
        return Reply::Error(SyntaxError());
      }
    }
  }
  if (!ranged) return Int(PopCount(*text));
  const int64_t total = static_cast<int64_t>(text->size()) * (bits ? 8 : 1);
  if (start < 0 && end < 0 && start > end) return Int(0);
  if (start < 0) start = total + start;
  if (end < 0) end = total + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= total) end = total - 1;
  if (start > end) return Int(0);
  if (!bits) {
    return Int(
        PopCount(text->substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1))));
  }
  int64_t n = 0;
  for (int64_t i = start; i <= end; ++i) n += BitAt(*text, static_cast<uint64_t>(i));
  return Int(n);
}

}  // namespace

Status RegisterStringFamily(CommandRegistry* r) {
  std::vector<CommandSpec> specs = {
      KeyCommand("APPEND", 0, kCmdWrite, 2, 2, Append, "APPEND key value"),
      KeyCommand("STRLEN", 0, kCmdReadOnly, 1, 1, Strlen, "STRLEN key"),
      KeyCommand("GETRANGE", 0, kCmdReadOnly | kCmdStoredReply, 3, 3, GetRange,
                 "GETRANGE key start end"),
      KeyCommand("SUBSTR", 0, kCmdReadOnly | kCmdStoredReply, 3, 3, GetRange,
                 "SUBSTR key start end"),
      KeyCommand("SETRANGE", 0, kCmdWrite, 3, 3, SetRange, "SETRANGE key offset value"),
      KeyCommand("GETEX", 0, kCmdWrite | kCmdStoredReply, 1, -1, GetEx,
                 "GETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST]"),
      KeyCommand("SETBIT", 0, kCmdWrite, 3, 3, SetBit, "SETBIT key offset 0|1"),
      KeyCommand("GETBIT", 0, kCmdReadOnly, 2, 2, GetBit, "GETBIT key offset"),
      KeyCommand("BITCOUNT", 0, kCmdReadOnly, 1, -1, BitCount,
                 "BITCOUNT key [start end [BYTE|BIT]]"),
  };
  return r->RegisterAll(std::move(specs));
}

}  // namespace dbkv
