"""Helpers shared by the client tests (not fixtures: see conftest.py for those)."""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Callable, Optional

# Upper bound for anything the tests wait on: far above what a healthy run needs, far below
# the per-test timeout, so a failure is an assertion rather than a hang.
LONG = 10.0


def eventually(predicate: Callable[[], Any], timeout: float = LONG, interval: float = 0.005,
               what: str = "condition") -> Any:
    """Polls predicate until it returns something truthy (returned), or fails at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


def blocked(client: Any) -> int:
    """Commands parked on the server (every namespace): INFO's ``blocked``."""
    return client.info()["blocked"]


def wait_parked(client: Any, at_least: int, timeout: float = LONG) -> None:
    """Returns once the server has at least ``at_least`` commands parked."""
    eventually(lambda: blocked(client) >= at_least, timeout,
               what=f"{at_least} command(s) parked on the server")


def in_thread(fn: Callable[[], Any]) -> "Result":
    """Runs fn in a daemon thread; ``.get()`` joins it and returns its result (or raises)."""
    r = Result(fn)
    r.thread.start()
    return r


class Result:
    def __init__(self, fn: Callable[[], Any]):
        self._fn = fn
        self.value: Any = None
        self.error: Optional[BaseException] = None
        self.finished_at: Optional[float] = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.value = self._fn()
        except BaseException as e:  # noqa: BLE001 - reported by get()
            self.error = e
        self.finished_at = time.monotonic()

    def get(self, timeout: float = LONG) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "thread did not finish"
        if self.error is not None:
            raise self.error
        return self.value


def free_port() -> int:
    """A port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SilentServer:
    """Accepts TCP connections (through the listen backlog) and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "SilentServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AioAsSync:
    """Runs an aio.KvClient's coroutines on a private loop so that one test body exercises the
    sync and the asyncio client alike. Lock objects are wrapped the same way."""

    def __init__(self, client: Any, loop: asyncio.AbstractEventLoop):
        self.aio = client
        self.loop = loop

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def lock(self, name: Any, ttl: float = 30.0) -> "AioLockAsSync":
        return AioLockAsSync(self.aio.lock(name, ttl), self)

    def close(self) -> None:
        self.aio.close()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.aio, name)
        if asyncio.iscoroutinefunction(attr):
            return lambda *a, **k: self.run(attr(*a, **k))
        return attr


class AioLockAsSync:
    def __init__(self, lock: Any, owner: AioAsSync):
        self._lock = lock
        self._owner = owner

    @property
    def token(self) -> str:
        return self._lock.token

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._lock, name)
        if asyncio.iscoroutinefunction(attr):
            return lambda *a, **k: self._owner.run(attr(*a, **k))
        return attr

    def __enter__(self) -> "AioLockAsSync":
        self._owner.run(self._lock.__aenter__())
        return self

    def __exit__(self, *exc: Any) -> None:
        self._owner.run(self._lock.__aexit__(*exc))


# -- fixtures (imported by the test modules that use them)

import pytest  # noqa: E402


@pytest.fixture(params=["sync", "aio"])
def kv(request: Any, url: str) -> Any:
    """The client under test: a KvClient, or an aio.KvClient driven through AioAsSync."""
    from data_bridge.kv import KvClient, aio

    if request.param == "sync":
        c = KvClient(url)
        yield c
        c.close()
        return
    loop = asyncio.new_event_loop()
    c = AioAsSync(aio.KvClient(url), loop)
    yield c
    c.close()
    loop.close()


@pytest.fixture
def other(url: str) -> Any:
    """A second sync client in the same namespace (the writer that wakes a waiter)."""
    from data_bridge.kv import KvClient

    c = KvClient(url)
    yield c
    c.close()
