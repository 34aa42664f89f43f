"""redis-py (PyPI, pinned in requirements-test.txt) against the server's RESP side: every command
of issue 9 with Redis's semantics, pipelines, error classes, AUTH, RESP3, TLS, and values written
by our typed client read in Redis's representation (and the other way round).

Each test works in a namespace of its own: redis-py's ``db`` argument becomes ``SELECT <name>``,
which selects that namespace, the same one ``server.url(namespace)`` gives the typed client.
"""
from __future__ import annotations

import signal
import socket
import threading
import time
from decimal import Decimal

import pytest
import redis
from redis import exceptions as rexc

from data_bridge.kv import KvClient

from _kv_helpers import LONG, eventually, free_port
from test_tls import pki  # noqa: F401  (the module's certificates fixture)

pytestmark = pytest.mark.timeout(120)


def connect(server, namespace: str = "", **kwargs) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=server.port, db=namespace or 0,
                       socket_timeout=LONG, **kwargs)


@pytest.fixture
def r(server, namespace):
    c = connect(server, namespace)
    yield c
    c.close()


@pytest.fixture
def r3(server, namespace):
    c = connect(server, namespace, protocol=3)
    yield c
    c.close()


def test_connection_commands(r):
    assert r.ping() is True
    assert r.echo("hello") == b"hello"
    assert r.client_setname("tester") is True
    assert r.client_getname() == "tester"
    assert isinstance(r.client_id(), int)
    assert r.dbsize() == 0
    info = r.info()
    assert info["redis_version"] == "7.0.0"
    assert info["role"] == "master"
    assert "used_memory" in r.info("memory")
    assert r.config_get("save") == {"save": ""}
    assert r.config_get("appendonly") == {"appendonly": "no"}
    assert r.command_count() > 40
    cmds = r.command()
    assert cmds["get"]["arity"] == 2
    assert cmds["mset"]["step_count"] == 2


def test_strings_and_expiry(r):
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True, get=True) == b"v"
    assert r.set("k", "x", ex=100, keepttl=False) is True
    assert r.ttl("k") == 100
    assert r.set("k", "y", keepttl=True) is True
    assert 99_000 < r.pttl("k") <= 100_000
    assert r.set("k", "z", px=5000) is True
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.expire("k", 50) is True
    assert r.pexpire("k", 50_000) is True
    assert r.ttl("missing") == -2
    assert r.setnx("n", 1) is True
    assert r.setnx("n", 2) is False
    assert r.setex("e", 100, "v") is True
    assert r.psetex("pe", 100_000, "v") is True
    assert r.getdel("e") == b"v"
    assert r.getdel("e") is None
    assert r.exists("k", "n", "missing", "k") == 3
    assert r.delete("k", "missing") == 1
    assert r.unlink("n", "pe") == 2
    assert r.type("nothing") == b"none"
    with pytest.raises(rexc.ResponseError, match="invalid expire time"):
        r.set("k", "v", ex=0)


def test_string_commands_and_absolute_expiry(r):
    # Through redis-py's own methods: their argument shapes and reply parsing.
    assert r.append("s", "Hello") == 5
    assert r.append("s", " World") == 11
    assert r.strlen("s") == 11
    assert r.getrange("s", -5, -1) == b"World"
    assert r.setrange("s", 6, "Redis") == 11
    assert r.get("s") == b"Hello Redis"
    assert r.setbit("bits", 7, 1) == 0
    assert r.getbit("bits", 7) == 1
    assert r.bitcount("s") == 40
    assert r.bitcount("s", 0, 0) == 2
    assert r.getex("s", ex=100) == b"Hello Redis"
    assert r.ttl("s") == 100
    assert r.getex("s", persist=True) == b"Hello Redis"
    assert r.ttl("s") == -1
    now = int(time.time())
    assert r.expireat("s", now + 1000) is True
    assert abs(r.expiretime("s") - (now + 1000)) <= 1
    assert r.pexpireat("s", (now + 500) * 1000, lt=True) is True
    assert r.pexpiretime("s") == (now + 500) * 1000
    assert r.expire("s", 10_000, gt=True) is True
    assert r.touch("s", "bits", "missing") == 2
    r.rpush("list", "a")
    with pytest.raises(rexc.ResponseError, match="WRONGTYPE"):
        r.append("list", "x")


