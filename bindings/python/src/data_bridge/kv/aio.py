"""The asyncio client: the same API as :class:`data_bridge.kv.KvClient`, awaitable.

Requests go through the native client's I/O thread; each reply resolves its future with
``loop.call_soon_threadsafe``: no thread per call, any number of calls in flight on one
connection.
"""
from __future__ import annotations

import asyncio
import math
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from . import _commands as C
from ._blocking import BlockingConnections
from ._commands import Command, Key, T
from ._config import ConnectionConfig
from .errors import KvConnectionError, KvError, KvTimeoutError
from .pool import PoolConfig, _AsyncPoolBase


def _resolve(fut: asyncio.Future[Any], result: Any, exc: Optional[BaseException]) -> None:
    if fut.done():  # the caller gave up (cancelled, or timed out)
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


class KvClient:
    """asyncio client; see :class:`data_bridge.kv.KvClient` for the methods."""

    def __init__(self, url: str = "127.0.0.1:7379", *, password: Optional[str] = None,
                 tls: bool = False, ca_file: Optional[str] = None,
                 timeout: Optional[float] = None,
                 connect_timeout: Optional[float] = None, cert_file: Optional[str] = None,
                 key_file: Optional[str] = None, server_name: Optional[str] = None):
        self._config = ConnectionConfig.from_url(url, password=password, tls=tls, ca_file=ca_file,
                                                 timeout=timeout, connect_timeout=connect_timeout,
                                                 cert_file=cert_file, key_file=key_file,
                                                 server_name=server_name)
        self._native = self._config.native()
        # Blocking commands each use a connection of their own (see _blocking.py): a task
        # cancelled while awaiting one must not leave the shared connection stuck behind it.
        self._blocking = BlockingConnections(self._config.blocking_native)

    @property
    def config(self) -> ConnectionConfig:
        return self._config

    @property
    def namespace(self) -> str:
        return self._config.namespace

    async def _call(self, native: Any, cmd: Command[Any]) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()

        def done(result: Any, exc: Optional[BaseException]) -> None:
            loop.call_soon_threadsafe(_resolve, fut, result, exc)

        native.call_async(cmd.name, cmd.args, done)
        if cmd.wait is not None and math.isinf(cmd.wait):
            return await fut
        limit = self._config.timeout + (cmd.wait or 0.0)
        try:
            return await asyncio.wait_for(fut, limit)
        except asyncio.TimeoutError:
            raise KvTimeoutError(f"no reply to {cmd.name} within {limit} s") from None

    async def _run(self, cmd: Command[T]) -> T:
        if cmd.wait is None:
            return cmd.convert(await self._call(self._native, cmd))
        conn = self._blocking.take()
        reusable = False
        try:
            result = await self._call(conn, cmd)
            reusable = True
        except KvError as e:
            # A timeout, or a cancellation (not a KvError), leaves the command parked on the
            # server: closing the connection drops it there.
            reusable = not isinstance(e, (KvTimeoutError, KvConnectionError))
            raise
        finally:
            self._blocking.give_back(conn, reusable)
        return cmd.convert(result)

    async def connect(self) -> KvClient:
        await self._run(C.ping())
        return self

    async def aclose(self) -> None:
        """Closes the connection; commands in flight fail with KvConnectionError."""
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def close(self) -> None:
        self._native.close()
        self._blocking.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    async def __aenter__(self) -> KvClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"aio.KvClient({self._config.url()!r})"

    async def ping(self) -> bool:
        return await self._run(C.ping())

    async def get(self, key: Key, default: Any = None) -> Any:
        return await self._run(C.get(key, default))

    async def set(self, key: Key, value: Any, ttl: Optional[float] = None, *, nx: bool = False,
                  xx: bool = False) -> bool:
        return await self._run(C.set_(key, value, ttl, nx, xx))

    async def setnx(self, key: Key, value: Any, ttl: Optional[float] = None) -> bool:
        return await self._run(C.setnx(key, value, ttl))

    async def delete(self, *keys: Key) -> int:
        return await self._run(C.delete(*keys))

    async def exists(self, key: Key) -> bool:
        return await self._run(C.exists(key))

    async def incr(self, key: Key, by: Any = 1) -> Any:
        return await self._run(C.incr(key, by))

    async def decr(self, key: Key, by: Any = 1) -> Any:
        return await self._run(C.decr(key, by))

    async def ttl(self, key: Key) -> Optional[float]:
        return await self._run(C.ttl(key))

    async def expire(self, key: Key, ttl: float) -> bool:
        return await self._run(C.expire(key, ttl))

    async def persist(self, key: Key) -> bool:
        return await self._run(C.persist(key))

    async def mget(self, keys: Sequence[Key]) -> List[Any]:
        return await self._run(C.mget(keys))

    async def mset(self, mapping: Mapping[Key, Any], ttl: Optional[float] = None) -> None:
        await self._run(C.mset(mapping, ttl))

    async def mdel(self, keys: Sequence[Key]) -> int:
        return await self._run(C.mdel(keys))

    async def mexists(self, keys: Sequence[Key]) -> List[bool]:
        return await self._run(C.mexists(keys))

    async def get_versioned(self, key: Key) -> Optional[Tuple[Any, int]]:
        return await self._run(C.get_versioned(key))

    async def cas(self, key: Key, value: Any, version: int, ttl: Optional[float] = None) -> bool:
        return await self._run(C.cas(key, value, version, ttl))

    async def rpush(self, key: Key, *values: Any) -> int:
        return await self._run(C.rpush(key, *values))

    async def lpush(self, key: Key, *values: Any) -> int:
        return await self._run(C.lpush(key, *values))

    async def lpop(self, key: Key, count: Optional[int] = None) -> Any:
        return await self._run(C.lpop(key, count))

    async def rpop(self, key: Key, count: Optional[int] = None) -> Any:
        return await self._run(C.rpop(key, count))

    async def lrange(self, key: Key, start: int, stop: int) -> List[Any]:
        return await self._run(C.lrange(key, start, stop))

    async def llen(self, key: Key) -> int:
        return await self._run(C.llen(key))

    async def blpop(self, keys: Any, timeout: Optional[float] = None) -> Optional[Tuple[Key, Any]]:
        return await self._run(C.blpop(keys, timeout))

    async def brpop(self, keys: Any, timeout: Optional[float] = None) -> Optional[Tuple[Key, Any]]:
        return await self._run(C.brpop(keys, timeout))

    async def wait(self, key: Key, timeout: Optional[float] = None) -> Any:
        return await self._run(C.wait(key, timeout))

    async def mwait(self, keys: Sequence[Key], timeout: Optional[float] = None) -> List[Any]:
        return await self._run(C.mwait(keys, timeout))

    async def waitany(self, keys: Sequence[Key],
                      timeout: Optional[float] = None) -> Optional[Tuple[Key, Any]]:
        return await self._run(C.waitany(keys, timeout))

    def lock(self, name: Key, ttl: float = 30.0) -> Lock:
        return Lock(self, name, ttl)

    async def mget_versioned(self, keys: Sequence[Key]) -> List[Optional[Tuple[Any, int]]]:
        return await self._run(C.mget_versioned(keys))

    async def waitany_versioned(self, versions: Any, timeout: Optional[float] = None
                                ) -> Optional[Tuple[Key, Any, int]]:
        return await self._run(C.waitany_versioned(versions, timeout))

    async def execute(self, command: str, *args: Any, timeout: Optional[float] = None) -> Any:
        return await self._run(C.execute(command, *args, timeout=timeout))

    async def info(self) -> Dict[str, Any]:
        return await self._run(C.info())


