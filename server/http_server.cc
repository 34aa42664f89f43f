#include "server/http_server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <caf/all.hpp>
#include <chrono>
#include <thread>

#include "actors/shard_actor.h"
#include "server/metrics.h"
#include "server/options.h"
#include "server/server_state.h"

namespace dbkv {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

struct HttpServer::Impl {
  explicit Impl(ServerState* s) : state(s) {}

  ServerState* state;
  asio::io_context io{1};
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread thread;
  std::atomic<caf::actor_system*> system{nullptr};

  void Accept();
  void Serve(const std::shared_ptr<tcp::socket>& socket);
  std::string Respond(const std::string& request_line, int* status);
  bool Healthy();
};

namespace {

std::string Response(int status, const std::string& body, const char* type = "text/plain") {
  const char* reason = status == 200   ? "OK"
                       : status == 404 ? "Not Found"
                       : status == 405 ? "Method Not Allowed"
                       : status == 400 ? "Bad Request"
                                       : "Service Unavailable";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  out += std::string("Content-Type: ") + type + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += body;
  return out;
}

}  // namespace

bool HttpServer::Impl::Healthy() {
  caf::actor_system* sys = system.load();
  if (sys == nullptr) return true;  // still recovering: the process is alive and working
  // Every shard at once, one deadline for all.
  caf::scoped_actor self(*sys);
  for (const caf::actor& shard : state->shards) self->send(shard, health_atom::value);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  size_t answered = 0;
  bool timed_out = false;
  while (answered < state->shards.size() && !timed_out) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    self->receive(
        [&](bool) { ++answered; },
        caf::after(std::max(left, std::chrono::milliseconds(0))) >> [&] { timed_out = true; });
  }
  return answered == state->shards.size();
}

std::string HttpServer::Impl::Respond(const std::string& line, int* status) {
  // "GET /path HTTP/1.1"
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) {
    *status = 400;
    return Response(400, "bad request\n");
  }
  const std::string method = line.substr(0, sp1);
  std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (size_t q = path.find('?'); q != std::string::npos) path.resize(q);
  if (method != "GET" && method != "HEAD") {
    *status = 405;
    return Response(405, "only GET\n");
  }
  if (path == "/metrics") {
    *status = 200;
    return Response(200, RenderMetrics(*state), "text/plain; version=0.0.4; charset=utf-8");
  }
  if (path == "/health" || path == "/healthz" || path == "/livez") {
    const bool ok = Healthy();
    *status = ok ? 200 : 503;
    return Response(*status, ok ? "ok\n" : "shards not answering\n");
  }
  if (path == "/ready" || path == "/readyz") {
    const bool shutting_down = state->shutting_down.load();
    const bool ready = state->ready.load() && !shutting_down;
    *status = ready ? 200 : 503;
    return Response(*status, ready           ? "ready\n"
                             : shutting_down ? "shutting down\n"
                                             : "recovering\n");
  }
  *status = 404;
  return Response(404, "not found: /metrics, /health, /ready\n");
}

void HttpServer::Impl::Serve(const std::shared_ptr<tcp::socket>& socket) {
  auto buf = std::make_shared<asio::streambuf>(8192);
  auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::seconds(10));
  timer->async_wait([socket](const error_code& ec) {
    if (!ec) {
      error_code ignored;
      socket->close(ignored);  // a client that never finishes its request
    }
  });
  asio::async_read_until(
      *socket, *buf, "\r\n\r\n", [this, socket, buf, timer](const error_code& ec, size_t) {
        timer->cancel();
        if (ec) return;
        std::istream in(buf.get());
        std::string line;
        std::getline(in, line);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        int status = 0;
        auto response = std::make_shared<std::string>(Respond(line, &status));
        if (line.rfind("HEAD ", 0) == 0) response->resize(response->find("\r\n\r\n") + 4);
        asio::async_write(*socket, asio::buffer(*response),
                          [socket, response](const error_code&, size_t) {
                            error_code ignored;
                            socket->shutdown(tcp::socket::shutdown_both, ignored);
                          });
      });
}

void HttpServer::Impl::Accept() {
  auto socket = std::make_shared<tcp::socket>(io);
  acceptor->async_accept(*socket, [this, socket](const error_code& ec) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) Serve(socket);
    Accept();
  });
}

HttpServer::HttpServer(ServerState* state) : impl_(std::make_unique<Impl>(state)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start(const std::string& bind) {
  std::string host;
  uint16_t port;
  if (!SplitHostPort(bind, &host, &port)) {
    return Status::InvalidArgument("--http-bind: expected host:port, got '" + bind + "'");
  }
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("--http-bind: '" + host + "' is not an address");
  tcp::endpoint ep(addr, port);
  impl_->acceptor = std::make_unique<tcp::acceptor>(impl_->io);
  impl_->acceptor->open(ep.protocol(), ec);
  if (!ec) impl_->acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor->bind(ep, ec);
  if (!ec) impl_->acceptor->listen(64, ec);
  if (ec) return Status::IoError("cannot listen on " + bind + " (--http-bind): " + ec.message());
  spdlog::info("http: /metrics, /health, /ready on {}:{}", host,
               impl_->acceptor->local_endpoint().port());
  impl_->Accept();
  impl_->thread = std::thread([this] {
    pthread_setname_np(pthread_self(), "dbkv-http");
    impl_->io.run();
  });
  return Status::OK();
}

void HttpServer::set_actor_system(caf::actor_system* system) { impl_->system = system; }

uint16_t HttpServer::port() const {
  return impl_->acceptor ? impl_->acceptor->local_endpoint().port() : 0;
}

void HttpServer::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace dbkv