def test_list_edits_survive_a_crash(server_factory, tmp_path):
    """LSET, LINSERT, LREM, LTRIM and the X pushes through redis-py, then kill -9 and a restart:
    the write-ahead log brings every change back."""
    port = free_port()
    flags = ("--data-dir", str(tmp_path / "data"), "--fsync", "always")
    s = server_factory(*flags, port=port)
    r = redis.Redis(port=port)
    assert r.rpushx("q", "a") == 0
    assert r.rpush("q", "a", "b", "a", "c", "a") == 5
    assert r.lpushx("q", "start") == 6
    assert r.lindex("q", -1) == b"a"
    assert r.lset("q", 1, "A") is True
    assert r.linsert("q", "before", "c", "x") == 7
    assert r.lpos("q", "a") == 3
    assert r.lpos("q", "a", rank=-1, count=2) == [6, 3]
    assert r.lrem("q", -1, "a") == 1
    assert r.ltrim("q", 1, -1) is True
    want = [b"A", b"b", b"a", b"x", b"c"]
    assert r.lrange("q", 0, -1) == want
    r.close()
    s.stop(signal.SIGKILL)
    server_factory(*flags, port=port)
    r = redis.Redis(port=port)
    assert r.lrange("q", 0, -1) == want
    with pytest.raises(rexc.ResponseError, match="no such key"):
        r.lset("missing", 0, "v")
    r.close()


def test_hashes_survive_a_crash(server_factory, tmp_path):
    """The hash commands through redis-py (RESP2 and RESP3), then kill -9 and a restart."""
    port = free_port()
    flags = ("--data-dir", str(tmp_path / "data"), "--fsync", "always")
    s = server_factory(*flags, port=port)
    r = redis.Redis(port=port)
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hset("h", "a", "10") == 0
    assert r.hsetnx("h", "c", "3") == 1
    assert r.hsetnx("h", "c", "4") == 0
    assert r.hget("h", "a") == b"10"
    assert r.hmget("h", ["a", "zz", "c"]) == [b"10", None, b"3"]
    assert r.hgetall("h") == {b"a": b"10", b"b": b"2", b"c": b"3"}
    assert r.hkeys("h") == [b"a", b"b", b"c"]
    assert r.hvals("h") == [b"10", b"2", b"3"]
    assert r.hlen("h") == 3
    assert r.hexists("h", "b") is True
    assert r.hstrlen("h", "a") == 2
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrbyfloat("h", "f", 1.5) == 1.5
    assert r.hdel("h", "b", "zz") == 1
    r3 = redis.Redis(port=port, protocol=3)
    assert r3.hgetall("h") == {b"a": b"10", b"c": b"3", b"n": b"5", b"f": b"1.5"}
    with pytest.raises(rexc.ResponseError, match="WRONGTYPE"):
        r.set("s", "v")
        r.hget("s", "a")
    r.close()
    r3.close()
    s.stop(signal.SIGKILL)
    server_factory(*flags, port=port)
    r = redis.Redis(port=port)
    assert r.hgetall("h") == {b"a": b"10", b"c": b"3", b"n": b"5", b"f": b"1.5"}
    assert r.type("h") == b"hash"
    r.close()


