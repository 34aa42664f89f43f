"""Every method of KvClient and aio.KvClient against a real server.

Most tests take the ``kv`` fixture, which runs them once with the blocking client and once
with the asyncio client (driven through a private event loop), so the two cannot drift apart.
"""
from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from data_bridge.kv import (KvClient, KvConnectionError, KvError, KvOverflowError,
                            KvResponseError, KvUnknownCommandError, KvWrongTypeError)
from _kv_helpers import LONG, blocked, eventually, in_thread, kv, other, wait_parked  # noqa: F401
from conftest import plugin_path

pytestmark = pytest.mark.timeout(60)


# -- connection and plain keys


def test_ping(kv):
    assert kv.ping() is True


def test_connect_returns_client(kv):
    assert kv.connect() is not None
    assert kv.ping() is True


def test_get_missing_returns_default(kv):
    assert kv.get("missing") is None
    assert kv.get("missing", default=42) == 42
    assert kv.get("missing", "fallback") == "fallback"


def test_set_get_overwrite(kv):
    assert kv.set("k", "v1") is True
    assert kv.get("k") == "v1"
    assert kv.get("k", default="unused") == "v1"
    assert kv.set("k", 2) is True
    assert kv.get("k") == 2


def test_get_default_not_used_for_stored_none(kv):
    kv.set("none", None)
    assert kv.exists("none")
    assert kv.get("none") is None
    assert kv.get("none", default="d") is None  # the key exists: its value is None


def test_set_with_ttl(kv):
    assert kv.set("k", 1, ttl=30)
    left = kv.ttl("k")
    assert isinstance(left, float) and 0 < left <= 30
    assert kv.set("k", 2)  # a plain SET removes the expiry
    assert kv.ttl("k") is None
    assert kv.set("short", 1, ttl=0.05)
    eventually(lambda: not kv.exists("short"), what="key expiry")
    assert kv.get("short") is None


@pytest.mark.parametrize("ttl", [0, -1, float("nan")])
def test_set_rejects_non_positive_ttl(kv, ttl):
    with pytest.raises(ValueError):
        kv.set("k", 1, ttl=ttl)
    assert not kv.exists("k")


def test_set_nx_xx(kv):
    assert kv.set("k", 1, xx=True) is False
    assert not kv.exists("k")
    assert kv.set("k", 1, nx=True) is True
    assert kv.set("k", 2, nx=True) is False
    assert kv.get("k") == 1
    assert kv.set("k", 3, xx=True) is True
    assert kv.get("k") == 3
    with pytest.raises(KvResponseError):
        kv.set("k", 4, nx=True, xx=True)
    assert kv.get("k") == 3


def test_setnx(kv):
    assert kv.setnx("k", "first") is True
    assert kv.setnx("k", "second") is False
    assert kv.get("k") == "first"
    assert kv.ttl("k") is None
    assert kv.setnx("t", 1, ttl=30) is True
    assert 0 < kv.ttl("t") <= 30


def test_delete_and_exists(kv):
    kv.mset({"a": 1, "b": 2, "c": 3})
    assert kv.exists("a") is True
    assert kv.delete("a") == 1
    assert kv.exists("a") is False
    assert kv.delete("a") == 0
    assert kv.delete("b", "c", "missing") == 2
    assert kv.delete("b", "b") == 0


def test_keys_str_bytes_int_are_one_key(kv):
    kv.set("k", 1)
    assert kv.get(b"k") == 1
    kv.set(7, "seven")
    assert kv.get("7") == "seven"
    assert kv.exists(b"7")


# -- counters


def test_incr_decr_int(kv):
    assert kv.incr("n") == 1
    assert kv.incr("n") == 2
    assert kv.incr("n", 10) == 12
    assert kv.decr("n") == 11
    assert kv.decr("n", 20) == -9
    assert kv.incr("n", by=-1) == -10
    assert type(kv.get("n")) is int
    assert kv.decr("fresh") == -1


