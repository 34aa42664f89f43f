"""data_bridge.kv.celery.DataBridgeBackend against a live server, without a worker.

Each test gets a namespace of its own (the ``url`` fixture), so it sees only its own results.
"""
from __future__ import annotations

import os
import pickle
import threading
import time
from datetime import timedelta
from decimal import Decimal
from importlib.metadata import entry_points

import pytest
from celery import Celery, states, uuid
from celery.app.backends import by_url
from celery.exceptions import BackendGetMetaError, BackendStoreError, ChordError, TimeoutError

from data_bridge.kv import KvClient, KvConnectionError
from data_bridge.kv.celery import DataBridgeBackend

from celery_support.helpers import free_port

pytestmark = pytest.mark.timeout(60)


def make_app(url: str, **conf) -> Celery:
    app = Celery("dbkv-backend-tests", broker="memory://", backend=url, set_as_current=False)
    app.conf.update(conf)
    return app


_started_threads: list = []


def join_later_threads() -> None:
    """Waits for the threads later() started (a writer's reply may come back after the
    waiter it woke has returned): before closing a client they use."""
    while _started_threads:
        _started_threads.pop().join(timeout=30)


@pytest.fixture(autouse=True)
def _no_thread_left_behind():
    yield
    join_later_threads()


@pytest.fixture
def app(url):
    app = make_app(url)
    yield app
    join_later_threads()
    backend = getattr(app._local, "backend", None)
    if backend is not None:
        backend.close()


@pytest.fixture
def backend(app) -> DataBridgeBackend:
    b = app.backend
    assert isinstance(b, DataBridgeBackend)
    return b


def later(seconds: float, fn, *args, **kwargs) -> threading.Thread:
    """Runs fn(*args) in a thread after ``seconds``; the thread records when fn returned."""
    def run():
        time.sleep(seconds)
        fn(*args, **kwargs)
        t.done_at = time.monotonic()
    t = threading.Thread(target=run, daemon=True)
    t.done_at = None
    t.start()
    _started_threads.append(t)
    return t


# -- configuration


def test_entry_points_resolve_both_schemes(server):
    eps = {ep.name: ep.value for ep in entry_points(group="celery.result_backends")}
    assert eps["databridge"] == "data_bridge.kv.celery:DataBridgeBackend"
    assert eps["databridges"] == "data_bridge.kv.celery:DataBridgeBackend"
    for scheme in ("databridge", "databridges"):
        cls, url = by_url(f"{scheme}://127.0.0.1:{server.port}/ns")
        assert cls is DataBridgeBackend
        assert url == f"{scheme}://127.0.0.1:{server.port}/ns"


def test_app_builds_the_backend_from_the_url(url, server, namespace):
    app = make_app(url)
    b = app.backend
    assert isinstance(b, DataBridgeBackend)
    assert b.url == url
    assert b.as_uri() == url
    assert b.client.namespace == namespace
    assert (b.client.config.host, b.client.config.port) == ("127.0.0.1", server.port)
    assert b.supports_autoexpire and b.supports_native_join
    # chords complete in on_chord_part_return, never through celery.chord_unlock
    assert not b.implements_incr and b.apply_chord.__func__ is DataBridgeBackend.apply_chord


def test_password_is_hidden_from_as_uri(server):
    b = DataBridgeBackend(app=make_app("memory://"),
                          url=f"databridge://:s3cret@127.0.0.1:{server.port}/ns")
    assert "s3cret" not in b.as_uri()
    assert b.as_uri(include_password=True).endswith("s3cret@127.0.0.1:%d/ns" % server.port)
    assert b._client is None  # constructing never connects


def test_options_from_transport_options_and_query(url):
    app = make_app(url, result_backend_transport_options={
        "timeout": 2.5, "connect_timeout": 1.5, "wait_slice": 7, "global_keyprefix": "pfx"})
    b = DataBridgeBackend(app=app, url=url)
    assert b.client.timeout == 2.5
    assert b.client.config.connect_timeout == 1.5
    assert b.wait_slice == 7.0
    assert b.get_key_for_task("t") == b"pfx_celery-task-meta-t"
    b2 = DataBridgeBackend(app=app, url=url + "?timeout=4&wait_slice=2")
    assert b2.client.timeout == 4.0 and b2.wait_slice == 2.0
    assert b2.client.namespace == b.client.namespace  # the query is not part of the namespace


