// data-bridge-kv-bench: a closed-loop load generator for our protocol (kv://) and RESP
// (redis://), one engine for both: the same connections, pipeline depth and threads.
//
//   data-bridge-kv-bench --url kv://127.0.0.1:7379 --connections 50 --pipeline 16
//       --workload get --duration 10 --json
//
// With --server-pid it also reads the server's CPU time (/proc/PID/stat) over the measured
// window and reports CPU microseconds per operation. With --tls (or a kvs:// / rediss:// URL)
// every connection speaks TLS 1.2 or newer, the server verified against --tls-ca (or the
// system's CAs) and its name, unless --tls-insecure.
#include <openssl/ssl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench/codec.h"
#include "bench/histogram.h"
#include "core/clock.h"

namespace dbkv::bench {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

struct Config {
  std::string url = "kv://127.0.0.1:7379";
  bool resp = false;
  std::string host;
  std::string port;
  int connections = 50;
  int pipeline = 1;
  int threads = 1;
  double duration_s = 10;
  double warmup_s = 1;
  uint64_t requests = 0;
  std::string workload = "get";
  int read_pct = 100;
  size_t value_size = 100;
  uint64_t keys = 100000;
  int64_t ttl_s = 0;
  std::string password;
  bool tls = false;
  std::string tls_ca;           // CA bundle to verify the server with (empty: the system's)
  std::string tls_cert;         // client certificate (mutual TLS)
  std::string tls_key;          // its key (empty: in tls_cert)
  std::string tls_server_name;  // name to verify and send as SNI (empty: host)
  bool tls_insecure = false;    // do not verify the server's certificate
  bool json = false;
  bool no_preload = false;
  int server_pid = 0;
};

std::unique_ptr<Codec> MakeCodec(const Config& c) {
  if (c.resp) return std::make_unique<RespCodec>();
  return std::make_unique<KvCodec>();
}

std::string Key(uint64_t n) { return "key:" + std::to_string(n); }

// TLS 1.2 or newer, verifying the server unless --tls-insecure; a client certificate for
// mutual TLS. Throws with the reason if a file cannot be used.
std::unique_ptr<asio::ssl::context> MakeTlsContext(const Config& c) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  error_code ec;
  if (c.tls_insecure) {
    ctx->set_verify_mode(asio::ssl::verify_none);
  } else {
    if (c.tls_ca.empty()) {
      ctx->set_default_verify_paths(ec);
    } else {
      ctx->load_verify_file(c.tls_ca, ec);
    }
    if (ec) throw std::runtime_error("--tls-ca " + c.tls_ca + ": " + ec.message());
    ctx->set_verify_mode(asio::ssl::verify_peer);
  }
  if (!c.tls_cert.empty()) {
    ctx->use_certificate_chain_file(c.tls_cert, ec);
    if (ec) throw std::runtime_error("--tls-cert " + c.tls_cert + ": " + ec.message());
    const std::string& key = c.tls_key.empty() ? c.tls_cert : c.tls_key;
    ctx->use_private_key_file(key, asio::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("--tls-key " + key + ": " + ec.message());
  }
  return ctx;
}

// A connection to the server, plain TCP or TLS over it: the same calls for both.
class Stream {
 public:
  Stream(asio::io_context& io, asio::ssl::context* tls) : socket_(io) {
    if (tls != nullptr) tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *tls);
  }

  // Connects, and with TLS shakes hands (blocking). Throws on failure.
  void Connect(const tcp::resolver::results_type& endpoints, const Config& c) {
    asio::connect(socket_, endpoints);
    socket_.set_option(tcp::no_delay(true));
    if (tls_ == nullptr) return;
    const std::string& name = c.tls_server_name.empty() ? c.host : c.tls_server_name;
    SSL_set_tlsext_host_name(tls_->native_handle(), name.c_str());
    if (!c.tls_insecure) tls_->set_verify_callback(asio::ssl::host_name_verification(name));
    error_code ec;
    tls_->handshake(asio::ssl::stream_base::client, ec);
    if (ec) throw std::runtime_error("TLS handshake failed: " + ec.message());
  }

  template <typename Handler>
  void AsyncWrite(asio::const_buffer b, Handler&& h) {
    if (tls_ != nullptr) {
      asio::async_write(*tls_, b, std::forward<Handler>(h));
    } else {
      asio::async_write(socket_, b, std::forward<Handler>(h));
    }
  }

