"""A Celery result backend on data-bridge-kv.

Install the package and point Celery at a server::

    app = Celery("proj", broker="redis://...",
                 backend="databridge://127.0.0.1:7379/myapp")
    # TLS: "databridges://host:7379/myapp"; a password: "databridge://:secret@host:7379/myapp"

The ``databridge`` and ``databridges`` URL schemes are registered through the package's
``celery.result_backends`` entry points, so nothing else is needed. The URL path is the
*namespace*: results of apps using different namespaces never see each other.

What it does differently from Celery's generic key-value backend (see :class:`DataBridgeBackend`
for the details):

* **No polling.** ``AsyncResult.get()``, ``GroupResult.get()`` / ``join_native()`` and chord
  joins wait on the server (``WAITANYV``): the server wakes the caller the moment a result is
  written, instead of Celery re-reading the key every ``interval`` (0.5 s) seconds.
* **Expiry on every write.** Every state written (STARTED, RETRY, the final state, group
  metadata) carries ``result_expires`` as its TTL (``supports_autoexpire``: Celery beat does not
  schedule ``celery.backend_cleanup``). ``result_expires=None`` or ``0`` means "never expire"
  (no ``EXPIRE 0`` that would delete the key, as Celery issue #5237 describes for Redis).
* **Chords count their header the way Celery's Redis backend does**: each header task's result
  is appended to a per-chord list (``RPUSH``, whose reply is the count, atomically) together
  with the chord's size (written by Celery before the last header task is sent) and the tasks
  added with ``add_to_chord``; the task whose result completes the count runs the body, in one
  round trip per header task. No ``celery.chord_unlock`` task polls every second, nested
  groups and chains in the header count as Celery counts them, and a failed header task fails
  the body with ``ChordError`` (its errbacks run).
* **Connection errors are retryable** (``exception_safe_to_retry``), so
  ``result_backend_always_retry = True`` with ``result_backend_max_retries`` and the
  ``result_backend_*_sleep_between_retries_ms`` settings rides through a server restart.

Settings read from the Celery app:

``result_backend``
    ``databridge://[:password@]host:port[/namespace][?timeout=5&connect_timeout=5&ca_file=...]``
    (``databridges://`` for TLS). The query string is optional; it overrides the transport
    options below. It may hold ``timeout``, ``connect_timeout``, ``ca_file``, ``cert_file``,
    ``key_file``, ``server_name``, ``password``,
    ``wait_slice``, ``wait_window`` and ``result_chord_ordered`` (%-escaped); any other key is
    a ``ValueError`` when the backend is configured.
``result_expires``
    TTL of every stored result (default one day); ``None``/``0``: results never expire.
``result_backend_transport_options``
    A dict: ``timeout`` (seconds to wait for a reply, default 5), ``connect_timeout``
    (default: ``timeout``), ``password`` (instead of putting it in the URL), ``ca_file`` (the CA
    that signed the server's certificate, TLS), ``cert_file``/``key_file`` (a client
    certificate, mutual TLS), ``server_name`` (the name to verify), ``wait_slice`` (longest
    single server-side wait, default 30 s; see :attr:`DataBridgeBackend.wait_slice`),
    ``wait_window`` (most results one wait of a group join watches, default 64; see
    :meth:`DataBridgeBackend.get_many`) and
    ``result_chord_ordered`` (default true: a chord's body gets its header's results in header
    order; false: in the order they finished; as for Celery's Redis backend) and Celery's own
    ``global_keyprefix``.
``result_backend_always_retry``, ``result_backend_max_retries``,
``result_backend_base_sleep_between_retries_ms``, ``result_backend_max_sleep_between_retries_ms``
    Celery's retry settings, applied to connection errors and timeouts (also while waiting).
"""
from __future__ import annotations

import threading
import time
from itertools import islice
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, cast
from urllib.parse import unquote

