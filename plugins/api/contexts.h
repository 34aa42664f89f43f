// What a handler can reach: its shard (ShardContext) or its connection (ConnectionContext).
#ifndef DATABRIDGE_PLUGINS_API_CONTEXTS_H_
#define DATABRIDGE_PLUGINS_API_CONTEXTS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/entry.h"
#include "core/partition.h"
#include "core/record.h"
#include "core/reply.h"
#include "core/value.h"

namespace dbkv {

// How a blocking command (kCmdBlocking) waits: returned from its handler through
// ShardContext::Block. The shard re-runs the handler, with the same arguments, whenever one
// of the keys is written, and at recheck_ms; the handler either answers or blocks again. At
// deadline_ms (or when the wait is cancelled: the client left, or another part of the same
// request answered first) the shard runs it a last time with ShardContext::timed_out() set,
// and it must answer then. A handler that may block must have no effect until it answers
// (it may run many times).
struct BlockRequest {
  std::vector<std::string_view> keys;  // in the handler's namespace
  int64_t deadline_ms = 0;             // 0: wait forever; fixed by the first Block
  int64_t recheck_ms = 0;              // 0: only on writes
};

// A change to a list described for the write-ahead log, so that a push onto a long list is not
// logged as the whole list: `count` values pushed (push) or `count` elements popped (!push), at
// the tail or at the head.
struct ListChange {
  bool push = true;
  bool tail = true;
  const Value* values = nullptr;  // push: the values, in the order they went in
  size_t count = 0;
};

// Brings cold values (tiered storage: on disk, see storage/COLD_FORMAT.md) back for a
// handler. Implemented by the shard's tier; shard thread only.
class ColdResolver {
 public:
  virtual ~ColdResolver() = default;
  // r is key's record and its value is cold: returns a record with the value loaded — key's own,
  // with the value back in memory (r may have moved), or a copy for the running command only —
  // or nullptr if the value cannot be read (the tier has reported why). for_write: the command
  // will modify the entry (it must be key's own record).
  virtual Record* Resolve(std::string_view ns, std::string_view key, Record* r, bool for_write) = 0;
};

// What a shard offers handlers beyond its partition. Implemented by the shard actor.
class ShardHost {
 public:
  virtual ~ShardHost() = default;
  // Parks the command being run (see BlockRequest).
  virtual void Block(BlockRequest request) = 0;
  // key of namespace ns was written: record is its state after the write (null: removed by a
  // write of version `version`); change, if given, says what changed in a list.
  virtual void OnWrite(std::string_view ns, std::string_view key, const Record* record,
                       uint64_t version, const ListChange* change) = 0;
  // Commands blocked on this shard.
  virtual size_t blocked_count() const = 0;
};

// Shard-local access to the keys a command owns. Only valid during the handler call, on the
// shard's thread. Every access is scoped to the connection's namespace, and expired keys are
// never returned. A record found is valid until that key is written or erased: read what is
// needed from it before writing it (core/record.h).
class ShardContext {
 public:
  ShardContext(Partition* partition, uint32_t shard_id, uint32_t shard_count,
               ShardHost* host = nullptr)
      : partition_(partition), shard_id_(shard_id), shard_count_(shard_count), host_(host) {}

  // Set by the shard before each command. loads: the command reads values (ReadsValues), so
  // cold ones are brought back; write: it may modify what it finds.
  void Reset(std::string_view ns, int64_t now_ms, bool timed_out = false, bool loads = true,
             bool write = false) {
    ns_ = ns;
    now_ms_ = now_ms;
    timed_out_ = timed_out;
    loads_ = loads;
    write_ = write;
  }
  void set_cold_resolver(ColdResolver* resolver) { cold_ = resolver; }

  // A blocked command's last run: answer now, do not block again.
  bool timed_out() const { return timed_out_; }

  int64_t now_ms() const { return now_ms_; }
  std::string_view ns() const { return ns_; }
  uint32_t shard_id() const { return shard_id_; }
  uint32_t shard_count() const { return shard_count_; }

