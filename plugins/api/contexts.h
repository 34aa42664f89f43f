// What a handler can reach: its shard (ShardContext) or its connection (ConnectionContext).
#ifndef DATABRIDGE_PLUGINS_API_CONTEXTS_H_
#define DATABRIDGE_PLUGINS_API_CONTEXTS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/entry.h"
#include "core/partition.h"
#include "core/value.h"

namespace dbkv {

// Shard-local access to the entries of the keys a command owns. Only valid during the handler
// call, on the shard's thread. Every access is scoped to the connection's namespace, and
// expired entries are never returned.
class ShardContext {
 public:
  ShardContext(Partition* partition, uint32_t shard_id, uint32_t shard_count)
      : partition_(partition), shard_id_(shard_id), shard_count_(shard_count) {}

  // Set by the shard before each command.
  void Reset(std::string_view ns, int64_t now_ms) {
    ns_ = ns;
    now_ms_ = now_ms;
  }

  int64_t now_ms() const { return now_ms_; }
  std::string_view ns() const { return ns_; }
  uint32_t shard_id() const { return shard_id_; }
  uint32_t shard_count() const { return shard_count_; }

  // The live entry of key, or nullptr. Counts a hit or a miss.
  Entry* Find(std::string_view key) {
    Entry* e = partition_->Find(ns_, key, now_ms_);
    partition_->RecordHit(e != nullptr);
    return e;
  }
  // The live entry of key, or nullptr, without counting a hit or miss (for writes).
  Entry* Peek(std::string_view key) { return partition_->Find(ns_, key, now_ms_); }
  // Creates or overwrites key.
  Entry& Put(std::string_view key, Value value, int64_t expire_at_ms) {
    return partition_->Put(ns_, key, std::move(value), expire_at_ms);
  }
  // For modification in place: change ref.entry, then Commit(ref) (or Abort(ref)).
  EntryRef Upsert(std::string_view key) { return partition_->Upsert(ns_, key, now_ms_); }
  void Commit(const EntryRef& ref) { partition_->Commit(ref); }
  void Abort(const EntryRef& ref) { partition_->Abort(ref); }
  // Removes key; true if it existed.
  bool Erase(std::string_view key) { return partition_->Erase(ns_, key, now_ms_); }
  // Every key of the namespace on this shard.
  size_t NamespaceSize() const { return partition_->Size(ns_); }

  const Partition& partition() const { return *partition_; }

 private:
  Partition* partition_;
  uint32_t shard_id_;
  uint32_t shard_count_;
  std::string_view ns_;
  int64_t now_ms_ = 0;
};

// Server-wide figures a connection handler or merge function may report.
struct ServerInfo {
  std::string version;
  int64_t uptime_s = 0;
  uint64_t connections = 0;
  uint32_t shards = 0;
  uint32_t workers = 0;
  uint32_t io_threads = 0;
  std::string data_dir;  // empty: memory only
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
};

}  // namespace dbkv

#endif  // DATABRIDGE_PLUGINS_API_CONTEXTS_H_
