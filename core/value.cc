#include "core/value.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "core/ascii_pack.h"

namespace dbkv {
namespace {

// Heap block of a long string or bytes value: a reference count, the length, then the bytes.
// Blobs are immutable once made, so copies share them: copying a value (a GET reply, say)
// costs one atomic increment instead of an allocation and a copy of the bytes, and a reply
// waiting to be written holds no second copy of a large value.
struct Blob {
  std::atomic<uint32_t> refs;
  uint32_t size;
  char data[1];
};

Blob* NewBlob(std::string_view s) {
  void* mem = std::malloc(offsetof(Blob, data) + s.size());
  if (mem == nullptr) throw std::bad_alloc();
  Blob* b = static_cast<Blob*>(mem);
  new (&b->refs) std::atomic<uint32_t>(1);
  b->size = static_cast<uint32_t>(s.size());
  if (!s.empty()) std::memcpy(b->data, s.data(), s.size());
  return b;
}

Blob* Share(Blob* b) {
  b->refs.fetch_add(1, std::memory_order_relaxed);
  return b;
}

void Release(Blob* b) {
  if (b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) std::free(b);
}

// Rounded-up allocator size class, so that accounting tracks what malloc really uses.
size_t MallocSize(size_t n) { return (n + 8 + 15) & ~static_cast<size_t>(15); }

}  // namespace

std::string_view ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kNull:
      return "null";
    case ValueType::kBool:
      return "bool";
    case ValueType::kInt:
      return "int";
    case ValueType::kDouble:
      return "double";
    case ValueType::kDecimal:
      return "decimal";
    case ValueType::kString:
      return "string";
    case ValueType::kBytes:
      return "bytes";
    case ValueType::kList:
      return "list";
    case ValueType::kMap:
      return "map";
    case ValueType::kCold:
      return "cold";
  }
  return "unknown";
}

Value Value::Bool(bool b) {
  Value v;
  v.rep_[0] = static_cast<char>(ValueType::kBool);
  v.rep_[8] = b ? 1 : 0;
  return v;
}

Value Value::Int(int64_t i) {
  Value v;
  v.rep_[0] = static_cast<char>(ValueType::kInt);
  v.Store(i);
  return v;
}

Value Value::Double(double d) {
  Value v;
  v.rep_[0] = static_cast<char>(ValueType::kDouble);
  v.Store(d);
  return v;
}

Value Value::Dec(const Decimal& d) {
  Value v;
  v.Store(new Decimal(d));
  v.rep_[0] = static_cast<char>(ValueType::kDecimal);
  return v;
}

void Value::SetStringLike(ValueType t, std::string_view s) {
  if (s.size() <= kInlineCapacity) {
    rep_[0] = static_cast<char>(static_cast<char>(t) | kInlineBit);
    rep_[1] = static_cast<char>(s.size());
    if (!s.empty()) std::memcpy(rep_ + 2, s.data(), s.size());
  } else {
    Store(NewBlob(s));
    rep_[0] = static_cast<char>(t);
  }
}

Value Value::String(std::string_view s) {
  Value v;
  v.SetStringLike(ValueType::kString, s);
  return v;
}

Value Value::FromPacked(ValueType type, const char* packed, size_t n) {
  Value v;
  if (n <= kInlineCapacity) {
    char text[kInlineCapacity];
    AsciiUnpack(packed, n, text);
    v.SetStringLike(type, {text, n});
    return v;
  }
  void* mem = std::malloc(offsetof(Blob, data) + n);
  if (mem == nullptr) throw std::bad_alloc();
  Blob* blob = static_cast<Blob*>(mem);
  new (&blob->refs) std::atomic<uint32_t>(1);
  blob->size = static_cast<uint32_t>(n);
  AsciiUnpack(packed, n, blob->data);
  v.Store(blob);
  v.rep_[0] = static_cast<char>(type);
  return v;
}

Value Value::Bytes(std::string_view b) {
  Value v;
  v.SetStringLike(ValueType::kBytes, b);
  return v;
}

Value Value::List(ValueList items) {
  Value v;
  v.Store(new ValueList(std::move(items)));
  v.rep_[0] = static_cast<char>(ValueType::kList);
  return v;
}

Value Value::Map(ValueMap items) {
  Value v;
  v.Store(new ValueMap(std::move(items)));
  v.rep_[0] = static_cast<char>(ValueType::kMap);
  return v;
}

Value Value::Cold(const ColdRef& ref) {
  Value v;
  v.rep_[0] = static_cast<char>(ValueType::kCold);
  v.rep_[1] = static_cast<char>(ref.type);
  std::memcpy(v.rep_ + 4, &ref.segment, 4);
  std::memcpy(v.rep_ + 8, &ref.offset, 4);
  std::memcpy(v.rep_ + 12, &ref.length, 4);
  return v;
}

std::string_view Value::AsStringView() const {
  if (is_inline()) return std::string_view(rep_ + 2, static_cast<unsigned char>(rep_[1]));
  const Blob* b = Load<Blob*>();
  return std::string_view(b->data, b->size);
}

void Value::Destroy() {
  switch (type()) {
    case ValueType::kDecimal:
      delete Load<Decimal*>();
      break;
    case ValueType::kString:
    case ValueType::kBytes:
      if (!is_inline()) Release(Load<Blob*>());
      break;
    case ValueType::kList:
      delete Load<ValueList*>();
      break;
    case ValueType::kMap:
      delete Load<ValueMap*>();
      break;
    default:
      break;
  }
  rep_[0] = static_cast<char>(ValueType::kNull);
}

