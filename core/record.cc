#include "core/record.h"

namespace dbkv {

template <class V>
Record* Record::MakeImpl(std::string_view key, V&& v, const Header& h) {
  // The whole size class is asked for (jemalloc would give it anyway), so that Reset may
  // reuse all of it.
  const size_t size = AllocSize(SizeFor(key.size(), v, h.expire_at_ms != kNoExpiry));
  auto* r = new (::operator new(size)) Record();
  r->key_size_ = static_cast<uint32_t>(key.size());
  r->Fill(key.data(), std::forward<V>(v), h);
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
  const size_t size = SizeFor(r->key_size_, v, h.expire_at_ms != kNoExpiry);
  if (AllocSize(size) != r->AllocBytes()) {
    Record* now = MakeImpl(r->key(), std::forward<V>(v), h);
    // r keeps its key for the caller's table lookup; its value goes now.
    if (!r->is_inline()) *r->Boxed() = Value();
    return now;
  }
  if (!r->is_inline()) r->Boxed()->~Value();
  r->Fill(r->KeyBytes(), std::forward<V>(v), h);
  return r;
}

Record* Record::Reset(Record* r, Value&& v, const Header& h) {
  return ResetImpl(r, std::move(v), h);
}

Record* Record::Reset(Record* r, const Value& v, const Header& h) { return ResetImpl(r, v, h); }

template <class V>
void Record::Fill(const char* old_key, V&& v, const Header& h) {
  const bool inline_value = Inlines(v);
  uint64_t bits = h.flags & kEntryFlagMask;
  if (h.expire_at_ms != kNoExpiry) bits |= kRecordExpiry;
  if (inline_value) {
    bits |= kRecordInline;
    if (v.type() == ValueType::kBytes) bits |= kRecordBytes;
  }
  // The header, then the key (its old place may overlap the new one and the expiry's), then
  // the expiry and the value.
  bits_ = bits;
  version_ = h.version & kMaxVersion;
  access_ = h.access;
  char* key = const_cast<char*>(KeyBytes());
  if (key != old_key && key_size_ != 0) std::memmove(key, old_key, key_size_);
  if (h.expire_at_ms != kNoExpiry) std::memcpy(Base() + kHeaderBytes, &h.expire_at_ms, 8);
  char* body = Base() + BodyOffset();
  if (inline_value) {
    const std::string_view s = v.AsStringView();
    const auto n = static_cast<uint16_t>(s.size());
    std::memcpy(body, &n, sizeof(n));
    if (n != 0) std::memcpy(key + key_size_, s.data(), n);
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
