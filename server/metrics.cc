#include "server/metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>

#include "core/ascii.h"
#include "core/clock.h"
#include "server/server_state.h"

namespace dbkv {

CommandMetrics::CommandMetrics(size_t commands) : per_command_(commands + 1) {}

void CommandMetrics::Record(uint32_t command, Code code, int64_t duration_ns) {
  PerCommand& c = per_command_[command < per_command_.size() ? command : per_command_.size() - 1];
  const uint32_t k = static_cast<uint32_t>(code) < kStatusCodes ? static_cast<uint32_t>(code) : 0;
  c.by_code[k].fetch_add(1, std::memory_order_relaxed);
  const double secs = static_cast<double>(duration_ns) * 1e-9;
  size_t b = 0;
  while (b < kLatencyBuckets.size() && secs > kLatencyBuckets[b]) ++b;
  c.buckets[b].fetch_add(1, std::memory_order_relaxed);
  c.sum_ns.fetch_add(static_cast<uint64_t>(duration_ns), std::memory_order_relaxed);
}

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric Gauge(double v, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = v;
  return m;
}

ClientMetric Counter(double v, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = v;
  return m;
}

std::string StatusLabel(uint32_t code) {
  return code == 0 ? "ok" : AsciiLower(CodeName(static_cast<Code>(code)));
}

}  // namespace

