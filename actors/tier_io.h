// Tier I/O: the file work of tiered storage (storage/COLD_FORMAT.md), kept off the shards'
// threads. Each shard has a writer (appends to its current segment, seals, syncs) and a reader
// (loads records, reads segments for compaction), both detached CAF actors: a slow disk
// delays the shard's cold reads and spills, never its other keys.
//
// The requests are plain structs passed by pointer; the shard owns them and gets them back,
// filled in, in a reply message. The same functions do the work for the actors and for tests.
#ifndef DATABRIDGE_ACTORS_TIER_IO_H_
#define DATABRIDGE_ACTORS_TIER_IO_H_

#include <atomic>
#include <caf/allowed_unsafe_message_type.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "core/value.h"
#include "storage/cold_segment.h"
#include "storage/env.h"

namespace dbkv {

// Bytes appended to a segment: records the shard encoded (spills) or copied (compaction).
struct TierAppend {
  uint64_t id = 0;       // the shard's batch number
  uint32_t segment = 0;  // appended to
  bool create = false;   // a new segment: create the file and write its header first
  bool seal = false;     // the last append to it: fdatasync and close after
  uint32_t shard = 0;    // for the header
  std::string data;      // the records
  // Filled in by the writer.
  Status status;
  uint64_t file_bytes = 0;  // the segment's size after the append
};

// Records to load (cold reads).
struct TierRead {
  std::vector<ColdRef> refs;
  // Filled in by the reader, one per ref.
  std::vector<Status> status;
  std::vector<Value> values;
};

// A stretch of a segment, for compaction: whole records from offset, about max_bytes.
struct TierScan {
  uint32_t segment = 0;
  uint64_t offset = 0;
  size_t max_bytes = 4 << 20;
  // Filled in by the reader: data holds the whole records found from offset (data_offset);
  // next is where the following stretch starts; eof once the segment is done.
  Status status;
  std::string data;
  uint64_t next = 0;
  bool eof = false;
};

struct TierAppendPtr {
  TierAppend* p = nullptr;
};
struct TierReadPtr {
  TierRead* p = nullptr;
};
struct TierScanPtr {
  TierScan* p = nullptr;
};

// The writer's files: the segments it appends to.
class TierWriterFiles {
 public:
  TierWriterFiles(storage::Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  void Append(TierAppend* a);
  // fdatasyncs every open segment.
  Status Sync();

 private:
  storage::Env* env_;
  std::string dir_;
  std::map<uint32_t, std::unique_ptr<storage::WritableFile>> open_;
};

// The reader's files: segments opened on first use (a bounded number stay open).
class TierReaderFiles {
 public:
  TierReaderFiles(storage::Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  void Read(TierRead* r);
  void Scan(TierScan* s);
  // One record, for a shard's synchronous fallback.
  Status ReadOne(const ColdRef& ref, Value* out);

 private:
  Status File(uint32_t segment, const storage::RandomAccessFile** f);

  storage::Env* env_;
  std::string dir_;
  std::unordered_map<uint32_t, std::unique_ptr<storage::RandomAccessFile>> files_;
  storage::ColdRecordDecoder decoder_;
  std::string scratch_;
};

// The server-wide table of cold segments: their sizes and live bytes (summed over shards, whose
// partitions send their changes), which are sealed, and which have no live record any more.
// Thread-safe; touched once per shard message at most.
class TierSegments {
 public:
  struct Segment {
    uint64_t file_bytes = 0;
    int64_t live_bytes = 0;
    bool sealed = false;
    bool dead = false;        // sealed with no live record: waiting to be deleted
    uint64_t died_round = 0;  // the snapshot round under way when it died
  };

  // Ids for new segments: above every id seen.
  uint32_t NewSegmentId() { return next_id_.fetch_add(1); }
  void SeeSegmentId(uint32_t id);

  void Added(uint32_t id, uint64_t file_bytes, bool sealed);
  void ApplyDeltas(const std::vector<std::pair<uint32_t, int64_t>>& deltas);
  // Sealed segments (not in `except`) whose live bytes are under ratio of their size, the
  // emptiest first.
  std::vector<uint32_t> CompactionCandidates(double ratio, size_t max);
  // Dead segments that died before snapshot round `round` started (no snapshot of a later
  // round references them): removed from the table and returned, to be deleted.
  std::vector<uint32_t> TakeDeletable(uint64_t round);
  // The snapshot round under way (incremented by persistence when a round starts).
  std::atomic<uint64_t> round{1};

  uint64_t disk_bytes() const { return disk_bytes_.load(std::memory_order_relaxed); }
  // Bytes of dead segments not deleted yet.
  uint64_t dead_bytes() const { return dead_bytes_.load(std::memory_order_relaxed); }
  uint64_t segment_count() const { return count_.load(std::memory_order_relaxed); }

  // Counters for INFO and metrics.
  std::atomic<uint64_t> spilled_bytes{0};  // record bytes written by spills
  std::atomic<uint64_t> spilled_values{0};
  std::atomic<uint64_t> loaded_bytes{0};  // record bytes read back for commands
  std::atomic<uint64_t> cold_reads{0};
  std::atomic<uint64_t> cold_read_errors{0};
  std::atomic<uint64_t> sync_loads{0};  // loads a shard had to do on its own thread
  std::atomic<uint64_t> promoted{0};    // values brought back to memory
  std::atomic<uint64_t> compactions{0};
  std::atomic<uint64_t> compacted_bytes{0};  // live bytes copied by compaction
  std::atomic<uint64_t> deleted_segments{0};

 private:
  void MaybeDead(uint32_t id, Segment& s);
  void Recount();

  std::mutex mu_;
  std::map<uint32_t, Segment> segments_;
  std::atomic<uint32_t> next_id_{1};
  std::atomic<uint64_t> disk_bytes_{0};
  std::atomic<uint64_t> dead_bytes_{0};
  std::atomic<uint64_t> count_{0};
};

}  // namespace dbkv

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dbkv::TierAppendPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dbkv::TierReadPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dbkv::TierScanPtr)

#endif  // DATABRIDGE_ACTORS_TIER_IO_H_
