"""/metrics of a real server, parsed by prometheus_client's text parser (the Prometheus text
format as Prometheus' own Python client reads it), counting exactly what each test did:
commands by command and status, the latency histogram, hits and misses, keys, memory by tier,
evictions under allkeys-lru, expiry, spilled and loaded bytes with tiered storage, the WAL, and
connections and wrong passwords.

Each test starts its own server (server_factory), so its counters hold only that test's work.
Shards publish their counters (keys, hits, memory ...) right after replying, so those are read
with ``eventually``; the per-command counters are final once the reply has arrived.
"""
from __future__ import annotations

import math
import os
import urllib.request
from collections import Counter
from typing import Dict, List, Tuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

from _kv_helpers import eventually
from data_bridge.kv import KvClient
from data_bridge.kv.errors import KvAuthError, KvResponseError, KvWrongTypeError

Labels = Tuple[Tuple[str, str], ...]


class Metrics:
    """One scrape: families by name, and every sample by (name, labels)."""

    def __init__(self, text: str):
        families = list(text_string_to_metric_families(text))
        self.families = {f.name: f for f in families}
        # Unique family names as the parser (and OpenMetrics) sees them: a counter foo_total is
        # the family foo, so it must not sit beside a gauge foo.
        clash = [n for n, k in Counter(f.name for f in families).items() if k > 1]
        assert not clash, f"two families named {clash}"
        self.samples: Dict[Tuple[str, Labels], float] = {}
        for f in families:
            for s in f.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                assert key not in self.samples, f"sample {key} appears twice"
                self.samples[key] = s.value

    def get(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels (absent: 0, as for a command never run)."""
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def by_labels(self, name: str) -> Dict[Labels, float]:
        return {labels: v for (n, labels), v in self.samples.items() if n == name}


def scrape(server) -> Metrics:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return Metrics(r.read().decode("utf-8"))


def settles(server, name: str, expected: float, **labels: str) -> Metrics:
    """The first scrape in which name{labels} == expected (fails after LONG seconds)."""
    last = []

    def check():
        m = scrape(server)
        last[:] = [m.get(name, **labels)]
        return m if last[0] == expected else None

    try:
        return eventually(check, what=f"{name}{labels} == {expected}")
    except AssertionError:
        raise AssertionError(f"{name}{labels}: {last[0] if last else '?'}, expected {expected}")


def scrape_until(server, ok, what: str) -> Metrics:
    """The first scrape for which ok(metrics) holds (fails after LONG seconds)."""
    def check():
        m = scrape(server)
        return m if ok(m) else None
    return eventually(check, what=what)


def commands(m: Metrics) -> Counter:
    """databridge_kv_commands_total as {(command, status): count}."""
    return Counter({(dict(labels)["command"], dict(labels)["status"]): v
                    for labels, v in m.by_labels("databridge_kv_commands_total").items()})


@pytest.fixture
def client_for():
    opened: List[KvClient] = []

    def make(server, **kwargs) -> KvClient:
        c = KvClient(server.url(), timeout=30, **kwargs)
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


# --- the format ---------------------------------------------------------------------------


def test_exposition_parses_with_help_type_and_consistent_histograms(server_factory, client_for,
                                                                   tmp_path):
    server = server_factory("--shards", "2", "--data-dir", str(tmp_path), "--fsync", "always")
    c = client_for(server)
    for i in range(50):
        c.set(f"k{i}", i)
        c.get(f"k{i}")
    m = scrape(server)
    assert len(m.families) >= 25
    for f in m.families.values():
        assert f.name.startswith("databridge_kv_"), f.name
        assert f.type in ("counter", "gauge", "histogram"), f"{f.name}: {f.type}"
        assert f.documentation, f"{f.name} has no HELP"
        assert f.samples, f"{f.name} has no sample"
        for s in f.samples:
            assert math.isfinite(s.value) and s.value >= 0, s
    histograms = [f for f in m.families.values() if f.type == "histogram"]
    assert {f.name for f in histograms} >= {"databridge_kv_command_duration_seconds",
                                            "databridge_kv_wal_fsync_duration_seconds"}
    for f in histograms:
        series: Dict[Labels, List[Tuple[float, float]]] = {}
        counts, sums = {}, {}
        for s in f.samples:
            rest = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            if s.name.endswith("_bucket"):
                series.setdefault(rest, []).append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                counts[rest] = s.value
            elif s.name.endswith("_sum"):
                sums[rest] = s.value
        assert series and set(series) == set(counts) == set(sums), f.name
        for rest, buckets in series.items():
            bounds = [b for b, _ in buckets]
            values = [v for _, v in buckets]
            assert bounds == sorted(bounds) and bounds[-1] == math.inf, (f.name, rest)
            assert values == sorted(values), f"{f.name}{rest}: buckets not cumulative"
            assert values[-1] == counts[rest], f"{f.name}{rest}: +Inf != _count"
            assert counts[rest] > 0 and sums[rest] > 0, (f.name, rest)
    latency = m.by_labels("databridge_kv_command_duration_seconds_count")
    assert latency[(("command", "set"),)] == 50
    assert latency[(("command", "get"),)] == 50


# --- counting -----------------------------------------------------------------------------


def test_commands_hits_misses_and_keys_count_exactly(server_factory, client_for):
    server = server_factory("--shards", "2")
    c = client_for(server).connect()
    before = commands(scrape(server))
    for k in ("a", "b", "c"):
        assert c.set(k, "value")
    assert [c.get(k) for k in ("a", "b", "x", "y", "z")] == ["value", "value", None, None, None]
    assert c.incr("n") == 1 and c.incr("n") == 2
    with pytest.raises(KvWrongTypeError):
        c.incr("a")
    with pytest.raises(KvResponseError):
        c.execute("GET")  # wrong number of arguments
    assert c.delete("b") == 1
    m = scrape(server)
    done = commands(m) - before
    assert done == Counter({("set", "ok"): 3, ("get", "ok"): 5, ("incr", "ok"): 2,
                            ("incr", "wrongtype"): 1, ("get", "err"): 1, ("del", "ok"): 1})
    count = m.by_labels("databridge_kv_command_duration_seconds_count")
    assert count[(("command", "get"),)] == 6  # every status
    assert count[(("command", "incr"),)] == 3
    # What the shards saw: a, b, c and n were written, then b went; two GETs found their key,
    # three did not.
    settles(server, "databridge_kv_keys", 3)  # a, c, n
    settles(server, "databridge_kv_hits_total", 2)
    m = settles(server, "databridge_kv_misses_total", 3)
    assert m.get("databridge_kv_memory_bytes", tier="ram") > 0
    assert m.get("databridge_kv_memory_bytes", tier="disk") == 0
    assert m.get("databridge_kv_max_memory_bytes") == 0
    assert m.get("databridge_kv_ready") == 1
    assert m.get("databridge_kv_evicted_keys_total") == 0
    assert "databridge_kv_wal_bytes" not in m.families  # memory only


def test_memory_gauge_follows_the_data(server_factory, client_for):
    server = server_factory("--shards", "1")
    c = client_for(server)
    c.set("small", 1)
    settles(server, "databridge_kv_keys", 1)
    base = scrape(server).get("databridge_kv_memory_bytes", tier="ram")
    values = {f"v{i}": os.urandom(100 << 10) for i in range(10)}
    c.mset(values)
    settles(server, "databridge_kv_keys", 11)
    grown = scrape(server).get("databridge_kv_memory_bytes", tier="ram")
    assert grown - base >= 10 * (100 << 10), (base, grown)
    assert grown - base < 2 * 10 * (100 << 10), "accounted far more than was stored"
    assert c.mdel(list(values)) == 10
    settles(server, "databridge_kv_keys", 1)
    # Back to about where it was (the table keeps a little of what it grew by).
    assert scrape(server).get("databridge_kv_memory_bytes", tier="ram") < base + (16 << 10)


def test_expired_keys_are_counted(server_factory, client_for):
    server = server_factory("--shards", "2")
    c = client_for(server)
    c.mset({f"gone{i}": i for i in range(20)}, ttl=0.05)
    c.set("stays", 1)
    # Active expiry reclaims them without anyone reading them.
    settles(server, "databridge_kv_expired_keys_total", 20)
    settles(server, "databridge_kv_keys", 1)
    assert c.get("gone0") is None


def test_allkeys_lru_evictions_are_counted(server_factory, client_for):
    limit = 1 << 20
    server = server_factory("--shards", "1", "--max-memory", "1MiB", "--eviction", "allkeys-lru")
    c = client_for(server)
    n = 3000
    for start in range(0, n, 100):
        c.mset({f"key:{i}": os.urandom(1024) for i in range(start, start + 100)})
    kept = c.execute("DBSIZE")
    assert 0 < kept < n
    m = settles(server, "databridge_kv_evicted_keys_total", n - kept)  # every key written is
    assert m.get("databridge_kv_keys") == kept                          # kept or evicted
    assert m.get("databridge_kv_max_memory_bytes") == limit
    # A write is let in while memory is under the limit (evicting first if not), so the last
    # MSET (100 values) may stand past it.
    assert m.get("databridge_kv_memory_bytes", tier="ram") <= limit + 100 * 1200
    assert m.get("databridge_kv_memory_bytes", tier="ram") > limit // 2
    assert c.info()["evicted_keys"] == n - kept
    # Every write succeeded: evicting is not failing.
    assert commands(m)[("mset", "ok")] == n // 100
    assert not [k for k in commands(m) if k[1] != "ok"]


def test_tiering_spills_and_loads_bytes_and_the_wal_logs_them(server_factory, client_for,
                                                              tmp_path):
    size = 32 << 10
    n = 320  # 10 MiB of incompressible values at a 4 MiB limit
    server = server_factory("--shards", "1", "--max-memory", "4MiB",
                            "--data-dir", str(tmp_path))
    c = client_for(server)
    values = {f"task:{i}": os.urandom(size) for i in range(n)}
    for k, v in values.items():
        c.set(k, v)
    settles(server, "databridge_kv_keys", n)

    m = scrape_until(server, lambda m: m.get("databridge_kv_cold_keys") >= n // 2,
                     "half the values on disk")
    cold = m.get("databridge_kv_cold_keys")
    # Each cold value was written to disk once, whole (no compression of random bytes).
    assert m.get("databridge_kv_spilled_bytes_total") >= cold * size
    assert m.get("databridge_kv_memory_bytes", tier="disk") >= cold * size
    assert m.get("databridge_kv_cold_segments") >= 1
    assert m.get("databridge_kv_memory_bytes", tier="ram") < n * size / 2
    assert m.get("databridge_kv_loaded_bytes_total") == 0
    assert m.get("databridge_kv_cold_reads_total") == 0
    # The WAL has every write, values included (counted as the log writer gets to them).
    m = scrape_until(server, lambda m: m.get("databridge_kv_wal_records_total") >= n,
                     "every SET in the WAL")
    assert m.get("databridge_kv_wal_bytes_total") >= n * size
    assert m.get("databridge_kv_wal_failed") == 0

    # Reading every value back, exactly: each value that was cold is loaded from disk.
    for k, v in values.items():
        assert c.get(k) == v, k
    after = scrape(server)
    reads = after.get("databridge_kv_cold_reads_total")
    assert reads >= cold
    assert after.get("databridge_kv_loaded_bytes_total") >= reads * size
    assert after.get("databridge_kv_cold_read_errors_total") == 0
    settles(server, "databridge_kv_hits_total", n)


def test_connections_and_wrong_passwords(server_factory, client_for, tmp_path):
    (tmp_path / "password").write_text("right-one\n")
    server = server_factory("--password-file", str(tmp_path / "password"))
    clients = [client_for(server, password="right-one").connect() for _ in range(3)]
    m = scrape(server)
    assert m.get("databridge_kv_connections") == 3
    assert m.get("databridge_kv_accepted_connections_total") == 3
    assert m.get("databridge_kv_auth_failures_total") == 0
    for c in clients[1:]:
        c.close()
    settles(server, "databridge_kv_connections", 1)

    anonymous = client_for(server)
    with pytest.raises(KvAuthError):
        anonymous.get("k")  # refused: not a wrong password, not counted
    with pytest.raises(KvAuthError):
        anonymous.execute("AUTH", "wrong-one")
    m = scrape(server)
    assert m.get("databridge_kv_auth_failures_total") == 1
    assert commands(m)[("auth", "noauth")] == 1, commands(m)
    assert commands(m)[("get", "noauth")] == 1, commands(m)
    assert anonymous.execute("AUTH", "right-one") == "OK"
    assert scrape(server).get("databridge_kv_auth_failures_total") == 1
