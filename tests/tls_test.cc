// TLS on the data port, through the real server, the C++ client, the CLI and `openssl
// s_client`: verification of the server (CA, name), mutual TLS, the protocol floor (TLS 1.2),
// fast failure when one side speaks plaintext, and start-up errors for bad certificate flags.
// The certificates are made at test time with the openssl CLI.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "client/client.h"
#include "client/options.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace dbkv::testing {
namespace {

using Catch::Matchers::Contains;
using client::AsyncClient;
using client::Client;
using client::ClientOptions;
using Clock = std::chrono::steady_clock;

// Failing to connect must take well under this: no hang until a timeout.
constexpr auto kFast = std::chrono::seconds(2);

std::string Openssl() {
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string dirs = path;
    size_t start = 0;
    while (start <= dirs.size()) {
      size_t end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      std::string candidate = dirs.substr(start, end - start) + "/openssl";
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
  }
  return "/usr/bin/openssl";
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

void RunOpenssl(const std::vector<std::string>& args) {
  ProgramResult r = RunProgram(Openssl(), args, "", 30000);
  if (r.exit_code != 0) {
    std::string cmd = "openssl";
    for (const std::string& a : args) cmd += " " + a;
    throw std::runtime_error(cmd + " failed (" + std::to_string(r.exit_code) + "):\n" + r.out +
                             r.err);
  }
}

// A test PKI: a CA; a server certificate for localhost and 127.0.0.1; a client certificate
// from the same CA; and a client certificate from another CA. EC P-256 keys, made once.
struct Pki {
  std::string dir, ca, server_cert, server_key, client_cert, client_key, other_ca, other_cert,
      other_key;
};

const Pki& TestPki() {
  static const Pki pki = [] {
    Pki p;
    p.dir = MakeTempDir("pki");
    const std::string cnf = p.dir + "/openssl.cnf";
    WriteFile(cnf,
              "[req]\n"
              "distinguished_name = dn\n"
              "[dn]\n"
              "[ca_ext]\n"
              "basicConstraints = critical,CA:TRUE\n"
              "keyUsage = critical,keyCertSign,cRLSign\n"
              "subjectKeyIdentifier = hash\n"
              "[server_ext]\n"
              "basicConstraints = CA:FALSE\n"
              "keyUsage = critical,digitalSignature\n"
              "extendedKeyUsage = serverAuth\n"
              "subjectAltName = DNS:localhost,IP:127.0.0.1\n"
              "[client_ext]\n"
              "basicConstraints = CA:FALSE\n"
              "keyUsage = critical,digitalSignature\n"
              "extendedKeyUsage = clientAuth\n");
    auto path = [&](const std::string& name) { return p.dir + "/" + name; };
    const std::vector<std::string> new_key = {"-newkey", "ec", "-pkeyopt",
                                              "ec_paramgen_curve:prime256v1", "-nodes"};
    auto make_ca = [&](const std::string& name, const std::string& cn) {
      std::vector<std::string> args = {"req", "-x509", "-config", cnf, "-extensions", "ca_ext"};
      args.insert(args.end(), new_key.begin(), new_key.end());
      args.insert(args.end(), {"-keyout", path(name + ".key"), "-out", path(name + ".pem"), "-days",
                               "2", "-subj", "/CN=" + cn});
      RunOpenssl(args);
      return path(name + ".pem");
    };
    int serial = 1;
    auto make_leaf = [&](const std::string& name, const std::string& cn, const std::string& ca,
                         const std::string& ext) {
      std::vector<std::string> args = {"req", "-new", "-config", cnf};
      args.insert(args.end(), new_key.begin(), new_key.end());
      args.insert(args.end(), {"-keyout", path(name + ".key"), "-out", path(name + ".csr"), "-subj",
                               "/CN=" + cn});
      RunOpenssl(args);
      RunOpenssl({"x509", "-req", "-in", path(name + ".csr"), "-CA", path(ca + ".pem"), "-CAkey",
                  path(ca + ".key"), "-set_serial", std::to_string(++serial), "-days", "2",
                  "-extfile", cnf, "-extensions", ext, "-out", path(name + ".pem")});
    };
    p.ca = make_ca("ca", "data-bridge-kv test CA");
    p.other_ca = make_ca("other-ca", "some other CA");
    make_leaf("server", "localhost", "ca", "server_ext");
    make_leaf("client", "test client", "ca", "client_ext");
    make_leaf("other", "intruder", "other-ca", "client_ext");
    p.server_cert = path("server.pem");
    p.server_key = path("server.key");
    p.client_cert = path("client.pem");
    p.client_key = path("client.key");
    p.other_cert = path("other.pem");
    p.other_key = path("other.key");
    return p;
  }();
  return pki;
}

std::vector<std::string> TlsFlags(std::vector<std::string> more = {}) {
  const Pki& pki = TestPki();
  std::vector<std::string> flags = {"--tls-cert", pki.server_cert, "--tls-key", pki.server_key};
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

// TLS to server, verified against the test CA.
ClientOptions TlsOpts(const ServerProcess& server) {
  ClientOptions o = Opts(server, 10.0);
  o.tls = true;
  o.ca_file = TestPki().ca;
  return o;
}

// A call that must fail at connection level, quickly; returns the error text.
std::string ConnectionError(const ClientOptions& o) {
  Client c(o);
  const auto start = Clock::now();
  Reply r = c.Call("PING");
  const auto took = Clock::now() - start;
  INFO("PING -> " << CodeName(r.code) << " " << r.error << " after "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(r.code == Code::kIoError);
  CHECK(took < kFast);
  return r.error;
}

// The message of a server that must refuse to start with these flags.
std::string StartupError(const std::vector<std::string>& flags) {
  try {
    ServerProcess server(flags);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL("the server started");
  return "";
}

TEST_CASE("TLS: SET and GET round trip, and 1000 pipelined requests", "[integration][tls]") {
  ServerProcess server(TlsFlags({"--shards", "2"}));
  CHECK_THAT(server.Log(), Contains("with TLS"));
  Client c(TlsOpts(server));
  CHECK(Ok(c, "SET", {S("k"), S("v")}) == S("OK"));
  CHECK(Ok(c, "GET", {S("k")}) == S("v"));
  // Larger than a TLS record (16 KiB): split and reassembled both ways.
  const Value big = Value::Bytes(std::string(3 << 20, '\x5a'));
  CHECK(Ok(c, "SET", {S("big"), big}) == S("OK"));
  CHECK(Ok(c, "GET", {S("big")}) == big);

  constexpr int kRequests = 1000;
  AsyncClient ac(TlsOpts(server));
  std::mutex mu;
  std::vector<Reply> replies;
  std::promise<void> done;
  for (int i = 0; i < kRequests; ++i) {
    ac.Call("INCR", {S("n")}, [&](Reply r) {
      std::lock_guard<std::mutex> lock(mu);
      replies.push_back(std::move(r));
      if (replies.size() == kRequests) done.set_value();
    });
  }
  REQUIRE(done.get_future().wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  bool in_order = true;
  for (int i = 0; i < kRequests && in_order; ++i) {
    in_order = replies[i].ok() && replies[i].value == I(i + 1);
  }
  CHECK(in_order);
  CHECK(Ok(c, "GET", {S("n")}) == I(kRequests));
}

TEST_CASE("TLS: a plaintext client on the TLS port fails fast; TLS clients go on",
          "[integration][tls]") {
  ServerProcess server(TlsFlags());
  Client tls(TlsOpts(server));
  CHECK(Ok(tls, "SET", {S("k"), I(1)}) == S("OK"));
  for (int i = 0; i < 3; ++i) {
    const std::string error = ConnectionError(Opts(server, 30.0));
    CHECK_THAT(error, Contains("connection lost"));
  }
  CHECK(Ok(tls, "INCR", {S("k")}) == I(2));
  Client another(TlsOpts(server));
  CHECK(Ok(another, "GET", {S("k")}) == I(2));
}

TEST_CASE("TLS: a TLS client against a plaintext server fails fast", "[integration][tls]") {
  ServerProcess server;
  ClientOptions o = TlsOpts(server);
  o.timeout_s = 30;
  CHECK_THAT(ConnectionError(o), Contains("TLS handshake"));
  Client plain(Opts(server));
  CHECK(Ok(plain, "PING") == S("PONG"));
}

TEST_CASE("TLS: the server's certificate is verified against the CA and the name",
          "[integration][tls]") {
  ServerProcess server(TlsFlags());
  SECTION("without the test CA (the system's CAs only)") {
    ClientOptions o = TlsOpts(server);
    o.ca_file.clear();
    CHECK_THAT(ConnectionError(o), Contains("certificate verify failed"));
  }
  SECTION("with another CA") {
    ClientOptions o = TlsOpts(server);
    o.ca_file = TestPki().other_ca;
    CHECK_THAT(ConnectionError(o), Contains("certificate verify failed"));
  }
  SECTION("a name the certificate does not carry") {
    ClientOptions o = TlsOpts(server);
    o.server_name = "db.example.com";
    CHECK_THAT(ConnectionError(o), Contains("certificate verify failed"));
  }
  SECTION("a name it carries (DNS:localhost), or its address (IP:127.0.0.1)") {
    ClientOptions o = TlsOpts(server);
    o.server_name = "localhost";
    Client by_name(o);
    CHECK(Ok(by_name, "PING") == S("PONG"));
    Client by_address(TlsOpts(server));
    CHECK(Ok(by_address, "PING") == S("PONG"));
  }
  SECTION("a CA file that does not exist: the reason, not an OpenSSL code") {
    ClientOptions o = TlsOpts(server);
    o.ca_file = TestPki().dir + "/missing.pem";
    const std::string error = ConnectionError(o);
    CHECK_THAT(error, Contains("missing.pem") && Contains("No such file"));
  }
}

TEST_CASE("TLS: mutual TLS refuses clients without a certificate from the CA",
          "[integration][tls]") {
  const Pki& pki = TestPki();
  ServerProcess server(TlsFlags({"--tls-ca", pki.ca}));
  CHECK_THAT(server.Log(), Contains("with mutual TLS"));
  SECTION("no client certificate") {
    // With TLS 1.3 the client finishes its handshake first and learns of the refusal when it
    // reads: either way the call fails at once.
    ConnectionError(TlsOpts(server));
  }
  SECTION("a certificate from another CA") {
    ClientOptions o = TlsOpts(server);
    o.cert_file = pki.other_cert;
    o.key_file = pki.other_key;
    ConnectionError(o);
  }
  SECTION("the right certificate") {
    ClientOptions o = TlsOpts(server);
    o.cert_file = pki.client_cert;
    o.key_file = pki.client_key;
    Client c(o);
    CHECK(Ok(c, "SET", {S("k"), S("v")}) == S("OK"));
    CHECK(Ok(c, "GET", {S("k")}) == S("v"));
  }
  // Refused clients do not disturb the server.
  ClientOptions o = TlsOpts(server);
  o.cert_file = pki.client_cert;
  o.key_file = pki.client_key;
  Client c(o);
  CHECK(Ok(c, "PING") == S("PONG"));
}

TEST_CASE("TLS: 1.1 is refused, 1.2 and 1.3 are accepted", "[integration][tls]") {
  const Pki& pki = TestPki();
  ServerProcess server(TlsFlags());
  const std::string address = "127.0.0.1:" + std::to_string(server.port());
  auto s_client = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"s_client", "-connect", address, "-CAfile", pki.ca});
    // stdin closed: s_client handshakes, then leaves.
    ProgramResult r = RunProgram(Openssl(), args, "", 20000);
    UNSCOPED_INFO("openssl s_client exit " << r.exit_code << "\nstdout: " << r.out
                                           << "\nstderr: " << r.err);
    return r;
  };
  // SECLEVEL=0 lets this OpenSSL offer TLS 1.1 at all: the refusal is the server's.
  ProgramResult old = s_client({"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"});
  CHECK(old.exit_code != 0);
  CHECK_THAT(old.err, Contains("alert protocol version"));

  for (const auto& [flag, protocol] :
       {std::pair<std::string, std::string>{"-tls1_2", "TLSv1.2"}, {"-tls1_3", "TLSv1.3"}}) {
    ProgramResult ok = s_client({flag, "-verify_return_error"});
    CHECK(ok.exit_code == 0);
    CHECK_THAT(ok.out, Contains("Protocol  : " + protocol) || Contains("New, " + protocol));
    CHECK_THAT(ok.out, Contains("Verify return code: 0 (ok)"));
  }
  Client c(TlsOpts(server));
  CHECK(Ok(c, "PING") == S("PONG"));
}

TEST_CASE("TLS: bad certificate flags stop the server at start-up with a clear message",
          "[integration][tls]") {
  const Pki& pki = TestPki();
  CHECK_THAT(StartupError({"--tls-cert", pki.server_cert}),
             Contains("--tls-cert and --tls-key go together"));
  CHECK_THAT(StartupError({"--tls-key", pki.server_key}),
             Contains("--tls-cert and --tls-key go together"));
  CHECK_THAT(StartupError({"--tls-ca", pki.ca}), Contains("--tls-ca needs --tls-cert"));
  const std::string missing = pki.dir + "/no-such-cert.pem";
  CHECK_THAT(StartupError({"--tls-cert", missing, "--tls-key", pki.server_key}),
             Contains("--tls-cert " + missing + ": No such file or directory"));
  CHECK_THAT(StartupError({"--tls-cert", pki.server_cert, "--tls-key", missing}),
             Contains("--tls-key " + missing + ": No such file or directory"));
  CHECK_THAT(StartupError(TlsFlags({"--tls-ca", missing})),
             Contains("--tls-ca " + missing + ": No such file or directory"));
  const std::string garbage = pki.dir + "/garbage.pem";
  WriteFile(garbage, "not a certificate\n");
  CHECK_THAT(StartupError({"--tls-cert", garbage, "--tls-key", pki.server_key}),
             Contains("--tls-cert " + garbage + ":"));
  // The client's key with the server's certificate.
  CHECK_THAT(StartupError({"--tls-cert", pki.server_cert, "--tls-key", pki.client_key}),
             Contains("--tls-key") && (Contains("mismatch") || Contains("does not match")));
}

TEST_CASE("TLS: the CLI connects with --cacert and explains why it cannot without",
          "[integration][tls][cli]") {
  const Pki& pki = TestPki();
  ServerProcess server(TlsFlags());
  const std::string port = std::to_string(server.port());
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"-p", port});
    ProgramResult r = RunProgram(RunfilePath("tools/data-bridge-kv-cli"), args, "", 20000);
    UNSCOPED_INFO("cli exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err);
    return r;
  };
  ProgramResult set = cli({"--cacert", pki.ca, "SET", "k", "hello"});
  CHECK(set.exit_code == 0);
  CHECK(set.out == "OK\n");
  ProgramResult get = cli({"--cacert", pki.ca, "--sni", "localhost", "GET", "k"});
  CHECK(get.exit_code == 0);
  CHECK(get.out == "\"hello\"\n");

  ProgramResult no_ca = cli({"--tls", "GET", "k"});
  CHECK(no_ca.exit_code == 1);
  CHECK_THAT(no_ca.out + no_ca.err, Contains("TLS handshake") && Contains("certificate verify"));
  ProgramResult plain = cli({"GET", "k"});
  CHECK(plain.exit_code == 1);
  CHECK_THAT(plain.out + plain.err, Contains("connection lost"));
  ProgramResult wrong_name = cli({"--cacert", pki.ca, "--sni", "elsewhere.example", "GET", "k"});
  CHECK(wrong_name.exit_code == 1);
  CHECK_THAT(wrong_name.out + wrong_name.err, Contains("certificate verify"));
}

TEST_CASE("TLS: AUTH works over TLS", "[integration][tls]") {
  const std::string dir = MakeTempDir("auth");
  const std::string password_file = dir + "/password";
  WriteFile(password_file, "tls-and-a-password\n");
  ServerProcess server(TlsFlags({"--password-file", password_file}));

  ClientOptions with_password = TlsOpts(server);
  with_password.password = "tls-and-a-password";
  Client c(with_password);
  CHECK(Ok(c, "SET", {S("k"), S("v")}) == S("OK"));

  ClientOptions wrong = TlsOpts(server);
  wrong.password = "not-it";
  Client w(wrong);
  CHECK(w.Call("GET", {S("k")}).code == Code::kAuth);

  Client later(TlsOpts(server));
  CHECK(Err(later, "GET", {S("k")}).code == Code::kAuth);
  CHECK(Ok(later, "AUTH", {S("tls-and-a-password")}) == S("OK"));
  CHECK(Ok(later, "GET", {S("k")}) == S("v"));
}

TEST_CASE("TLS: RESP clients speak TLS on the same port (redis-cli --tls)",
          "[integration][tls][resp]") {
  const std::string dir = MakeTempDir("resp-tls");
  const std::string password_file = dir + "/password";
  WriteFile(password_file, "resp-pw\n");
  ServerProcess server(TlsFlags({"--password-file", password_file}));
  const Pki& pki = TestPki();
  std::string redis_cli = "/usr/bin/redis-cli";
  if (access(redis_cli.c_str(), X_OK) != 0) FAIL("redis-cli not found: run scripts/setup.sh");
  auto cli = [&](std::vector<std::string> args) {
    std::vector<std::string> all = {"--tls",
                                    "--cacert",
                                    pki.ca,
                                    "-h",
                                    "127.0.0.1",
                                    "-p",
                                    std::to_string(server.port()),
                                    "--no-auth-warning",
                                    "-a",
                                    "resp-pw"};
    all.insert(all.end(), args.begin(), args.end());
    return RunProgram(redis_cli, all, "", 30000);
  };
  ProgramResult set = cli({"SET", "k", "over tls"});
  INFO(set.out << set.err);
  CHECK(set.out == "OK\n");
  CHECK(cli({"GET", "k"}).out == "over tls\n");
  CHECK(cli({"-3", "--no-raw", "HELLO", "3"}).exit_code == 0);
  // The binary client reads what RESP wrote over TLS.
  ClientOptions o = TlsOpts(server);
  o.password = "resp-pw";
  Client c(o);
  CHECK(Ok(c, "GET", {S("k")}) == Value::Bytes("over tls"));
}

}  // namespace
}  // namespace dbkv::testing
