// The data port: Listen binds --bind (a name is resolved); WritePortFile writes --port-file once
// the server is ready; Accept deals each connection to an I/O loop in turn, or refuses it over
// --max-connections (connection_refusal.cc).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "server/accept_retry.h"
#include "server/server_impl.h"

namespace dbkv {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

Status Server::Impl::Listen() {
  std::string host;
  uint16_t port;
  SplitHostPort(state.options.bind, &host, &port);
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    // A name, not an address: resolve it.
    tcp::resolver resolver(control);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return Status::InvalidArgument("--bind: cannot resolve '" + host + "'");
    }
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, port);
  acceptor = std::make_unique<tcp::acceptor>(control);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IoError("cannot listen on " + state.options.bind + ": " + ec.message());
  }
  const uint16_t bound = acceptor->local_endpoint().port();
  spdlog::info("listening on {}:{}{} ({} shards, {} workers, {} io threads)", host, bound,
               state.tls ? (state.options.tls_ca.empty() ? " with TLS" : " with mutual TLS") : "",
               state.shards.size(), state.options.workers, state.options.io_threads);
  return Status::OK();
}

Status Server::Impl::WritePortFile() {
  if (state.options.port_file.empty()) return Status::OK();
  // Written whole, then renamed: a reader never sees a partial file.
  const std::string tmp = state.options.port_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << acceptor->local_endpoint().port() << "\n";
    if (http) out << http->port() << "\n";  // the HTTP port, second
    if (!out) return Status::IoError("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), state.options.port_file.c_str()) != 0) {
    return Status::IoError("cannot rename " + tmp + " to " + state.options.port_file);
  }
  return Status::OK();
}

void Server::Impl::Accept() {
  acceptor->async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      // EMFILE and friends: log, and accept again after a pause (accept_retry.h).
      accept_failures.Failed(ec);
      accept_retry.expires_after(kAcceptRetryDelay);
      accept_retry.async_wait([this](const error_code& e) {
        if (!e && acceptor->is_open()) Accept();
      });
      return;
    }
    if (state.connections.load(std::memory_order_relaxed) >= state.options.max_connections) {
      state.rejected_connections.fetch_add(1, std::memory_order_relaxed);
      Refuse(std::move(socket));
    } else {
      state.connections.fetch_add(1, std::memory_order_relaxed);
      state.total_connections.fetch_add(1, std::memory_order_relaxed);
      IoLoop& loop = *loops[next_loop++ % loops.size()];
      // The socket was opened on the control context; move its descriptor to the loop's.
      error_code rec;
      auto proto = socket.local_endpoint(rec).protocol();
      int fd = socket.release(rec);
      if (rec) {
        state.connections.fetch_sub(1, std::memory_order_relaxed);
      } else {
        loop.Adopt(tcp::socket(loop.io(), proto, fd));
      }
    }
    Accept();
  });
}

}  // namespace dbkv
