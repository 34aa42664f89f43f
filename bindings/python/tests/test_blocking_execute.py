"""Blocking commands through the public API: ``execute(...)`` of WAIT, BLPOP, LOCK with a
timeout... (sync and asyncio), the typed ``mget_versioned`` / ``waitany_versioned``, and the
cost of many blocking calls in flight (threads stay bounded)."""
from __future__ import annotations

import asyncio
import inspect
import math
import os
import threading
import time

import pytest

from data_bridge.kv import KvClient, aio
from _kv_helpers import LONG, blocked, in_thread, kv, other, wait_parked  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(60)


def native_threads() -> int:
    """Threads of this process, Python's and native ones alike."""
    return len(os.listdir("/proc/self/task"))


def write_when_parked(writer, at_least, fn):
    """In a thread: once the server has ``at_least`` commands parked, runs fn(writer)."""
    def body():
        wait_parked(writer, at_least)
        time.sleep(0.05)
        t = time.monotonic()
        fn(writer)
        return t
    return in_thread(body)


# -- execute of the built-in blocking commands


def test_execute_wait_longer_than_the_client_timeout(server, namespace, other):
    """WAIT through execute may take longer than the client's timeout (0.5 s here): its own
    timeout argument says how long the server may hold it."""
    with KvClient(server.url(namespace) + "?timeout=0.5") as c:
        base = blocked(other)
        writer = in_thread(lambda: (wait_parked(other, base + 1), time.sleep(1.0),
                                    other.set("k", "v")))
        t = time.monotonic()
        assert c.execute("WAIT", "k", 7) == "v"
        assert 1.0 <= time.monotonic() - t < 5
        writer.get()


def test_execute_blocking_commands_every_form(kv, other):
    base = blocked(other)
    # at their timeout
    assert kv.execute("WAIT", "missing", 0.1) is None
    assert kv.execute("wait", "missing", "0.1") is None  # any case; the timeout as text
    assert kv.execute("BLPOP", "q", 0.1) is None
    assert kv.execute("BRPOP", "q1", "q2", 0.1) is None
    assert kv.execute("MWAIT", 0.1, "a", "b") == [None, None]
    assert kv.execute("WAITANY", 0.1, "a", "b") is None
    assert kv.execute("WAITANYV", 0.1, "a", 0) is None
    # woken by a write made while they are parked
    w = write_when_parked(other, base + 1, lambda o: o.rpush("q", 42))
    assert kv.execute("BLPOP", "q", 0) == ["q", 42]  # 0: wait forever
    w.get()
    w = write_when_parked(other, base + 1, lambda o: o.set("k", 1))
    assert kv.execute("WAITANYV", LONG, "k", 0)[:2] == ["k", 1]
    w.get()
    # errors come back as usual, at once
    with pytest.raises(Exception, match="timeout"):
        kv.execute("WAIT", "k", -1)
    assert kv.ping()


def test_execute_lock_with_a_timeout_waits_for_the_release(kv, other):
    holder = other.lock("L", ttl=30)
    assert holder.acquire(blocking=False)
    base = blocked(other)
    w = write_when_parked(other, base + 1, lambda o: holder.release())
    # LOCK name token ttl_ms timeout: blocks until the holder releases
    assert kv.execute("LOCK", "L", "me", 30000, LONG) == 1
    w.get()
    assert kv.get("L") == "me"
    # without a timeout it tries once (not a blocking call)
    assert kv.execute("LOCK", "L", "other-token", 30000) == 0


def test_execute_timeout_keyword(kv, other):
    """For a command execute does not know to block (a plugin's), ``timeout`` declares it."""
    assert kv.execute("WAIT", "missing", 0.1, timeout=0.1) is None
    base = blocked(other)
    w = write_when_parked(other, base + 1, lambda o: o.set("k2", "x"))
    assert kv.execute("WAIT", "k2", 0, timeout=math.inf) == "x"
    w.get()
    for bad in (0, -1, True):
        with pytest.raises(ValueError):
            kv.execute("WAIT", "k2", 1, timeout=bad)
    # timeout= on a plain command: runs on a blocking connection, same result
    assert kv.execute("GET", "k2", timeout=1) == "x"


def test_execute_wait_does_not_hold_back_other_threads(client, other):
    base = blocked(other)
    waiter = in_thread(lambda: client.execute("WAIT", "late", LONG))
    wait_parked(other, base + 1)
    t = time.monotonic()
    assert client.ping()
    client.set("x", 1)
    assert client.get("x") == 1
    assert time.monotonic() - t < 1.0
    other.set("late", "now")
    assert waiter.get() == "now"


