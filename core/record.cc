#include "core/record.h"

namespace dbkv {

Record::Layout Record::LayoutFor(size_t key_size, const char* raw_key, const Value& v,
                                 bool has_expiry) {
  if (Inlines(v)) {
    return InlineLayout(key_size, raw_key, v.AsStringView(), has_expiry, ValueText::kScan);
  }
  const size_t size = kHeaderBytes + (has_expiry ? 8 : 0) + key_size + sizeof(Value);
  return Layout{size, AllocSize(size), false, false};
}

Record::Layout Record::InlineLayout(size_t key_size, const char* raw_key, std::string_view value,
                                    bool has_expiry, ValueText text) {
  const size_t plain = kHeaderBytes + (has_expiry ? 8 : 0) + key_size + 2 + value.size();
  const size_t plain_class = AllocSize(plain);
  // What packing could save at most: when even that keeps the class, nothing is read.
  const size_t key_saves = key_size <= kPackKeyMax ? key_size / 8 : 0;
  const size_t value_saves = value.size() / 8;
  const size_t least_class = AllocSize(plain - key_saves - value_saves);
  const Layout plain_layout{plain, plain_class, false, false};
  if (least_class == plain_class) return plain_layout;
  // The least packing that reaches the smallest class: the value alone first (a packed key
  // costs an unpack on every hash), then the key alone, then both.
  const bool value_ascii = value_saves != 0 && (text == ValueText::kAssumeAscii ||
                                                (text == ValueText::kScan && IsAscii(value)));
  const Layout value_only{plain - value_saves, AllocSize(plain - value_saves), false, true};
  if (value_ascii && value_only.alloc == least_class) return value_only;
  const bool key_ascii = key_saves != 0 && (raw_key == nullptr || IsAscii({raw_key, key_size}));
  if (!key_ascii) return value_ascii && value_only.alloc < plain_class ? value_only : plain_layout;
  const Layout key_only{plain - key_saves, AllocSize(plain - key_saves), true, false};
  if (value_ascii) {
    if (key_only.alloc == least_class) return key_only;
    return Layout{plain - key_saves - value_saves, least_class, true, true};
  }
  return key_only.alloc < plain_class ? key_only : plain_layout;
}

Record* Record::Allocate(size_t key_size, const Layout& l) {
  // The whole size class is asked for (jemalloc would give it anyway), so that Reset may
  // reuse all of it.
  auto* r = new (::operator new(l.alloc)) Record();
  r->key_size_ = static_cast<uint32_t>(key_size) | (l.key_packed ? kKeyPacked : 0);
  return r;
}

void Record::Free(Record* r, size_t alloc_bytes) {
  r->~Record();
#if defined(__cpp_sized_deallocation)
  ::operator delete(static_cast<void*>(r), alloc_bytes);  // jemalloc skips its size lookup
#else
  (void)alloc_bytes;
  ::operator delete(static_cast<void*>(r));
#endif
}

template <class V>
Record* Record::MakeImpl(std::string_view key, V&& v, const Header& h) {
  if (Inlines(v)) return MakeInline(key, v.type(), v.AsStringView(), h, ValueText::kAssumeAscii);
  const Layout l = LayoutFor(key, v, h.expire_at_ms != kNoExpiry);
  Record* r = Allocate(key.size(), l);
  r->FillHead(key, nullptr, h, 0);
  new (r->Boxed()) Value(std::forward<V>(v));
  return r;
}

Record* Record::MakeInline(std::string_view key, ValueType type, std::string_view value,
                           const Header& h, ValueText text) {
  // Packed if it is ASCII, found out while packing it (one pass over it, not two); a value
  // that is not is laid out again, in another block if its class differs.
  const bool has_expiry = h.expire_at_ms != kNoExpiry;
  const Layout l = InlineLayout(key.size(), key.data(), value, has_expiry, text);
  Record* r = Allocate(key.size(), l);
  if (r->FillInline(key, nullptr, type, value, h, l)) return r;
  const Layout plain = InlineLayout(key.size(), key.data(), value, has_expiry, ValueText::kBinary);
  if (plain.alloc != l.alloc || plain.key_packed != l.key_packed) {
    Free(r, l.alloc);
    r = Allocate(key.size(), plain);
  }
  r->FillInline(key, nullptr, type, value, h, plain);
  return r;
}

Record* Record::Make(std::string_view key, Value&& v, const Header& h) {
  return MakeImpl(key, std::move(v), h);
}

Record* Record::Make(std::string_view key, const Value& v, const Header& h) {
  return MakeImpl(key, v, h);
}

void Record::Delete(Record* r) {
  if (!r->is_inline()) r->Boxed()->~Value();
  Free(r, r->AllocBytes());  // what Make asked for: Reset keeps the class
}

template <class V>
Record* Record::ResetImpl(Record* r, V&& v, const Header& h) {
  const bool has_expiry = h.expire_at_ms != kNoExpiry;
  if (!Inlines(v)) {
    // A boxed value's record never packs its key.
    const Layout l = LayoutFor(r->key_size(), r->KeyBytes(), v, has_expiry);
    if (r->Holds(l)) {
      if (!r->is_inline()) r->Boxed()->~Value();
      r->FillHead({}, r->KeyBytes(), h, 0);
      new (r->Boxed()) Value(std::forward<V>(v));
      return r;
    }
    const KeyText key = r->key();
    Record* now = MakeImpl(key.view(), std::forward<V>(v), h);
    // r keeps its key for the caller's table lookup; its value goes now.
    if (!r->is_inline()) *r->Boxed() = Value();
    return now;
  }
  const std::string_view value = v.AsStringView();
  // In place when the class and the key's form stay. The value is assumed ASCII and packed as
  // MakeInline packs it; if it is not, it moves.
  ValueText text = ValueText::kAssumeAscii;
  Layout l;
  bool fits;
  if (r->is_inline() && r->value_packed() && r->InlineSize() == value.size() &&
      r->HasExpiry() == has_expiry) {
    // The shape r has (a packed value as long, an expiry or none): that layout again.
    const size_t size = r->Size();
    l = Layout{size, AllocSize(size), r->key_packed(), true};
    fits = true;
  } else {
    const char* raw_key = r->key_packed() ? nullptr : r->KeyBytes();
    l = InlineLayout(r->key_size(), raw_key, value, has_expiry, text);
    // When the assumed layout packs the value and does not fit, the value is read first: its
    // real layout may fit (binary over binary).
    if (!r->Holds(l) && l.value_packed && !IsAscii(value)) {
      text = ValueText::kBinary;
      l = InlineLayout(r->key_size(), raw_key, value, has_expiry, text);
    }
    fits = r->Holds(l);
  }
  if (fits) {
    if (!r->is_inline()) r->Boxed()->~Value();
    if (r->FillInline({}, r->KeyBytes(), v.type(), value, h, l)) return r;
    // Not ASCII after all. Its plain layout takes another class (packing is chosen only when
    // it saves one), so it moves; the failed fill left r inline, in its class, its key in
    // place, for the caller's lookup and Delete.
    text = ValueText::kBinary;
  }
  const KeyText key = r->key();
  Record* now = MakeInline(key.view(), v.type(), value, h, text);
  if (!r->is_inline()) *r->Boxed() = Value();
  return now;
}

Record* Record::Reset(Record* r, Value&& v, const Header& h) {
  return ResetImpl(r, std::move(v), h);
}

Record* Record::Reset(Record* r, const Value& v, const Header& h) { return ResetImpl(r, v, h); }

void Record::FillHead(std::string_view key, const char* old_key, const Header& h,
                      uint64_t value_bits) {
  uint64_t bits = (h.flags & kEntryFlagMask) | value_bits;
  if (h.expire_at_ms != kNoExpiry) bits |= kRecordExpiry;
  // The header, then the key (its old place may overlap the new one and the expiry's), then
  // the expiry.
  bits_ = bits;
  version_ = h.version & kMaxVersion;
  access_ = h.access;
  char* key_at = const_cast<char*>(KeyBytes());
  if (old_key == nullptr) {
    if (key_packed()) {
      AsciiPack(key, key_at);
    } else if (!key.empty()) {
      std::memcpy(key_at, key.data(), key.size());
    }
  } else if (key_at != old_key) {
    const size_t key_stored = KeyStoredSize();
    if (key_stored != 0) std::memmove(key_at, old_key, key_stored);
  }
  if (h.expire_at_ms != kNoExpiry) std::memcpy(Base() + kHeaderBytes, &h.expire_at_ms, 8);
}

bool Record::FillInline(std::string_view key, const char* old_key, ValueType type,
                        std::string_view value, const Header& h, const Layout& l) {
  uint64_t value_bits = kRecordInline;
  if (type == ValueType::kBytes) value_bits |= kRecordBytes;
  if (l.value_packed) value_bits |= kRecordPackedValue;
  FillHead(key, old_key, h, value_bits);
  const auto n = static_cast<uint16_t>(value.size());
  std::memcpy(Base() + BodyOffset(), &n, sizeof(n));
  char* value_at = const_cast<char*>(KeyBytes()) + KeyStoredSize();
  if (l.value_packed) return AsciiPackIfAscii(value, value_at);
  if (n != 0) std::memcpy(value_at, value.data(), n);
  return true;
}

Entry Record::Copy() const {
  Entry e;
  e.value = value().ToValue();
  e.expire_at_ms = expire_at_ms();
  e.version = version_;
  e.access = access_;
  e.flags = flags();
  return e;
}

void Record::TakeInto(Entry* e) {
  if (is_inline()) {
    e->value = value().ToValue();
  } else {
    e->value = std::move(*Boxed());
  }
  e->expire_at_ms = expire_at_ms();
  e->version = version_;
  e->access = access_;
  e->flags = flags();
}

}  // namespace dbkv
