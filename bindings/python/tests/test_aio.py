"""What is particular to data_bridge.kv.aio.KvClient (its methods are also covered by the
``kv``-parametrized tests of test_client.py, test_values.py and test_lock.py)."""
from __future__ import annotations

import asyncio
import inspect
import threading
import time
from decimal import Decimal

import pytest

from data_bridge.kv import KvClient, KvConnectionError, KvTimeoutError, aio
from _kv_helpers import LONG, SilentServer, blocked, wait_parked

pytestmark = pytest.mark.timeout(60)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_same_methods_as_sync_client():
    sync_methods = {n for n, v in vars(KvClient).items()
                    if callable(v) and not n.startswith("_")}
    aio_methods = {n for n, v in vars(aio.KvClient).items()
                   if callable(v) and not n.startswith("_")}
    assert sync_methods - aio_methods == set()
    for name in sync_methods - {"lock", "close"}:
        assert inspect.iscoroutinefunction(getattr(aio.KvClient, name)), name
    assert inspect.iscoroutinefunction(aio.KvClient.aclose)


def test_basic_awaits(url):
    async def main():
        async with aio.KvClient(url) as c:
            assert await c.ping()
            await c.set("k", Decimal("1.10"))
            assert str(await c.incr("k", 1)) == "2.10"
            assert await c.mget(["k", "x"]) == [Decimal("2.10"), None]
            assert await c.get("x", default=0) == 0
        assert c.closed

    run(main())


def test_gather_1000_incr(url):
    async def main():
        async with aio.KvClient(url) as c:
            before = threading.active_count()
            results = await asyncio.gather(*[c.incr("n") for _ in range(1000)])
            assert sorted(results) == list(range(1, 1001))
            assert await c.get("n") == 1000
            assert threading.active_count() == before

    run(main())


def test_no_thread_per_call(url):
    """1000 calls in flight at once run on the client's one I/O thread: no Python thread is
    started for them, and the count does not grow with the number of calls."""
    async def main():
        async with aio.KvClient(url) as c:
            await c.ping()
            before = threading.active_count()
            seen = []

            async def call(i):
                await c.set(f"k{i}", i)
                seen.append(threading.active_count())
                return await c.get(f"k{i}")

            tasks = [asyncio.ensure_future(call(i)) for i in range(1000)]
            await asyncio.sleep(0)  # every task has sent its request
            in_flight = threading.active_count()
            assert await asyncio.gather(*tasks) == list(range(1000))
            assert in_flight == before
            assert max(seen) == before
            assert threading.active_count() == before

    run(main())


def test_concurrent_mixed_commands(url):
    async def main():
        async with aio.KvClient(url) as c:
            async def worker(i):
                await c.set(f"k{i}", {"i": i})
                await c.rpush("list", i)
                await c.incr("total", Decimal("0.01"))
                return await c.get(f"k{i}")

            out = await asyncio.gather(*[worker(i) for i in range(200)])
            assert out == [{"i": i} for i in range(200)]
            assert sorted(await c.lrange("list", 0, -1)) == list(range(200))
            assert str(await c.get("total")) == "2.00"

    run(main())


def test_wait_woken_and_timeout(url):
    async def main():
        async with aio.KvClient(url) as c, aio.KvClient(url) as writer:
            assert await c.wait("missing", timeout=0.1) is None
            base = await c.info()

            async def write_when_parked():
                while (await writer.info())["blocked"] < base["blocked"] + 1:
                    await asyncio.sleep(0.005)
                t = time.monotonic()
                await writer.set("k", "v")
                return t

            got, written_at = await asyncio.gather(c.wait("k", timeout=LONG),
                                                   write_when_parked())
            assert got == "v"
            assert time.monotonic() - written_at < 1.0

    run(main())


def test_many_concurrent_waiters_on_one_client(url):
    async def main():
        async with aio.KvClient(url) as c, aio.KvClient(url) as writer:
            base = (await writer.info())["blocked"]
            waits = [asyncio.ensure_future(c.wait(f"r{i}", timeout=LONG)) for i in range(20)]
            pops = [asyncio.ensure_future(c.blpop("q", timeout=LONG)) for _ in range(5)]
            while (await writer.info())["blocked"] < base + 25:
                await asyncio.sleep(0.005)
            # other calls on the same client are not held back by the parked ones
            t0 = time.monotonic()
            assert await c.ping()
            assert time.monotonic() - t0 < 1.0
            await writer.mset({f"r{i}": i for i in range(20)})
            await writer.rpush("q", *range(5))
            assert await asyncio.gather(*waits) == list(range(20))
            assert sorted(v for _, v in await asyncio.gather(*pops)) == list(range(5))

    run(main())


