// The HTTP endpoints (/metrics, /health, /ready): an Asio acceptor on the HTTP thread, and per
// connection a Session that parses requests with Boost.Beast under the bounds of HttpLimits.
#include "server/http_server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <caf/all.hpp>
#include <chrono>
#include <limits>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include "actors/shard_actor.h"
#include "server/accept_retry.h"
#include "server/metrics.h"
#include "server/options.h"
#include "server/server_state.h"

namespace dbkv {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr size_t kReadChunk = 4096;           // what a read asks for at most
constexpr size_t kLingerBytes = 1024 * 1024;  // read after the last answer, at most

// What a request is answered: status, body, its type, and whether to say which methods the
// path takes (405).
struct Answer {
  http::status status = http::status::ok;
  std::string body;
  const char* type = "text/plain";
  bool allow = false;
};

// The path of a request target: origin form ("/metrics?x=1") or absolute form
// ("http://host:port/metrics"), without query and fragment.
std::string_view TargetPath(beast::string_view target) {
  std::string_view t(target.data(), target.size());
  if (t.rfind("http://", 0) == 0 || t.rfind("https://", 0) == 0) {
    const size_t slash = t.find('/', t.find("//") + 2);
    t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
  }
  return t.substr(0, t.find_first_of("?#"));
}

bool IsParseError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

}  // namespace

struct HttpServer::Impl {
  Impl(ServerState* s, HttpLimits l) : state(s), limits(l) {}

  ServerState* state;
  const HttpLimits limits;
  asio::io_context io{1};
  std::unique_ptr<tcp::acceptor> acceptor;
  asio::steady_timer accept_retry{io};  // after a failed accept
  AcceptFailureLog accept_failures{"http: accept failed"};
  std::thread thread;
  std::atomic<caf::actor_system*> system{nullptr};

  struct Session;
  void Accept();
  Answer Route(const http::request<http::string_body>& request);
  bool Healthy();
};

// One connection: requests read one after the other (pipelined ones too), each answered before
// the next is read. Every read and write runs under a deadline of the stream (Beast closes the
// socket when it passes).
struct HttpServer::Impl::Session : std::enable_shared_from_this<Session> {
  Session(Impl* s, tcp::socket socket) : server(s), stream(std::move(socket)) {}

  Impl* server;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;  // read, not parsed yet
  std::optional<http::request_parser<http::string_body>> parser;
  http::response<http::string_body> response;
  std::optional<http::response_serializer<http::string_body>> serializer;
  std::array<char, kReadChunk> discard{};
  size_t lingered = 0;

  // Waits (limits.idle_timeout) for the first bytes of the next request.
  void WaitForRequest();
  // Reads the request (limits.request_timeout), header first.
  void ReadRequest();
  void OnHeader(const error_code& ec);
  void OnRequest(const error_code& ec);
  // A request that did not parse: 400 or 431 and close; or, if the client went away or was too
  // slow, just close.
  void Fail(const error_code& ec);
  // Answers the request read; then the next one, or closes.
  void Respond(bool close_after);
  void Send(Answer answer, bool keep_alive, bool http10, bool head);
  // The last answer was written: shut down sending, read until the client closes.
  void Close();
  void Linger();
};

void HttpServer::Impl::Session::WaitForRequest() {
  if (buffer.size() > 0) return ReadRequest();  // the client sent it with the previous one
  stream.expires_after(server->limits.idle_timeout);
  stream.async_read_some(buffer.prepare(kReadChunk),
                         [self = shared_from_this()](const error_code& ec, size_t n) {
                           self->buffer.commit(n);
                           if (ec) return self->stream.close();  // closed, failed or idle
                           self->ReadRequest();
                         });
}

void HttpServer::Impl::Session::ReadRequest() {
  parser.emplace();
  parser->header_limit(static_cast<uint32_t>(
      std::min<size_t>(server->limits.header_bytes, std::numeric_limits<uint32_t>::max())));
  parser->body_limit(server->limits.body_bytes);
  stream.expires_after(server->limits.request_timeout);
  http::async_read_header(
      stream, buffer, *parser,
      [self = shared_from_this()](const error_code& ec, size_t) { self->OnHeader(ec); });
}

void HttpServer::Impl::Session::OnHeader(const error_code& ec) {
  if (ec == http::error::body_limit) return Respond(/*close_after=*/true);  // Content-Length
  if (ec) return Fail(ec);
  if (parser->is_done()) return Respond(/*close_after=*/false);
  http::async_read(
      stream, buffer, *parser,
      [self = shared_from_this()](const error_code& e, size_t) { self->OnRequest(e); });
}

void HttpServer::Impl::Session::OnRequest(const error_code& ec) {
  // A body over the limit: the request is answered all the same, and the connection closed
  // (the rest of the body is discarded while lingering).
  if (ec == http::error::body_limit) return Respond(/*close_after=*/true);
  if (ec) return Fail(ec);
  Respond(/*close_after=*/false);
}