std::string RenderMetrics(const ServerState& st) {
  std::vector<MetricFamily> out;

  // Commands, summed over the I/O loops.
  const auto& commands = st.registry.commands();
  auto name_of = [&](size_t i) {
    return i < commands.size() ? AsciiLower(commands[i]->name) : std::string("unknown");
  };
  MetricFamily total =
      Family("databridge_kv_commands_total", "Commands answered, by command and reply status.",
             MetricType::Counter);
  MetricFamily duration =
      Family("databridge_kv_command_duration_seconds",
             "Time from reading a command to writing its reply.", MetricType::Histogram);
  const size_t ncmd = commands.size() + 1;
  for (size_t c = 0; c < ncmd; ++c) {
    uint64_t count = 0;
    for (uint32_t code = 0; code < kStatusCodes; ++code) {
      uint64_t n = 0;
      for (const auto& m : st.command_metrics) n += m->count(c, code);
      if (n == 0) continue;
      count += n;
      total.metric.push_back(Counter(static_cast<double>(n),
                                     {{"command", name_of(c)}, {"status", StatusLabel(code)}}));
    }
    if (count == 0) continue;
    ClientMetric h;
    h.label = {{"command", name_of(c)}};
    uint64_t cumulative = 0;
    uint64_t sum_ns = 0;
    for (size_t b = 0; b <= kLatencyBuckets.size(); ++b) {
      for (const auto& m : st.command_metrics) cumulative += m->bucket(c, b);
      ClientMetric::Bucket bucket;
      bucket.cumulative_count = cumulative;
      bucket.upper_bound =
          b < kLatencyBuckets.size() ? kLatencyBuckets[b] : std::numeric_limits<double>::infinity();
      h.histogram.bucket.push_back(bucket);
    }
    for (const auto& m : st.command_metrics) sum_ns += m->sum_ns(c);
    h.histogram.sample_count = cumulative;
    h.histogram.sample_sum = static_cast<double>(sum_ns) * 1e-9;
    duration.metric.push_back(std::move(h));
  }
  out.push_back(std::move(total));
  out.push_back(std::move(duration));

  // The data, summed over the shards.
  uint64_t keys = 0, memory = 0, expired = 0, evicted = 0, hits = 0, misses = 0, blocked = 0;
  uint64_t cold_keys = 0;
  for (const auto& s : st.shard_metrics) {
    keys += s->keys.load(std::memory_order_relaxed);
    memory += s->memory_bytes.load(std::memory_order_relaxed);
    expired += s->expired_keys.load(std::memory_order_relaxed);
    evicted += s->evicted_keys.load(std::memory_order_relaxed);
    hits += s->hits.load(std::memory_order_relaxed);
    misses += s->misses.load(std::memory_order_relaxed);
    blocked += s->blocked.load(std::memory_order_relaxed);
    cold_keys += s->cold_keys.load(std::memory_order_relaxed);
  }
  // Built during recovery: read only once it is over (ServerState::recovered).
  const bool recovered = st.recovered.load(std::memory_order_acquire);
  const TierSegments* tier = recovered ? st.tier_segments.get() : nullptr;
  const PersistenceState* persistence = recovered ? st.persistence : nullptr;
  auto tier_count = [tier](const std::atomic<uint64_t> TierSegments::*field) {
    return tier == nullptr ? 0.0 : static_cast<double>((tier->*field).load());
  };
  auto gauge = [&](const char* name, const char* help, double v) {
    MetricFamily f = Family(name, help, MetricType::Gauge);
    f.metric.push_back(Gauge(v));
    out.push_back(std::move(f));
  };
  auto counter = [&](const char* name, const char* help, double v) {
    MetricFamily f = Family(name, help, MetricType::Counter);
    f.metric.push_back(Counter(v));
    out.push_back(std::move(f));
  };
  gauge("databridge_kv_keys", "Keys stored (every namespace, expired ones not yet reclaimed).",
        static_cast<double>(keys));
  {
    MetricFamily f = Family("databridge_kv_memory_bytes",
                            "Bytes the data takes, by tier (ram: in memory; disk: cold values).",
                            MetricType::Gauge);
    f.metric.push_back(Gauge(static_cast<double>(memory), {{"tier", "ram"}}));
    f.metric.push_back(
        Gauge(tier == nullptr ? 0.0 : static_cast<double>(tier->disk_bytes()), {{"tier", "disk"}}));
    out.push_back(std::move(f));
  }
  gauge("databridge_kv_max_memory_bytes",
        "--max-memory: the limit for the data in RAM (0: none; past it, eviction or tiering).",
        static_cast<double>(st.options.max_memory));
  gauge("databridge_kv_cold_keys", "Keys whose value is on disk (tiered storage).",
        static_cast<double>(cold_keys));
  gauge("databridge_kv_cold_segments", "Cold segment files.",
        tier == nullptr ? 0.0 : static_cast<double>(tier->segment_count()));
  counter("databridge_kv_spilled_bytes_total",
          "Bytes of records written to move values from memory to disk.",
          tier_count(&TierSegments::spilled_bytes));
  counter("databridge_kv_loaded_bytes_total", "Bytes of records read back from disk for commands.",
          tier_count(&TierSegments::loaded_bytes));
  counter("databridge_kv_cold_reads_total", "Values read back from disk.",
          tier_count(&TierSegments::cold_reads));
  counter("databridge_kv_cold_read_errors_total",
          "Values on disk that could not be read (damaged or missing records).",
          tier_count(&TierSegments::cold_read_errors));
  counter("databridge_kv_compactions_total", "Cold segments compacted.",
          tier_count(&TierSegments::compactions));
  counter("databridge_kv_compacted_bytes_total", "Bytes of live records compaction copied.",
          tier_count(&TierSegments::compacted_bytes));
  counter("databridge_kv_hits_total", "Reads that found their key.", static_cast<double>(hits));
  counter("databridge_kv_misses_total", "Reads that did not find their key.",
          static_cast<double>(misses));
  counter("databridge_kv_expired_keys_total", "Keys reclaimed because their time had passed.",
          static_cast<double>(expired));
  counter("databridge_kv_evicted_keys_total", "Keys evicted to stay within --max-memory.",
          static_cast<double>(evicted));
  gauge("databridge_kv_blocked_commands", "Commands waiting (WAIT, BLPOP, LOCK ...).",
        static_cast<double>(blocked));
  gauge("databridge_kv_connections", "Client connections open.",
        static_cast<double>(st.connections.load()));
  counter("databridge_kv_accepted_connections_total", "Client connections accepted.",
          static_cast<double>(st.total_connections.load()));
  counter("databridge_kv_rejected_connections_total", "Connections refused by --max-connections.",
          static_cast<double>(st.rejected_connections.load()));
  counter("databridge_kv_auth_failures_total", "AUTH or HELLO AUTH with a wrong password.",
          static_cast<double>(st.auth_failures.load()));
  gauge("databridge_kv_uptime_seconds", "Seconds since the server started.",
        static_cast<double>(WallClockMs() - st.start_ms) / 1000.0);
  gauge("databridge_kv_ready", "1 once recovery is done and the listener is up (as /ready).",
        st.ready.load() && !st.shutting_down.load() ? 1 : 0);

  if (persistence != nullptr) {
    const PersistenceState& p = *persistence;
    counter("databridge_kv_wal_bytes_total", "Bytes appended to the write-ahead log.",
            static_cast<double>(p.wal_bytes.load()));
    counter("databridge_kv_wal_records_total", "Records appended to the write-ahead log.",
            static_cast<double>(p.wal_records.load()));
    {
      MetricFamily f = Family("databridge_kv_wal_fsync_duration_seconds",
                              "Time the write-ahead log's fsyncs took.", MetricType::Histogram);
      ClientMetric h;
      uint64_t cumulative = 0;
      for (size_t b = 0; b < p.fsync_buckets.size(); ++b) {
        cumulative += p.fsync_buckets[b].load(std::memory_order_relaxed);
        ClientMetric::Bucket bucket;
        bucket.cumulative_count = cumulative;
        bucket.upper_bound =
            b < kFsyncBuckets.size() ? kFsyncBuckets[b] : std::numeric_limits<double>::infinity();
        h.histogram.bucket.push_back(bucket);
      }
      h.histogram.sample_count = cumulative;
      h.histogram.sample_sum = static_cast<double>(p.fsync_us_total.load()) * 1e-6;
      f.metric.push_back(std::move(h));
      out.push_back(std::move(f));
    }
    gauge("databridge_kv_wal_failed", "1 while the write-ahead log cannot be written.",
          p.failed.load() ? 1 : 0);
    counter("databridge_kv_snapshots_total", "Snapshots completed.",
            static_cast<double>(p.snapshots.load()));
    gauge("databridge_kv_last_snapshot_timestamp_seconds", "When the last snapshot completed.",
          static_cast<double>(p.last_snapshot_ms.load()) / 1000.0);
  }

  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, out);
  return os.str();
}

}  // namespace dbkv
