// The client's connection handshake against a fake server that counts what it receives: one
// connect is exactly one HELLO, whether it comes from Connect(), a first call, or both at once.
#include "client/client.h"

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "protocol/frame.h"
#include "protocol/opcodes.h"
#include "protocol/wire_format.h"

namespace dbkv::client {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

// Answers HELLO (checking AUTH against `password`, if set), PING with PONG and anything else
// with OK; counts HELLOs, wrong passwords and connections. A wrong password is answered with
// an AUTH error, as the real server does.
class FakeServer {
 public:
  explicit FakeServer(std::string password = "")
      : password_(std::move(password)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeServer() {
    io_.stop();
    thread_.join();
  }

  ClientOptions Options() const {
    ClientOptions o;
    o.host = "127.0.0.1";
    o.port = acceptor_.local_endpoint().port();
    o.timeout_s = 5;
    o.connect_timeout_s = 5;
    return o;
  }

  std::atomic<int> hellos{0};
  std::atomic<int> auth_failures{0};
  std::atomic<int> connections{0};
  std::atomic<int> others{0};

 private:
  struct Conn : std::enable_shared_from_this<Conn> {
    Conn(tcp::socket s, FakeServer* server) : socket(std::move(s)), server(server) {}
    void Read() {
      socket.async_read_some(asio::buffer(chunk),
                             [self = shared_from_this()](const error_code& ec, size_t n) {
                               if (ec) return;
                               self->in.append(self->chunk, n);
                               if (self->Process()) self->Read();
                             });
    }
    bool Process() {
      for (;;) {
        protocol::FrameView frame;
        Status error;
        auto r = protocol::SplitFrame(in, protocol::kAbsoluteMaxFrameBytes, &frame, &error);
        if (r == protocol::SplitResult::kNeedMore) return true;
        if (r == protocol::SplitResult::kError) return false;
        protocol::Request req;
        Status s = protocol::DecodeRequest(frame, &req);
        in.erase(0, frame.size());
        std::string out;
        protocol::AppendResponse(&out, req.id, s.ok() ? server->Handle(req) : Reply::Error(s));
        error_code ec;
        asio::write(socket, asio::buffer(out), ec);
        if (ec) return false;
      }
    }
    tcp::socket socket;
    FakeServer* server;
    char chunk[4096]{};
    std::string in;
  };

  Reply Handle(const protocol::Request& req) {
    if (req.opcode == protocol::op::kHello) {
      ++hellos;
      std::string given;
      for (size_t i = 1; i + 1 < req.argv.size(); ++i) {
        if (req.argv[i].AsStringView() == "AUTH")
          given = std::string(req.argv[i + 1].AsStringView());
      }
      if (!password_.empty() && given != password_) {
        ++auth_failures;
        return Reply::Error(Code::kAuth,
                            given.empty() ? "authentication required" : "wrong password");
      }
      return Reply::Ok();
    }
    ++others;
    if (req.opcode == protocol::op::ForName("PING")) return Reply::Simple("PONG");
    return Reply::Ok();
  }

  void Accept() {
    acceptor_.async_accept([this](const error_code& ec, tcp::socket s) {
      if (ec) return;
      ++connections;
      std::make_shared<Conn>(std::move(s), this)->Read();
      Accept();
    });
  }

  std::string password_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

TEST_CASE("Connect() sends exactly one HELLO", "[client][handshake]") {
  FakeServer server;
  Client c(server.Options());
  REQUIRE(c.Connect().ok());
  CHECK(server.hellos.load() == 1);
  CHECK(server.others.load() == 0);
  // Connected already: nothing more is sent.
  REQUIRE(c.Connect().ok());
  CHECK(c.Call("PING").value.AsStringView() == "PONG");
  REQUIRE(c.Connect().ok());
  CHECK(server.hellos.load() == 1);
  CHECK(server.others.load() == 1);
  CHECK(server.connections.load() == 1);
}

TEST_CASE("a first call and Connect() share the handshake", "[client][handshake]") {
  FakeServer server;
  Client c(server.Options());
  CHECK(c.Call("PING").ok());
  REQUIRE(c.Connect().ok());
  CHECK(server.hellos.load() == 1);

  // Many threads connecting at once: still one connection, one HELLO.
  FakeServer server2;
  Client c2(server2.Options());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  threads.reserve(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { ok += c2.Connect().ok() ? 1 : 0; });
  }
  for (auto& t : threads) t.join();
  CHECK(ok.load() == 8);
  CHECK(server2.hellos.load() == 1);
  CHECK(server2.connections.load() == 1);
}

TEST_CASE("a wrong password fails Connect() once", "[client][handshake]") {
  FakeServer server("right");
  ClientOptions o = server.Options();
  o.password = "wrong";
  Client c(o);
  Status s = c.Connect();
  CHECK(s.code() == Code::kAuth);
  CHECK(s.message() == "wrong password");
  CHECK(server.hellos.load() == 1);
  CHECK(server.auth_failures.load() == 1);

  o.password = "right";
  Client good(o);
  CHECK(good.Connect().ok());
  CHECK(server.hellos.load() == 2);
  CHECK(server.auth_failures.load() == 1);
}

TEST_CASE("without a password, Connect() reports NOAUTH and asks again later",
          "[client][handshake]") {
  FakeServer server("secret");
  Client c(server.Options());
  CHECK(c.Connect().code() == Code::kAuth);
  CHECK(server.hellos.load() == 1);
  // The connection stays (the caller may AUTH by hand): a second Connect() asks the server
  // again rather than waiting for a handshake that already happened.
  CHECK(c.Connect().code() == Code::kAuth);
  CHECK(server.hellos.load() == 2);
  CHECK(server.connections.load() == 1);
}

TEST_CASE("Connect() after a disconnect handshakes once more", "[client][handshake]") {
  FakeServer server;
  Client c(server.Options());
  REQUIRE(c.Connect().ok());
  c.async().Disconnect();
  // The disconnect runs on the I/O thread; wait for it to close the connection.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  Status s;
  while ((s = c.Connect()).ok() && server.connections < 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(c.Connect().ok());
  CHECK(server.connections.load() == 2);
  CHECK(server.hellos.load() == 2);
}

TEST_CASE("Connect() to a closed port fails fast with the connection error",
          "[client][handshake]") {
  ClientOptions o;
  {
    FakeServer server;
    o = server.Options();
  }  // the port is closed now
  Client c(o);
  const auto start = std::chrono::steady_clock::now();
  Status s = c.Connect();
  CHECK(s.code() == Code::kIoError);
  CHECK_THAT(s.message(), Catch::Matchers::Contains("cannot connect"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
}

TEST_CASE("clients sharing a running io_context are destroyed while it runs", "[client][io]") {
  FakeServer server;
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread thread([&io] { io.run(); });
  constexpr int kClients = 20;
  std::atomic<int> answered{0}, failed{0};
  for (int i = 0; i < kClients; ++i) {
    Client c(server.Options(), &io);
    if (i % 2 == 0) {
      REQUIRE(c.Connect().ok());
      CHECK(c.Call("PING").value.AsStringView() == "PONG");
    }
    // In flight (or not even connected yet) when the client goes: answered or failed, once.
    c.async().Call("PING", {}, [&](const Reply& r) { ++(r.ok() ? answered : failed); });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (answered + failed < kClients && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  INFO(answered << " answered, " << failed << " failed");
  CHECK(answered.load() + failed.load() == kClients);
  // The io_context (one thread) served them all, and still runs for a new client.
  Client after(server.Options(), &io);
  CHECK(after.Connect().ok());
  work.reset();
  io.stop();
  thread.join();
  CHECK(server.hellos.load() <= kClients + 1);
}

}  // namespace
}  // namespace dbkv::client