def test_cancelled_wait_does_not_break_client(url):
    async def main():
        async with aio.KvClient(url) as c, aio.KvClient(url) as probe:
            base = (await probe.info())["blocked"]
            task = asyncio.ensure_future(c.wait("never"))  # no timeout at all
            while (await probe.info())["blocked"] < base + 1:
                await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            t0 = time.monotonic()
            assert await c.ping()
            await c.set("k", 1)
            assert await c.get("k") == 1
            assert time.monotonic() - t0 < 1.0
            # the server dropped the abandoned command
            while (await probe.info())["blocked"] > base:
                await asyncio.sleep(0.005)
            assert await c.wait("k", timeout=1) == 1

    run(main())


def test_cancelled_blpop_never_takes_an_element(url):
    async def main():
        async with aio.KvClient(url) as c, aio.KvClient(url) as probe:
            base = (await probe.info())["blocked"]
            task = asyncio.ensure_future(c.blpop("q", timeout=LONG))
            while (await probe.info())["blocked"] < base + 1:
                await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            while (await probe.info())["blocked"] > base:
                await asyncio.sleep(0.005)
            await probe.rpush("q", "precious")
            assert await c.lpop("q") == "precious"

    run(main())


def test_wait_for_timeout_on_blocking_call(url):
    async def main():
        async with aio.KvClient(url) as c:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(c.brpop("q", timeout=LONG), 0.1)
            assert await c.ping()
            await c.rpush("q", 1)
            assert await c.llen("q") == 1

    run(main())


def test_cancel_many_plain_calls(url):
    async def main():
        async with aio.KvClient(url) as c:
            tasks = [asyncio.ensure_future(c.incr("n")) for _ in range(200)]
            await asyncio.sleep(0)
            for t in tasks[::2]:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # cancelled or not, every INCR was sent: the client is still in order
            assert await c.incr("n") == 201

    run(main())


def test_timeout_with_silent_server():
    async def main():
        with SilentServer() as silent:
            c = aio.KvClient(f"127.0.0.1:{silent.port}", timeout=0.2)
            t0 = time.monotonic()
            results = await asyncio.gather(*[c.get(f"k{i}") for i in range(50)],
                                           return_exceptions=True)
            assert all(isinstance(r, KvTimeoutError) for r in results)
            assert time.monotonic() - t0 < 3
            c.close()

    run(main())


def test_aclose_fails_waiting_calls(url):
    async def main():
        c = aio.KvClient(url)
        probe = KvClient(url)
        try:
            base = blocked(probe)
            task = asyncio.ensure_future(c.wait("never", timeout=LONG))
            while blocked(probe) < base + 1:
                await asyncio.sleep(0.005)
            await c.aclose()
            with pytest.raises(KvConnectionError):
                await task
            with pytest.raises(KvConnectionError):
                await c.get("k")
        finally:
            probe.close()

    run(main())


def test_two_event_loops_one_after_the_other(url):
    c = aio.KvClient(url)
    try:
        assert asyncio.run(c.set("k", 1))
        assert asyncio.run(c.get("k")) == 1
    finally:
        c.close()


def test_sync_and_aio_clients_see_each_other(client, url):
    async def main():
        async with aio.KvClient(url) as c:
            base = blocked(client)
            fut = asyncio.ensure_future(c.waitany(["a", "b"], timeout=LONG))
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: (wait_parked(client, base + 1), client.set("b", b"\x00")))
            assert await fut == ("b", b"\x00")

    run(main())


def test_client_survives_server_restart(server_factory, namespace):
    first = server_factory()
    port = first.port

    async def main():
        c = aio.KvClient(first.url(namespace))
        try:
            await c.set("k", 1)
            assert first.stop() == 0
            second = server_factory(port=port)
            assert second.port == port
            failures = 0
            for _ in range(3):
                try:
                    assert await c.set("k", 2)
                    break
                except KvConnectionError:
                    failures += 1
            assert failures <= 1
            assert await c.get("k") == 2
            assert await c.wait("k", timeout=1) == 2
        finally:
            c.close()

    run(main())