def test_incr_decimal_exact(kv):
    kv.set("d", Decimal("1.10"))
    r = kv.incr("d", 1)
    assert r == Decimal("2.10") and str(r) == "2.10" and type(r) is Decimal
    assert r.as_tuple().exponent == -2
    assert str(kv.get("d")) == "2.10"
    r = kv.incr("d", Decimal("0.001"))
    assert str(r) == "2.101"
    r = kv.decr("d", Decimal("0.101"))
    assert str(r) == "2.000"
    kv.set("e", Decimal("1.10"))
    assert str(kv.decr("e", Decimal("1.1"))) == "0.00"
    kv.set("i", 4)
    assert str(kv.incr("i", Decimal("0.50"))) == "4.50"
    assert str(kv.incr("missing", Decimal("0.10"))) == "0.10"
    # a classic float trap, exact here
    kv.set("c", Decimal("0.1"))
    kv.incr("c", Decimal("0.2"))
    assert kv.get("c") == Decimal("0.3")


def test_incr_text_number(kv):
    kv.set("s", "41")
    assert kv.incr("s") == 42
    assert type(kv.get("s")) is int
    kv.set("t", "1.5")
    assert str(kv.incr("t", 1)) == "2.5"


def test_incr_errors(kv):
    kv.set("s", "abc")
    with pytest.raises(KvWrongTypeError):
        kv.incr("s")
    kv.set("f", 1.5)
    with pytest.raises(KvWrongTypeError):
        kv.incr("f")
    with pytest.raises(KvResponseError):
        kv.incr("n", 1.5)  # floats are not exact: refused
    with pytest.raises(KvResponseError):
        kv.incr("n", True)
    assert not kv.exists("n")
    kv.set("big", 2**63 - 1)
    with pytest.raises(KvOverflowError):
        kv.incr("big")
    assert kv.get("big") == 2**63 - 1
    kv.set("small", -2**63)
    with pytest.raises(KvOverflowError):
        kv.decr("small")
    kv.set("dec", Decimal("9" * 38))
    with pytest.raises(KvOverflowError):
        kv.incr("dec", 1)
    assert kv.get("dec") == Decimal("9" * 38)


# -- expiry


def test_ttl_expire_persist(kv):
    assert kv.ttl("missing") is None
    assert kv.expire("missing", 10) is False
    assert kv.persist("missing") is False
    kv.set("k", 1)
    assert kv.ttl("k") is None
    assert kv.persist("k") is False
    assert kv.expire("k", 10) is True
    left = kv.ttl("k")
    assert 9 < left <= 10
    assert kv.expire("k", Decimal("20.5")) is True
    assert 19 < kv.ttl("k") <= 20.5
    assert kv.persist("k") is True
    assert kv.ttl("k") is None
    assert kv.persist("k") is False
    assert kv.get("k") == 1
    assert kv.expire("k", 0.05) is True
    eventually(lambda: not kv.exists("k"), what="key expiry")
    with pytest.raises(ValueError):
        kv.expire("k", 0)
    with pytest.raises(TypeError):
        kv.expire("k", "10")


# -- batches


def test_mset_mget(kv):
    keys = [f"k{i}" for i in range(50)]  # spread over every shard
    assert kv.mset({k: i for i, k in enumerate(keys)}) is None
    assert kv.mget(keys) == list(range(50))
    assert kv.mget(["k3", "missing", "k3", b"k4"]) == [3, None, 3, 4]
    assert kv.mget([]) == []
    assert kv.mset({}) is None
    assert kv.ttl("k0") is None


def test_mset_ttl(kv):
    kv.set("old", 1, ttl=1000)
    kv.mset({"a": Decimal("1.10"), "b": [1, 2], "old": "new"}, ttl=30)
    assert kv.mget(["a", "b", "old"]) == [Decimal("1.10"), [1, 2], "new"]
    for k in ("a", "b", "old"):
        assert 0 < kv.ttl(k) <= 30
    kv.mset({"short1": 1, "short2": 2}, ttl=0.05)
    eventually(lambda: kv.mexists(["short1", "short2"]) == [False, False], what="expiry")
    kv.mset({"old": 1})  # MSET without ttl removes the expiry
    assert kv.ttl("old") is None
    with pytest.raises(ValueError):
        kv.mset({"x": 1}, ttl=-5)
    assert not kv.exists("x")