  template <typename Handler>
  void AsyncReadSome(asio::mutable_buffer b, Handler&& h) {
    if (tls_ != nullptr) {
      tls_->async_read_some(b, std::forward<Handler>(h));
    } else {
      socket_.async_read_some(b, std::forward<Handler>(h));
    }
  }

  void Write(asio::const_buffer b) {
    if (tls_ != nullptr) {
      asio::write(*tls_, b);
    } else {
      asio::write(socket_, b);
    }
  }

  size_t ReadSome(asio::mutable_buffer b) {
    return tls_ != nullptr ? tls_->read_some(b) : socket_.read_some(b);
  }

 private:
  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
};

struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<bool> recording{false};
  std::atomic<uint64_t> issued{0};
  std::atomic<uint64_t> errors{0};
  std::string first_error;
  std::mutex error_mu;
};

// Per-thread counters, read by the main thread.
struct alignas(64) WorkerStats {
  std::atomic<uint64_t> done{0};
  Histogram hist;  // written by its worker while recording; read after the workers stop
};

class Conn {
 public:
  Conn(asio::io_context& io, asio::ssl::context* tls, const Config& cfg, Shared* shared,
       WorkerStats* stats, uint32_t seed)
      : cfg_(cfg),
        shared_(shared),
        stats_(stats),
        stream_(io, tls),
        codec_(MakeCodec(cfg)),
        rng_(seed) {
    value_.assign(cfg.value_size, 'x');
  }

  void Start(const tcp::resolver::results_type& endpoints) {
    stream_.Connect(endpoints, cfg_);
    handshake_ = codec_->Handshake(&out_, cfg_.password);
    for (int i = 0; i < handshake_; ++i) sent_.push_back(0);
    Issue(cfg_.pipeline);
    rbuf_.resize(256 * 1024);
    Read();
  }

 private:
  void Issue(int n) {
    for (int i = 0; i < n; ++i) {
      if (shared_->stop.load(std::memory_order_relaxed)) break;
      if (cfg_.requests != 0 &&
          shared_->issued.fetch_add(1, std::memory_order_relaxed) >= cfg_.requests) {
        shared_->stop.store(true);
        break;
      }
      const std::string key = Key(key_dist_(rng_) % cfg_.keys);
      const bool read = cfg_.read_pct >= 100 || (cfg_.read_pct > 0 && pct_(rng_) < cfg_.read_pct);
      if (read) {
        codec_->Get(&out_, key);
      } else {
        codec_->Set(&out_, key, value_, cfg_.ttl_s);
      }
      sent_.push_back(MonotonicNs());
    }
    Write();
  }

  void Write() {
    if (writing_ || out_.empty()) return;
    wbuf_.swap(out_);
    out_.clear();
    writing_ = true;
    stream_.AsyncWrite(asio::buffer(wbuf_), [this](const error_code& ec, size_t) {
      writing_ = false;
      wbuf_.clear();
      if (ec) return Fail("write: " + ec.message());
      Write();
    });
  }

  void Read() {
    stream_.AsyncReadSome(asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_),
                          [this](const error_code& ec, size_t n) {
                            if (ec) return Fail("read: " + ec.message());
                            rend_ += n;
                            OnData();
                          });
  }

  void OnData() {
    size_t pos = 0;
    int completed = 0;
    const int64_t now = MonotonicNs();
    const bool recording = shared_->recording.load(std::memory_order_relaxed);
    while (pos < rend_) {
      ReplyKind kind;
      std::string err;
      int64_t len = codec_->ParseReply({rbuf_.data() + pos, rend_ - pos}, &kind, &err);
      if (len < 0) return Fail("bad reply: " + err);
      if (len == 0) break;
      pos += static_cast<size_t>(len);
      if (sent_.empty()) return Fail("reply without a request");
      const int64_t t = sent_.front();
      sent_.pop_front();
      if (kind == ReplyKind::kError) {
        shared_->errors.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard<std::mutex> lock(shared_->error_mu);
        if (shared_->first_error.empty()) shared_->first_error = err;
      }
      if (t == 0) continue;  // handshake
      ++completed;
      if (recording) stats_->hist.Record(static_cast<uint64_t>(now - t));
    }
    if (pos > 0) {
      std::memmove(rbuf_.data(), rbuf_.data() + pos, rend_ - pos);
      rend_ -= pos;
    }
    if (rend_ == rbuf_.size()) rbuf_.resize(rbuf_.size() * 2);
    stats_->done.fetch_add(static_cast<uint64_t>(completed), std::memory_order_relaxed);
    if (completed > 0) Issue(completed);
    if (!sent_.empty() || !shared_->stop.load(std::memory_order_relaxed)) Read();
  }

  void Fail(const std::string& what) {
    if (shared_->stop.load()) return;  // connections closing at the end
    std::lock_guard<std::mutex> lock(shared_->error_mu);
    if (shared_->first_error.empty()) shared_->first_error = what;
    shared_->errors.fetch_add(1);
  }

  const Config& cfg_;
  Shared* shared_;
  WorkerStats* stats_;
  Stream stream_;
  std::unique_ptr<Codec> codec_;
  std::mt19937_64 rng_;
  std::uniform_int_distribution<uint64_t> key_dist_;
  std::uniform_int_distribution<int> pct_{0, 99};
  std::string value_;
  std::string out_, wbuf_;
  std::vector<char> rbuf_;
  size_t rend_ = 0;
  std::deque<int64_t> sent_;
  bool writing_ = false;
  int handshake_ = 0;
};

