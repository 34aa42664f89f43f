"""Connection pools. A KvClient is already thread-safe and pipelined; a pool spreads load over
several connections and bounds how many are in use at once."""
from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Deque, Dict, Iterator, List, Optional

from .errors import KvConnectionError, KvPoolTimeoutError

_sync_pools: weakref.WeakSet[KvPool] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A thread of the parent may have held a pool's lock at the fork: it never releases it
    # here. The pool's clients reconnect on their own (see KvClient).
    for pool in list(_sync_pools):
        pool._cond = threading.Condition()
        pool._stats.waiting = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@dataclass(frozen=True)
class PoolConfig:
    """max_size: connections at most; min_size: opened at once and kept;
    acquire_timeout: seconds to wait for a free connection (None: forever)."""

    max_size: int = 10
    min_size: int = 0
    acquire_timeout: Optional[float] = 5.0

    def __post_init__(self) -> None:
        if self.max_size < 1:
            raise ValueError("max_size must be at least 1")
        if not 0 <= self.min_size <= self.max_size:
            raise ValueError("min_size must be between 0 and max_size")


class _Stats:
    def __init__(self) -> None:
        self.created = 0
        self.acquired = 0
        self.timeouts = 0
        self.waiting = 0


class KvPool:
    """A bounded pool of :class:`data_bridge.kv.KvClient` connections.

    ``with pool.client() as c: c.get(...)`` borrows one; ``pool.get(...)`` (any KvClient
    method) borrows one for that call. ``stats()`` tells the pool's state.
    """

    def __init__(self, url: str = "127.0.0.1:7379", config: Optional[PoolConfig] = None,
                 **client_kwargs: Any):
        from .client import KvClient

        self._factory: Callable[[], Any] = lambda: KvClient(url, **client_kwargs)
        self.config = config or PoolConfig()
        self._cond = threading.Condition()
        self._idle: Deque[Any] = deque()
        self._all: List[Any] = []
        self._in_use = 0
        self._closed = False
        self._stats = _Stats()
        _sync_pools.add(self)
        for _ in range(self.config.min_size):
            self._idle.append(self._create())

    def _create(self) -> Any:
        c = self._factory()
        self._all.append(c)
        self._stats.created += 1
        return c

    def acquire(self, timeout: Optional[float] = None) -> Any:
        """A connection for the caller alone until :meth:`release`; waits up to ``timeout``
        (default: the config's acquire_timeout) for one to be free."""
        limit = self.config.acquire_timeout if timeout is None else timeout
        deadline = None if limit is None else time.monotonic() + limit
        with self._cond:
            self._stats.waiting += 1
            try:
                while True:
                    if self._closed:
                        raise KvConnectionError("pool is closed")
                    if self._idle:
                        c = self._idle.popleft()
                        break
                    if len(self._all) < self.config.max_size:
                        c = self._create()
                        break
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        self._stats.timeouts += 1
                        raise KvPoolTimeoutError(
                            f"no connection free within {limit} s "
                            f"(max_size {self.config.max_size})")
                    self._cond.wait(left)
            finally:
                self._stats.waiting -= 1
            self._in_use += 1
            self._stats.acquired += 1
            return c

    def release(self, client: Any) -> None:
        """Gives back a connection from :meth:`acquire` (a closed one is dropped)."""
        with self._cond:
            self._in_use -= 1
            if self._closed or client.closed:
                if client in self._all:
                    self._all.remove(client)
                client.close()
            else:
                self._idle.append(client)
            self._cond.notify()

    @contextlib.contextmanager
    def client(self, timeout: Optional[float] = None) -> Iterator[Any]:
        """``with pool.client() as c:`` acquires a connection and releases it after."""
        c = self.acquire(timeout)
        try:
            yield c
        finally:
            self.release(c)

    def stats(self) -> Dict[str, Any]:
        """size (open connections), in_use, idle, max_size, waiting (callers blocked in
        acquire), created, acquired (total), timeouts (acquires that gave up)."""
        with self._cond:
            return {
                "size": len(self._all),
                "in_use": self._in_use,
                "idle": len(self._idle),
                "max_size": self.config.max_size,
                "waiting": self._stats.waiting,
                "created": self._stats.created,
                "acquired": self._stats.acquired,
                "timeouts": self._stats.timeouts,
            }

    def close(self) -> None:
        """Closes the idle connections, and those in use as they are released; acquiring
        then fails with KvConnectionError."""
        with self._cond:
            self._closed = True
            for c in self._idle:
                c.close()
            self._all = [c for c in self._all if c not in self._idle]
            self._idle.clear()
            self._cond.notify_all()

    def __enter__(self) -> KvPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # pool.get(...), pool.set(...): borrow a connection for one call.
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self.client() as c:
                return getattr(c, name)(*args, **kwargs)

        return call


class _AsyncPoolBase:
    """The asyncio pool (data_bridge.kv.aio.KvPool)."""

    def __init__(self, factory: Callable[[], Any], config: PoolConfig):
        self._factory = factory
        self.config = config
        self._idle: Deque[Any] = deque()
        self._all: List[Any] = []
        self._in_use = 0
        self._closed = False
        self._stats = _Stats()
        self._cond: Optional[asyncio.Condition] = None
        for _ in range(config.min_size):
            self._idle.append(self._create())

    def _create(self) -> Any:
        c = self._factory()
        self._all.append(c)
        self._stats.created += 1
        return c

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def acquire(self, timeout: Optional[float] = None) -> Any:
        limit = self.config.acquire_timeout if timeout is None else timeout
        cond = self._condition()
        async with cond:
            self._stats.waiting += 1
            try:
                def ready() -> bool:
                    return self._closed or bool(self._idle) or len(self._all) < self.config.max_size

                try:
                    await asyncio.wait_for(cond.wait_for(ready), limit)
                except asyncio.TimeoutError:
                    self._stats.timeouts += 1
                    raise KvPoolTimeoutError(
                        f"no connection free within {limit} s "
                        f"(max_size {self.config.max_size})") from None
                if self._closed:
                    raise KvConnectionError("pool is closed")
                c = self._idle.popleft() if self._idle else self._create()
            finally:
                self._stats.waiting -= 1
            self._in_use += 1
            self._stats.acquired += 1
            return c

    async def release(self, client: Any) -> None:
        cond = self._condition()
        async with cond:
            self._in_use -= 1
            if self._closed or client.closed:
                if client in self._all:
                    self._all.remove(client)
                client.close()
            else:
                self._idle.append(client)
            cond.notify()

    @contextlib.asynccontextmanager
    async def client(self, timeout: Optional[float] = None) -> AsyncIterator[Any]:
        c = await self.acquire(timeout)
        try:
            yield c
        finally:
            await self.release(c)

    def stats(self) -> Dict[str, Any]:
        return {
            "size": len(self._all),
            "in_use": self._in_use,
            "idle": len(self._idle),
            "max_size": self.config.max_size,
            "waiting": self._stats.waiting,
            "created": self._stats.created,
            "acquired": self._stats.acquired,
            "timeouts": self._stats.timeouts,
        }

    async def aclose(self) -> None:
        self._closed = True
        for c in self._idle:
            c.close()
        self._all = [c for c in self._all if c not in self._idle]
        self._idle.clear()
        cond = self._condition()
        async with cond:
            cond.notify_all()

    async def __aenter__(self) -> _AsyncPoolBase:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            async with self.client() as c:
                return await getattr(c, name)(*args, **kwargs)

        return call
