// Connection, output and flow control: finished pipelines are encoded in request order and
// written; reading pauses while too many requests are in flight (a window sized by the replies'
// weight) or too many reply bytes wait, so a client that does not read cannot make the server
// buffer without bound.
#include <algorithm>
#include <boost/asio/write.hpp>

#include "core/clock.h"
#include "protocol/frame.h"
#include "protocol/wire_format.h"
#include "server/connection.h"
#include "server/io_loop.h"

namespace dbkv {

namespace asio = boost::asio;
using boost::system::error_code;

bool Connection::ShouldPauseReading() const {
  return obuf_.size() + wbuf_.size() > kMaxPendingOutputBytes || inflight_requests_ >= window_;
}

void Connection::MaybeResumeReading() {
  if (!ShouldPauseReading()) Read();
}

std::unique_ptr<Pipeline> Connection::NewPipeline() {
  if (spare_pipelines_.empty()) return std::make_unique<Pipeline>();
  std::unique_ptr<Pipeline> p = std::move(spare_pipelines_.back());
  spare_pipelines_.pop_back();
  return p;
}

void Connection::RecyclePipeline(std::unique_ptr<Pipeline> p) {
  // Keep a few, with their buffers; a pipeline that grew big is let go.
  if (spare_pipelines_.size() < kSparePipelines && p->size() <= 4096) {
    p->Recycle();
    spare_pipelines_.push_back(std::move(p));
  }
}

void Connection::Flush() {
  // Encodes finished pipelines in order, but stops once enough output waits: the rest stays
  // as replies (which share large values with the store rather than copy them).
  size_t replies = 0;
  const size_t before = obuf_.size();
  const int64_t now_ns = pipelines_.empty() ? 0 : MonotonicNs();
  CommandMetrics& metrics = loop_->metrics();
  while (!pipelines_.empty() && pipelines_.front()->pending_ops == 0 &&
         obuf_.size() + wbuf_.size() <= kMaxPendingOutputBytes) {
    std::unique_ptr<Pipeline> p = std::move(pipelines_.front());
    pipelines_.pop_front();
    inflight_requests_ -= p->size();
    if (closed_) {
      RecyclePipeline(std::move(p));
      continue;
    }
    for (PendingRequest& r : *p) {
      if (r.split != nullptr && r.cmd != nullptr) {
        r.reply = r.cmd->merge(r.split->input, *this);
      }
      if (r.resp == 0) {
        protocol::AppendResponse(&obuf_, r.id, r.reply);
      } else {
        protocol::AppendRespReply(&obuf_, r.reply, protocol::RespStyle{r.resp, r.stored_reply});
      }
      metrics.Record(r.metric_id, r.reply.code, now_ns - p->read_ns);
    }
    replies += p->size();
    RecyclePipeline(std::move(p));
  }
  if (replies > 0) AdjustWindow(obuf_.size() - before, replies);
  if (write_deferred_) return;
  if (!writing_ && !obuf_.empty() && loop_->DeferWrite(shared_from_this())) {
    write_deferred_ = true;
    return;
  }
  Write();
}

void Connection::AdjustWindow(size_t bytes, size_t replies) {
  // Requests in flight are bounded by what their replies would weigh: a budget over the
  // average reply size seen last. Shrinks at once, grows at most twofold per flush.
  const size_t avg = std::max<size_t>(1, bytes / replies);
  const size_t target = std::clamp(kReplyBudgetBytes / avg, kMinWindow, kMaxInflightRequests);
  window_ = target < window_ ? target : std::min(target, window_ * 2);
}

void Connection::Write() {
  if (writing_ || closed_) return;
  if (obuf_.empty()) {
    MaybeFinish();
    return;
  }
  if (hold_output_until_ms_ != 0) {
    const int64_t wait = hold_output_until_ms_ - WallClockMs();
    if (wait > 0) {
      // After a wrong password: replies wait (and so does reading: the output counts against
      // the connection's limits).
      if (!hold_timer_) {
        hold_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
      }
      hold_timer_->expires_after(std::chrono::milliseconds(wait));
      hold_timer_->async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec) self->Write();
      });
      return;
    }
    hold_output_until_ms_ = 0;
  }
  wbuf_.swap(obuf_);
  obuf_.clear();
  writing_ = true;
  auto done = [self = shared_from_this()](const error_code& ec, size_t) { self->OnWritten(ec); };
  if (tls_ != nullptr) {
    asio::async_write(*tls_, asio::buffer(wbuf_), std::move(done));
  } else {
    asio::async_write(socket_, asio::buffer(wbuf_), std::move(done));
  }
}

void Connection::OnWritten(const error_code& ec) {
  writing_ = false;
  if (wbuf_.capacity() > (size_t{1} << 20)) {
    std::string().swap(wbuf_);
  } else {
    wbuf_.clear();
  }
  if (ec) {
    Close();
    return;
  }
  Flush();
  MaybeResumeReading();
}

}  // namespace dbkv