def test_randomkey_object_flushall(server_factory):
    """RANDOMKEY over keys on every shard, OBJECT, and FLUSHALL across databases (a server of
    its own: FLUSHALL empties every namespace)."""
    s = server_factory("--shards", "4")
    r = connect(s, "one")
    other = connect(s, "two")
    assert r.randomkey() is None
    keys = {f"k{i}".encode() for i in range(12)}
    r.mset({k: "v" for k in keys})
    seen = set()
    for _ in range(500):
        seen.add(r.randomkey())
        if seen == keys:
            break
    assert seen == keys
    r.set("n", "10")
    r.set("long", "x" * 45)
    r.hset("h", "f", "v")
    assert r.object("encoding", "n") == b"int"
    assert r.object("encoding", "k1") == b"embstr"
    assert r.object("encoding", "long") == b"raw"
    assert r.object("encoding", "h") == b"listpack"
    assert r.object("encoding", "missing") is None
    assert r.object("idletime", "n") == 0
    other.set("elsewhere", "1")
    assert r.flushall() is True
    assert r.dbsize() == 0 and other.dbsize() == 0
    r.close()
    other.close()


def test_counters(r):
    assert r.incr("c") == 1
    assert r.incrby("c", 10) == 11
    assert r.decr("c") == 10
    assert r.decrby("c", 3) == 7
    assert r.get("c") == b"7"
    assert r.incrbyfloat("f", 10.5) == 10.5
    assert r.incrbyfloat("f", 0.1) == pytest.approx(10.6)
    assert r.get("f") == b"10.6"
    # INCR on what a RESP client wrote, as in Redis.
    r.set("s", "41")
    assert r.incr("s") == 42
    with pytest.raises(rexc.ResponseError, match="not an integer"):
        r.incrby("c", "1.5")
    with pytest.raises(rexc.ResponseError, match="overflow"):
        r.set("big", 2**63 - 1)
        r.incr("big")


def test_batches_and_lists(r):
    keys = {f"key:{i}": str(i) for i in range(100)}  # over every shard
    assert r.mset(keys) is True
    assert r.mget(list(keys) + ["missing"]) == [v.encode() for v in keys.values()] + [None]
    assert r.dbsize() == 100
    assert r.delete(*keys) == 100
    assert r.rpush("l", "a", "b") == 2
    assert r.lpush("l", "z") == 3
    assert r.lrange("l", 0, -1) == [b"z", b"a", b"b"]
    assert r.llen("l") == 3
    assert r.type("l") == b"list"
    assert r.lpop("l") == b"z"
    assert r.rpop("l", 5) == [b"b", b"a"]
    assert r.lpop("l") is None
    with pytest.raises(rexc.ResponseError, match="WRONGTYPE"):
        r.set("s", "v")
        r.lpush("s", "x")


def test_blpop(server, namespace, r):
    got = {}

    def waiter():
        c = connect(server, namespace)
        got["value"] = c.blpop(["jobs", "other{jobs}"], timeout=LONG)
        c.close()

    t = threading.Thread(target=waiter)
    t.start()
    eventually(lambda: r.info("clients")["blocked_clients"] >= 1, what="BLPOP parked")
    assert r.rpush("other{jobs}", "j1") == 1
    t.join(LONG)
    assert got["value"] == (b"other{jobs}", b"j1")
    start = time.monotonic()
    assert r.blpop("jobs", timeout=0.1) is None
    assert time.monotonic() - start < LONG


def test_scan_keys_flushdb(r):
    with r.pipeline(transaction=False) as p:
        for i in range(20000):
            p.set(f"scan:{i}", i)
        p.set("other", 1)
        p.execute()
    seen = list(r.scan_iter(count=1000))
    assert len(seen) == 20001
    assert set(seen) == {f"scan:{i}".encode() for i in range(20000)} | {b"other"}
    assert set(r.scan_iter(match="scan:1999?")) == {f"scan:1999{i}".encode() for i in range(10)}
    cursor, keys = r.scan(0, match="other", count=100)
    assert isinstance(cursor, int)
    assert sorted(r.keys("scan:1999?")) == sorted(f"scan:1999{i}".encode() for i in range(10))
    assert r.flushdb() is True
    assert r.dbsize() == 0
    assert r.keys("*") == []