def test_mset_with_unstorable_value_stores_nothing(kv):
    with pytest.raises(KvOverflowError):
        kv.mset({"a": 1, "b": 2**64})
    assert kv.mexists(["a", "b"]) == [False, False]


def test_mdel_mexists(kv):
    keys = [f"k{i}" for i in range(20)]
    kv.mset({k: True for k in keys})
    assert kv.mexists(["k0", "missing", "k19", "k0"]) == [True, False, True, True]
    assert kv.mexists([]) == []
    assert kv.mdel(keys[:10] + ["missing", "k0"]) == 10
    assert kv.mexists(keys) == [False] * 10 + [True] * 10
    assert kv.mdel([]) == 0
    assert kv.mdel(keys) == 10


# -- versions


def test_get_versioned_and_cas(kv):
    assert kv.get_versioned("k") is None
    assert kv.cas("k", "v1", 0) is True  # 0: the key must not exist
    assert kv.cas("k", "again", 0) is False
    value, v1 = kv.get_versioned("k")
    assert value == "v1" and type(v1) is int and v1 > 0
    assert kv.cas("k", "stale", v1 + 1000) is False
    assert kv.get("k") == "v1"
    assert kv.cas("k", "v2", v1) is True
    value, v2 = kv.get_versioned("k")
    assert value == "v2" and v2 > v1
    assert kv.cas("k", "v3", v1) is False  # the old version no longer matches
    kv.set("k", "v4")  # any write gives a new version
    _, v3 = kv.get_versioned("k")
    assert v3 > v2
    assert kv.cas("k", Decimal("1.10"), v3, ttl=30) is True
    assert kv.get("k") == Decimal("1.10")
    assert 0 < kv.ttl("k") <= 30
    kv.delete("k")
    assert kv.cas("k", "v", v3) is False  # deleted: only version 0 matches
    with pytest.raises(KvResponseError):
        kv.cas("k", "v", -1)


def test_cas_race_exactly_one_winner(client):
    client.set("k", "start")
    _, version = client.get_versioned("k")
    n = 16
    barrier = threading.Barrier(n)
    wins = []

    def contender(i):
        barrier.wait(LONG)
        if client.cas("k", f"writer-{i}", version):
            wins.append(i)

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LONG)
    assert len(wins) == 1
    assert client.get("k") == f"writer-{wins[0]}"