def test_aio_execute_wait_concurrent_with_other_calls(url):
    async def main():
        async with aio.KvClient(url) as c, aio.KvClient(url) as writer:
            base = (await writer.info())["blocked"]
            waiting = asyncio.ensure_future(c.execute("WAIT", "k", LONG))
            while (await writer.info())["blocked"] < base + 1:
                await asyncio.sleep(0.005)
            t = time.monotonic()
            assert await c.ping()
            assert await c.execute("SET", "other", 1) == "OK"
            assert time.monotonic() - t < 1.0
            assert not waiting.done()
            await writer.set("k", "done")
            assert await waiting == "done"
            # cancelled: the parked command is dropped with its connection
            task = asyncio.ensure_future(c.execute("BLPOP", "q", 0))
            while (await writer.info())["blocked"] < base + 1:
                await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            while (await writer.info())["blocked"] > base:
                await asyncio.sleep(0.005)
            await writer.rpush("q", 1)
            assert await c.lrange("q", 0, -1) == [1]  # the cancelled BLPOP took nothing

    asyncio.run(asyncio.wait_for(main(), 30))


# -- typed helpers for versions


def test_mget_versioned_and_waitany_versioned(kv, other):
    assert kv.mget_versioned([]) == []
    kv.set("a", "x")
    kv.set("b", 2)
    [(va, ver_a), (vb, ver_b), missing] = kv.mget_versioned(["a", "b", "nope"])
    assert (va, vb, missing) == ("x", 2, None)
    assert isinstance(ver_a, int) and isinstance(ver_b, int)
    # unchanged since read: nothing to report
    assert kv.waitany_versioned({"a": ver_a, "b": ver_b}, timeout=0.1) is None
    # version 0: any, so an existing key answers at once
    assert kv.waitany_versioned([("nope", 0), ("b", 0)], timeout=LONG) == ("b", 2, ver_b)
    base = blocked(other)
    w = write_when_parked(other, base + 1, lambda o: o.set("b", 3))
    key, value, version = kv.waitany_versioned({"a": ver_a, "b": ver_b}, timeout=LONG)
    assert (key, value) == ("b", 3) and version > ver_b
    w.get()
    with pytest.raises(ValueError):
        kv.waitany_versioned({}, timeout=1)
    with pytest.raises(ValueError):
        kv.waitany_versioned({"a": -1}, timeout=1)


def test_celery_backend_uses_public_api_only():
    from data_bridge.kv import celery

    source = inspect.getsource(celery)
    assert "._run(" not in source and "Command(" not in source


# -- the cost of many blocking calls in flight


def test_100_concurrent_aio_waits_add_at_most_two_threads(url):
    """Every blocking connection runs on one shared I/O thread: 100 waits in flight cost 100
    connections and at most 2 threads (that thread and Asio's resolver), not 2 per wait."""
    async def main():
        async with aio.KvClient(url) as c, aio.KvClient(url) as writer:
            await c.ping()
            base = (await writer.info())["blocked"]
            before = native_threads()
            waits = [asyncio.ensure_future(c.wait(f"w{i}", timeout=LONG)) for i in range(100)]
            while (await writer.info())["blocked"] < base + 100:
                await asyncio.sleep(0.005)
            during = native_threads()
            await writer.mset({f"w{i}": i for i in range(100)})
            assert await asyncio.gather(*waits) == list(range(100))
            return before, during

    before, during = asyncio.run(asyncio.wait_for(main(), 30))
    assert during - before <= 2, (before, during)


def test_blocking_threads_add_no_native_threads_per_call(client, other):
    """20 Python threads in wait() at once: 20 threads of theirs, and at most 2 native ones
    shared by all their connections."""
    client.ping()
    base = blocked(other)
    before = native_threads()
    start = threading.Barrier(21)

    def waiter(i):
        start.wait()
        return client.wait(f"t{i}", timeout=LONG)

    results = [in_thread(lambda i=i: waiter(i)) for i in range(20)]
    start.wait()
    wait_parked(other, base + 20)
    during = native_threads()
    other.mset({f"t{i}": i for i in range(20)})
    assert [r.get() for r in results] == list(range(20))
    assert during - before <= 20 + 2, (before, during)
