"""Locks: KvClient.lock / aio.KvClient.lock."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from data_bridge.kv import KvClient, KvWrongTypeError, LockNotOwnedError, aio
from _kv_helpers import LONG, blocked, in_thread, kv, other, wait_parked  # noqa: F401

pytestmark = pytest.mark.timeout(60)


def test_acquire_release(kv):
    lock = kv.lock("job", ttl=30)
    assert not lock.locked()
    assert lock.acquire(blocking=False) is True
    assert lock.locked() and lock.owned()
    assert kv.get("job") == lock.token  # the key holds the owner's token
    assert 29 < kv.ttl("job") <= 30  # the lease is the key's expiry
    assert lock.acquire(blocking=False) is True  # the owner renews
    lock.release()
    assert not lock.locked() and not lock.owned()
    assert not kv.exists("job")


def test_context_manager(kv):
    with kv.lock("job", ttl=10) as lock:
        assert lock.owned()
        assert kv.lock("job").acquire(blocking=False) is False
    assert not kv.exists("job")


def test_context_manager_releases_on_exception(kv):
    with pytest.raises(ZeroDivisionError):
        with kv.lock("job"):
            1 / 0
    assert not kv.exists("job")


def test_non_blocking_and_timeout_when_held(kv, other):
    holder = other.lock("job", ttl=30)
    assert holder.acquire(blocking=False)
    lock = kv.lock("job")
    assert lock.acquire(blocking=False) is False
    t0 = time.monotonic()
    assert lock.acquire(timeout=0.2) is False
    assert 0.15 <= time.monotonic() - t0 < 5
    assert holder.owned()
    holder.release()
    assert lock.acquire(timeout=0.2) is True
    lock.release()


def test_blocking_acquire_woken_by_release(kv, other):
    holder = other.lock("job", ttl=30)
    assert holder.acquire(blocking=False)
    base = blocked(other)

    def release_when_parked():
        wait_parked(other, base + 1)
        t = time.monotonic()
        holder.release()
        return t

    r = in_thread(release_when_parked)
    lock = kv.lock("job", ttl=30)
    assert lock.acquire(timeout=LONG) is True
    assert time.monotonic() - r.get() < 1.0
    assert lock.owned()
    lock.release()


def test_blocking_acquire_without_timeout(kv, other):
    holder = other.lock("job", ttl=30)
    holder.acquire()
    base = blocked(other)
    r = in_thread(lambda: (wait_parked(other, base + 1), holder.release()))
    lock = kv.lock("job")
    assert lock.acquire() is True  # blocking, no timeout
    r.get()
    lock.release()


def test_blocked_acquirers_served_in_arrival_order(client, url):
    holder = client.lock("job", ttl=30)
    holder.acquire()
    clients = [KvClient(url) for _ in range(3)]
    try:
        order = []
        base = blocked(client)
        runs = []
        for i, c in enumerate(clients):
            def take(c=c, i=i):
                lock = c.lock("job", ttl=30)
                assert lock.acquire(timeout=LONG)
                order.append(i)
                lock.release()  # hands over to the next in line
            runs.append(in_thread(take))
            wait_parked(client, base + i + 1)
        holder.release()
        for r in runs:
            r.get()
        assert order == [0, 1, 2]
    finally:
        for c in clients:
            c.close()


def test_release_by_non_owner(kv, other):
    holder = other.lock("job", ttl=30)
    holder.acquire()
    intruder = kv.lock("job")
    with pytest.raises(LockNotOwnedError, match="another owner") as e:
        intruder.release()
    assert e.value.code == "NOTOWNER"
    with pytest.raises(LockNotOwnedError):
        intruder.extend(60)
    assert holder.owned()  # untouched
    holder.release()
    with pytest.raises(LockNotOwnedError, match="not held"):
        holder.release()  # twice
    with pytest.raises(LockNotOwnedError):
        holder.extend()


def test_extend(kv):
    lock = kv.lock("job", ttl=5)
    lock.acquire()
    assert kv.ttl("job") <= 5
    lock.extend(60)
    assert 59 < kv.ttl("job") <= 60
    lock.extend()  # back to the lock's own ttl
    assert kv.ttl("job") <= 5
    lock.release()


def test_expiry_hands_over(kv, other):
    first = other.lock("job", ttl=0.3)
    assert first.acquire(blocking=False)
    second = kv.lock("job", ttl=30)
    t0 = time.monotonic()
    assert second.acquire(timeout=LONG) is True  # the lease runs out: no release needed
    waited = time.monotonic() - t0
    assert 0.1 < waited < 3
    assert second.owned()
    with pytest.raises(LockNotOwnedError):
        first.release()  # too late: cannot release the next owner's lock
    assert second.owned()
    second.release()


def test_bad_ttl(kv):
    for ttl in (0, -1):
        with pytest.raises(ValueError):
            kv.lock("job", ttl=ttl)
    with pytest.raises(TypeError):
        kv.lock("job", ttl="10")


def test_lock_on_key_of_other_type(kv):
    kv.set("job", 42)
    with pytest.raises(KvWrongTypeError):
        kv.lock("job").acquire(blocking=False)
    assert kv.get("job") == 42


def test_contention_between_threads_never_two_holders(client, url):
    n_threads, rounds = 8, 15
    clients = [KvClient(url) for _ in range(n_threads // 2)]
    users = clients + [client] * (n_threads - len(clients))
    holders = 0
    max_holders = 0
    entries = 0
    guard = threading.Lock()
    errors = []

    def worker(c):
        nonlocal holders, max_holders, entries
        try:
            for _ in range(rounds):
                with c.lock("critical", ttl=30):
                    with guard:
                        holders += 1
                        max_holders = max(max_holders, holders)
                        entries += 1
                    # read-modify-write that would lose updates without mutual exclusion
                    c.set("counter", c.get("counter", 0) + 1)
                    with guard:
                        holders -= 1
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    try:
        threads = [threading.Thread(target=worker, args=(c,)) for c in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join(LONG * 3)
        assert not errors, errors[:3]
        assert max_holders == 1
        assert entries == n_threads * rounds
        assert client.get("counter") == n_threads * rounds
        assert not client.exists("critical")
    finally:
        for c in clients:
            c.close()


# -- asyncio


def test_async_context_manager(url):
    async def main():
        async with aio.KvClient(url) as c:
            async with c.lock("job", ttl=10) as lock:
                assert await lock.owned()
                assert await lock.locked()
                assert await c.lock("job").acquire(blocking=False) is False
            assert not await c.exists("job")
            with pytest.raises(LockNotOwnedError):
                await lock.release()

    asyncio.run(main())


def test_async_contention_never_two_holders(url):
    async def main():
        async with aio.KvClient(url) as c:
            holders = 0
            max_holders = 0

            async def worker():
                nonlocal holders, max_holders
                for _ in range(5):
                    async with c.lock("critical", ttl=30):
                        holders += 1
                        max_holders = max(max_holders, holders)
                        value = await c.get("counter", 0)
                        await asyncio.sleep(0)  # let the others run
                        await c.set("counter", value + 1)
                        holders -= 1

            await asyncio.wait_for(asyncio.gather(*[worker() for _ in range(10)]), LONG * 3)
            assert max_holders == 1
            assert await c.get("counter") == 50

    asyncio.run(main())


def test_async_lock_expiry_hands_over(url):
    async def main():
        async with aio.KvClient(url) as c:
            first = c.lock("job", ttl=0.3)
            assert await first.acquire(blocking=False)
            second = c.lock("job", ttl=30)
            assert await second.acquire(timeout=LONG)
            with pytest.raises(LockNotOwnedError):
                await first.extend()
            await second.extend(60)
            assert await c.ttl("job") > 59
            await second.release()

    asyncio.run(main())
