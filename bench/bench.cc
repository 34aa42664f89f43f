// data-bridge-kv-bench: a closed-loop load generator for our protocol (kv://) and RESP
// (redis://), one engine for both: the same connections, pipeline depth and threads.
//
//   data-bridge-kv-bench --url kv://127.0.0.1:7379 --connections 50 --pipeline 16 \
//       --workload get --duration 10 --json
//
// With --server-pid it also reads the server's CPU time (/proc/PID/stat) over the measured
// window and reports CPU microseconds per operation.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
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
  bool json = false;
  bool no_preload = false;
  int server_pid = 0;
};

std::unique_ptr<Codec> MakeCodec(const Config& c) {
  if (c.resp) return std::make_unique<RespCodec>();
  return std::make_unique<KvCodec>();
}

std::string Key(uint64_t n) { return "key:" + std::to_string(n); }

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
  Conn(asio::io_context& io, const Config& cfg, Shared* shared, WorkerStats* stats, uint32_t seed)
      : cfg_(cfg), shared_(shared), stats_(stats), socket_(io), codec_(MakeCodec(cfg)), rng_(seed) {
    value_.assign(cfg.value_size, 'x');
  }

  void Start(const tcp::resolver::results_type& endpoints) {
    asio::connect(socket_, endpoints);
    socket_.set_option(tcp::no_delay(true));
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
    asio::async_write(socket_, asio::buffer(wbuf_), [this](const error_code& ec, size_t) {
      writing_ = false;
      wbuf_.clear();
      if (ec) return Fail("write: " + ec.message());
      Write();
    });
  }

  void Read() {
    socket_.async_read_some(asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_),
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
  tcp::socket socket_;
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

// Writes every key once (pipelined, on several connections) so that GETs hit.
void Preload(const Config& cfg, const tcp::resolver::results_type& endpoints) {
  const int conns = std::max(1, std::min(cfg.connections, 8));
  std::vector<std::thread> threads;
  std::atomic<bool> failed{false};
  for (int c = 0; c < conns; ++c) {
    threads.emplace_back([&, c] {
      asio::io_context io;
      tcp::socket s(io);
      asio::connect(s, endpoints);
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
          for (;;) {
            int64_t len = codec->ParseReply({in.data() + pos, have - pos}, &kind, &err);
            if (len < 0) {
              failed = true;
              return;
            }
            if (len == 0 || n == 0) break;
            pos += static_cast<size_t>(len);
            --n;
          }
          std::memmove(in.data(), in.data() + pos, have - pos);
          have -= pos;
          if (n == 0) break;
          if (have == in.size()) in.resize(in.size() * 2);
          have += s.read_some(asio::buffer(in.data() + have, in.size() - have));
        }
      };
      for (uint64_t k = static_cast<uint64_t>(c); k < cfg.keys; k += static_cast<uint64_t>(conns)) {
        codec->Set(&out, Key(k), value, cfg.ttl_s);
        ++expect;
        if (expect >= 256) {
          asio::write(s, asio::buffer(out));
          out.clear();
          drain(expect);
          expect = 0;
        }
      }
      if (!out.empty()) asio::write(s, asio::buffer(out));
      drain(expect);
    });
  }
  for (auto& t : threads) t.join();
  if (failed) throw std::runtime_error("preload failed: bad reply");
}

int Main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"data-bridge-kv-bench: closed-loop load for kv:// (our protocol) and redis://"};
  app.add_option("--url", cfg.url, "kv://host:port or redis://host:port")->capture_default_str();
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
  app.add_flag("--no-preload", cfg.no_preload, "do not write the key space before reading");
  app.add_option("--server-pid", cfg.server_pid, "report this process's CPU time per operation");
  app.add_flag("--json", cfg.json, "print one JSON object as the last line");
  CLI11_PARSE(app, argc, argv);

  std::string rest;
  if (cfg.url.rfind("redis://", 0) == 0) {
    cfg.resp = true;
    rest = cfg.url.substr(8);
  } else if (cfg.url.rfind("kv://", 0) == 0) {
    rest = cfg.url.substr(5);
  } else {
    std::fprintf(stderr, "--url must start with kv:// or redis://\n");
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

  asio::io_context resolver_io;
  tcp::resolver resolver(resolver_io);
  auto endpoints = resolver.resolve(cfg.host, cfg.port);
  if (cfg.read_pct > 0 && !cfg.no_preload) Preload(cfg, endpoints);

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
    conns.push_back(std::make_unique<Conn>(*ios[c % nthreads], cfg, &shared,
                                           stats[c % nthreads].get(),
                                           static_cast<uint32_t>(c * 7919 + 1)));
    conns.back()->Start(endpoints);
  }
  std::vector<std::thread> workers;
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
        "{\"url\":\"%s\",\"protocol\":\"%s\",\"workload\":\"%s\",\"connections\":%d,"
        "\"pipeline\":%d,\"threads\":%d,\"value_size\":%zu,\"keys\":%llu,\"ops\":%llu,"
        "\"seconds\":%.3f,\"ops_per_sec\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
        "\"p999_us\":%.1f,\"max_us\":%.1f,\"errors\":%llu,\"server_cpu_s\":%.3f,"
        "\"server_cpu_us_per_op\":%.3f}\n",
        cfg.url.c_str(), cfg.resp ? "resp" : "kv", cfg.workload.c_str(), cfg.connections,
        cfg.pipeline, nthreads, cfg.value_size, static_cast<unsigned long long>(cfg.keys),
        static_cast<unsigned long long>(ops), secs, ops_per_sec, h.Quantile(0.5) / 1e3,
        h.Quantile(0.99) / 1e3, h.Quantile(0.999) / 1e3, h.Quantile(1.0) / 1e3,
        static_cast<unsigned long long>(shared.errors.load()), cpu, cpu_us_per_op);
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