// CPU seconds (user + system) of a process, from /proc/PID/stat.
double ProcessCpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Writes keys c, c + step, c + 2 * step, ... on one connection, pipelined. Throws on a
// connection failure or an error reply.
void PreloadPart(const Config& cfg, asio::ssl::context* tls,
                 const tcp::resolver::results_type& endpoints, uint64_t c, uint64_t step) {
  asio::io_context io;
  Stream s(io, tls);
  s.Connect(endpoints, cfg);
  auto codec = MakeCodec(cfg);
  std::string out;
  int expect = codec->Handshake(&out, cfg.password);
  const std::string value(cfg.value_size, 'x');
  std::vector<char> in(1 << 20);
  size_t have = 0;
  auto drain = [&](int n) {
    while (n > 0) {
      size_t pos = 0;
      ReplyKind kind;
      std::string err;
      while (n > 0) {
        int64_t len = codec->ParseReply({in.data() + pos, have - pos}, &kind, &err);
        if (len < 0) throw std::runtime_error("bad reply: " + err);
        if (len == 0) break;
        if (kind == ReplyKind::kError) throw std::runtime_error("error reply: " + err);
        pos += static_cast<size_t>(len);
        --n;
      }
      std::memmove(in.data(), in.data() + pos, have - pos);
      have -= pos;
      if (n == 0) break;
      if (have == in.size()) in.resize(in.size() * 2);
      have += s.ReadSome(asio::buffer(in.data() + have, in.size() - have));
    }
  };
  for (uint64_t k = c; k < cfg.keys; k += step) {
    codec->Set(&out, Key(k), value, cfg.ttl_s);
    if (++expect >= 256) {
      s.Write(asio::buffer(out));
      out.clear();
      drain(expect);
      expect = 0;
    }
  }
  if (!out.empty()) s.Write(asio::buffer(out));
  drain(expect);
}

