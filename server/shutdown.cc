// Shutdown (SIGTERM or SIGINT, caught in Run): stop accepting, let the I/O loops finish their
// in-flight requests within --shutdown-timeout-ms, then stop the control loop; after it, the
// final flush and snapshot of persistence.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <caf/all.hpp>
#include <chrono>
#include <memory>

#include "server/server_impl.h"

namespace dbkv {

namespace asio = boost::asio;
using boost::system::error_code;

void Server::Impl::Shutdown() {
  memory_timer.cancel();
  if (state.shutting_down.exchange(true)) return;
  spdlog::info("shutting down: no new connections, finishing in-flight requests");
  error_code ec;
  acceptor->close(ec);
  for (auto& loop : loops) loop->BeginDrain();
  auto timer = std::make_shared<asio::steady_timer>(control);
  WaitForDrain(std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(state.options.shutdown_timeout_ms),
               timer);
}

void Server::Impl::WaitForDrain(std::chrono::steady_clock::time_point deadline,
                                const std::shared_ptr<asio::steady_timer>& timer) {
  size_t open = 0;
  for (auto& loop : loops) open += loop->connection_count();
  if (open == 0 || std::chrono::steady_clock::now() >= deadline) {
    if (open != 0) spdlog::warn("shutdown: closing {} connections still busy", open);
    control.stop();
    return;
  }
  timer->expires_after(std::chrono::milliseconds(5));
  timer->async_wait([this, deadline, timer](const error_code&) { WaitForDrain(deadline, timer); });
}

bool Server::Impl::FinishPersistence() {
  if (!persistence) return true;
  // Flush, sync and snapshot, within the shutdown grace period.
  spdlog::info("persistence: flushing and taking the final snapshot");
  caf::scoped_actor self(*system);
  bool ok = false;
  self->request(
          persistence,
          std::chrono::milliseconds(std::max<uint32_t>(state.options.shutdown_timeout_ms, 1000)),
          finish_atom::value)
      .receive([&](bool done) { ok = done; },
               [&](caf::error& e) { spdlog::error("persistence: {}", to_string(e)); });
  if (!ok) spdlog::error("persistence: the final snapshot did not complete; the WAL has the data");
  caf::anon_send_exit(persistence, caf::exit_reason::user_shutdown);
  return ok;
}

}  // namespace dbkv
