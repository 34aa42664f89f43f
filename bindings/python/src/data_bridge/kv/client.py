"""The blocking client."""
from __future__ import annotations

import math
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from . import _commands as C
from ._blocking import BlockingConnections
from ._commands import Command, Key, T
from ._config import ConnectionConfig
from .errors import KvConnectionError, KvError, KvTimeoutError


class KvClient:
    """A connection to a data-bridge-kv server.

    ``url`` is ``host:port[/namespace]`` or ``databridge://[:password@]host:port[/namespace]``
    (``databridges://`` for TLS), optionally followed by a query string setting options:
    ``?timeout=2&connect_timeout=1&ca_file=/etc/ca.pem`` (also ``cert_file``, ``key_file``,
    ``server_name``). An unknown query option is an error. Keyword arguments win over the
    URL; ``timeout`` (seconds to wait for a reply) defaults to 5, ``connect_timeout`` to
    ``timeout``.

    Thread-safe: calls from many threads share one pipelined connection, and each releases the
    GIL while it waits. Blocking commands (``wait``, ``blpop``, ``waitany_versioned``,
    ``lock(...).acquire()`` with blocking, ``execute`` of a blocking command...) each borrow a
    connection of their own, so that they never hold back other calls; all of those
    connections share one I/O thread. Safe across ``fork()``: in a child
    process the client reconnects on first use. Values keep their Python type exactly: None,
    bool, int (64-bit), float, Decimal, str, bytes, and lists/dicts of them.

    Every method raises a :class:`~data_bridge.kv.errors.KvError` subclass on failure.
    """

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
        # Blocking commands (wait, blpop, lock with a timeout...) each use a connection of
        # their own, so that they never hold back other calls' replies (see _blocking.py).
        self._blocking = BlockingConnections(self._config.blocking_native)

    # -- plumbing

    @property
    def config(self) -> ConnectionConfig:
        return self._config

    @property
    def namespace(self) -> str:
        return self._config.namespace

    @property
    def timeout(self) -> float:
        return self._config.timeout

    def _call_timeout(self, cmd: Command[Any]) -> float:
        if cmd.wait is None:
            return self._config.timeout
        if math.isinf(cmd.wait):
            return 0.0  # no limit
        return cmd.wait + self._config.timeout

    def _run(self, cmd: Command[T]) -> T:
        if cmd.wait is None:
            return cmd.convert(self._native.call(cmd.name, cmd.args, self._call_timeout(cmd)))
        conn = self._blocking.take()
        reusable = False
        try:
            result = conn.call(cmd.name, cmd.args, self._call_timeout(cmd))
            reusable = True
        except KvError as e:
            # An error reply leaves the connection in order; a timeout or Ctrl-C leaves the
            # command parked on the server, and closing the connection drops it there.
            reusable = not isinstance(e, (KvTimeoutError, KvConnectionError))
            raise
        finally:
            self._blocking.give_back(conn, reusable)
        return cmd.convert(result)

    def _run_many(self, cmds: Sequence[Command[Any]]) -> List[Any]:
        """Runs non-blocking commands pipelined (one round trip) and returns their converted
        replies in order; the first error reply is raised once every reply is in."""
        replies = self._native.call_many([(c.name, c.args) for c in cmds], self._config.timeout)
        return [c.convert(r) for c, r in zip(cmds, replies)]

    def connect(self) -> KvClient:
        """Connects now (otherwise the first command does), raising if that fails."""
        self._native.connect()
        return self

    def close(self) -> None:
        """Closes the connection; commands in flight fail with KvConnectionError."""
        self._native.close()
        self._blocking.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __enter__(self) -> KvClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KvClient({self._config.url()!r})"

    # -- commands

    def ping(self) -> bool:
        """True if the server answers PONG."""
        return self._run(C.ping())

    def get(self, key: Key, default: Any = None) -> Any:
        """The value of key, or ``default`` if it does not exist (or expired)."""
        return self._run(C.get(key, default))

    def set(self, key: Key, value: Any, ttl: Optional[float] = None, *, nx: bool = False,
            xx: bool = False) -> bool:
        """Stores value (with a TTL in seconds). Returns False if nx/xx prevented it."""
        return self._run(C.set_(key, value, ttl, nx, xx))

    def setnx(self, key: Key, value: Any, ttl: Optional[float] = None) -> bool:
        """Stores value only if key does not exist. True if it was stored."""
        return self._run(C.setnx(key, value, ttl))

    def delete(self, *keys: Key) -> int:
        """Deletes keys; returns how many existed."""
        return self._run(C.delete(*keys))

    def exists(self, key: Key) -> bool:
        """True if key exists (and has not expired)."""
        return self._run(C.exists(key))

    def incr(self, key: Key, by: Any = 1) -> Any:
        """Adds ``by`` (int or Decimal) exactly; a missing key counts as 0. Returns the result."""
        return self._run(C.incr(key, by))

    def decr(self, key: Key, by: Any = 1) -> Any:
        """Subtracts ``by`` (int or Decimal) exactly; a missing key counts as 0."""
        return self._run(C.decr(key, by))

    def ttl(self, key: Key) -> Optional[float]:
        """Seconds left before key expires; None if it has no expiry or does not exist."""
        return self._run(C.ttl(key))

    def expire(self, key: Key, ttl: float) -> bool:
        """Sets key to expire in ``ttl`` seconds. False if key does not exist."""
        return self._run(C.expire(key, ttl))

    def persist(self, key: Key) -> bool:
        """Removes key's expiry. True if it had one."""
        return self._run(C.persist(key))

    def mget(self, keys: Sequence[Key]) -> List[Any]:
        """Values of keys in order (None for missing), in one round trip over every shard."""
        return self._run(C.mget(keys))

    def mset(self, mapping: Mapping[Key, Any], ttl: Optional[float] = None) -> None:
        """Stores every key of mapping (all with the same TTL, if given)."""
        self._run(C.mset(mapping, ttl))

    def mdel(self, keys: Sequence[Key]) -> int:
        """Deletes keys (on every shard); returns how many existed."""
        return self._run(C.mdel(keys))

    def mexists(self, keys: Sequence[Key]) -> List[bool]:
        """For each key in order, whether it exists."""
        return self._run(C.mexists(keys))

    def get_versioned(self, key: Key) -> Optional[Tuple[Any, int]]:
        """(value, version) of key, or None. Every write gives a key a higher version."""
        return self._run(C.get_versioned(key))

    def cas(self, key: Key, value: Any, version: int, ttl: Optional[float] = None) -> bool:
        """Stores value only if key's version is still ``version`` (0: key must not exist)."""
        return self._run(C.cas(key, value, version, ttl))

    def rpush(self, key: Key, *values: Any) -> int:
        """Appends values to the list at key (created if missing); returns its length."""
        return self._run(C.rpush(key, *values))

    def lpush(self, key: Key, *values: Any) -> int:
        """Prepends values (each in turn, so the last ends up first); returns the length."""
        return self._run(C.lpush(key, *values))

    def lpop(self, key: Key, count: Optional[int] = None) -> Any:
        """Removes and returns the first element (None if empty); with ``count``, a list of
        up to that many."""
        return self._run(C.lpop(key, count))

    def rpop(self, key: Key, count: Optional[int] = None) -> Any:
        """Removes and returns the last element (None if empty); with ``count``, a list."""
        return self._run(C.rpop(key, count))

    def lrange(self, key: Key, start: int, stop: int) -> List[Any]:
        """Elements ``start`` to ``stop`` inclusive (negative counts from the end)."""
        return self._run(C.lrange(key, start, stop))

    def llen(self, key: Key) -> int:
        """Length of the list at key (0 if missing)."""
        return self._run(C.llen(key))

    def blpop(self, keys: Any, timeout: Optional[float] = None) -> Optional[Tuple[Key, Any]]:
        """Pops from the first non-empty list, waiting up to ``timeout`` seconds (None:
        forever) for a push. (key, value) or None."""
        return self._run(C.blpop(keys, timeout))

    def brpop(self, keys: Any, timeout: Optional[float] = None) -> Optional[Tuple[Key, Any]]:
        """As :meth:`blpop`, popping from the end of the list."""
        return self._run(C.brpop(keys, timeout))

    def wait(self, key: Key, timeout: Optional[float] = None) -> Any:
        """Blocks until key exists, then returns its value; None after ``timeout`` seconds
        (None: wait forever). The server wakes the caller: no polling."""
        return self._run(C.wait(key, timeout))

    def mwait(self, keys: Sequence[Key], timeout: Optional[float] = None) -> List[Any]:
        """Blocks until every key exists; at the timeout, None for those that do not."""
        return self._run(C.mwait(keys, timeout))

    def waitany(self, keys: Sequence[Key],
                timeout: Optional[float] = None) -> Optional[Tuple[Key, Any]]:
        """Blocks until one of keys exists: (key, value), or None at the timeout."""
        return self._run(C.waitany(keys, timeout))

    def lock(self, name: Key, ttl: float = 30.0) -> Lock:
        """A lock named ``name`` whose lease lasts ``ttl`` seconds (see :class:`Lock`)."""
        return Lock(self, name, ttl)

    def mget_versioned(self, keys: Sequence[Key]) -> List[Optional[Tuple[Any, int]]]:
        """(value, version) of each key in order, or None for a missing key (``MGETV``), in
        one round trip. A version read here is what :meth:`waitany_versioned` waits to see
        change."""
        return self._run(C.mget_versioned(keys))

    def waitany_versioned(self, versions: Any,
                          timeout: Optional[float] = None) -> Optional[Tuple[Key, Any, int]]:
        """Blocks until one of the keys exists with a version other than the one given
        (``WAITANYV``): ``versions`` maps each key to the version last seen (0: any, i.e. "as
        soon as it exists"), as a dict or (key, version) pairs, in the order keys are checked.
        Returns (key, value, version), or None after ``timeout`` seconds (None: wait forever).
        The server wakes the caller; a write made since the versions were read is never
        missed. Runs on a connection of its own, like :meth:`wait`."""
        return self._run(C.waitany_versioned(versions, timeout))

    def execute(self, command: str, *args: Any, timeout: Optional[float] = None) -> Any:
        """Runs any command by name, plugins' included: ``execute("THROTTLE", "k", 5, 10, 60)``.

        Blocking commands work too. The built-in ones (``WAIT``, ``MWAIT``, ``WAITANY``,
        ``WAITANYV``, ``BLPOP``, ``BRPOP``, ``LOCK`` with a timeout) are recognised: their own
        timeout argument says how long the server may hold them, so ``execute("WAIT", key,
        30)`` behaves like ``wait(key, 30)``. For any other command that may block (a plugin's),
        pass ``timeout``: the longest the server may hold it, in seconds (``math.inf``: no
        limit). A blocking command runs on a connection of its own, so it never holds back
        other calls, and the reply may take up to ``timeout`` plus the client's timeout (the
        ``timeout`` given to the client). Without either, the command shares the pipelined
        connection and must be answered within the client's timeout."""
        return self._run(C.execute(command, *args, timeout=timeout))

    def info(self) -> Dict[str, Any]:
        """The server's INFO: a dict (``version``, ``keys``, ``blocked``, ``connections``...)."""
        return self._run(C.info())