def test_query_string_every_option_and_precedence(url):
    app = make_app(url, result_backend_transport_options={
        "timeout": 2.5, "connect_timeout": 1.5, "wait_window": 16, "server_name": "t.example"})
    b = DataBridgeBackend(app=app, url=url + "?connect_timeout=0.5&wait_window=8"
                                            "&server_name=q.example&key_file=%2Fk.pem")
    config = b.client.config
    assert config.timeout == 2.5  # from the transport options
    assert config.connect_timeout == 0.5  # the query wins
    assert (config.server_name, config.key_file) == ("q.example", "/k.pem")
    assert b.wait_window == 8
    assert b.client.namespace == DataBridgeBackend(app=app, url=url).client.namespace
    assert pickle.loads(pickle.dumps(b)).client.config.connect_timeout == 0.5


def test_query_string_password(server):
    b = DataBridgeBackend(app=make_app("memory://"),
                          url=f"databridge://127.0.0.1:{server.port}/ns?password=p%40ss")
    assert b.client.config.password == "p@ss"


@pytest.mark.parametrize("query, error, message", [
    ("timout=1", ValueError, "unknown option 'timout' in the query string"),
    ("ignored=1", ValueError, "known: timeout, connect_timeout"),
    ("wait_window=many", ValueError, "bad result backend option"),
    ("timeout=abc", Exception, "timeout must be a number of seconds > 0"),
    ("timeout=1&timeout=2", Exception, "given twice"),
])
def test_bad_query_string_fails_at_configuration(url, query, error, message):
    with pytest.raises(error, match=message):
        DataBridgeBackend(app=make_app("memory://"), url=f"{url}?{query}")


def test_bad_url_fails_at_configuration():
    with pytest.raises(Exception):
        DataBridgeBackend(app=make_app("memory://"), url="databridge://127.0.0.1:notaport/x")


def test_password_protected_server(server_factory, namespace):
    s = server_factory(env=dict(os.environ, KV_PASSWORD="pw-42"))
    good = DataBridgeBackend(app=make_app("memory://"), url=s.url(namespace, password="pw-42"))
    good.mark_as_done("t1", 7)
    assert good.get_result("t1") == 7
    via_options = DataBridgeBackend(
        app=make_app("memory://", result_backend_transport_options={"password": "pw-42"}),
        url=s.url(namespace))
    assert via_options.get_result("t1") == 7
    from data_bridge.kv import KvAuthError
    bad = DataBridgeBackend(app=make_app("memory://"), url=s.url(namespace, password="nope"))
    with pytest.raises(KvAuthError):
        bad.get_result("t1")
    assert not bad.exception_safe_to_retry(KvAuthError("x"))


# -- storage


def test_store_get_forget(backend, client):
    tid = uuid()
    assert backend.get_state(tid) == states.PENDING
    assert backend.get_result(tid) is None
    backend.mark_as_done(tid, {"answer": 42})
    assert backend.get_state(tid) == states.SUCCESS
    assert backend.get_result(tid) == {"answer": 42}
    meta = backend.get_task_meta(tid)
    assert meta["task_id"] == tid and meta["date_done"]
    assert client.exists(b"celery-task-meta-" + tid.encode())
    backend.forget(tid)
    assert backend.get_state(tid) == states.PENDING
    assert not client.exists(b"celery-task-meta-" + tid.encode())


def test_every_state_round_trips(backend):
    for state in sorted(states.ALL_STATES - {states.PENDING}):
        tid = uuid()
        if state in states.EXCEPTION_STATES:
            backend.store_result(tid, KeyError("boom"), state)
            got = backend.get_task_meta(tid, cache=False)
            assert got["status"] == state
            assert isinstance(got["result"], KeyError) and got["result"].args == ("boom",)
        else:
            backend.store_result(tid, {"state": state}, state)
            got = backend.get_task_meta(tid, cache=False)
            assert (got["status"], got["result"]) == (state, {"state": state})
    # a custom state (Task.update_state(state="PROGRESS", meta=...)) is stored as well
    tid = uuid()
    backend.store_result(tid, {"done": 3}, "PROGRESS")
    assert backend.get_task_meta(tid, cache=False)["status"] == "PROGRESS"