def test_select_is_a_namespace(server, namespace):
    c = connect(server, namespace)
    c.set("k", "mine")
    other = connect(server, namespace + "-other")
    assert other.get("k") is None
    assert c.get("k") == b"mine"
    n = connect(server, 7)
    n.set("seven", "7")
    with KvClient(server.url("7")) as typed:
        assert typed.get("seven") == b"7"
    n.delete("seven")
    for x in (c, other, n):
        x.close()


def test_pipelines(r):
    with r.pipeline(transaction=False) as p:
        for i in range(1000):
            p.set(f"p:{i}", i)
            p.incr(f"p:{i}")
            p.get(f"p:{i}")
        p.lpush("p:list", "a")
        p.lpush("p:0", "wrong type")  # an error in the middle
        p.get("p:0")
        results = p.execute(raise_on_error=False)
    assert len(results) == 3003
    for i in range(1000):
        assert results[3 * i:3 * i + 3] == [True, i + 1, str(i + 1).encode()]
    assert results[3000] == 1
    assert isinstance(results[3001], rexc.ResponseError)
    assert results[3002] == b"1"


def test_errors(r):
    with pytest.raises(rexc.ResponseError, match="unknown command"):
        r.execute_command("NOSUCH", "x")
    with pytest.raises(rexc.ResponseError, match="wrong number of arguments"):
        r.execute_command("GET")
    with pytest.raises(rexc.ResponseError, match="syntax error"):
        r.execute_command("SET", "k", "v", "BOGUS")


def test_out_of_memory(server_factory):
    s = server_factory("--shards", "1", "--max-memory", "2MiB", "--eviction", "noeviction")
    c = connect(s)
    with pytest.raises(rexc.OutOfMemoryError):
        for i in range(10000):
            c.set(f"fill:{i}", "x" * 1000)
    assert c.delete("fill:0") == 1  # deletes are still allowed
    c.close()


@pytest.fixture
def auth_server(server_factory, tmp_path):
    path = tmp_path / "password"
    path.write_text("s3cret\n")
    return server_factory("--password-file", str(path))


def test_auth(auth_server):
    # Without a password redis-py fails on connect (its CLIENT SETINFO gets NOAUTH), exactly as
    # against Redis 7 with requirepass.
    anon = connect(auth_server)
    with pytest.raises(rexc.AuthenticationError, match="Authentication required"):
        anon.get("k")
    with pytest.raises(rexc.AuthenticationError):
        connect(auth_server, password="wrong").get("k")
    ok = connect(auth_server, password="s3cret")
    assert ok.set("k", "v") is True
    ok3 = connect(auth_server, password="s3cret", protocol=3)
    assert ok3.get("k") == b"v"
    named = connect(auth_server, username="default", password="s3cret")
    assert named.get("k") == b"v"
    for c in (anon, ok, ok3, named):
        c.close()


def test_auth_from_environment(server_factory):
    import os
    s = server_factory(env=dict(os.environ, KV_PASSWORD="from-env"))
    c = connect(s, password="from-env")
    assert c.set("k", "v") is True
    with pytest.raises(rexc.AuthenticationError):
        connect(s, password="nope").ping()
    c.close()


def test_resp3(r3):
    assert r3.connection_pool.connection_kwargs["protocol"] == 3
    assert r3.set("k", "v") is True
    assert r3.get("k") == b"v"
    assert r3.get("missing") is None
    assert r3.mget("k", "missing") == [b"v", None]
    assert r3.incr("n") == 1
    assert r3.config_get("save") == {b"save": b""} or r3.config_get("save") == {"save": ""}
    assert r3.info()["redis_version"] == "7.0.0"
    with r3.pipeline(transaction=False) as p:
        p.rpush("l", 1, 2)
        p.lrange("l", 0, -1)
        assert p.execute() == [2, [b"1", b"2"]]
    hello = r3.execute_command("HELLO", 3)
    assert hello[b"proto"] == 3