def test_cas_retry_loop_counts_exactly(client, url):
    n_threads, per_thread = 8, 25
    clients = [KvClient(url) for _ in range(n_threads // 2)] + [client] * (n_threads // 2)

    def add(c):
        for _ in range(per_thread):
            while True:
                cur = c.get_versioned("counter")
                value, version = cur if cur is not None else (0, 0)
                if c.cas("counter", value + 1, version):
                    break

    try:
        threads = [threading.Thread(target=add, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(LONG * 3)
        assert client.get("counter") == n_threads * per_thread
    finally:
        for c in clients[: n_threads // 2]:
            c.close()


# -- lists


def test_push_pop_range_len(kv):
    assert kv.llen("l") == 0
    assert kv.lrange("l", 0, -1) == []
    assert kv.rpush("l", "a") == 1
    assert kv.rpush("l", "b", "c") == 3
    assert kv.lpush("l", "x", "y") == 5
    assert kv.lrange("l", 0, -1) == ["y", "x", "a", "b", "c"]
    assert kv.lrange("l", 1, 2) == ["x", "a"]
    assert kv.lrange("l", -2, -1) == ["b", "c"]
    assert kv.lrange("l", -100, 100) == ["y", "x", "a", "b", "c"]
    assert kv.lrange("l", 3, 1) == []
    assert kv.llen("l") == 5
    assert kv.lpop("l") == "y"
    assert kv.rpop("l") == "c"
    assert kv.lpop("l", 2) == ["x", "a"]
    assert kv.lpop("l", 0) == []
    assert kv.rpop("l", 5) == ["b"]
    assert not kv.exists("l")  # popping the last element deletes the list
    assert kv.lpop("l") is None
    assert kv.rpop("l") is None
    assert kv.lpop("l", 3) is None


def test_rpop_count_order_and_typed_elements(kv):
    values = [None, True, 1, 1.5, Decimal("1.10"), "s", b"b\x00", [1, [2]], {"a": 1}]
    assert kv.rpush("l", *values) == len(values)
    got = kv.lrange("l", 0, -1)
    assert got == values
    assert [type(v) for v in got] == [type(v) for v in values]
    assert kv.rpop("l", 2) == [{"a": 1}, [1, [2]]]
    kv.delete("l")
    kv.lpush("l", "a", "b", "c")
    assert kv.lrange("l", 0, -1) == ["c", "b", "a"]


def test_pop_count_negative_is_error(kv):
    kv.rpush("l", 1)
    with pytest.raises(KvResponseError):
        kv.lpop("l", -1)
    assert kv.llen("l") == 1


def test_list_wrong_type(kv):
    kv.set("s", "text")
    for call in (lambda: kv.rpush("s", 1), lambda: kv.lpush("s", 1), lambda: kv.lpop("s"),
                 lambda: kv.rpop("s"), lambda: kv.lrange("s", 0, -1), lambda: kv.llen("s")):
        with pytest.raises(KvWrongTypeError):
            call()
    assert kv.get("s") == "text"


def test_blpop_brpop_immediate(kv):
    kv.rpush("{q}1", 1, 2, 3)
    assert kv.blpop("{q}1", timeout=1) == ("{q}1", 1)
    assert kv.brpop("{q}1", timeout=1) == ("{q}1", 3)
    # the first non-empty list in the order given
    kv.rpush("{q}2", "x")
    assert kv.blpop(["{q}0", "{q}2", "{q}1"], timeout=1) == ("{q}2", "x")
    assert kv.brpop(["{q}0", "{q}1"], timeout=1) == ("{q}1", 2)
    kv.rpush(b"bk", 1)
    assert kv.blpop(b"bk", timeout=1) == (b"bk", 1)
    kv.rpush(5, "five")
    assert kv.blpop(5, timeout=1) == ("5", "five")


def test_blpop_brpop_timeout_returns_none(kv):
    for pop in (kv.blpop, kv.brpop):
        t0 = time.monotonic()
        assert pop("empty", timeout=0.2) is None
        assert 0.15 <= time.monotonic() - t0 < 5


@pytest.mark.parametrize("pop,push,expected", [("blpop", "rpush", "first"),
                                                ("brpop", "rpush", "second")])
def test_blocking_pop_woken_by_other_client(kv, other, pop, push, expected):
    base = blocked(other)

    def writer():
        wait_parked(other, base + 1)
        t = time.monotonic()
        getattr(other, push)("q", "first", "second")
        return t

    w = in_thread(writer)
    got = getattr(kv, pop)("q", timeout=LONG)
    woke = time.monotonic()
    pushed_at = w.get()
    assert got == ("q", expected)
    assert woke - pushed_at < 1.0  # woken by the push, far from the 10 s timeout
    assert other.llen("q") == 1


def test_blocking_pop_waiters_served_in_arrival_order(client, url):
    first, second = KvClient(url), KvClient(url)
    try:
        base = blocked(client)
        r1 = in_thread(lambda: first.blpop("q", timeout=LONG))
        wait_parked(client, base + 1)
        r2 = in_thread(lambda: second.blpop("q", timeout=LONG))
        wait_parked(client, base + 2)
        client.rpush("q", "one")
        assert r1.get() == ("q", "one")
        # one element wakes one waiter: the second is still parked
        assert blocked(client) == base + 1 and r2.thread.is_alive()
        client.rpush("q", "two")
        assert r2.get() == ("q", "two")
        assert client.llen("q") == 0
    finally:
        first.close()
        second.close()


def test_list_keeps_expiry_through_push_and_pop(kv):
    kv.rpush("l", 1, 2, 3)
    kv.expire("l", 30)
    kv.rpush("l", 4)
    kv.lpop("l")
    assert 0 < kv.ttl("l") <= 30


def test_blocking_pops_across_shards_are_refused(kv):
    keys = [f"cross{i}" for i in range(16)]  # 16 keys cannot all share one of 4 shards
    with pytest.raises(KvResponseError, match="CROSSSHARD"):
        kv.blpop(keys, timeout=0.1)


# -- waiting for keys


def test_wait_immediate_and_timeout(kv):
    kv.set("k", Decimal("1.10"))
    assert kv.wait("k", timeout=1) == Decimal("1.10")
    t0 = time.monotonic()
    assert kv.wait("missing", timeout=0.2) is None
    assert 0.15 <= time.monotonic() - t0 < 5
    assert kv.wait("k", timeout=0) == Decimal("1.10")  # 0: look once
    assert kv.wait("missing", timeout=0) is None
    with pytest.raises(ValueError):
        kv.wait("missing", timeout=-1)


def test_wait_woken_by_write(kv, other):
    base = blocked(other)

    def writer():
        wait_parked(other, base + 1)
        t = time.monotonic()
        other.set("result", {"status": "done"})
        return t

    w = in_thread(writer)
    got = kv.wait("result", timeout=LONG)
    woke = time.monotonic()
    assert got == {"status": "done"}
    assert woke - w.get() < 1.0


def test_wait_forever_woken(kv, other):
    base = blocked(other)
    w = in_thread(lambda: (wait_parked(other, base + 1), other.set("k", 1)))
    assert kv.wait("k") == 1  # timeout None: no limit
    w.get()


def test_mwait(kv, other):
    kv.set("a", 1)
    assert kv.mwait(["a"], timeout=1) == [1]
    t0 = time.monotonic()
    assert kv.mwait(["a", "b"], timeout=0.2) == [1, None]
    assert time.monotonic() - t0 >= 0.15
    base = blocked(other)

    def writer():
        wait_parked(other, base + 1)
        other.set("b", 2)
        # still parked: c is missing
        time_b = time.monotonic()
        other.set("c", 3)
        return time_b

    w = in_thread(writer)
    assert kv.mwait(["a", "b", "c"], timeout=LONG) == [1, 2, 3]
    assert time.monotonic() - w.get() < 1.0


def test_waitany(kv, other):
    t0 = time.monotonic()
    assert kv.waitany(["x", "y"], timeout=0.2) is None
    assert time.monotonic() - t0 >= 0.15
    kv.set("y", "why")
    assert kv.waitany(["x", "y"], timeout=1) == ("y", "why")
    base = blocked(other)

    def writer():
        wait_parked(other, base + 1)
        t = time.monotonic()
        other.set("z", "zed")
        return t

    w = in_thread(writer)
    assert kv.waitany(["w", "z"], timeout=LONG) == ("z", "zed")
    assert time.monotonic() - w.get() < 1.0


def test_many_waiters_one_write(client, url):
    waiters = [KvClient(url) for _ in range(8)]
    try:
        base = blocked(client)
        results = [in_thread(lambda c=c: c.wait("go", timeout=LONG)) for c in waiters]
        wait_parked(client, base + len(waiters))
        client.set("go", "now")
        assert [r.get() for r in results] == ["now"] * len(waiters)
    finally:
        for c in waiters:
            c.close()


# -- execute, info


def test_execute_builtin_commands(kv):
    assert kv.execute("PING") == "PONG"
    assert kv.execute("ping", [1, {"a": b"x"}]) == [1, {"a": b"x"}]
    assert kv.execute("SET", "k", Decimal("1.10")) == "OK"
    assert kv.execute("get", "k") == Decimal("1.10")
    assert kv.execute("DBSIZE") == 1
    assert kv.execute("GETV", "k")[0] == Decimal("1.10")


def test_execute_command_options(kv, namespace):
    kv.mset({"a": 1, "b": 2})
    assert kv.execute("EXISTS", "a", "a", "missing") == 2  # a key named twice counts twice
    assert kv.execute("DEL", "a", "a") == 1  # ... but is deleted once
    assert kv.execute("EXPIRE", "b", 100, "GT") == 0  # no expiry counts as infinite
    assert kv.execute("EXPIRE", "b", 100, "LT") == 1
    assert kv.execute("TTL", "b") == 100
    assert kv.execute("EXPIRE", "b", 50, "NX") == 0
    assert kv.execute("PEXPIRE", "b", 1800, "XX") == 1
    assert kv.execute("TTL", "b") == 2  # rounded to the nearest second
    assert kv.execute("PEXPIRE", "b", -1) == 1 and not kv.exists("b")  # a past time deletes
    kv.set("g", 1, ttl=100)
    assert kv.execute("SET", "g", 2, "GET", "KEEPTTL") == 1
    assert kv.get("g") == 2 and 99 < kv.ttl("g") <= 100
    assert kv.execute("SET", "g", 3, "EXAT", 1) == "OK" and not kv.exists("g")
    assert kv.execute("SET", "g", 4, "NX", "GET") is None
    hello = kv.execute("HELLO")
    assert hello["server"] == "data-bridge-kv" and hello["namespace"] == namespace


def test_execute_unknown_command(kv):
    with pytest.raises(KvUnknownCommandError) as e:
        kv.execute("NO_SUCH_COMMAND", 1)
    assert "NO_SUCH_COMMAND" in str(e.value)
    assert e.value.code == "UNKNOWN"
    with pytest.raises(KvUnknownCommandError):
        kv.execute("THROTTLE", "k", 5, 10, 60)  # the plugin is not loaded here
    with pytest.raises(KvResponseError, match="wrong number of arguments"):
        kv.execute("GET")
    assert kv.ping()


def test_execute_throttle_plugin(server_factory):
    srv = server_factory("--plugin", plugin_path("throttle.so"))
    with KvClient(srv.url("throttle")) as c:
        first = c.execute("THROTTLE", "user:1", 5, 10, 60)
        limited, limit, remaining, retry_after, _reset_after = first
        assert (limited, limit, remaining, retry_after) == (0, 6, 5, -1)
        replies = [c.execute("THROTTLE", "user:1", 5, 10, 60) for _ in range(5)]
        assert [r[0] for r in replies] == [0] * 5
        assert [r[2] for r in replies] == [4, 3, 2, 1, 0]
        denied = c.execute("throttle", "user:1", 5, 10, 60)
        assert denied[0] == 1 and denied[2] == 0 and denied[3] > 0
        # namespaces and other keys are separate
        assert c.execute("THROTTLE", "user:2", 5, 10, 60)[0] == 0
        with pytest.raises(KvResponseError):
            c.execute("THROTTLE", "user:1")


def test_info(kv, namespace):
    kv.set("k", 1)
    info = kv.info()
    assert isinstance(info, dict)
    for field in ("server", "version", "uptime_s", "connections", "shards", "workers",
                  "io_threads", "persistence", "namespace", "keys", "memory_bytes",
                  "expired_keys", "hits", "misses", "blocked"):
        assert field in info, field
    assert info["server"] == "data-bridge-kv"
    assert info["namespace"] == namespace
    assert info["shards"] == 4
    assert info["keys"] >= 1 and info["connections"] >= 1
    assert isinstance(info["blocked"], int)


# -- namespaces


def test_namespaces_isolate(server, namespace):
    a = KvClient(server.url(namespace + "-a"))
    b = KvClient(server.url(namespace + "-b"))
    try:
        a.set("k", "in a")
        b.set("k", "in b")
        a.rpush("l", 1)
        assert a.get("k") == "in a" and b.get("k") == "in b"
        assert b.llen("l") == 0
        assert a.execute("DBSIZE") == 2 and b.execute("DBSIZE") == 1
        assert b.delete("k") == 1
        assert a.get("k") == "in a"
        assert b.mget(["k", "l"]) == [None, None]
        assert a.namespace == namespace + "-a"
        assert a.info()["namespace"] == namespace + "-a"
    finally:
        a.close()
        b.close()


def test_namespace_from_url_and_default(server, client, namespace):
    client.set("shared-name", "ns")
    with KvClient(f"127.0.0.1:{server.port}/{namespace}") as same:
        assert same.get("shared-name") == "ns"
    with KvClient(f"127.0.0.1:{server.port}") as default:
        assert default.namespace == ""
        assert default.get("shared-name") is None


# -- close, threads, GIL


def test_close(url):
    c = KvClient(url)
    assert c.ping()
    assert not c.closed
    c.close()
    assert c.closed
    with pytest.raises(KvConnectionError):
        c.get("k")
    with pytest.raises(KvConnectionError):
        c.wait("k", timeout=1)
    c.close()  # idempotent
    with KvClient(url) as c2:
        c2.set("k", 1)
    assert c2.closed
    assert "KvClient(" in repr(c2) and str(c2.config.port) in repr(c2)


def test_close_fails_blocked_call(url):
    c = KvClient(url)
    base = blocked(c)
    w = in_thread(lambda: c.wait("never", timeout=LONG))
    wait_parked(c, base + 1)
    c.close()
    with pytest.raises(KvConnectionError):
        w.get()


def test_close_while_other_threads_call(url):
    """close() racing with calls of other threads: they fail with KvConnectionError (never
    a crash, never a call left waiting for its timeout)."""
    for _ in range(100):
        c = KvClient(url)
        c.ping()
        errors = []
        stop = threading.Event()

        def work():
            while not stop.is_set():
                try:
                    c.incr("n")
                except KvConnectionError:
                    return
                except BaseException as e:  # noqa: BLE001
                    errors.append(e)
                    return

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        c.close()
        stop.set()
        for t in threads:
            t.join(LONG)
        assert not errors


def test_threads_share_one_client(client):
    n_threads, per_thread = 16, 100
    errors = []

    def work(i):
        try:
            for j in range(per_thread):
                client.set(f"t{i}:{j}", (i, j))
                assert client.get(f"t{i}:{j}") == [i, j]
                client.incr("total")
                client.rpush(f"list{i}", j)
            assert client.lrange(f"list{i}", 0, -1) == list(range(per_thread))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LONG * 3)
    assert not errors, errors[:3]
    assert client.get("total") == n_threads * per_thread


def test_gil_released_while_waiting(client):
    base = blocked(client)
    waiter = in_thread(lambda: client.wait("never", timeout=3))
    wait_parked(client, base + 1)
    # pure Python work runs while the other thread is blocked in wait()
    counter = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.3:
        counter += 1
    assert counter > 10_000
    assert waiter.thread.is_alive()
    client.set("never", "now")
    assert waiter.get() == "now"


def test_blocked_wait_does_not_delay_other_calls_on_same_client(client):
    base = blocked(client)
    waiter = in_thread(lambda: client.wait("slow", timeout=LONG))
    wait_parked(client, base + 1)
    t0 = time.monotonic()
    client.set("fast", 1)
    assert client.get("fast") == 1
    assert time.monotonic() - t0 < 1.0
    client.set("slow", "done")
    assert waiter.get() == "done"


# -- server restart


def test_client_survives_server_restart(server_factory, namespace):
    first = server_factory()
    port = first.port
    c = KvClient(first.url(namespace), timeout=5)
    try:
        c.set("k", 1)
        assert first.stop() == 0
        second = server_factory(port=port)
        assert second.port == port
        failures = 0
        for _ in range(3):
            try:
                assert c.set("k", 2) is True
                break
            except KvConnectionError:
                failures += 1
        assert failures <= 1
        assert c.get("k") == 2  # memory only: the restart lost the old value
        assert c.ping()
    finally:
        c.close()


def test_call_while_server_down_fails_with_connection_error(server_factory, namespace):
    srv = server_factory()
    c = KvClient(srv.url(namespace), timeout=5)
    try:
        c.ping()
        srv.stop()
        with pytest.raises(KvConnectionError):
            for _ in range(2):  # the first may only notice the closed connection
                c.get("k")
        with pytest.raises(KvError):
            c.wait("k", timeout=1)
    finally:
        c.close()


def test_run_many_pipelines_and_raises_the_first_error(client):
    """KvClient._run_many (the Celery backend's chord step): every command runs, in order on
    one round trip; replies come back converted, and the first error reply is raised after
    all have been answered."""
    from data_bridge.kv import _commands as C

    assert client._run_many([C.rpush("l", 1), C.rpush("l", 2), C.mget(["l", "x"]),
                         C.expire("l", 60)]) == [1, 2, [[1, 2], None], True]
    assert client._run_many([]) == []
    client.set("s", "text")
    with pytest.raises(KvWrongTypeError):
        client._run_many([C.rpush("s", 1), C.set_("after", 1)])
    assert client.get("after") == 1  # sent with the failing one, and run