def test_failure_keeps_exception_and_traceback(backend):
    tid = uuid()
    try:
        raise ValueError("bad input")
    except ValueError as exc:
        import traceback
        backend.mark_as_failure(tid, exc, traceback=traceback.format_exc())
    meta = backend.get_task_meta(tid)
    assert meta["status"] == states.FAILURE
    assert isinstance(meta["result"], ValueError)
    assert "bad input" in meta["traceback"]


def test_success_is_never_overwritten(backend):
    tid = uuid()
    backend.mark_as_done(tid, 1)
    backend.mark_as_failure(tid, KeyError("late duplicate"))
    assert backend.get_task_meta(tid, cache=False)["result"] == 1


def test_values_keep_their_types(url):
    for serializer in ("json", "pickle", "msgpack", "yaml"):
        app = make_app(url, result_serializer=serializer,
                       accept_content=["json", "pickle", "msgpack", "yaml"])
        b = DataBridgeBackend(app=app, url=url)
        tid = uuid()
        b.mark_as_done(tid, {"n": 1, "s": "é", "l": [1, 2]})
        assert b.get_task_meta(tid, cache=False)["result"] == {"n": 1, "s": "é", "l": [1, 2]}
    b = DataBridgeBackend(app=make_app(url), url=url)
    tid = uuid()
    b.mark_as_done(tid, Decimal("1.10"))
    got = b.get_result(tid)
    assert isinstance(got, Decimal) and str(got) == "1.10"


def test_mget_in_order_with_missing(backend):
    backend.set(b"k1", "one")
    backend.set(b"k3", b"three")
    assert backend.mget([b"k1", b"k2", b"k3"]) == ["one", None, b"three"]
    assert backend.mget([]) == []


def test_incr_is_atomic(backend, client):
    key = backend.get_key_for_chord("gid")
    assert backend.incr(key) == 1

    def bump():
        for _ in range(50):
            backend.incr(key)
    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.get(key) == 401


def test_group_save_restore_delete(backend, app):
    gid = uuid()
    gr = app.GroupResult(gid, [app.AsyncResult(uuid()) for _ in range(5)])
    backend.save_group(gid, gr)
    assert backend.restore_group(gid, cache=False) == gr
    backend.delete_group(gid)
    assert backend.restore_group(gid, cache=False) is None


# -- expiry


def test_ttl_from_result_expires_on_every_state_write(url, client):
    b = DataBridgeBackend(app=make_app(url, result_expires=120), url=url)
    tid = uuid()
    key = b.get_key_for_task(tid)
    for write in (lambda: b.mark_as_started(tid),
                  lambda: b.mark_as_retry(tid, KeyError("again")),
                  lambda: b.mark_as_done(tid, 5)):
        client.persist(key)
        write()
        ttl = client.ttl(key)
        assert ttl is not None and 110 < ttl <= 120
    gid = uuid()
    b.save_group(gid, b.app.GroupResult(gid, []))
    assert 110 < client.ttl(b.get_key_for_group(gid)) <= 120


def test_ttl_from_timedelta_and_explicit_expires(url, client):
    b = DataBridgeBackend(app=make_app(url, result_expires=timedelta(minutes=5)), url=url)
    b.mark_as_done("t1", 1)
    assert 290 < client.ttl(b.get_key_for_task("t1")) <= 300
    b = DataBridgeBackend(app=make_app(url), url=url, expires=30)
    b.mark_as_done("t2", 1)
    assert 25 < client.ttl(b.get_key_for_task("t2")) <= 30


@pytest.mark.parametrize("expires", [None, 0])
def test_no_expiry_when_result_expires_is_none_or_zero(url, client, expires):
    b = DataBridgeBackend(app=make_app(url, result_expires=expires), url=url)
    b.mark_as_done("t", 1)
    key = b.get_key_for_task("t")
    assert client.exists(key) and client.ttl(key) is None


def test_default_expiry_is_one_day(backend, client):
    backend.mark_as_done("t", 1)
    assert 86390 < client.ttl(backend.get_key_for_task("t")) <= 86400


def test_expire_ignores_none_and_zero(backend, client):
    backend.set(b"k", "v")  # the default one-day TTL
    client.persist(b"k")
    for value in (None, 0, 0.0, timedelta(0), -1):
        backend.expire(b"k", value)
        assert client.exists(b"k") and client.ttl(b"k") is None
    backend.expire(b"k", 30)
    assert 25 < client.ttl(b"k") <= 30
    backend.expire(b"k", timedelta(seconds=60))
    assert 55 < client.ttl(b"k") <= 60


