#include "core/record.h"

namespace dbkv {

Record::Layout Record::LayoutFor(size_t key_size, const char* raw_key, const Value& v,
                                 bool has_expiry) {
  const size_t head = kHeaderBytes + (has_expiry ? 8 : 0);
  if (!Inlines(v)) return Layout{head + key_size + sizeof(Value), false, false};
  const std::string_view s = v.AsStringView();
  const Layout plain{head + 2 + key_size + s.size(), false, false};
  // What packing could save at most: when even that keeps the class, nothing is read.
  const size_t key_saves = key_size <= kPackKeyMax ? key_size / 8 : 0;
  const size_t value_saves = s.size() / 8;
  const size_t plain_class = AllocSize(plain.size);
  const size_t least_class = AllocSize(plain.size - key_saves - value_saves);
  if (least_class == plain_class) return plain;
  // The least packing that reaches the smallest class: the value alone first (a packed key
  // costs an unpack on every hash), then the key alone, then both.
  const bool value_ascii = value_saves != 0 && IsAscii(s);
  const Layout value_only{plain.size - value_saves, false, true};
  size_t value_only_class = plain_class;
  if (value_ascii) {
    value_only_class = AllocSize(value_only.size);
    if (value_only_class == least_class) return value_only;
  }
  const bool key_ascii = key_saves != 0 && (raw_key == nullptr || IsAscii({raw_key, key_size}));
  if (!key_ascii) return value_ascii && value_only_class < plain_class ? value_only : plain;
  const Layout key_only{plain.size - key_saves, true, false};
  const size_t key_only_class = AllocSize(key_only.size);
  if (value_ascii) {
    if (key_only_class == least_class) return key_only;
    return Layout{plain.size - key_saves - value_saves, true, true};  // least_class
  }
  return key_only_class < plain_class ? key_only : plain;
}

template <class V>
Record* Record::MakeImpl(std::string_view key, V&& v, const Header& h) {
  const Layout l = LayoutFor(key, v, h.expire_at_ms != kNoExpiry);
  // The whole size class is asked for (jemalloc would give it anyway), so that Reset may
  // reuse all of it.
  auto* r = new (::operator new(AllocSize(l.size))) Record();
  r->key_size_ = static_cast<uint32_t>(key.size()) | (l.key_packed ? kKeyPacked : 0);
  r->Fill(key, nullptr, std::forward<V>(v), h, l);
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
#if defined(__cpp_sized_deallocation)
  const size_t size = r->AllocBytes();  // what Make asked for: Reset keeps the class
  r->~Record();
  ::operator delete(static_cast<void*>(r), size);  // jemalloc skips its size lookup
#else
  r->~Record();
  ::operator delete(static_cast<void*>(r));
#endif
}

template <class V>
Record* Record::ResetImpl(Record* r, V&& v, const Header& h) {
  const Layout l = LayoutFor(r->key_size(), r->key_packed() ? nullptr : r->KeyBytes(), v,
                             h.expire_at_ms != kNoExpiry);
  if (AllocSize(l.size) != r->AllocBytes() || l.key_packed != r->key_packed()) {
    const KeyText key = r->key();
    Record* now = MakeImpl(key.view(), std::forward<V>(v), h);
    // r keeps its key for the caller's table lookup; its value goes now.
    if (!r->is_inline()) *r->Boxed() = Value();
    return now;
  }
  if (!r->is_inline()) r->Boxed()->~Value();
  r->Fill({}, r->KeyBytes(), std::forward<V>(v), h, l);
  return r;
}

Record* Record::Reset(Record* r, Value&& v, const Header& h) {
  return ResetImpl(r, std::move(v), h);
}

Record* Record::Reset(Record* r, const Value& v, const Header& h) { return ResetImpl(r, v, h); }

template <class V>
void Record::Fill(std::string_view key, const char* old_key, V&& v, const Header& h,
                  const Layout& l) {
  const bool inline_value = Inlines(v);
  uint64_t bits = h.flags & kEntryFlagMask;
  if (h.expire_at_ms != kNoExpiry) bits |= kRecordExpiry;
  if (inline_value) {
    bits |= kRecordInline;
    if (v.type() == ValueType::kBytes) bits |= kRecordBytes;
    if (l.value_packed) bits |= kRecordPackedValue;
  }
  // The header, then the key (its old place may overlap the new one and the expiry's), then
  // the expiry and the value.
  bits_ = bits;
  version_ = h.version & kMaxVersion;
  access_ = h.access;
  char* key_at = const_cast<char*>(KeyBytes());
  const size_t key_stored = KeyStoredSize();
  if (old_key == nullptr) {
    if (key_packed()) {
      AsciiPack(key, key_at);
    } else if (!key.empty()) {
      std::memcpy(key_at, key.data(), key.size());
    }
  } else if (key_at != old_key && key_stored != 0) {
    std::memmove(key_at, old_key, key_stored);
  }
  if (h.expire_at_ms != kNoExpiry) std::memcpy(Base() + kHeaderBytes, &h.expire_at_ms, 8);
  char* body = Base() + BodyOffset();
  if (inline_value) {
    const std::string_view s = v.AsStringView();
    const auto n = static_cast<uint16_t>(s.size());
    std::memcpy(body, &n, sizeof(n));
    if (l.value_packed) {
      AsciiPack(s, key_at + key_stored);
    } else if (n != 0) {
      std::memcpy(key_at + key_stored, s.data(), n);
    }
  } else {
    new (body) Value(std::forward<V>(v));
  }
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