class Lock:
    """asyncio version of :class:`data_bridge.kv.Lock`: ``async with client.lock("x"):``."""

    def __init__(self, client: KvClient, name: Key, ttl: float = 30.0):
        C.ttl_ms(ttl)
        self._client = client
        self.name = name
        self.ttl = ttl
        self.token = uuid.uuid4().hex

    async def acquire(self, blocking: bool = True, timeout: Optional[float] = None) -> bool:
        return await self._client._run(
            C.lock_acquire(self.name, self.token, self.ttl, blocking, timeout))

    async def release(self) -> None:
        await self._client._run(C.lock_release(self.name, self.token))

    async def extend(self, ttl: Optional[float] = None) -> None:
        await self._client._run(
            C.lock_extend(self.name, self.token, self.ttl if ttl is None else ttl))

    async def owned(self) -> bool:
        return bool(await self._client.get(self.name) == self.token)

    async def locked(self) -> bool:
        return await self._client.exists(self.name)

    async def __aenter__(self) -> Lock:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.release()


class KvPool(_AsyncPoolBase):
    """asyncio pool of :class:`KvClient` connections; see :class:`data_bridge.kv.KvPool`."""

    def __init__(self, url: str = "127.0.0.1:7379", config: Optional[PoolConfig] = None,
                 **client_kwargs: Any):
        super().__init__(lambda: KvClient(url, **client_kwargs), config or PoolConfig())


def _copy_docstrings(target: type, source: type) -> None:
    """Each awaitable method documents itself as its blocking twin does (same arguments, same
    result, awaited)."""
    for name, fn in vars(target).items():
        if name.startswith("_") or not callable(fn) or fn.__doc__:
            continue
        doc = getattr(getattr(source, name, None), "__doc__", None)
        if doc:
            fn.__doc__ = doc


def _link_sync_docs() -> None:
    from . import client as _sync

    _copy_docstrings(KvClient, _sync.KvClient)
    _copy_docstrings(Lock, _sync.Lock)


_link_sync_docs()