def test_results_disappear_after_result_expires(url, client):
    b = DataBridgeBackend(app=make_app(url, result_expires=0.3), url=url)
    b.mark_as_done("t", 1)
    key = b.get_key_for_task("t")
    assert client.exists(key)
    deadline = time.monotonic() + 5
    while client.exists(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not client.exists(key)
    assert b.get_state("t") == states.PENDING


# -- waiting


def test_wait_for_wakes_up_as_soon_as_the_result_is_stored(backend):
    tid = uuid()
    t = later(0.2, backend.mark_as_done, tid, "done")
    start = time.monotonic()
    meta = backend.wait_for(tid, timeout=5)
    woke = time.monotonic()
    t.join()
    assert meta["status"] == states.SUCCESS and meta["result"] == "done"
    assert woke - start >= 0.19
    # latency: from the store returning to wait_for returning (polling: up to 0.5 s; here
    # typically well under a millisecond, the bound leaves room for a loaded machine)
    assert woke - t.done_at < 0.1


def test_wait_for_ignores_started_and_retry(backend):
    tid = uuid()
    seen = []

    def sequence():
        backend.mark_as_started(tid)
        time.sleep(0.1)
        backend.mark_as_retry(tid, KeyError("again"))
        time.sleep(0.1)
        backend.mark_as_started(tid)
        time.sleep(0.1)
        backend.mark_as_done(tid, 99)
        seen.append(time.monotonic())
    t = later(0.05, sequence)
    meta = backend.wait_for(tid, timeout=5)
    woke = time.monotonic()
    t.join()
    assert (meta["status"], meta["result"]) == (states.SUCCESS, 99)
    assert woke - seen[0] < 0.1


def test_wait_for_returns_existing_result_at_once(backend):
    backend.mark_as_failure("t", KeyError("x"))
    start = time.monotonic()
    meta = backend.wait_for("t", timeout=5)
    assert meta["status"] == states.FAILURE
    assert time.monotonic() - start < 0.1


def test_wait_for_timeout(backend):
    backend.mark_as_started("t")  # exists but never becomes ready
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        backend.wait_for("t", timeout=0.3)
    assert 0.29 <= time.monotonic() - start < 1.0
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        backend.wait_for("missing", timeout=0.2)
    assert 0.19 <= time.monotonic() - start < 1.0


def test_wait_for_calls_on_interval_between_waits(backend):
    calls = []
    with pytest.raises(TimeoutError):
        backend.wait_for("t", timeout=0.35, interval=0.05, on_interval=lambda: calls.append(1))
    assert 3 <= len(calls) <= 10


def test_async_result_get(app, backend):
    tid = uuid()
    later(0.1, backend.mark_as_done, tid, [1, "two"])
    assert app.AsyncResult(tid).get(timeout=5) == [1, "two"]
    tid = uuid()
    later(0.1, backend.mark_as_failure, tid, KeyError("boom"))
    with pytest.raises(KeyError):
        app.AsyncResult(tid).get(timeout=5)
    with pytest.raises(TimeoutError):
        app.AsyncResult(uuid()).get(timeout=0.2)


def test_async_result_get_waits_without_slicing(app, backend, monkeypatch):
    """AsyncResult.get() passes an empty promise as on_interval: nothing to call between
    waits, so one server-side wait covers the whole time (no wake-up every 0.5 s)."""
    waits = []
    real = backend._waitanyv
    monkeypatch.setattr(backend, "_waitanyv", lambda t, p: waits.append(t) or real(t, p))
    tid = uuid()
    later(0.7, backend.mark_as_done, tid, "late")
    assert app.AsyncResult(tid).get(timeout=5) == "late"
    assert len(waits) == 1
    # with a callback to run between waits, it waits in slices of `interval`
    waits.clear()
    calls = []
    tid = uuid()
    later(0.3, backend.mark_as_done, tid, "sliced")
    assert app.AsyncResult(tid).get(timeout=5, interval=0.1,
                                     on_interval=lambda: calls.append(1)) == "sliced"
    assert len(waits) >= 3 and calls and max(waits) <= 0.1


def test_wait_does_not_block_other_threads(backend):
    """A wait parks on a connection of its own: other commands keep flowing meanwhile."""
    waiter = threading.Thread(target=lambda: pytest.raises(TimeoutError, backend.wait_for,
                                                           "t", timeout=0.6))
    waiter.start()
    time.sleep(0.1)
    start = time.monotonic()
    for i in range(20):
        backend.mark_as_done(f"other-{i}", i)
    assert time.monotonic() - start < 0.5
    waiter.join()


def test_get_many_yields_results_as_they_arrive(backend):
    ids = [uuid() for _ in range(5)]
    stored = {}

    def store_all():
        for i, tid in enumerate(ids):
            time.sleep(0.1)
            backend.mark_as_started(tid)
            backend.mark_as_done(tid, i)
            stored[tid] = time.monotonic()
    t = later(0, store_all)
    got = []
    for tid, meta in backend.get_many(ids, timeout=5):
        got.append((tid, meta["result"], time.monotonic()))
    t.join()
    assert [g[0] for g in got] == ids
    assert [g[1] for g in got] == list(range(5))
    for tid, _, when in got:
        assert when - stored[tid] < 0.1


def test_get_many_batch_and_cache(url):
    backend = DataBridgeBackend(app=make_app(url, result_cache_max=100), url=url)
    ids = [uuid() for _ in range(200)]
    for i, tid in enumerate(ids):
        backend.mark_as_done(tid, i)
    messages = []
    got = dict(backend.get_many(ids, timeout=5, on_message=messages.append))
    assert {tid: m["result"] for tid, m in got.items()} == {tid: i for i, tid in enumerate(ids)}
    assert len(messages) == 200
    # with Celery's result cache on (result_cache_max, an LRU), what get_many yields is
    # cached: reading it again needs no server round trip
    ids = ids[:50]
    backend._cache.clear()
    assert len(dict(backend.get_many(ids, timeout=5))) == 50

    class NoServer:
        def __getattr__(self, name):
            raise AssertionError(f"the server was asked ({name})")
    real = backend.client
    backend.client = NoServer()
    try:
        again = dict(backend.get_many(ids, timeout=5))
    finally:
        backend.client = real
    assert sorted(again) == sorted(ids)


def test_get_many_burst_costs_one_wakeup(backend, client, monkeypatch):
    ids = [uuid() for _ in range(50)]
    waits = []
    real = backend._waitanyv
    monkeypatch.setattr(backend, "_waitanyv", lambda *a: waits.append(1) or real(*a))

    def store_all():  # 50 results written at once (one MSET), as a burst of workers would
        client.mset({backend.get_key_for_task(tid): backend.encode(
            {"status": states.SUCCESS, "result": i, "traceback": None, "children": [],
             "task_id": tid}) for i, tid in enumerate(ids)})
    later(0.2, store_all)
    got = list(backend.get_many(ids, timeout=5))
    assert sorted(m["result"] for _, m in got) == list(range(50))
    # one wake-up, then one MGETV of the others picks up the whole batch (a few more at most
    # if the MSET reached the shards one after the other)
    assert len(waits) <= 5, len(waits)


def test_get_many_window_bounds_each_wait(backend, monkeypatch):
    """Each wait watches at most wait_window keys; results beyond it, even the first to
    arrive, are all yielded."""
    backend.wait_window = 8
    ids = [uuid() for _ in range(40)]
    watched = []
    real = backend._waitanyv
    monkeypatch.setattr(backend, "_waitanyv",
                        lambda t, pairs: watched.append(len(pairs) // 2) or real(t, pairs))

    def store_reversed():
        for i, tid in reversed(list(enumerate(ids))):
            backend.mark_as_done(tid, i)
            time.sleep(0.002)
    later(0.1, store_reversed)
    got = dict(backend.get_many(ids, timeout=10))
    assert {tid: m["result"] for tid, m in got.items()} == {t: i for i, t in enumerate(ids)}
    assert watched and max(watched) <= 8


def test_get_many_timeout_and_max_iterations(backend):
    backend.mark_as_done("a", 1)
    backend.mark_as_started("b")
    it = backend.get_many(["a", "b", "c"], timeout=0.3)
    assert next(it)[0] == "a"
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        next(it)
    assert time.monotonic() - start < 1.0
    backend._cache.clear()
    start = time.monotonic()
    got = list(backend.get_many(["a", "b", "c"], interval=0.05, max_iterations=2))
    assert [g[0] for g in got] == ["a"]
    assert time.monotonic() - start < 0.5
    only_success = list(backend.get_many(["a", "b"], max_iterations=1,
                                         READY_STATES=frozenset({states.STARTED})))
    assert [g[0] for g in only_success] == ["b"]


def test_group_result_get_uses_native_join(app, backend):
    ids = [uuid() for _ in range(10)]
    gr = app.GroupResult(uuid(), [app.AsyncResult(t) for t in ids])
    later(0.1, lambda: [backend.mark_as_done(t, i * i) for i, t in enumerate(ids)])
    assert gr.get(timeout=5) == [i * i for i in range(10)]
    assert gr.supports_native_join


# -- chords (the worker side, driven by hand)


def _chord_body(app, sent):
    """A chord body whose sending is recorded instead of published."""
    @app.task(shared=False)
    def body(results):
        return results

    body.apply_async = lambda *a, **kw: sent.append(a[0][0] if a else kw["args"][0])
    body.delay = lambda *a, **kw: sent.append(a[0])
    sig = body.s()
    sig.freeze()
    return sig


def _part(backend, tid, gid, index, sig, value=None, exc=None):
    """What the worker does when a header task ends (store, then on_chord_part_return)."""
    from celery.app.task import Context

    request = Context(id=tid, group=gid, group_index=index, chord=dict(sig), errbacks=None,
                      delivery_info={})
    if exc is not None:
        backend.mark_as_failure(tid, exc, request=request)
    else:
        backend.mark_as_done(tid, value, request=request)


def test_chord_counts_parts_in_a_list(app, backend, client):
    """Each part is appended to <group>.j (with its index) and the part that brings the count
    to <group>.s + <group>.t sends the body, with the results in header order; the chord's
    keys expire like results until then and are deleted after."""
    sent = []
    sig = _chord_body(app, sent)
    gid = uuid()
    header_ids = [uuid() for _ in range(3)]
    backend.apply_chord((gid, [app.AsyncResult(t) for t in header_ids]), sig)
    jkey, tkey, skey = (backend.get_key_for_group(gid, s) for s in (".j", ".t", ".s"))
    # Celery writes the size before it sends the last header task; a part may come first.
    _part(backend, header_ids[2], gid, 2, sig, value=30)
    backend.set_chord_size(gid, 3)
    _part(backend, header_ids[0], gid, 0, sig, value=10)
    assert client.llen(jkey) == 2 and client.get(skey) == 3
    assert all(client.ttl(k) is not None for k in (jkey, skey))  # expire like the results
    assert sent == []
    _part(backend, header_ids[1], gid, 1, sig, value=20)
    assert sent == [[10, 20, 30]]  # header order, not completion order
    assert not any(client.exists(k) for k in (jkey, tkey, skey))
    assert not client.exists(backend.get_key_for_group(gid))  # flat header: nothing saved


def test_chord_results_in_completion_order_when_unordered(app, url):
    app.conf.result_backend_transport_options = {"result_chord_ordered": False}
    b = DataBridgeBackend(app=app, url=url)
    assert b.result_chord_ordered is False
    assert DataBridgeBackend(app=app, url=url + "?result_chord_ordered=true").result_chord_ordered
    sent = []
    sig = _chord_body(app, sent)
    gid = uuid()
    b.set_chord_size(gid, 2)
    _part(b, uuid(), gid, 1, sig, value="second")
    _part(b, uuid(), gid, 0, sig, value="first")
    assert sent == [["second", "first"]]
    b.close()


def test_add_to_chord_waits_for_the_added_task(app, backend, client):
    sent = []
    sig = _chord_body(app, sent)
    gid = uuid()
    backend.set_chord_size(gid, 1)
    backend.add_to_chord(gid, app.AsyncResult(uuid()))  # as Task.add_to_chord does
    _part(backend, uuid(), gid, 0, sig, value=1)
    assert sent == []
    _part(backend, uuid(), gid, None, sig, value=2)  # the added task: no group index
    assert sent == [[1, 2]]


def test_chord_with_failed_header_fails_the_callback(app, backend):
    sent = []
    sig = _chord_body(app, sent)
    header_ids = [uuid(), uuid()]
    gid = uuid()
    backend.apply_chord((gid, [app.AsyncResult(t) for t in header_ids]), sig)
    backend.set_chord_size(gid, 2)
    _part(backend, header_ids[0], gid, 0, sig, exc=ValueError("header broke"))
    _part(backend, header_ids[1], gid, 1, sig, value=1)
    assert sent == []
    meta = backend.get_task_meta(sig.id, cache=False)
    assert meta["status"] == states.FAILURE
    assert isinstance(meta["result"], ChordError)
    assert str(meta["result"]) == f"Dependency {header_ids[0]} raised ValueError('header broke')"


def test_chord_with_nested_header_saves_and_joins_it(app, backend, client):
    """A header holding a group is saved by apply_chord and joined when the count completes,
    so that the body gets the nested shape."""
    sent = []
    sig = _chord_body(app, sent)
    gid, inner_gid = uuid(), uuid()
    first, inner = uuid(), [uuid(), uuid()]
    header = [app.AsyncResult(first),
              app.GroupResult(inner_gid, [app.AsyncResult(t) for t in inner])]
    backend.apply_chord((gid, header), sig)
    assert client.exists(backend.get_key_for_group(gid))
    backend.set_chord_size(gid, 3)  # the nested group's tasks count one by one
    _part(backend, first, gid, 0, sig, value=1)
    _part(backend, inner[0], gid, 1, sig, value=2)
    assert sent == []
    _part(backend, inner[1], gid, 1, sig, value=3)
    assert sent == [[1, [2, 3]]]


# -- processes


def test_pickle_round_trip(app, backend, url, client):
    app.set_current()
    b2 = pickle.loads(pickle.dumps(backend))
    assert type(b2) is DataBridgeBackend
    assert b2.url == url and b2.expires == backend.expires
    backend.mark_as_done("t", "from the original")
    assert b2.get_result("t") == "from the original"
    b2.mark_as_done("u", "from the copy")
    assert backend.get_result("u") == "from the copy"
    assert client.exists(b"celery-task-meta-u")  # same server, same namespace

    b3 = DataBridgeBackend(app=app, url=url, expires=42)
    b4 = pickle.loads(pickle.dumps(b3))
    assert b4.expires == 42
    b4.mark_as_done("v", 1)
    assert 40 < client.ttl(b"celery-task-meta-v") <= 42


def test_namespaces_are_isolated(server, url, namespace):
    a = DataBridgeBackend(app=make_app(url), url=url)
    other = DataBridgeBackend(app=make_app("memory://"), url=server.url(namespace + "-other"))
    a.mark_as_done("t", 1)
    assert other.get_state("t") == states.PENDING


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_uses_the_inherited_backend(backend):
    backend.mark_as_done("before-fork", 1)  # the parent is connected
    pid = os.fork()
    if pid == 0:  # the child: a prefork worker process, in short
        code = 1
        try:
            assert backend.get_result("before-fork") == 1
            backend.mark_as_done("from-child", os.getpid())
            code = 0
        finally:
            os._exit(code)
    meta = backend.wait_for("from-child", timeout=10)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert meta["result"] == pid


# -- connection errors


def retrying_app(url, max_retries=3):
    return make_app(url, result_backend_always_retry=True,
                    result_backend_max_retries=max_retries,
                    result_backend_base_sleep_between_retries_ms=10,
                    result_backend_max_sleep_between_retries_ms=50,
                    result_backend_transport_options={"timeout": 1.0})


def test_connection_errors_are_safe_to_retry(backend):
    from data_bridge.kv import KvResponseError, KvTimeoutError
    assert backend.exception_safe_to_retry(KvConnectionError("down"))
    assert backend.exception_safe_to_retry(KvTimeoutError("slow"))
    assert not backend.exception_safe_to_retry(KvResponseError("bad"))
    assert not backend.exception_safe_to_retry(ValueError())


def test_closed_port_raises_after_max_retries():
    url = f"databridge://127.0.0.1:{free_port()}/ns"
    b = DataBridgeBackend(app=retrying_app(url), url=url)
    sleeps = []
    b._sleep = sleeps.append
    with pytest.raises(BackendGetMetaError):
        b.get_task_meta("t")
    assert len(sleeps) == 3
    sleeps.clear()
    with pytest.raises(BackendStoreError):
        b.mark_as_done("t", 1)
    assert len(sleeps) == 3
    sleeps.clear()
    with pytest.raises(BackendGetMetaError):
        b.wait_for("t", timeout=5)
    assert len(sleeps) == 3
    sleeps.clear()
    with pytest.raises(BackendGetMetaError):
        list(b.get_many(["t", "u"], timeout=5))
    assert len(sleeps) == 3
    # without always_retry the client's error surfaces at once
    plain = DataBridgeBackend(app=make_app(url), url=url)
    with pytest.raises(KvConnectionError):
        plain.get_task_meta("t")


@pytest.mark.slow
def test_server_down_then_up_is_retried(server_factory, namespace):
    port = free_port()
    url = f"databridge://127.0.0.1:{port}/{namespace}"
    b = DataBridgeBackend(app=retrying_app(url, max_retries=100), url=url)
    started = []
    # a short drain: on SIGTERM the server waits that long for parked waits (WAITANYV)
    fast_stop = ("--shutdown-timeout-ms", "200")
    starter = later(0.5, lambda: started.append(server_factory(*fast_stop, port=port)))
    begin = time.monotonic()
    b.mark_as_done("t", "stored once the server came up")  # retried with backoff meanwhile
    assert time.monotonic() - begin >= 0.45
    starter.join()
    assert b.get_result("t") == "stored once the server came up"

    # a waiter rides through a server restart (no persistence: the result is stored after)
    waiter_meta = []
    w = threading.Thread(target=lambda: waiter_meta.append(b.wait_for("u", timeout=20)))
    w.start()
    time.sleep(0.2)
    started[0].stop()
    started.append(server_factory(*fast_stop, port=port))
    b2 = DataBridgeBackend(app=make_app(url), url=url)
    b2.mark_as_done("u", "after the restart")
    w.join(timeout=20)
    assert waiter_meta and waiter_meta[0]["result"] == "after the restart"


def test_too_large_result_is_not_retried(server_factory, namespace):
    s = server_factory("--max-frame-bytes", "64KiB")
    url = s.url(namespace)
    b = DataBridgeBackend(app=retrying_app(url), url=url)
    sleeps = []
    b._sleep = sleeps.append
    with pytest.raises(BackendStoreError):
        b.mark_as_done("t", "x" * 100_000)
    assert sleeps == []
    b.mark_as_done("t", "small")  # the backend still works
    assert b.get_result("t") == "small"


@pytest.mark.slow
def test_results_survive_a_server_restart_with_data_dir(server_factory, namespace, tmp_path):
    """With --data-dir a stored result (and its expiry) outlives a restart; a client waiting
    meanwhile reconnects (result_backend_always_retry) and gets the result stored after."""
    port = free_port()
    flags = ("--data-dir", str(tmp_path / "data"), "--fsync", "always",
             "--shutdown-timeout-ms", "200")
    s = server_factory(*flags, port=port)
    url = s.url(namespace)
    b = DataBridgeBackend(app=retrying_app(url, max_retries=100), url=url, expires=600)
    b.mark_as_done("kept", {"v": 1})
    b.mark_as_started("running")
    waiter_meta = []
    w = threading.Thread(target=lambda: waiter_meta.append(b.wait_for("running", timeout=20)))
    w.start()
    time.sleep(0.2)
    assert s.stop() == 0
    server_factory(*flags, port=port)
    assert b.get_result("kept") == {"v": 1}
    assert 590 < KvClient(url).ttl(b.get_key_for_task("kept")) <= 600
    assert b.get_state("running") == states.STARTED
    b.mark_as_done("running", "finished after the restart")
    w.join(timeout=20)
    assert waiter_meta and waiter_meta[0]["result"] == "finished after the restart"


def test_tls(server_factory, namespace, tmp_path):
    """databridges:// with the CA from result_backend_transport_options."""
    import shutil
    import subprocess
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    s = server_factory("--tls-cert", str(cert), "--tls-key", str(key))
    url = s.url(namespace, scheme="databridges")
    b = DataBridgeBackend(
        app=make_app(url, result_backend_transport_options={"ca_file": str(cert)}), url=url)
    from data_bridge.kv import KvError
    try:
        b.client.ping()
    except KvError as e:
        if "TLS is not available" in str(e):
            pytest.skip(f"the client has no TLS yet: {e}")
        raise
    later(0.1, b.mark_as_done, "t", "over TLS")
    assert b.wait_for("t", timeout=5)["result"] == "over TLS"
    assert b.client.config.tls
    join_later_threads()
    b.close()
