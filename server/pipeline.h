// Pipeline: the requests one connection sent in one read, in order, with their replies.
//
// A connection decodes every complete frame (or RESP request) of a read into one Pipeline,
// dispatches its requests (to shards, or at once for connection commands), and writes the replies
// once all of them are ready. Replies therefore leave in request order; each also carries its
// request id. A Pipeline is touched only on its connection's I/O thread; shards see only the
// arguments and reply slots of their ops, which stay put until the pipeline completes.
#ifndef DATABRIDGE_SERVER_PIPELINE_H_
#define DATABRIDGE_SERVER_PIPELINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/reply.h"
#include "core/value.h"
#include "plugins/api/command.h"

namespace dbkv {

class Connection;

// State of a request that runs on several shards: one reply slot per part, merged at the end.
struct SplitState {
  MergeInput input;
  // The shard of each part.
  std::vector<uint32_t> part_shards;
  bool cancel_sent = false;
  // Arguments of each part of a multi-key command (prefix, the part's key groups, suffix).
  std::vector<ValueList> part_args;
  uint32_t remaining = 0;
};

struct PendingRequest {
  uint32_t id = 0;
  uint8_t opcode = 0;
  const CommandSpec* cmd = nullptr;  // null: reply already holds an error
  ValueList argv;
  uint32_t arg_offset = 0;  // 1 when the request named its command (argv[0] is the name)
  Reply reply;
  std::unique_ptr<SplitState> split;
  // Blocking commands: the request's number on its connection, for cancelling it (0: none).
  uint64_t seq = 0;
  // For metrics: the command's registry id, or kUnknownCommand.
  uint32_t metric_id = UINT32_MAX;
  // How the reply is written: 0 as a binary frame; 2 or 3 in RESP2 / RESP3 (the connection's
  // version once the request ran: HELLO 3's own reply is RESP3).
  uint8_t resp = 0;
  // The command is kCmdStoredReply (RESP writes the scalars of its reply as bulk strings).
  bool stored_reply = false;

  // Back to a fresh request, keeping argv's capacity.
  void Reset() {
    id = 0;
    opcode = 0;
    cmd = nullptr;
    argv.clear();
    arg_offset = 0;
    reply = Reply();
    split.reset();
    seq = 0;
    metric_id = UINT32_MAX;
    resp = 0;
    stored_reply = false;
  }
};

class Pipeline {
 public:
  std::shared_ptr<Connection> conn;
  // Ops sent to shards and not yet completed.
  uint32_t pending_ops = 0;
  // When the requests were read (monotonic ns), for the latency metric.
  int64_t read_ns = 0;

  // Requests [0, size()) are this pipeline's; the objects past them are kept, with their
  // buffers, for reuse when the connection recycles the pipeline.
  PendingRequest& Add() {
    if (size_ == slots_.size()) slots_.emplace_back();
    return slots_[size_++];
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  PendingRequest& operator[](size_t i) { return slots_[i]; }
  PendingRequest* begin() { return slots_.data(); }
  PendingRequest* end() { return slots_.data() + size_; }
  // Drops the requests from n on (QUIT: nothing after it is answered).
  void Truncate(size_t n) {
    for (size_t i = n; i < size_; ++i) slots_[i].Reset();
    size_ = n;
  }

  // The namespace an op runs in: a view of a string this pipeline keeps alive.
  std::string_view HoldNamespace(const std::shared_ptr<const std::string>& ns) {
    if (namespaces_.empty() || namespaces_.back() != ns) namespaces_.push_back(ns);
    return *namespaces_.back();
  }

  // Ready for reuse: releases the requests' values and replies, keeps the buffers.
  void Recycle() {
    Truncate(0);
    namespaces_.clear();
    conn.reset();
    pending_ops = 0;
  }

 private:
  std::vector<PendingRequest> slots_;
  size_t size_ = 0;
  std::vector<std::shared_ptr<const std::string>> namespaces_;
};

}  // namespace dbkv

#endif  // DATABRIDGE_SERVER_PIPELINE_H_
