#include "protocol/value_codec.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <msgpack.hpp>
#include <vector>

#include "protocol/wire_format.h"

namespace dbkv::protocol {
namespace {

struct StringSink {
  std::string* s;
  void write(const char* d, size_t n) { s->append(d, n); }
};

using Packer = msgpack::packer<StringSink>;

constexpr std::string_view kColdLeakText = "INTERNAL value not loaded from disk";

// pk writes straight through to out (no buffering), so out may also be appended to directly.
void Pack(Packer& pk, std::string* out, const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      pk.pack_nil();
      return;
    case ValueType::kBool:
      if (v.AsBool()) {
        pk.pack_true();
      } else {
        pk.pack_false();
      }
      return;
    case ValueType::kInt:
      pk.pack_int64(v.AsInt());
      return;
    case ValueType::kDouble: {
      // Always float64: msgpack-cxx's pack_double writes integral doubles as integers, which
      // would turn 1.0 into 1 (and 1e19 into an unsigned int the decoder rejects).
      uint64_t bits;
      const double d = v.AsDouble();
      std::memcpy(&bits, &d, sizeof(bits));
      char buf[9];
      buf[0] = static_cast<char>(0xcb);
      for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
      out->append(buf, sizeof(buf));
      return;
    }
    case ValueType::kDecimal: {
      std::string text = v.AsDecimal().ToString();
      pk.pack_ext(text.size(), kExtDecimal);
      pk.pack_ext_body(text.data(), text.size());
      return;
    }
    case ValueType::kString: {
      std::string_view s = v.AsStringView();
      pk.pack_str(static_cast<uint32_t>(s.size()));
      pk.pack_str_body(s.data(), s.size());
      return;
    }
    case ValueType::kBytes: {
      std::string_view s = v.AsStringView();
      pk.pack_bin(static_cast<uint32_t>(s.size()));
      pk.pack_bin_body(s.data(), s.size());
      return;
    }
    case ValueType::kList: {
      const ValueList& l = v.AsList();
      pk.pack_array(static_cast<uint32_t>(l.size()));
      for (const Value& e : l) Pack(pk, out, e);
      return;
    }
    case ValueType::kMap: {
      const ValueMap& m = v.AsMap();
      pk.pack_map(static_cast<uint32_t>(m.size()));
      for (const auto& kv : m) {
        Pack(pk, out, kv.first);
        Pack(pk, out, kv.second);
      }
      return;
    }
    case ValueType::kCold:
      // Never reaches the wire: a shard loads a cold value before any command reads it. Should
      // a bug let one through, the client sees an error, not a wrong value.
      pk.pack_ext(kColdLeakText.size(), kExtSimple);
      pk.pack_ext_body(kColdLeakText.data(), kColdLeakText.size());
      return;
  }
}

// A msgpack visitor that builds Values directly from the buffer (no intermediate objects).
// Every rule of PROTOCOL.md "Values" is enforced here; the first violation stops the parse
// and is kept in error_.
class ValueBuilder {
 public:
  // With root_list, a root array is decoded straight into *root_list (its capacity reused),
  // not wrapped into a list Value.
  ValueBuilder(size_t payload_size, bool allow_simple, ValueList* root_list = nullptr)
      : payload_size_(payload_size), allow_simple_(allow_simple), root_list_(root_list) {}

  Value& result() { return root_; }
  bool simple() const { return simple_; }
  // Whether the root was an array decoded into root_list.
  bool direct_root() const { return direct_root_; }
  const Status& error() const { return error_; }

  bool visit_nil() { return Emit(Value()); }
  bool visit_boolean(bool v) { return Emit(Value::Bool(v)); }
  bool visit_positive_integer(uint64_t v) {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Fail("integer out of the signed 64-bit range");
    }
    return Emit(Value::Int(static_cast<int64_t>(v)));
  }
  bool visit_negative_integer(int64_t v) { return Emit(Value::Int(v)); }
  bool visit_float32(float v) { return Emit(Value::Double(v)); }
  bool visit_float64(double v) { return Emit(Value::Double(v)); }
  bool visit_str(const char* v, uint32_t size) { return Emit(Value::String({v, size})); }
  bool visit_bin(const char* v, uint32_t size) { return Emit(Value::Bytes({v, size})); }
  bool visit_ext(const char* v, uint32_t size) {
    // v[0] is the ext type, the payload follows.
    if (size < 1) return Fail("empty ext");
    const int8_t type = static_cast<int8_t>(v[0]);
    std::string_view body(v + 1, size - 1);
    if (type == kExtDecimal) {
      auto d = Decimal::Parse(body);
      if (!d.ok()) return Fail("bad decimal: " + d.status().message());
      return Emit(Value::Dec(*d));
    }
    if (type == kExtSimple && allow_simple_ && depth_ == 0) {
      simple_ = true;
      return Emit(Value::String(body));
    }
    return Fail("unsupported ext type " + std::to_string(type));
  }
  bool start_array(uint32_t n) {
    if (n > payload_size_) return Fail("array length exceeds the frame");
    if (!Push(Frame::kList)) return false;
    Frame& f = frames_[depth_ - 1];
    if (depth_ == 1 && root_list_ != nullptr) {
      root_list_->clear();
      f.list.swap(*root_list_);
      f.direct = true;
    }
    // Reserve for what the claim could hold, but never much: nested claims must not add up.
    f.list.reserve(std::min<uint32_t>(n, kMaxReserve));
    return true;
  }
  bool start_array_item() { return true; }
  bool end_array_item() { return true; }
  bool end_array() {
    Frame& f = frames_[--depth_];
    if (f.direct) {
      f.list.swap(*root_list_);
      direct_root_ = true;
      return true;
    }
    return Emit(Value::List(std::move(f.list)));
  }
  bool start_map(uint32_t n) {
    if (n > payload_size_ / 2) return Fail("map length exceeds the frame");
    if (!Push(Frame::kMap)) return false;
    frames_[depth_ - 1].map.reserve(std::min<uint32_t>(n, kMaxReserve));
    return true;
  }
  bool start_map_key() { return true; }
  bool end_map_key() { return true; }
  bool start_map_value() { return true; }
  bool end_map_value() { return true; }
  bool end_map() { return Emit(Value::Map(std::move(frames_[--depth_].map))); }
  void parse_error(size_t, size_t error_offset) {
    if (error_.ok())
      error_ = Status::Protocol("malformed msgpack at offset " + std::to_string(error_offset));
  }
  void insufficient_bytes(size_t, size_t) {
    if (error_.ok()) error_ = Status::Protocol("truncated msgpack value");
  }
  bool referenced() const { return false; }
  void set_referenced(bool) {}