class Lock:
    """A lease on ``name``, owned through a random token: only this Lock can release or
    extend it, and a holder whose lease ran out cannot release the next owner's lock.

    ``with client.lock("job:42", ttl=30):`` acquires (waiting as long as needed) and releases.
    """

    def __init__(self, client: KvClient, name: Key, ttl: float = 30.0):
        C.ttl_ms(ttl)  # validates
        self._client = client
        self.name = name
        self.ttl = ttl
        self.token = uuid.uuid4().hex

    def acquire(self, blocking: bool = True, timeout: Optional[float] = None) -> bool:
        """Takes the lock. Blocking, waits up to ``timeout`` seconds (None: forever) for the
        holder to release it or its lease to end; the server wakes the waiter."""
        return self._client._run(C.lock_acquire(self.name, self.token, self.ttl, blocking, timeout))

    def release(self) -> None:
        """Releases the lock. Raises LockNotOwnedError if this Lock does not hold it."""
        self._client._run(C.lock_release(self.name, self.token))

    def extend(self, ttl: Optional[float] = None) -> None:
        """Restarts the lease: it now ends ``ttl`` (default: the Lock's ttl) seconds from now.
        Raises LockNotOwnedError if this Lock does not hold it."""
        self._client._run(C.lock_extend(self.name, self.token, self.ttl if ttl is None else ttl))

    def owned(self) -> bool:
        return bool(self._client.get(self.name) == self.token)

    def locked(self) -> bool:
        return self._client.exists(self.name)

    def __enter__(self) -> Lock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