def test_typed_values_read_through_redis_py(server, namespace, r, r3):
    with KvClient(server.url(namespace)) as typed:
        typed.set("int", 10)
        typed.set("dec", Decimal("1.10"))
        typed.set("float", 0.1)
        typed.set("true", True)
        typed.set("none", None)
        typed.set("str", "héllo")
        typed.set("bytes", b"\x00\xff")
        typed.set("list", [1, "a", Decimal("2.50")])
        typed.set("map", {"k": 1})
        typed.rpush("queue", 1, Decimal("0.5"), "x")
        assert r.get("int") == b"10"
        assert r.get("dec") == b"1.10"
        assert r.get("float") == b"0.1"
        assert r.get("true") == b"1"
        assert r.get("none") is None
        assert r.exists("none") == 1
        assert r.get("str") == "héllo".encode()
        assert r.get("bytes") == b"\x00\xff"
        assert r.get("list") == [b"1", b"a", b"2.50"]
        assert r.get("map") == [b"k", b"1"]  # RESP2 has no map: key, value
        assert r3.get("map") == {b"k": b"1"}
        assert r.lrange("queue", 0, -1) == [b"1", b"0.5", b"x"]
        assert r.mget("int", "dec", "missing") == [b"10", b"1.10", None]
        assert r.type("map") == b"hash"
        # Arithmetic on typed values: exact, and visible to the typed client.
        assert r.incr("int") == 11
        assert typed.get("int") == 11
        assert r.incrby("dec", 2) == b"3.10"
        assert typed.get("dec") == Decimal("3.10")
        # What redis-py writes is bytes; INCR makes it a number for both.
        r.set("counter", "41")
        assert typed.get("counter") == b"41"
        assert r.incr("counter") == 42
        assert typed.get("counter") == 42
        assert typed.incr("counter", Decimal("0.5")) == Decimal("42.5")
        assert r.get("counter") == b"42.5"


def test_tls(server_factory, pki):  # noqa: F811
    s = server_factory("--tls-cert", pki.server_cert, "--tls-key", pki.server_key)
    c = redis.Redis(host="127.0.0.1", port=s.port, ssl=True, ssl_ca_certs=pki.ca,
                    socket_timeout=LONG)
    assert c.set("k", "over tls") is True
    assert c.get("k") == b"over tls"
    with c.pipeline(transaction=False) as p:
        for i in range(500):
            p.incr("n")
        assert p.execute()[-1] == 500
    c.close()
    plain = redis.Redis(host="127.0.0.1", port=s.port, socket_timeout=2)
    with pytest.raises(rexc.ConnectionError):
        plain.ping()


def test_every_command_but_ping_hello_auth_needs_auth(auth_server):
    # Issue 7: until a connection authenticates, every command but PING, HELLO and AUTH (and
    # QUIT, which only closes) gets an auth error. As in Redis 7, a call with the wrong number of
    # arguments is told so first (the command table is public); with a right number, NOAUTH.
    ok = connect(auth_server, password="s3cret")
    names = sorted(n.decode().upper() if isinstance(n, bytes) else n.upper()
                   for n in ok.command_list())
    ok.close()
    assert len(names) > 40 and "GET" in names and "FLUSHDB" in names
    allowed = {"PING", "HELLO", "AUTH", "QUIT"}
    with socket.create_connection(("127.0.0.1", auth_server.port), timeout=LONG) as s:
        f = s.makefile("rb")
        for name in names:
            if name in allowed:
                continue
            replies = []
            for n in range(6):
                parts = [name] + ["1"] * n
                s.sendall(("*%d\r\n" % len(parts)
                           + "".join("$%d\r\n%s\r\n" % (len(p), p) for p in parts)).encode())
                replies.append(f.readline())
            assert all(r.startswith(b"-NOAUTH") or b"wrong number of arguments" in r
                       for r in replies), (name, replies)
            assert any(r.startswith(b"-NOAUTH") for r in replies), (name, replies)
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert f.readline() == b"+PONG\r\n"
