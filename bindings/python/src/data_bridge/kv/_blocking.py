"""Connections of their own for blocking commands (WAIT, MWAIT, WAITANY, BLPOP, BRPOP, LOCK
with a timeout).

The server answers a connection's requests in order, so a command parked on the server holds
back the reply of every request sent after it on the same connection: on one shared connection,
a thread in ``wait(key)`` would stall every other thread's ``get``, and an asyncio task
cancelled while awaiting ``wait(key)`` would leave the client stuck behind the parked command.
So each blocking call borrows a connection of its own. A connection whose call did not end
with the server's reply (client-side timeout, cancellation, Ctrl-C) is closed rather than
reused: the server then drops the parked command, so a ``blpop`` the caller gave up on never
takes an element.

Cost: a TCP connection per blocking call in flight (the server has no way to cancel one parked
command of a connection while keeping the connection, so they cannot share one), plus up to
``_MAX_IDLE`` idle ones kept for reuse. Threads do not grow with them: every such connection,
of every client of the process, runs on one shared I/O thread (``shared_io`` in _native.cpp),
which with Asio's resolver thread makes two threads in all, however many blocking calls run:
100 concurrent ``await c.wait(...)`` cost 100 connections and those two threads.
"""
from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Callable, List, Set

from .errors import KvConnectionError

_MAX_IDLE = 4

_instances: weakref.WeakSet[BlockingConnections] = weakref.WeakSet()


class BlockingConnections:
    def __init__(self, factory: Callable[[], Any]):
        self._factory = factory
        self._lock = threading.Lock()
        self._idle: List[Any] = []
        self._busy: Set[Any] = set()
        self._closed = False
        _instances.add(self)

    def take(self) -> Any:
        with self._lock:
            if self._closed:
                raise KvConnectionError("client is closed")
            if self._idle:
                conn = self._idle.pop()
                self._busy.add(conn)
                return conn
        conn = self._factory()
        with self._lock:
            if self._closed:
                conn.close()
                raise KvConnectionError("client is closed")
            self._busy.add(conn)
        return conn

    def give_back(self, conn: Any, reusable: bool) -> None:
        with self._lock:
            self._busy.discard(conn)
            if reusable and not self._closed and not conn.closed and len(self._idle) < _MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Closes every connection; blocking calls in flight fail with KvConnectionError."""
        with self._lock:
            self._closed = True
            conns = self._idle + list(self._busy)
            self._idle.clear()
            self._busy.clear()
        for conn in conns:
            conn.close()

    def _after_fork_in_child(self) -> None:
        # Another thread of the parent may have held the lock; the busy connections belong to
        # calls of threads that do not exist here (the native clients reconnect on first use).
        self._lock = threading.Lock()
        self._busy = set()


def _after_fork_in_child() -> None:
    for inst in list(_instances):
        inst._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