from celery import states
from celery.backends.base import KeyValueStoreBackend
from celery.canvas import maybe_signature
from celery.exceptions import BackendGetMetaError, BackendStoreError, ChordError, TimeoutError
from celery.result import GroupResult, ResultSet, allow_join_result
from celery.utils.functional import _regen
from celery.utils.log import get_logger
from celery.utils.time import get_exponential_backoff_interval
from kombu.utils.encoding import bytes_to_str, ensure_bytes

from . import _commands as C
from ._config import URL_QUERY_KEYS, ConnectionConfig
from .client import KvClient
from .errors import KvConnectionError, KvProtocolError, KvTimeoutError

__all__ = ["DataBridgeBackend"]

logger = get_logger(__name__)

DEFAULT_URL = "databridge://127.0.0.1:7379"

#: Options of the client accepted in ``result_backend_transport_options``, with their types.
#: In the URL's query string, the client parses its own (see KvClient); the backend takes
#: ``password`` and its own options out of it first.
_CLIENT_OPTIONS = {"timeout": float, "connect_timeout": float, "password": str, "ca_file": str,
                   "cert_file": str, "key_file": str, "server_name": str}

#: The backend's own options (transport options or the URL's query string).
def _flag(value: Any) -> bool:
    """A yes/no option: a bool, or its text in the URL's query string."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {value!r}")
    return bool(value)


_BACKEND_OPTIONS = {"wait_slice": float, "wait_window": int, "result_chord_ordered": _flag}

#: Every key the URL's query string may hold.
_QUERY_KEYS = (*URL_QUERY_KEYS, "password", *_BACKEND_OPTIONS)

#: Shortest server-side wait sent (seconds): the server's timers work in milliseconds.
_MIN_WAIT = 0.001

#: Most keys per MGETV.
_MGETV_CHUNK = 1000


def _is_noop(callback: Any) -> bool:
    """True for the empty ``vine.promise`` that ``AsyncResult.get()`` passes as ``on_interval``
    when there is nothing to check between waits (no parent task to follow, no user callback).
    Waiting for it in slices of ``interval`` would only wake the server every 0.5 s for
    nothing."""
    if callback is None:
        return True
    try:
        return (callback.fun is None and callback._svpending is None
                and not callback._lvpending)
    except AttributeError:
        return False


class DataBridgeBackend(KeyValueStoreBackend):
    """Celery result backend storing results in a data-bridge-kv server.

    ``result_backend = "databridge://[:password@]host:port[/namespace]"`` (``databridges://``
    for TLS). Results are stored under Celery's usual keys (``celery-task-meta-<id>``,
    ``celery-taskset-meta-<gid>``, ``chord-unlock-<gid>``), in the URL's namespace, encoded by
    Celery's ``result_serializer``, and kept as they were written (text for JSON, bytes for
    pickle/msgpack).

    The connection (a thread-safe :class:`~data_bridge.kv.KvClient`) is created on first use:
    constructing the backend never touches the network, and a prefork child that inherited a
    connected client reconnects on its own. The backend pickles as its URL and ``expires``
    (:meth:`__reduce__`), so it can be sent to other processes.
    """

    #: The server expires results itself (every write carries ``result_expires`` as its TTL),
    #: so Celery beat need not schedule the ``celery.backend_cleanup`` task.
    supports_autoexpire = True
    #: ``get_many`` waits on the server, so ``GroupResult.get()`` uses ``join_native``.
    supports_native_join = True
    #: Chords are counted as Celery's Redis backend counts them (see
    #: :meth:`on_chord_part_return`), not by Celery's generic INCR-then-join: that one takes
    #: the number of direct header results as the chord's size, so a header holding a group
    #: (or a chain ending in one) runs the body too early and joins inside the worker.
    #: ``celery.chord_unlock`` is never sent either way.
    implements_incr = False
    persistent = True

    #: Longest single server-side wait, in seconds, when nothing asks for a callback between
    #: waits. A wait ends the moment a watched result is written; this bound only makes a
    #: caller with no timeout re-issue its wait now and then, so a connection that died
    #: silently is noticed within ``wait_slice + timeout`` seconds.
    wait_slice = 30.0

    #: Most keys one wait of :meth:`get_many` watches (see there).
    wait_window = 64

    #: The chord body gets its header's results in header order (``True``, as Celery's Redis
    #: backend by default) or in the order they finished (``False``): the transport option
    #: ``result_chord_ordered``, as for Celery's Redis backend.
    result_chord_ordered = True

    def __init__(self, app: Any = None, url: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(app=app, url=url, **kwargs)
        conf = self.app.conf
        if not url:
            configured = conf.get("result_backend")
            url = configured if isinstance(configured, str) and \
                configured.startswith(("databridge://", "databridges://")) else DEFAULT_URL
        self.url = url

        # The query string wins over the transport options. The client parses (and checks)
        # its own query options; the backend's own and ``password`` are taken out first.
        base_url, _, query = url.partition("?")
        client_items: List[str] = []
        from_query: Dict[str, Any] = {}
        for item in filter(None, query.split("&")):
            key, _, value = item.partition("=")
            key = unquote(key)
            if key not in _QUERY_KEYS:
                raise ValueError(f"unknown option {key!r} in the query string of the result "
                                 f"backend URL (known: {', '.join(_QUERY_KEYS)})")
            if key in _BACKEND_OPTIONS or key == "password":
                from_query[key] = unquote(value)
            else:
                client_items.append(item)
                from_query[key] = None  # set by the URL: the transport option does not apply
        transport = conf.get("result_backend_transport_options") or {}
        options: Dict[str, Any] = {k: v for k, v in transport.items()
                                   if k in _CLIENT_OPTIONS or k in _BACKEND_OPTIONS}
        options.update(from_query)
        types: Dict[str, Any] = dict(_CLIENT_OPTIONS, **_BACKEND_OPTIONS)
        try:
            options = {k: types[k](v) for k, v in options.items() if v is not None}
        except ValueError as exc:
            raise ValueError(f"bad result backend option: {exc}") from exc
        self.wait_slice = options.pop("wait_slice", self.wait_slice)
        self.wait_window = max(1, options.pop("wait_window", self.wait_window))
        self.result_chord_ordered = options.pop("result_chord_ordered",
                                                self.result_chord_ordered)
        self._client_url = base_url + ("?" + "&".join(client_items) if client_items else "")
        self._client_options = options
        # Parses the URL now, so that a bad one fails at configuration time (no connection).
        ConnectionConfig.from_url(self._client_url, **self._client_options)
        self._client: Optional[KvClient] = None
        self._client_lock = threading.Lock()

    # -- the connection

    @property
    def client(self) -> KvClient:
        """The :class:`~data_bridge.kv.KvClient`, created (not yet connected) on first use."""
        client = self._client
        if client is None:
            with self._client_lock:
                client = self._client
                if client is None:
                    client = self._client = KvClient(self._client_url, **self._client_options)
        return client

    @client.setter
    def client(self, value: Any) -> None:
        self._client = value

    def close(self) -> None:
        """Closes the connection (the next call opens a new one)."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __reduce__(self, args: Tuple[Any, ...] = (),
                   kwargs: Optional[Dict[str, Any]] = None) -> Any:
        """Pickles as (class, url, expires): the copy opens its own connection."""
        kwargs = {} if not kwargs else kwargs
        return super().__reduce__(args, dict(kwargs, url=self.url, expires=self.expires))

    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        """Connection errors and timeouts may be retried (``result_backend_always_retry``):
        every operation of this backend is idempotent (a SET, a GET, a wait) except ``incr``,
        which Celery's retry loops never call."""
        return isinstance(exc, (KvConnectionError, KvTimeoutError))

    # -- storage: what BaseKeyValueStoreBackend builds everything else on

    def _ttl(self) -> Optional[float]:
        expires = self.expires
        return expires if expires and expires > 0 else None

    def get(self, key: bytes) -> Any:
        """The stored (encoded) value of key, or None."""
        return self.client.get(key)

    def mget(self, keys: List[bytes]) -> List[Any]:
        """Values of keys, in order (None for missing ones), in one round trip."""
        return self.client.mget(keys)

    def set(self, key: bytes, value: Any) -> None:
        """Stores value with ``result_expires`` as its TTL (none if that is None or 0)."""
        try:
            self.client.set(key, value, ttl=self._ttl())
        except KvProtocolError as exc:
            # A value over the server's --max-frame-bytes: retrying cannot help.
            raise BackendStoreError(f"cannot store {bytes_to_str(key)}: {exc}") from exc

    def _set_with_state(self, key: bytes, value: Any, state: str) -> None:
        """Every state write (STARTED, RETRY, final states, group metadata) goes through
        here: each one is a SET with the TTL, so a result never outlives ``result_expires``
        even if its task never finishes."""
        self.set(key, value)

    def delete(self, key: bytes) -> None:
        self.client.delete(key)

    def incr(self, key: bytes) -> int:
        """Atomic increment (a missing key counts as 0): the chord counter."""
        return int(self.client.incr(key))

    def expire(self, key: bytes, value: Any) -> None:
        """Sets key's TTL. Celery calls it with ``self.expires`` whatever it is: None or 0
        (never expire) are ignored rather than sent, since a TTL of 0 deletes the key."""
        if value is None:
            return
        seconds = value.total_seconds() if hasattr(value, "total_seconds") else value
        if seconds > 0:
            self.client.expire(key, seconds)

    # -- chords, counted as Celery's Redis backend counts them

    def _chord_keys(self, group_id: str) -> Tuple[bytes, bytes, bytes]:
        """The header's results (a list), the count of tasks added with ``add_to_chord``, and
        the chord's size: Celery's Redis backend's ``<group key>.j``, ``.t`` and ``.s``."""
        return (self.get_key_for_group(group_id, ".j"), self.get_key_for_group(group_id, ".t"),
                self.get_key_for_group(group_id, ".s"))

    def apply_chord(self, header_result_args: Any, body: Any, **kwargs: Any) -> None:
        """Called by Celery before the header is sent. As the Redis backend: a header with
        nested results (groups) is saved, so that the body gets them in their nested shape
        (see :meth:`on_chord_part_return`); flat headers need nothing stored."""
        if not isinstance(header_result_args[1], _regen):
            header_result = self.app.GroupResult(*header_result_args)
            if any(isinstance(nr, GroupResult) for nr in header_result.results):
                header_result.save(backend=self)

    def set_chord_size(self, group_id: str, chord_size: int) -> None:
        """Called by Celery before it sends the last header task: the number of results
        (``on_chord_part_return`` calls) that complete the chord, nested groups counted."""
        self.set(self._chord_keys(group_id)[2], chord_size)

    def add_to_chord(self, group_id: str, result: Any) -> None:
        """``Task.add_to_chord``: one more result to wait for (counted before the adding task
        returns its own)."""
        self.client.incr(self._chord_keys(group_id)[1])

    def on_chord_part_return(self, request: Any, state: str, result: Any,
                             propagate: Any = None, **kwargs: Any) -> None:
        """A header task (or the last task of a chain in the header) finished.

        Its result goes to the chord's list with its index in the header; the reply of that
        ``RPUSH`` is the number of results in, atomically, and the same round trip reads the
        chord's size and added count. The task that brings the count to size + added runs the
        body: with the results decoded from the list (header order unless
        ``result_chord_ordered`` is off), or, for a header with nested groups, with the saved
        header joined (every task of it has finished by then). A failed header task fails the
        body with ``ChordError`` ("Dependency <id> raised ..."), and the body's errbacks run.
        Until Celery has written the size (it does so before sending the last header task), no
        count completes the chord.
        """
        tid = getattr(request, "id", None)
        gid = getattr(request, "group", None)
        if not gid or not tid:
            return
        group_index = getattr(request, "group_index", None)
        jkey, tkey, skey = self._chord_keys(gid)
        encoded = self.encode([1, tid, state, self.encode_result(result, state)])
        cmds: List[C.Command[Any]] = [C.rpush(jkey, [group_index, encoded]), C.mget([tkey, skey])]
        ttl = self._ttl()
        if ttl:
            cmds += [C.expire(k, ttl) for k in (jkey, tkey, skey)]
        replies = self.client._run_many(cmds)
        readycount, (added, size) = replies[0], replies[1]
        if size is None:
            return
        callback = maybe_signature(request.chord, app=self.app)
        try:
            total = int(size) + int(added or 0)
            if readycount != total:
                return
            header_result = GroupResult.restore(gid, backend=self)
            if header_result is not None:
                # Saved by apply_chord: nested results, to be given to the body nested.
                header_result.on_ready()
                with allow_join_result():
                    resl = header_result.join_native(
                        timeout=self.app.conf.result_chord_join_timeout, propagate=True)
            else:
                resl = [self._unpack_chord_result(entry[1])
                        for entry in self._chord_results(jkey, total)]
            try:
                callback.delay(resl)
            except Exception as exc:
                logger.exception("Chord callback for %r raised: %r", gid, exc)
                self.chord_error_from_stack(callback, ChordError(f"Callback error: {exc!r}"))
            finally:
                self.client.delete(jkey, tkey, skey)
        except ChordError as exc:
            logger.exception("Chord %r raised: %r", gid, exc)
            self.chord_error_from_stack(callback, exc)
        except Exception as exc:
            logger.exception("Chord %r raised: %r", gid, exc)
            self.chord_error_from_stack(callback, ChordError(f"Join error: {exc!r}"))

    def _chord_results(self, jkey: bytes, total: int) -> List[Any]:
        """The header's ``[group_index, encoded]`` entries: in header order (as the Redis
        backend's sorted set scores them: by index, a task without one last, ties by their
        encoding), or as they came in when ``result_chord_ordered`` is off."""
        entries = self.client.lrange(jkey, 0, total)
        if not self.result_chord_ordered:
            return entries

        def rank(entry: Any) -> Tuple[float, bytes]:
            index, encoded = entry
            return (float("inf") if index is None else float(index), ensure_bytes(encoded))
        return sorted(entries, key=rank)

    def _unpack_chord_result(self, encoded: Any) -> Any:
        """A header result as the body gets it; raises ChordError for a failed task."""
        _, tid, state, retval = self.decode(encoded)
        if state in states.EXCEPTION_STATES:
            retval = self.exception_to_python(retval)
        if state in states.PROPAGATE_STATES:
            raise ChordError(f"Dependency {tid} raised {retval!r}")
        return retval

    # -- waiting without polling

    def _waitanyv(self, timeout: float, pairs: List[Any]) -> Optional[Tuple[Any, Any, int]]:
        """``WAITANYV`` over ``[key, version, key, version, ...]``: (key, value, version) of
        the first key that exists with a version other than the given one (0: any), or None
        when ``timeout`` seconds pass (:meth:`KvClient.waitany_versioned`, which runs on a
        connection of its own, so it never holds back other threads' commands)."""
        return self.client.waitany_versioned(list(zip(pairs[::2], pairs[1::2])),
                                             max(timeout, _MIN_WAIT))

    def _mgetv(self, keys: List[bytes]) -> List[Any]:
        """(value, version) or None for each key, in order (:meth:`KvClient.mget_versioned`):
        one round trip per ``_MGETV_CHUNK`` keys (bounded frames, whatever the size of a
        group)."""
        out: List[Any] = []
        for i in range(0, len(keys), _MGETV_CHUNK):
            out += self.client.mget_versioned(keys[i:i + _MGETV_CHUNK])
        return out

    def _next_wait(self, deadline: Optional[float], interval: Optional[float],
                   sliced: bool) -> float:
        """How long the next server-side wait may last."""
        wait = self.wait_slice
        if sliced:
            wait = min(wait, max(interval or 0.0, 0.01))
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
        return max(wait, _MIN_WAIT)

    def _retry_or_raise(self, exc: Exception, retries: int, task_id: Any) -> int:
        """Celery's retry policy for reads (as ``get_task_meta`` applies it): sleeps and
        returns the new retry count, or raises."""
        if not (self.always_retry and self.exception_safe_to_retry(exc)):
            raise exc
        if retries >= self.max_retries:
            raise BackendGetMetaError("failed to get meta", task_id=task_id) from exc
        retries += 1
        self._sleep(get_exponential_backoff_interval(
            self.base_sleep_between_retries_ms, retries,
            self.max_sleep_between_retries_ms, True) / 1000)
        return retries

    def wait_for(self, task_id: str, timeout: Optional[float] = None, interval: float = 0.5,
                 no_ack: bool = True, on_interval: Any = None) -> Dict[str, Any]:
        """Waits for the task to reach a ready state and returns its meta.

        Replaces ``SyncBackendMixin.wait_for``, which re-reads the key every ``interval``
        seconds. Here one ``WAITANYV`` asks the server to answer when the key is written: with
        version 0 it answers at once if the result exists (any version); if the state read is
        not ready yet (PENDING, STARTED, RETRY...), the next wait starts from the version just
        seen, so it returns at the next write and no write can be missed in between. The meta
        is returned as soon as its state is in ``READY_STATES``.

        ``on_interval`` (if it does anything) is called between waits, at most every
        ``interval`` seconds. Raises :class:`celery.exceptions.TimeoutError` after ``timeout``
        seconds (None or 0: wait forever, as Celery does).
        """
        self._ensure_not_eager()
        cached = self._cache.get(task_id)
        if cached is not None and cached["status"] in states.READY_STATES:
            return cast(Dict[str, Any], cached)
        deadline = time.monotonic() + timeout if timeout else None
        sliced = not _is_noop(on_interval)
        key = self.get_key_for_task(task_id)
        version = 0
        retries = 0
        while True:
            try:
                reply = self._waitanyv(self._next_wait(deadline, interval, sliced),
                                       [key, version])
            except Exception as exc:
                retries = self._retry_or_raise(exc, retries, task_id)
                version = 0  # the server may have restarted: its versions with it
            else:
                retries = 0
                if reply is not None:
                    meta = self.decode_result(reply[1])
                    if meta["status"] in states.READY_STATES:
                        if meta["status"] == states.SUCCESS:
                            self._cache[task_id] = meta
                        if sliced:
                            on_interval()  # last, as Celery's Redis backend: a failed parent
                        return cast(Dict[str, Any], meta)  # raises its own error
                    version = reply[2]
            if sliced:
                on_interval()
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("The operation timed out.")

    def iter_native(self, result: Any, timeout: Optional[float] = None, interval: float = 0.5,
                    no_ack: bool = True, on_message: Any = None,
                    on_interval: Any = None) -> Iterator[Tuple[str, Any]]:
        """``SyncBackendMixin.iter_native`` (``ResultSet.join_native``), passing the task ids
        to :meth:`get_many` in the result set's order rather than as a set: tasks mostly
        finish in the order they were sent, and get_many watches the first ones first."""
        self._ensure_not_eager()
        results = result.results
        if not results:
            return
        task_ids = []
        for node in results:
            if isinstance(node, ResultSet):
                yield node.id, node.results
            else:
                task_ids.append(node.id)
        yield from self.get_many(
            list(dict.fromkeys(task_ids)), timeout=timeout, interval=interval,
            no_ack=no_ack, on_message=on_message, on_interval=on_interval)

    def get_many(self, task_ids: Iterable[Any], timeout: Optional[float] = None,
                 interval: Optional[float] = 0.5, no_ack: bool = True, on_message: Any = None,
                 on_interval: Any = None, max_iterations: Optional[int] = None,
                 READY_STATES: Any = states.READY_STATES
                 ) -> Iterator[Tuple[str, Dict[str, Any]]]:
        """Yields ``(task_id, meta)`` for each task as it reaches one of ``READY_STATES``.

        Used by ``iter_native`` (``ResultSet.join_native``, ``GroupResult.get()``) and by chord
        joins. Like ``BaseKeyValueStoreBackend.get_many`` it first yields ready results from
        Celery's result cache (``self._cache``), caches what it yields, and calls
        ``on_message(meta)`` for each.

        Instead of an MGET of every key every ``interval`` seconds, it reads every key and its
        version once (``MGETV``), then waits on the server (``WAITANYV``) for one of the
        pending keys to change from the version read; after each wake-up it re-reads the
        watched keys with one ``MGETV``, so a batch of results that arrived together costs one
        wake-up. No write can be missed: a key that changed since it was read makes the next
        wait return at once.

        A wait watches at most :attr:`wait_window` keys: the first pending ones in the order
        given (the order tasks were sent, from iter_native). A wake-up then costs O(window),
        not O(all pending), which keeps a join over thousands of results linear. A result
        outside the window is yielded when the window reaches it (the versions read first
        make that immediate), so the join completes just as early.

        ``max_iterations`` bounds the number of reads (the first MGETV, then one per wait);
        ``on_interval`` is called between waits; after ``timeout`` seconds (None/0: no limit)
        with results still missing it raises :class:`celery.exceptions.TimeoutError`.
        """
        interval = 0.5 if interval is None else interval
        ordered = list(dict.fromkeys(task_ids))
        ids = task_ids if isinstance(task_ids, set) else set(ordered)
        cache = self._cache
        cached_ids = set()
        for task_id in ordered:
            try:
                cached = cache[task_id]
            except KeyError:
                pass
            else:
                if cached["status"] in READY_STATES:
                    yield bytes_to_str(task_id), cached
                    cached_ids.add(task_id)
        ids.difference_update(cached_ids)
        if not ids:
            return
        # the tasks still pending, in order (a dict: ordered, O(1) removal)
        pending = dict.fromkeys(t for t in ordered if t in ids)

        deadline = time.monotonic() + timeout if timeout else None
        sliced = max_iterations is not None or not _is_noop(on_interval)
        keys = {task_id: self.get_key_for_task(task_id) for task_id in ids}
        by_key = {ensure_bytes(key): task_id for task_id, key in keys.items()}
        versions: Optional[Dict[Any, int]] = None  # None: read everything (again)
        iterations = 0
        retries = 0
        while pending:
            try:
                if versions is None:
                    order = list(pending)
                    changed = list(zip(order, self._mgetv([keys[t] for t in order])))
                    versions = {}
                else:
                    window = list(islice(pending, self.wait_window))
                    pairs: List[Any] = []
                    for task_id in window:
                        pairs += [keys[task_id], versions.get(task_id, 0)]
                    reply = self._waitanyv(self._next_wait(deadline, interval, sliced), pairs)
                    changed = []
                    if reply is not None:
                        woken = by_key[ensure_bytes(reply[0])]
                        changed.append((woken, reply[1:]))
                        others = [t for t in window if t != woken]
                        if others:
                            changed += zip(others, self._mgetv([keys[t] for t in others]))
            except Exception as exc:
                retries = self._retry_or_raise(exc, retries, next(iter(pending)))
                versions = None  # after a reconnect, read everything again
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError("The operation timed out.") from exc
                continue
            retries = 0
            for task_id, entry in changed:
                if entry is None:
                    versions[task_id] = 0
                    continue
                value, version = entry
                if versions.get(task_id) == version:
                    continue  # re-read unchanged (a task still running)
                meta = self.decode_result(value)
                if meta["status"] in READY_STATES:
                    ids.discard(task_id)
                    del pending[task_id]
                    versions.pop(task_id, None)
                    cache[task_id] = meta
                    if on_message is not None:
                        on_message(meta)
                    yield bytes_to_str(task_id), meta
                else:
                    versions[task_id] = version
            iterations += 1
            if on_interval:
                on_interval()  # after every round, the last too (as Celery's Redis backend)
            if not pending or (max_iterations and iterations >= max_iterations):
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("The operation timed out.")