// Writes every key once (pipelined, on several connections) so that GETs hit.
void Preload(const Config& cfg, asio::ssl::context* tls,
             const tcp::resolver::results_type& endpoints) {
  const int conns = std::max(1, std::min(cfg.connections, 8));
  std::vector<std::thread> threads;
  std::mutex error_mu;
  std::string error;
  threads.reserve(conns);
  for (int c = 0; c < conns; ++c) {
    threads.emplace_back([&, c] {
      try {
        PreloadPart(cfg, tls, endpoints, static_cast<uint64_t>(c), static_cast<uint64_t>(conns));
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (error.empty()) error = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!error.empty()) throw std::runtime_error("preload failed: " + error);
}

int Main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"data-bridge-kv-bench: closed-loop load for kv:// (our protocol) and redis://"};
  app.add_option("--url", cfg.url,
                 "kv://host:port or redis://host:port (kvs:// and rediss://: with TLS)")
      ->capture_default_str();
  app.add_option("--connections,-c", cfg.connections, "connections")->capture_default_str();
  app.add_option("--pipeline,-P", cfg.pipeline, "requests in flight per connection")
      ->capture_default_str();
  app.add_option("--threads,-t", cfg.threads, "load generator threads")->capture_default_str();
  app.add_option("--duration,-d", cfg.duration_s, "measured seconds")->capture_default_str();
  app.add_option("--warmup", cfg.warmup_s, "seconds of load before measuring")
      ->capture_default_str();
  app.add_option("--requests,-n", cfg.requests, "stop after this many requests (0: --duration)");
  app.add_option("--workload,-w", cfg.workload, "get | set | mixed:<read%>")->capture_default_str();
  app.add_option("--value-size,-s", cfg.value_size, "value bytes")->capture_default_str();
  app.add_option("--keys,-k", cfg.keys, "key space (pre-loaded for reads)")->capture_default_str();
  app.add_option("--ttl", cfg.ttl_s, "seconds of TTL on every SET (0: none)");
  app.add_option("--password,-a", cfg.password, "password (AUTH)");
  app.add_flag("--tls", cfg.tls, "connect with TLS (1.2 or newer)");
  app.add_option("--tls-ca", cfg.tls_ca,
                 "PEM CA bundle to verify the server with (default: the "
                 "system's)");
  app.add_option("--tls-cert", cfg.tls_cert, "PEM client certificate, for mutual TLS");
  app.add_option("--tls-key", cfg.tls_key, "PEM key of --tls-cert (default: in --tls-cert)");
  app.add_option("--tls-server-name", cfg.tls_server_name,
                 "name to verify the server's certificate against, and to send as SNI (default: "
                 "the URL's host)");
  app.add_flag("--tls-insecure", cfg.tls_insecure, "do not verify the server's certificate");
  app.add_flag("--no-preload", cfg.no_preload, "do not write the key space before reading");
  app.add_option("--server-pid", cfg.server_pid, "report this process's CPU time per operation");
  app.add_flag("--json", cfg.json, "print one JSON object as the last line");
  CLI11_PARSE(app, argc, argv);

  std::string rest;
  const size_t scheme_end = cfg.url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : cfg.url.substr(0, scheme_end);
  if (scheme == "redis" || scheme == "rediss") {
    cfg.resp = true;
  } else if (scheme != "kv" && scheme != "kvs") {
    std::fprintf(stderr, "--url must start with kv://, kvs://, redis:// or rediss://\n");
    return 2;
  }
  if (scheme == "kvs" || scheme == "rediss") cfg.tls = true;
  rest = cfg.url.substr(scheme_end + 3);
  const bool tls_options = !cfg.tls_ca.empty() || !cfg.tls_cert.empty() || !cfg.tls_key.empty() ||
                           !cfg.tls_server_name.empty() || cfg.tls_insecure;
  if (tls_options && !cfg.tls) {
    std::fprintf(stderr, "--tls-* options need --tls (or a kvs:// / rediss:// URL)\n");
    return 2;
  }
  const size_t colon = rest.rfind(':');
  cfg.host = rest.substr(0, colon);
  cfg.port = colon == std::string::npos ? (cfg.resp ? "6379" : "7379") : rest.substr(colon + 1);
  if (cfg.workload == "get") {
    cfg.read_pct = 100;
  } else if (cfg.workload == "set") {
    cfg.read_pct = 0;
  } else if (cfg.workload.rfind("mixed:", 0) == 0) {
    cfg.read_pct = std::stoi(cfg.workload.substr(6));
  } else {
    std::fprintf(stderr, "--workload: get, set or mixed:<read%%>\n");
    return 2;
  }
  if (cfg.keys == 0 || cfg.connections < 1 || cfg.pipeline < 1 || cfg.threads < 1) {
    std::fprintf(stderr, "--keys, --connections, --pipeline and --threads must be positive\n");
    return 2;
  }

  std::unique_ptr<asio::ssl::context> tls;
  if (cfg.tls) tls = MakeTlsContext(cfg);
  asio::io_context resolver_io;
  tcp::resolver resolver(resolver_io);
  auto endpoints = resolver.resolve(cfg.host, cfg.port);
  if (cfg.read_pct > 0 && !cfg.no_preload) Preload(cfg, tls.get(), endpoints);

  Shared shared;
  const int nthreads = std::min(cfg.threads, cfg.connections);
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<std::unique_ptr<WorkerStats>> stats;
  std::vector<std::unique_ptr<Conn>> conns;
  for (int t = 0; t < nthreads; ++t) {
    ios.push_back(std::make_unique<asio::io_context>(1));
    stats.push_back(std::make_unique<WorkerStats>());
  }
  for (int c = 0; c < cfg.connections; ++c) {
    conns.push_back(std::make_unique<Conn>(*ios[c % nthreads], tls.get(), cfg, &shared,
                                           stats[c % nthreads].get(),
                                           static_cast<uint32_t>(c * 7919 + 1)));
    conns.back()->Start(endpoints);
  }
  std::vector<std::thread> workers;
  workers.reserve(nthreads);
  for (int t = 0; t < nthreads; ++t) workers.emplace_back([&, t] { ios[t]->run(); });

  auto total_done = [&] {
    uint64_t n = 0;
    for (auto& s : stats) n += s->done.load(std::memory_order_relaxed);
    return n;
  };
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  // Warm-up, then the measured window.
  while (cfg.requests == 0 && clock::now() - t0 < std::chrono::duration<double>(cfg.warmup_s) &&
         !shared.stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  shared.recording = true;
  const auto start = clock::now();
  const uint64_t done0 = total_done();
  const double cpu0 = cfg.server_pid > 0 ? ProcessCpuSeconds(cfg.server_pid) : 0;
  auto last = start;
  uint64_t last_done = done0;
  while (!shared.stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto now = clock::now();
    if (cfg.requests == 0 && now - start >= std::chrono::duration<double>(cfg.duration_s)) break;
    if (now - last >= std::chrono::seconds(1)) {
      uint64_t d = total_done();
      std::fprintf(
          stderr, "\r%s %s: %.0f ops/s  ", cfg.url.c_str(), cfg.workload.c_str(),
          static_cast<double>(d - last_done) / std::chrono::duration<double>(now - last).count());
      last = now;
      last_done = d;
    }
  }
  const uint64_t done1 = total_done();
  const auto end = clock::now();
  const double cpu1 = cfg.server_pid > 0 ? ProcessCpuSeconds(cfg.server_pid) : 0;
  shared.recording = false;
  shared.stop = true;
  for (auto& io : ios) io->stop();
  for (auto& w : workers) w.join();
  std::fprintf(stderr, "\r%*s\r", 60, "");

  Histogram h;
  for (auto& s : stats) h.Merge(s->hist);
  const double secs = std::chrono::duration<double>(end - start).count();
  const uint64_t ops = done1 - done0;
  const double ops_per_sec = static_cast<double>(ops) / secs;
  const double cpu = cpu1 - cpu0;
  const double cpu_us_per_op = ops > 0 ? cpu * 1e6 / static_cast<double>(ops) : 0;
  std::printf(
      "%s %s: %d conns, pipeline %d, %zu B values: %.0f ops/s, p50 %.1f us, p99 %.1f us, "
      "p99.9 %.1f us, errors %llu",
      cfg.url.c_str(), cfg.workload.c_str(), cfg.connections, cfg.pipeline, cfg.value_size,
      ops_per_sec, h.Quantile(0.5) / 1e3, h.Quantile(0.99) / 1e3, h.Quantile(0.999) / 1e3,
      static_cast<unsigned long long>(shared.errors.load()));
  if (cfg.server_pid > 0) std::printf(", server CPU %.2f us/op", cpu_us_per_op);
  std::printf("\n");
  if (!shared.first_error.empty()) std::printf("first error: %s\n", shared.first_error.c_str());
  if (cfg.json) {
    std::printf(
        "{\"url\":\"%s\",\"protocol\":\"%s\",\"tls\":%s,\"workload\":\"%s\",\"connections\":%d,"
        "\"pipeline\":%d,\"threads\":%d,\"value_size\":%zu,\"keys\":%llu,\"ops\":%llu,"
        "\"seconds\":%.3f,\"ops_per_sec\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
        "\"p999_us\":%.1f,\"max_us\":%.1f,\"errors\":%llu,\"server_cpu_s\":%.3f,"
        "\"server_cpu_us_per_op\":%.3f}\n",
        cfg.url.c_str(), cfg.resp ? "resp" : "kv", cfg.tls ? "true" : "false", cfg.workload.c_str(),
        cfg.connections, cfg.pipeline, nthreads, cfg.value_size,
        static_cast<unsigned long long>(cfg.keys), static_cast<unsigned long long>(ops), secs,
        ops_per_sec, h.Quantile(0.5) / 1e3, h.Quantile(0.99) / 1e3, h.Quantile(0.999) / 1e3,
        h.Quantile(1.0) / 1e3, static_cast<unsigned long long>(shared.errors.load()), cpu,
        cpu_us_per_op);
  }
  return shared.errors.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace dbkv::bench

int main(int argc, char** argv) {
  try {
    return dbkv::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "data-bridge-kv-bench: %s\n", e.what());
    return 1;
  }
}