// rep_ is written by operator= (the whole representation of o's type); only the type byte
// must be valid before, so that it frees nothing.
Value::Value(const Value& o) {  // NOLINT(cppcoreguidelines-pro-type-member-init)
  rep_[0] = static_cast<char>(ValueType::kNull);
  *this = o;
}

// Every allocating path stores the pointer before setting the type tag: if an allocation throws,
// the value is still a valid null and its destructor frees nothing.
Value& Value::operator=(const Value& o) {
  if (this == &o) return *this;
  // Copy before destroying the old value: o may live inside it (v = v.AsList()[0]).
  Value copy;
  switch (o.type()) {
    case ValueType::kDecimal:
      copy.Store(new Decimal(o.AsDecimal()));
      copy.rep_[0] = o.rep_[0];
      break;
    case ValueType::kString:
    case ValueType::kBytes:
      if (o.is_inline()) {
        std::memcpy(copy.rep_, o.rep_, sizeof(rep_));
      } else {
        copy.Store(Share(o.Load<Blob*>()));
        copy.rep_[0] = o.rep_[0];
      }
      break;
    case ValueType::kList:
      copy.Store(new ValueList(o.AsList()));
      copy.rep_[0] = o.rep_[0];
      break;
    case ValueType::kMap:
      copy.Store(new ValueMap(o.AsMap()));
      copy.rep_[0] = o.rep_[0];
      break;
    default:
      std::memcpy(copy.rep_, o.rep_, sizeof(rep_));
      break;
  }
  return *this = std::move(copy);
}

size_t Value::ListShellBytes(size_t capacity) {
  return MallocSize(sizeof(ValueList)) + MallocSize(capacity * sizeof(Value));
}

size_t Value::HeapBytes() const {
  switch (type()) {
    case ValueType::kDecimal:
      return MallocSize(sizeof(Decimal));
    case ValueType::kString:
    case ValueType::kBytes:
      return is_inline() ? 0 : MallocSize(offsetof(Blob, data) + AsStringView().size());
    case ValueType::kList: {
      const ValueList& l = AsList();
      size_t n = ListShellBytes(l.capacity());
      for (const Value& v : l) n += v.HeapBytes();
      return n;
    }
    case ValueType::kMap: {
      const ValueMap& m = AsMap();
      size_t n = MallocSize(sizeof(ValueMap)) + MallocSize(m.capacity() * 2 * sizeof(Value));
      for (const auto& kv : m) n += kv.first.HeapBytes() + kv.second.HeapBytes();
      return n;
    }
    default:
      return 0;
  }
}

bool Value::operator==(const Value& o) const {
  if (type() != o.type()) return false;
  switch (type()) {
    case ValueType::kNull:
      return true;
    case ValueType::kBool:
      return AsBool() == o.AsBool();
    case ValueType::kInt:
      return AsInt() == o.AsInt();
    case ValueType::kDouble: {
      double a = AsDouble(), b = o.AsDouble();
      return a == b || (std::isnan(a) && std::isnan(b));
    }
    case ValueType::kDecimal:
      return AsDecimal() == o.AsDecimal();
    case ValueType::kString:
    case ValueType::kBytes:
      return AsStringView() == o.AsStringView();
    case ValueType::kList:
      return AsList() == o.AsList();
    case ValueType::kMap:
      return AsMap() == o.AsMap();
    case ValueType::kCold:
      return cold_ref() == o.cold_ref();
  }
  return false;
}

namespace {

void AppendQuoted(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '\r') {
      *out += "\\r";
    } else if (c == '\t') {
      *out += "\\t";
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      *out += buf;
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

}  // namespace

std::string Value::DebugString() const {
  std::string out;
  switch (type()) {
    case ValueType::kNull:
      return "null";
    case ValueType::kBool:
      return AsBool() ? "true" : "false";
    case ValueType::kInt:
      return std::to_string(AsInt());
    case ValueType::kDouble: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.17g", AsDouble());
      return buf;
    }
    case ValueType::kDecimal:
      return AsDecimal().ToString();
    case ValueType::kString:
      AppendQuoted(&out, AsStringView());
      return out;
    case ValueType::kBytes:
      out = "b";
      AppendQuoted(&out, AsStringView());
      return out;
    case ValueType::kList: {
      out = "[";
      bool first = true;
      for (const Value& v : AsList()) {
        if (!first) out += ", ";
        first = false;
        out += v.DebugString();
      }
      out += "]";
      return out;
    }
    case ValueType::kMap: {
      out = "{";
      bool first = true;
      for (const auto& kv : AsMap()) {
        if (!first) out += ", ";
        first = false;
        out += kv.first.DebugString();
        out += ": ";
        out += kv.second.DebugString();
      }
      out += "}";
      return out;
    }
    case ValueType::kCold: {
      const ColdRef r = cold_ref();
      return "<cold " + std::string(ValueTypeName(r.type)) + " " + std::to_string(r.segment) + ":" +
             std::to_string(r.offset) + "+" + std::to_string(r.length) + ">";
    }
  }
  return out;
}

}  // namespace dbkv