  // The live record of key, or nullptr. Counts a hit or a miss.
  const Record* Find(std::string_view key) {
    const Record* r = Loaded(key, partition_->Find(ns_, key, now_ms_));
    partition_->RecordHit(r != nullptr);
    return r;
  }
  // The live record of key, or nullptr, without counting a hit or miss (for writes).
  const Record* Peek(std::string_view key) {
    return Loaded(key, partition_->Find(ns_, key, now_ms_));
  }
  // Creates or overwrites key.
  const Record* Put(std::string_view key, const Value& value, int64_t expire_at_ms) {
    const Record* r = partition_->Put(ns_, key, value, expire_at_ms);
    Written(key, r, r->version(), nullptr);
    return r;
  }
  const Record* Put(std::string_view key, Value&& value, int64_t expire_at_ms) {
    const Record* r = partition_->Put(ns_, key, std::move(value), expire_at_ms);
    Written(key, r, r->version(), nullptr);
    return r;
  }
  // For a change: change *ref.entry, then Commit(ref) (or Abort(ref)).
  EntryRef Upsert(std::string_view key) {
    LoadForWrite(key);
    return partition_->Upsert(ns_, key, now_ms_);
  }
  const Record* Commit(const EntryRef& ref) {
    const Record* r = partition_->Commit(ref);
    const KeyText key = r->key();
    Written(key.view(), r, r->version(), nullptr);
    return r;
  }
  void Abort(const EntryRef& ref) { partition_->Abort(ref); }
  // For a small change to a large container: Upsert without measuring the value, then
  // CommitDelta with the exact change of its HeapBytes() (see Partition::UpsertUnmeasured),
  // and for a list, what changed (logged instead of the whole list).
  EntryRef UpsertUnmeasured(std::string_view key) {
    LoadForWrite(key);
    return partition_->UpsertUnmeasured(ns_, key, now_ms_);
  }
  const Record* CommitDelta(const EntryRef& ref, int64_t heap_delta,
                            const ListChange* change = nullptr) {
    const Record* r = partition_->CommitDelta(ref, heap_delta);
    const KeyText key = r->key();
    Written(key.view(), r, r->version(), change);
    return r;
  }
  // Removes key; true if it existed.
  bool Erase(std::string_view key) {
    uint64_t version = 0;
    const bool existed = partition_->Erase(ns_, key, now_ms_, &version);
    if (existed) Written(key, nullptr, version, nullptr);
    return existed;
  }

  // Blocks the running command (kCmdBlocking only): return what this returns.
  Reply Block(BlockRequest request) {
    if (host_ == nullptr) return Reply::Error(Code::kInternal, "this shard cannot block");
    if (timed_out_) return Reply::Error(Code::kInternal, "blocked again after its deadline");
    host_->Block(std::move(request));
    return Reply::Blocked();
  }
  // Every key of the namespace on this shard.
  size_t NamespaceSize() const { return partition_->Size(ns_); }

  const Partition& partition() const { return *partition_; }
  // Commands blocked on this shard (for INFO).
  size_t blocked_count() const { return host_ != nullptr ? host_->blocked_count() : 0; }

 private:
  Partition* partition_;
  uint32_t shard_id_;
  uint32_t shard_count_;
  void Written(std::string_view key, const Record* r, uint64_t version, const ListChange* change) {
    if (host_ != nullptr) host_->OnWrite(ns_, key, r, version, change);
  }
  // r with its value loaded if the command reads values and it is cold.
  Record* Loaded(std::string_view key, Record* r) {
    if (r == nullptr || !r->is_cold() || !loads_ || cold_ == nullptr) return r;
    return cold_->Resolve(ns_, key, r, write_);
  }
  // Before a change: a cold value comes back to memory first.
  void LoadForWrite(std::string_view key) {
    if (!loads_ || cold_ == nullptr) return;
    Record* r = partition_->Find(ns_, key, now_ms_);
    if (r != nullptr && r->is_cold()) cold_->Resolve(ns_, key, r, /*for_write=*/true);
  }

  std::string_view ns_;
  int64_t now_ms_ = 0;
  bool timed_out_ = false;
  bool loads_ = true;
  bool write_ = false;
  ShardHost* host_;
  ColdResolver* cold_ = nullptr;
};

// Server-wide figures a connection handler or merge function may report.
struct ServerInfo {
  std::string version;
  int64_t uptime_s = 0;
  uint64_t connections = 0;
  uint32_t shards = 0;
  uint32_t workers = 0;
  uint32_t io_threads = 0;
  std::string data_dir;     // empty: memory only
  std::string fsync;        // with a data dir: always, periodic, never
  uint64_t max_memory = 0;  // --max-memory (0: no limit)
  std::string eviction;     // --eviction
  // Further figures by name (persistence counters, ...).
  std::vector<std::pair<std::string, int64_t>> counters;
};

// The connection a command arrived on. Implemented by the server.
class ConnectionContext {
 public:
  virtual ~ConnectionContext() = default;

  virtual const std::string& ns() const = 0;
  virtual void set_ns(std::string ns) = 0;
  virtual const std::string& client_name() const = 0;
  virtual void set_client_name(std::string name) = 0;
  virtual bool authenticated() const = 0;
  // Checks a password (constant time) and marks the connection authenticated on success.
  virtual bool Authenticate(std::string_view password) = 0;
  // Whether the server requires a password at all.
  virtual bool auth_required() const = 0;
  // Close the connection after this reply is sent.
  virtual void CloseAfterReply() = 0;
  virtual ServerInfo server_info() const = 0;

  // The wire protocol of the connection: 1 for the binary protocol, 2 or 3 for RESP2 / RESP3
  // (protocol/PROTOCOL.md, "RESP"). Connection commands whose form is the protocol's own
  // (HELLO, AUTH's errors, INFO's text) ask.
  virtual int protocol() const { return 1; }
  // Switches a RESP connection between RESP2 and RESP3 (HELLO 2 / HELLO 3); false if this
  // connection cannot speak `version`.
  virtual bool SetProtocol(int version) { return version == protocol(); }
  // The connection's number, unique in this server's lifetime (CLIENT ID); 0 if unknown.
  virtual uint64_t client_id() const { return 0; }
};

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_API_CONTEXTS_H_