 private:
  static constexpr uint32_t kMaxReserve = 256;

  struct Frame {
    enum Kind { kList, kMap } kind = kList;
    ValueList list;
    ValueMap map;
    bool have_key = false;
    bool direct = false;  // the root array, decoded into root_list_
    Value key;
  };

  // The frames of the values being built, one per nesting level. Kept per thread and reused,
  // so that decoding a request allocates nothing but the values themselves.
  static std::vector<Frame>& FramePool() {
    static thread_local std::vector<Frame> pool;
    return pool;
  }

  bool Push(Frame::Kind kind) {
    if (depth_ >= static_cast<size_t>(kMaxNestingDepth)) {
      return Fail("values nested deeper than " + std::to_string(kMaxNestingDepth));
    }
    if (depth_ == frames_.size()) frames_.emplace_back();
    Frame& f = frames_[depth_++];
    f.kind = kind;
    f.list.clear();
    f.map.clear();
    f.have_key = false;
    f.direct = false;
    return true;
  }

  bool Emit(Value v) {
    if (depth_ == 0) {
      root_ = std::move(v);
      return true;
    }
    if (simple_) return Fail("a simple status may only be a whole reply");
    Frame& f = frames_[depth_ - 1];
    if (f.kind == Frame::kList) {
      f.list.push_back(std::move(v));
    } else if (!f.have_key) {
      f.key = std::move(v);
      f.have_key = true;
    } else {
      f.map.emplace_back(std::move(f.key), std::move(v));
      f.have_key = false;
    }
    return true;
  }

  bool Fail(std::string msg) {
    if (error_.ok()) error_ = Status::Protocol(std::move(msg));
    return false;
  }

  size_t payload_size_;
  bool allow_simple_;
  ValueList* root_list_;
  bool direct_root_ = false;
  bool simple_ = false;
  std::vector<Frame>& frames_ = FramePool();
  size_t depth_ = 0;
  Value root_;
  Status error_;
};

// Runs b over data, which must hold exactly one msgpack value and nothing after it.
Status ParseWhole(std::string_view data, ValueBuilder* b) {
  if (data.empty()) return Status::Protocol("empty payload");
  size_t off = 0;
  bool ok;
  try {
    ok = msgpack::parse(data.data(), data.size(), off, *b);
  } catch (const std::exception& e) {
    return Status::Protocol(std::string("malformed msgpack: ") + e.what());
  }
  if (!b->error().ok()) return b->error();
  if (!ok) return Status::Protocol("malformed msgpack");
  if (off != data.size()) return Status::Protocol("trailing bytes after the payload value");
  return Status::OK();
}

}  // namespace

void AppendValue(std::string* out, const Value& v) {
  StringSink sink{out};
  Packer pk(sink);
  Pack(pk, out, v);
}

void AppendValue(std::string* out, const ValueRef& v) {
  if (v.boxed() != nullptr) {
    AppendValue(out, *v.boxed());
  } else if (v.type() == ValueType::kBytes) {
    AppendBytes(out, v.AsStringView());
  } else {
    AppendString(out, v.AsStringView());
  }
}

void AppendSimple(std::string* out, std::string_view text) {
  StringSink sink{out};
  Packer pk(sink);
  pk.pack_ext(text.size(), kExtSimple);
  pk.pack_ext_body(text.data(), text.size());
}

void AppendArrayHeader(std::string* out, uint32_t n) {
  StringSink sink{out};
  Packer pk(sink);
  pk.pack_array(n);
}

void AppendString(std::string* out, std::string_view s) {
  StringSink sink{out};
  Packer pk(sink);
  pk.pack_str(static_cast<uint32_t>(s.size()));
  pk.pack_str_body(s.data(), s.size());
}

void AppendBytes(std::string* out, std::string_view b) {
  StringSink sink{out};
  Packer pk(sink);
  pk.pack_bin(static_cast<uint32_t>(b.size()));
  pk.pack_bin_body(b.data(), b.size());
}

Status DecodeValue(std::string_view data, Value* out, bool* simple) {
  ValueBuilder b(data.size(), simple != nullptr);
  Status s = ParseWhole(data, &b);
  if (!s.ok()) return s;
  *out = std::move(b.result());
  if (simple != nullptr) *simple = b.simple();
  return Status::OK();
}

Status DecodeArray(std::string_view data, ValueList* out) {
  ValueBuilder b(data.size(), false, out);
  Status s = ParseWhole(data, &b);
  if (!s.ok()) return s;
  if (!b.direct_root()) return Status::Protocol("request payload must be an array");
  return Status::OK();
}

}  // namespace dbkv::protocol
