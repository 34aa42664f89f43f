"""KvPool / PoolConfig and aio.KvPool."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from data_bridge.kv import (KvClient, KvConnectionError, KvPool, KvPoolTimeoutError,
                            KvTimeoutError, PoolConfig, aio)
from _kv_helpers import LONG, eventually, in_thread

pytestmark = pytest.mark.timeout(60)

STATS_FIELDS = {"size", "in_use", "idle", "max_size", "waiting", "created", "acquired",
                "timeouts"}


def test_pool_config_validation():
    assert PoolConfig() == PoolConfig(max_size=10, min_size=0, acquire_timeout=5.0)
    for bad in (dict(max_size=0), dict(max_size=-1), dict(min_size=-1),
                dict(max_size=2, min_size=3)):
        with pytest.raises(ValueError):
            PoolConfig(**bad)
    with pytest.raises(Exception):
        PoolConfig().max_size = 3  # frozen


def test_stats_fields_and_min_size(url):
    with KvPool(url, PoolConfig(max_size=4, min_size=2)) as pool:
        s = pool.stats()
        assert set(s) == STATS_FIELDS
        assert s == dict(size=2, in_use=0, idle=2, max_size=4, waiting=0, created=2,
                         acquired=0, timeouts=0)


def test_delegation(url):
    with KvPool(url, PoolConfig(max_size=2)) as pool:
        assert pool.ping()
        assert pool.set("k", [1, "a"]) is True
        assert pool.get("k") == [1, "a"]
        assert pool.get("missing", default=7) == 7
        assert pool.incr("n", 5) == 5
        assert pool.mget(["k", "n"]) == [[1, "a"], 5]
        s = pool.stats()
        assert s["acquired"] == 6 and s["in_use"] == 0
        assert s["size"] == s["created"] == 1  # one connection, reused
        with pytest.raises(AttributeError):
            pool._private  # noqa: B018


def test_client_context_manager_and_stats(url):
    pool = KvPool(url, PoolConfig(max_size=3))
    try:
        with pool.client() as a:
            assert isinstance(a, KvClient)
            a.set("k", 1)
            with pool.client() as b:
                assert b is not a
                assert pool.stats()["in_use"] == 2
                assert pool.stats()["idle"] == 0
            s = pool.stats()
            assert (s["in_use"], s["idle"], s["size"]) == (1, 1, 2)
        s = pool.stats()
        assert (s["in_use"], s["idle"], s["size"], s["created"], s["acquired"]) == (0, 2, 2, 2, 2)
        with pool.client() as c:
            assert c in (a, b)  # reused
    finally:
        pool.close()


def test_max_size_acquire_waits_then_gets_released_connection(url):
    pool = KvPool(url, PoolConfig(max_size=2, acquire_timeout=LONG))
    try:
        a = pool.acquire()
        b = pool.acquire()
        waiter = in_thread(pool.acquire)
        eventually(lambda: pool.stats()["waiting"] == 1, what="a waiting acquire")
        s = pool.stats()
        assert (s["size"], s["in_use"], s["idle"]) == (2, 2, 0)
        released_at = time.monotonic()
        pool.release(a)
        c = waiter.get()
        assert c is a
        assert waiter.finished_at - released_at < 1.0
        s = pool.stats()
        assert (s["size"], s["in_use"], s["waiting"], s["created"]) == (2, 2, 0, 2)
        pool.release(b)
        pool.release(c)
    finally:
        pool.close()


def test_max_size_acquire_times_out(url):
    pool = KvPool(url, PoolConfig(max_size=1, acquire_timeout=0.2))
    try:
        held = pool.acquire()
        t0 = time.monotonic()
        with pytest.raises(KvPoolTimeoutError) as e:
            pool.acquire()
        assert 0.15 <= time.monotonic() - t0 < 3
        assert isinstance(e.value, KvTimeoutError)
        assert "max_size 1" in str(e.value)
        with pytest.raises(KvPoolTimeoutError):
            pool.get("k")  # delegation borrows too
        with pytest.raises(KvPoolTimeoutError):
            pool.acquire(timeout=0.05)  # an explicit timeout wins
        s = pool.stats()
        assert s["timeouts"] == 3 and s["waiting"] == 0 and s["in_use"] == 1
        pool.release(held)
        assert pool.get("k") is None
    finally:
        pool.close()


def test_threads_share_bounded_pool(url):
    pool = KvPool(url, PoolConfig(max_size=4, acquire_timeout=LONG))
    errors = []
    peak = 0
    guard = threading.Lock()

    def work():
        nonlocal peak
        try:
            for _ in range(50):
                with pool.client() as c:
                    with guard:
                        peak = max(peak, pool.stats()["in_use"])
                    c.incr("n")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    try:
        threads = [threading.Thread(target=work) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(LONG * 3)
        assert not errors, errors[:3]
        assert pool.get("n") == 600
        s = pool.stats()
        assert s["size"] <= 4 and s["created"] <= 4 and peak <= 4
        assert s["acquired"] == 601 and s["in_use"] == 0
    finally:
        pool.close()


def test_blocking_calls_through_pool(url, client):
    with KvPool(url, PoolConfig(max_size=2)) as pool:
        base = client.info()["blocked"]
        r = in_thread(lambda: pool.wait("k", timeout=LONG))
        eventually(lambda: client.info()["blocked"] >= base + 1, what="parked wait")
        assert pool.set("k", "v")  # the other connection is free
        assert r.get() == "v"


def test_close(url):
    pool = KvPool(url, PoolConfig(max_size=2, min_size=1))
    held = pool.acquire()
    pool.close()
    s = pool.stats()
    assert s["idle"] == 0
    with pytest.raises(KvConnectionError, match="closed"):
        pool.acquire()
    with pytest.raises(KvConnectionError):
        pool.get("k")
    assert not held.closed  # still usable by its borrower until released
    held.ping()
    pool.release(held)
    assert held.closed
    assert pool.stats()["size"] == 0


def test_close_wakes_waiting_acquire(url):
    pool = KvPool(url, PoolConfig(max_size=1, acquire_timeout=LONG))
    held = pool.acquire()
    waiter = in_thread(pool.acquire)
    eventually(lambda: pool.stats()["waiting"] == 1, what="a waiting acquire")
    pool.close()
    with pytest.raises(KvConnectionError):
        waiter.get()
    pool.release(held)


def test_context_manager_closes(url):
    with KvPool(url) as pool:
        pool.set("k", 1)
    with pytest.raises(KvConnectionError):
        pool.get("k")


def test_closed_client_not_returned_to_pool(url):
    with KvPool(url, PoolConfig(max_size=2)) as pool:
        with pool.client() as c:
            c.close()
        s = pool.stats()
        assert s["size"] == 0 and s["idle"] == 0
        with pool.client() as c2:
            assert c2 is not c and c2.ping()


def test_pool_client_kwargs(url):
    with KvPool(url, PoolConfig(max_size=1), timeout=1.5) as pool:
        with pool.client() as c:
            assert c.timeout == 1.5


# -- asyncio


def arun(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_aio_pool_delegation_and_stats(url):
    async def main():
        async with aio.KvPool(url, PoolConfig(max_size=3, min_size=1)) as pool:
            assert set(pool.stats()) == STATS_FIELDS
            assert pool.stats()["created"] == 1
            assert await pool.set("k", {"a": 1})
            assert await pool.get("k") == {"a": 1}
            assert await pool.incr("n") == 1
            results = await asyncio.gather(*[pool.incr("n") for _ in range(50)])
            assert sorted(results) == list(range(2, 52))
            s = pool.stats()
            assert s["size"] <= 3 and s["in_use"] == 0 and s["acquired"] == 53
            async with pool.client() as c:
                assert isinstance(c, aio.KvClient)
                assert pool.stats()["in_use"] == 1
                assert await c.get("n") == 51
            assert pool.stats()["in_use"] == 0

    arun(main())


def test_aio_pool_waits_then_times_out(url):
    async def main():
        pool = aio.KvPool(url, PoolConfig(max_size=1, acquire_timeout=0.2))
        try:
            held = await pool.acquire()
            t0 = time.monotonic()
            with pytest.raises(KvPoolTimeoutError):
                await pool.acquire()
            assert 0.15 <= time.monotonic() - t0 < 3
            assert pool.stats()["timeouts"] == 1

            waiter = asyncio.ensure_future(pool.acquire(timeout=LONG))
            while pool.stats()["waiting"] != 1:
                await asyncio.sleep(0.001)
            assert pool.stats()["in_use"] == 1
            await pool.release(held)
            got = await waiter
            assert got is held
            assert pool.stats()["waiting"] == 0
            await pool.release(got)
        finally:
            await pool.aclose()
        with pytest.raises(KvConnectionError):
            await pool.acquire()

    arun(main())


def test_aio_pool_bounded_under_load(url):
    async def main():
        async with aio.KvPool(url, PoolConfig(max_size=4, acquire_timeout=LONG)) as pool:
            peak = 0

            async def work(i):
                nonlocal peak
                async with pool.client() as c:
                    peak = max(peak, pool.stats()["in_use"])
                    await c.set(f"k{i}", i)
                    await asyncio.sleep(0)
                    return await c.get(f"k{i}")

            assert await asyncio.gather(*[work(i) for i in range(100)]) == list(range(100))
            assert peak <= 4 and pool.stats()["size"] <= 4

    arun(main())