void HttpServer::Impl::Session::Fail(const error_code& ec) {
  if (ec == http::error::header_limit) {
    Answer a;
    a.status = http::status::request_header_fields_too_large;
    a.body = "request header too large: over " + std::to_string(server->limits.header_bytes) +
             " bytes\n";
    return Send(std::move(a), /*keep_alive=*/false, /*http10=*/false, /*head=*/false);
  }
  // end_of_stream and partial_message: the client closed before the end of its request.
  if (IsParseError(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message) {
    Answer a;
    a.status = http::status::bad_request;
    a.body = "bad request: " + ec.message() + "\n";
    return Send(std::move(a), /*keep_alive=*/false, /*http10=*/false, /*head=*/false);
  }
  stream.close();  // the deadline passed, or the connection failed or closed
}

void HttpServer::Impl::Session::Respond(bool close_after) {
  const http::request<http::string_body>& request = parser->get();
  Send(server->Route(request), !close_after && request.keep_alive(), request.version() < 11,
       request.method() == http::verb::head);
}

void HttpServer::Impl::Session::Send(Answer answer, bool keep_alive, bool http10, bool head) {
  // HTTP/1.1 to every client (a 1.0 one reads it as 1.0), keep-alive said explicitly to 1.0.
  response = {};
  response.version(11);
  response.result(answer.status);
  response.set(http::field::content_type, answer.type);
  if (answer.allow) response.set(http::field::allow, "GET, HEAD");
  response.body() = std::move(answer.body);
  response.prepare_payload();  // Content-Length, for HEAD too: that of the GET
  response.keep_alive(keep_alive);
  if (keep_alive && http10) response.set(http::field::connection, "keep-alive");
  serializer.emplace(response);
  stream.expires_after(server->limits.write_timeout);
  auto done = [self = shared_from_this(), keep_alive](const error_code& ec, size_t) {
    if (ec) return self->stream.close();
    if (keep_alive) return self->WaitForRequest();
    self->Close();
  };
  if (head) {
    http::async_write_header(stream, *serializer, std::move(done));
  } else {
    http::async_write(stream, *serializer, std::move(done));
  }
}

void HttpServer::Impl::Session::Close() {
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(server->limits.linger);
  Linger();
}

void HttpServer::Impl::Session::Linger() {
  stream.async_read_some(asio::buffer(discard),
                         [self = shared_from_this()](const error_code& ec, size_t n) {
                           if (ec || (self->lingered += n) > kLingerBytes) {
                             return self->stream.close();
                           }
                           self->Linger();
                         });
}

bool HttpServer::Impl::Healthy() {
  caf::actor_system* sys = system.load();
  if (sys == nullptr) return true;  // still recovering: the process is alive and working
  // Every shard at once, one deadline for all.
  caf::scoped_actor self(*sys);
  for (const shard_actor& shard : state->shards) self->send(shard, health_atom::value);
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

Answer HttpServer::Impl::Route(const http::request<http::string_body>& request) {
  enum class Resource { kMetrics, kHealth, kReady };
  const std::string_view path = TargetPath(request.target());
  Resource resource;
  if (path == "/metrics") {
    resource = Resource::kMetrics;
  } else if (path == "/health" || path == "/healthz" || path == "/livez") {
    resource = Resource::kHealth;
  } else if (path == "/ready" || path == "/readyz") {
    resource = Resource::kReady;
  } else {
    return Answer{http::status::not_found, "not found: /metrics, /health, /ready\n"};
  }
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    return Answer{http::status::method_not_allowed, "method not allowed: GET or HEAD\n",
                  "text/plain", /*allow=*/true};
  }
  switch (resource) {
    case Resource::kMetrics:
      return Answer{http::status::ok, RenderMetrics(*state),
                    "text/plain; version=0.0.4; charset=utf-8"};
    case Resource::kHealth: {
      const bool ok = Healthy();
      return Answer{ok ? http::status::ok : http::status::service_unavailable,
                    ok ? "ok\n" : "shards not answering\n"};
    }
    case Resource::kReady:
      break;
  }
  const bool shutting_down = state->shutting_down.load();
  const bool ready = state->ready.load() && !shutting_down;
  return Answer{ready ? http::status::ok : http::status::service_unavailable,
                ready           ? "ready\n"
                : shutting_down ? "shutting down\n"
                                : "recovering\n"};
}

void HttpServer::Impl::Accept() {
  acceptor->async_accept(io, [this](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      std::make_shared<Session>(this, std::move(socket))->WaitForRequest();
      Accept();
      return;
    }
    // EMFILE and friends: accept again after a pause (accept_retry.h).
    accept_failures.Failed(ec);
    accept_retry.expires_after(kAcceptRetryDelay);
    accept_retry.async_wait([this](const error_code& e) {
      if (!e) Accept();
    });
  });
}

HttpServer::HttpServer(ServerState* state, HttpLimits limits)
    : impl_(std::make_unique<Impl>(state, limits)) {}

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
