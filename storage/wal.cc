#include "storage/wal.h"

#include "protocol/value_codec.h"
#include "storage/coding.h"
#include "storage/stored_value.h"

namespace dbkv::storage {
namespace {

// Values as stored (a cold value as its place on disk: an expiry change to a cold key logs
// the key's record reference, never loading it).
void PutValue(std::string* out, const ValueRef& v) {
  std::string bytes;
  AppendStoredValue(&bytes, v);
  PutLengthPrefixed(out, bytes);
}

Status GetValue(std::string_view* in, Value* v) {
  std::string_view bytes;
  if (!GetLengthPrefixed(in, &bytes)) return Status::Corruption("truncated value");
  return DecodeStoredValue(bytes, v);
}

}  // namespace

void MutationEncoder::Head(MutationType t, std::string_view ns, std::string_view key,
                           uint64_t version) {
  out_->push_back(static_cast<char>(t));
  PutLengthPrefixed(out_, ns);
  PutLengthPrefixed(out_, key);
  PutFixed64(out_, version);
}

void MutationEncoder::Put(std::string_view ns, std::string_view key, const Entry& e) {
  Head(MutationType::kPut, ns, key, e.version);
  PutFixed64(out_, static_cast<uint64_t>(e.expire_at_ms));
  PutValue(out_, ValueRef(&e.value));
}

void MutationEncoder::Put(std::string_view ns, const Record& r) {
  const KeyText key = r.key();
  Head(MutationType::kPut, ns, key.view(), r.version());
  PutFixed64(out_, static_cast<uint64_t>(r.expire_at_ms()));
  PutValue(out_, r.value());
}

void MutationEncoder::Del(std::string_view ns, std::string_view key, uint64_t version) {
  Head(MutationType::kDel, ns, key, version);
}

void MutationEncoder::Push(std::string_view ns, std::string_view key, uint64_t version,
                           int64_t expire_at_ms, bool tail, const Value* values, size_t count) {
  Head(MutationType::kPush, ns, key, version);
  PutFixed64(out_, static_cast<uint64_t>(expire_at_ms));
  out_->push_back(tail ? 1 : 0);
  PutVarint(out_, count);
  for (size_t i = 0; i < count; ++i) PutValue(out_, values[i]);
}

void MutationEncoder::Pop(std::string_view ns, std::string_view key, uint64_t version, bool tail,
                          uint64_t count) {
  Head(MutationType::kPop, ns, key, version);
  out_->push_back(tail ? 1 : 0);
  PutVarint(out_, count);
}

std::string EncodeWalRecord(const WalRecordHeader& h, std::string_view mutations) {
  std::string out;
  out.reserve(kWalRecordHeaderSize + mutations.size());
  PutFixed64(&out, h.lsn);
  PutFixed32(&out, h.shard);
  PutFixed32(&out, h.count);
  out.append(mutations.data(), mutations.size());
  return out;
}

Status DecodeWalHeader(std::string_view* in, WalRecordHeader* h) {
  if (!GetFixed64(in, &h->lsn) || !GetFixed32(in, &h->shard) || !GetFixed32(in, &h->count)) {
    return Status::Corruption("truncated WAL record header");
  }
  return Status::OK();
}

Status DecodeMutation(std::string_view* in, Mutation* m) {
  if (in->empty()) return Status::Corruption("missing mutation");
  const uint8_t type = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  if (type < 1 || type > 4)
    return Status::Corruption("unknown mutation type " + std::to_string(type));
  m->type = static_cast<MutationType>(type);
  if (!GetLengthPrefixed(in, &m->ns) || !GetLengthPrefixed(in, &m->key) ||
      !GetFixed64(in, &m->version)) {
    return Status::Corruption("truncated mutation");
  }
  switch (m->type) {
    case MutationType::kPut: {
      uint64_t expire;
      if (!GetFixed64(in, &expire)) return Status::Corruption("truncated mutation");
      m->expire_at_ms = static_cast<int64_t>(expire);
      return GetValue(in, &m->value);
    }
    case MutationType::kDel:
      return Status::OK();
    case MutationType::kPush:
    case MutationType::kPop: {
      if (m->type == MutationType::kPush) {
        uint64_t expire;
        if (!GetFixed64(in, &expire)) return Status::Corruption("truncated mutation");
        m->expire_at_ms = static_cast<int64_t>(expire);
      }
      if (in->empty()) return Status::Corruption("truncated mutation");
      m->tail = (*in)[0] != 0;
      in->remove_prefix(1);
      uint64_t n;
      if (!GetVarint(in, &n)) return Status::Corruption("truncated mutation");
      if (m->type == MutationType::kPop) {
        m->count = n;
        return Status::OK();
      }
      if (n > in->size()) return Status::Corruption("push count exceeds the record");
      m->values.reserve(n);
      for (uint64_t i = 0; i < n; ++i) {
        Value v;
        Status s = GetValue(in, &v);
        if (!s.ok()) return s;
        m->values.push_back(std::move(v));
      }
      return Status::OK();
    }
  }
  return Status::Corruption("unknown mutation");
}

bool ApplyMutation(Partition* p, const Mutation& m, int64_t now_ms, const ColdLoader* load_cold) {
  switch (m.type) {
    case MutationType::kPut: {
      Entry e;
      e.value = m.value;
      e.expire_at_ms = m.expire_at_ms;
      e.version = m.version;
      return p->Restore(m.ns, m.key, std::move(e), now_ms);
    }
    case MutationType::kDel:
      return p->RestoreErase(m.ns, m.key, m.version);
    case MutationType::kPush:
    case MutationType::kPop: {
      p->SeenVersion(m.version);
      Record* e = p->FindForRestore(m.ns, m.key);
      if (e != nullptr && e->version() >= m.version) return false;  // already in the state
      const bool push = m.type == MutationType::kPush;
      if (push && m.expire_at_ms != kNoExpiry && m.expire_at_ms <= now_ms) {
        // The list this push left has expired since: it is gone, older states with it (as a
        // PUT of an expired entry in Partition::Restore).
        if (e != nullptr) p->RestoreErase(m.ns, m.key, m.version);
        return false;
      }
      if (e != nullptr && e->IsExpired(now_ms)) {
        // An older entry that expired before this change: a pop found nothing; a push found
        // no list and made a new one.
        if (!push) return false;
        p->RestoreErase(m.ns, m.key, m.version);
        e = nullptr;
      }
      if (!push && e == nullptr) return false;
      if (e != nullptr && e->is_cold() && load_cold != nullptr) {
        Value loaded;
        if ((*load_cold)(e->value().cold_ref(), &loaded).ok()) {
          e = p->MakeHot(m.ns, e, std::move(loaded));
        }
      }
      if (e != nullptr && e->value().type() != ValueType::kList) return false;
      EntryRef ref = p->RestoreUpsert(m.ns, m.key);
      if (ref.created) ref.entry->value = Value::List({});
      if (push) ref.entry->expire_at_ms = m.expire_at_ms;
      ValueList& list = ref.entry->value.MutableList();
      if (m.type == MutationType::kPush) {
        if (m.tail) {
          list.insert(list.end(), m.values.begin(), m.values.end());
        } else {
          for (const Value& v : m.values) list.insert(list.begin(), v);
        }
      } else {
        const size_t n = std::min<uint64_t>(m.count, list.size());
        if (m.tail) {
          list.erase(list.end() - static_cast<std::ptrdiff_t>(n), list.end());
        } else {
          list.erase(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(n));
        }
      }
      p->RestoreCommit(ref, m.version);
      return true;
    }
  }
  return false;
}

}  // namespace dbkv::storage
