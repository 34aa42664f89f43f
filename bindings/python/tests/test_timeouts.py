"""Every blocking method of the package, sync and asyncio, with each kind of timeout.

- ``timeout=0``: look once, never wait: the "nothing" answer comes back at once when there is
  nothing, the value when there is one.
- a positive timeout: the "nothing" answer after that long, within a small margin.
- ``timeout=None``: wait for as long as it takes, but stay interruptible: a signal handler
  that raises ends the wait at once (the native wait returns to Python every 100 ms), and
  closing the client from another thread ends it with KvConnectionError.

Each blocking method is described once (what it sends, how it is made ready, what "nothing"
is) and run through every case on both clients.
"""
from __future__ import annotations

import asyncio
import signal
import threading
import time
from typing import Any, Callable, NamedTuple

import pytest

from data_bridge.kv import KvClient, aio
from data_bridge.kv.errors import KvConnectionError

#: How much later than asked a timed-out wait may return (loaded CI machines included).
MARGIN = 1.0


class Blocking(NamedTuple):
    name: str
    call: Callable[[Any, Any], Any]  # (client, timeout) -> awaitable or value
    ready: Callable[[KvClient], None]  # makes the call answer at once
    nothing: Any  # what the call gives when its timeout passes


BLOCKING = [
    Blocking("wait", lambda c, t: c.wait("k", timeout=t), lambda c: c.set("k", 1), None),
    Blocking("mwait", lambda c, t: c.mwait(["k", "k2"], timeout=t),
             lambda c: c.mset({"k": 1, "k2": 2}), [None, None]),
    Blocking("waitany", lambda c, t: c.waitany(["k", "k2"], timeout=t),
             lambda c: c.set("k2", 2), None),
    Blocking("waitany_versioned", lambda c, t: c.waitany_versioned({"k": 0}, timeout=t),
             lambda c: c.set("k", 1), None),
    Blocking("blpop", lambda c, t: c.blpop(["q"], timeout=t), lambda c: c.rpush("q", 1), None),
    Blocking("brpop", lambda c, t: c.brpop(["q"], timeout=t), lambda c: c.rpush("q", 1), None),
    Blocking("lock.acquire", lambda c, t: c.lock("L", ttl=30).acquire(timeout=t),
             lambda c: None, False),
]

IDS = [b.name for b in BLOCKING]


def _hold_lock(c: KvClient) -> None:
    assert c.lock("L", ttl=30).acquire(blocking=False)


def _not_ready(b: Blocking, c: KvClient) -> None:
    """Sets up what makes the call wait (the lock held by someone else)."""
    if b.name == "lock.acquire":
        _hold_lock(c)


@pytest.fixture
def other(url):
    c = KvClient(url)
    yield c
    c.close()


def _sync(kv_url: str) -> KvClient:
    return KvClient(kv_url)


def _run_aio(url: str, b: Blocking, timeout: Any) -> Any:
    async def main() -> Any:
        async with aio.KvClient(url) as c:
            return await b.call(c, timeout)
    return asyncio.run(main())


@pytest.mark.parametrize("b", BLOCKING, ids=IDS)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_timeout_zero_looks_once(b, flavour, url, other):
    _not_ready(b, other)
    t0 = time.monotonic()
    if flavour == "sync":
        with KvClient(url) as c:
            got = b.call(c, 0)
    else:
        got = _run_aio(url, b, 0)
    assert got == b.nothing
    assert time.monotonic() - t0 < MARGIN


@pytest.mark.parametrize("b", [b for b in BLOCKING if b.name != "lock.acquire"], ids=IDS[:-1])
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_timeout_zero_answers_when_ready(b, flavour, url, other):
    b.ready(other)
    with KvClient(url) as c:
        got = b.call(c, 0) if flavour == "sync" else _run_aio(url, b, 0)
    assert got != b.nothing


def test_lock_acquire_timeout_zero_takes_a_free_lock(url):
    with KvClient(url) as c:
        lock = c.lock("L", ttl=30)
        assert lock.acquire(timeout=0) is True
        assert lock.owned()


@pytest.mark.parametrize("b", BLOCKING, ids=IDS)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_positive_timeout_within_a_margin(b, flavour, url, other):
    _not_ready(b, other)
    t0 = time.monotonic()
    got = b.call(KvClient(url), 0.3) if flavour == "sync" else _run_aio(url, b, 0.3)
    took = time.monotonic() - t0
    assert got == b.nothing
    assert 0.29 <= took < 0.3 + MARGIN


@pytest.mark.parametrize("b", BLOCKING, ids=IDS)
def test_negative_timeout_is_refused(b, url):
    with KvClient(url) as c, pytest.raises(ValueError):
        b.call(c, -1)


class _Interrupted(Exception):
    pass


@pytest.mark.parametrize("b", BLOCKING, ids=IDS)
def test_no_timeout_is_interruptible_by_a_signal(b, url, other):
    """timeout=None waits forever, yet a signal handler that raises ends the wait promptly
    (as Ctrl-C does), and the client keeps working afterwards."""
    _not_ready(b, other)

    def handler(*_: Any) -> None:
        raise _Interrupted()

    old = signal.signal(signal.SIGALRM, handler)
    with KvClient(url) as c:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            t0 = time.monotonic()
            with pytest.raises(_Interrupted):
                b.call(c, None)
            assert time.monotonic() - t0 < 0.3 + MARGIN
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        assert c.ping()
        b.ready(other)
        if b.name != "lock.acquire":
            assert b.call(c, 5) != b.nothing  # the abandoned wait took nothing


@pytest.mark.parametrize("b", BLOCKING, ids=IDS)
def test_no_timeout_ends_when_the_client_is_closed(b, url, other):
    _not_ready(b, other)
    c = KvClient(url)
    outcome: list = []

    def waiter() -> None:
        try:
            outcome.append(b.call(c, None))
        except Exception as exc:  # noqa: BLE001 - the outcome is checked below
            outcome.append(exc)

    th = threading.Thread(target=waiter)
    th.start()
    deadline = time.monotonic() + 10
    while other.info().get("blocked", 1) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # until the call is parked on the server
    t0 = time.monotonic()
    c.close()
    th.join(MARGIN + 1)
    assert not th.is_alive()
    assert time.monotonic() - t0 < MARGIN
    assert len(outcome) == 1 and isinstance(outcome[0], KvConnectionError)


@pytest.mark.parametrize("b", BLOCKING, ids=IDS)
def test_aio_no_timeout_ends_when_cancelled_or_closed(b, url, other):
    _not_ready(b, other)

    async def main() -> None:
        async with aio.KvClient(url) as c:
            task = asyncio.ensure_future(b.call(c, None))
            await asyncio.sleep(0.1)
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            task = asyncio.ensure_future(b.call(c, None))
            await asyncio.sleep(0.1)
            t0 = time.monotonic()
            await c.aclose()
            with pytest.raises(KvConnectionError):
                await asyncio.wait_for(task, MARGIN + 1)
            assert time.monotonic() - t0 < MARGIN
    asyncio.run(main())
