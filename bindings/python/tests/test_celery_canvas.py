"""Every canvas shape Celery documents, on our backend and on Celery's Redis backend, compared.

Two real prefork workers run the same tasks (celery_support/canvas_tasks.py) from one
redis-server broker (a database each): one stores results in data-bridge-kv
(``databridge://``), the other in Redis (``redis://``, Celery's own backend, the reference).
Each shape runs on Celery's Redis backend first, then on ours, through the same client code;
what the caller observes (the value ``get()`` returns or the exception it raises, the states of
the results and of their parents and children, what errbacks saw) is reduced to plain data,
with task ids replaced by ``<id>``, and must be equal (the Redis backend gets up to
``REFERENCE_TRIES`` runs to agree: it is not deterministic in every shape). Each shape also
states what Celery documents it to give, and ours must give exactly that every time.

Every wait is bounded by ``TIMEOUT`` seconds on both backends: a shape that hangs on one of them
shows up as a TimeoutError on that side only.

``DBKV_CANVAS_REPORT=path.md`` writes the table of shapes (outcome and seconds on each backend)
when the module is done: the figures of the issue's closing note.
"""
from __future__ import annotations

import os
import re
import signal
import time
import uuid
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, NamedTuple, Optional

import pytest
import redis
from celery import chain, chord, group
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult, GroupResult, ResultSet

from data_bridge.kv import KvClient
from data_bridge.kv.celery import DataBridgeBackend

from celery_support import canvas_tasks
from celery_support.helpers import CeleryWorker, RedisServer, redis_server_binary

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(redis_server_binary() is None, reason="redis-server is not installed"),
]

#: The longest any wait of a shape may take, on either backend.
TIMEOUT = 20.0

BACKENDS = ("redis", "databridge")  # the reference first

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# -- the two setups


@pytest.fixture(scope="module")
def broker():
    r = RedisServer()
    yield r
    r.stop()


def _start(broker: RedisServer, server: Any, log_dir: str, concurrency: int,
           dbs: tuple) -> Dict[str, SimpleNamespace]:
    """Both setups: a worker each (its own broker database) and a client app each."""
    kv_url = server.url(f"celery-canvas-{concurrency}")
    config = {
        "redis": (broker.url(dbs[0]), broker.url(dbs[1])),
        "databridge": (broker.url(dbs[2]), kv_url),
    }
    out: Dict[str, SimpleNamespace] = {}
    workers = {}
    try:
        for name, (b, r) in config.items():
            workers[name] = CeleryWorker(b, r, name=f"canvas-{name}-{concurrency}",
                                         concurrency=concurrency, log_dir=log_dir,
                                         app="celery_support.canvas_tasks")
        for name, (b, r) in config.items():
            workers[name].wait_ready()
            app = canvas_tasks.make_app(b, r)
            t = SimpleNamespace(app=app, name=name, worker=workers[name])
            for task_name, task in app.tasks.items():
                if task_name.startswith("canvas."):
                    setattr(t, task_name.split(".", 1)[1], task)
            out[name] = t
    except BaseException:
        _stop(out, workers)
        raise
    assert isinstance(out["databridge"].app.backend, DataBridgeBackend)
    redis_client = redis.Redis(port=broker.port, db=dbs[1])
    kv = KvClient(kv_url)
    out["redis"].peek = lambda key: (redis_client.get(key), redis_client.ttl(key))
    out["databridge"].peek = lambda key: (kv.get(key), kv.ttl(key))
    out["redis"].closers = [redis_client.close, kv.close]
    return out


def _stop(setups: Dict[str, SimpleNamespace], workers: Optional[Dict[str, Any]] = None) -> None:
    for t in setups.values():
        if isinstance(t.app.backend, DataBridgeBackend):
            t.app.backend.close()
        else:
            # Results of the Redis backend unsubscribe when they are collected, which at exit
            # would be after Redis stopped: drop the subscriptions now.
            consumer = t.app.backend.result_consumer
            consumer.stop()
            consumer._pubsub = None
        for close in getattr(t, "closers", []):
            close()
    for w in (workers or {n: t.worker for n, t in setups.items()}).values():
        w.stop()


@pytest.fixture(scope="module")
def setups(broker, server, tmp_path_factory):
    """backend name -> namespace of the app's tasks (``t.add``...), ``t.app`` and ``t.peek``
    (key -> (value, TTL in seconds) in that backend's store), on workers of 4 processes."""
    out = _start(broker, server, str(tmp_path_factory.mktemp("canvas-workers")), 4, (1, 2, 3))
    yield out
    _stop(out)


# -- reducing what a caller observes to comparable data


def norm(value: Any) -> Any:
    """Plain, comparable data: exceptions as (type, message), task ids as ``<id>``."""
    if isinstance(value, BaseException):
        return ("exception", type(value).__name__, norm(str(value)))
    if isinstance(value, str):
        return _UUID.sub("<id>", value)
    if isinstance(value, (list, tuple)):
        return [norm(v) for v in value]
    if isinstance(value, dict):
        return {norm(k): norm(v) for k, v in value.items()}
    return value


def settle(res: Any, **kwargs: Any) -> Any:
    """What ``res.get()`` gives: ("value", v) or ("raises", type, message)."""
    kwargs.setdefault("timeout", TIMEOUT)
    try:
        return ("value", norm(res.get(**kwargs)))
    except Exception as exc:  # noqa: BLE001 - the exception is the observation
        return ("raises", type(exc).__name__, norm(str(exc)))


def states(res: Any) -> Any:
    """The state of a result, recursively for groups."""
    if isinstance(res, ResultSet):
        return [states(r) for r in res.results]
    return res.state


def lineage(res: Any) -> List[Any]:
    """States of the result and of each parent up the chain."""
    out = []
    node = res
    while node is not None:
        out.append(states(node))
        node = node.parent
    return out


def stored_error(res: AsyncResult) -> Any:
    """The exception stored for a failed result (without raising it)."""
    return norm(res.result) if res.state == "FAILURE" else res.state


def errback_saw(t: SimpleNamespace, result_id: str) -> Any:
    """What an errback stored under ``result_id`` (the record_errback tasks)."""
    return settle(t.app.AsyncResult(result_id))


# -- the shapes


class Shape(NamedTuple):
    name: str
    doc: str
    run: Callable[[SimpleNamespace], Any]
    expected: Any


SHAPES: List[Shape] = []


def shape(name: str, expected: Any) -> Callable:
    def register(fn: Callable[[SimpleNamespace], Any]) -> Callable:
        SHAPES.append(Shape(name, (fn.__doc__ or "").strip(), fn, expected))
        return fn
    return register


@shape("task", [("value", 4), "SUCCESS"])
def _task(t):
    """add.delay(2, 2)"""
    res = t.add.delay(2, 2)
    return [settle(res), res.state]


@shape("task failure", [("raises", "ValueError", "boom"), "FAILURE",
                        ("exception", "ValueError", "boom")])
def _task_failure(t):
    """fail.delay('boom')"""
    res = t.fail.delay("boom")
    return [settle(res), res.state, stored_error(res)]


@shape("task failure, propagate=False", [("value", ("exception", "ValueError", "nope")),
                                         "FAILURE"])
def _task_failure_no_propagate(t):
    """fail.delay('nope').get(propagate=False)"""
    res = t.fail.delay("nope")
    return [settle(res, propagate=False), res.state]


@shape("chain", [("value", 16), ["SUCCESS", "SUCCESS", "SUCCESS"]])
def _chain(t):
    """add.s(2, 2) | add.s(4) | add.s(8)"""
    res = (t.add.s(2, 2) | t.add.s(4) | t.add.s(8))()
    return [settle(res), lineage(res)]


@shape("chain of immutable signatures", [("value", 4), ["SUCCESS", "SUCCESS"]])
def _chain_immutable(t):
    """add.si(1, 1) | add.si(2, 2)"""
    res = chain(t.add.si(1, 1), t.add.si(2, 2))()
    return [settle(res), lineage(res)]


@shape("chain failing in the middle", [("raises", "ValueError", "mid"),
                                       ["FAILURE", "FAILURE", "SUCCESS"]])
def _chain_failure(t):
    """add.s(1, 1) | fail.si('mid') | add.s(1): the task after the failure fails too"""
    res = (t.add.s(1, 1) | t.fail.si("mid") | t.add.s(1))()
    return [settle(res), lineage(res)]


@shape("group", [("value", [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]), ["SUCCESS"] * 10])
def _group(t):
    """group(add.s(i, i) for i in range(10))"""
    res = group(t.add.s(i, i) for i in range(10))()
    return [settle(res), states(res)]


@shape("group with a failure", [("raises", "ValueError", "g"),
                                ("value", [2, ("exception", "ValueError", "g")]),
                                ["SUCCESS", "FAILURE"]])
def _group_failure(t):
    """group(add.si(1, 1), fail.si('g')): get() raises, join(propagate=False) gives both"""
    res = group(t.add.si(1, 1), t.fail.si("g"))()
    first = settle(res)
    return [first, settle(res, propagate=False), states(res)]


@shape("group of chains", [("value", [3, 4]), [["SUCCESS", "SUCCESS"], ["SUCCESS"]]])
def _group_of_chains(t):
    """group(add.si(1, 1) | add.s(1), add.si(2, 2))"""
    res = group(t.add.si(1, 1) | t.add.s(1), t.add.si(2, 2))()
    return [settle(res), [lineage(r) for r in res.results]]


@shape("empty group", [("value", [])])
def _empty_group(t):
    """group([])"""
    return [settle(group([], app=t.app)())]


@shape("chord", [("value", 90), "SUCCESS", ["SUCCESS"] * 10])
def _chord(t):
    """chord((add.s(i, i) for i in range(10)), tsum.s())"""
    res = chord((t.add.s(i, i) for i in range(10)), t.tsum.s())()
    return [settle(res), res.state, states(res.parent)]


@shape("chord, results in header order", [("value", [0, 1, 2, 3])])
def _chord_order(t):
    """chord(sleep_then.si((3 - i) / 10, i) for i in range(4))(identity.s()): the header
    finishes in reverse order; the body gets header order (result_chord_ordered)"""
    res = chord((t.sleep_then.si((3 - i) / 10, i) for i in range(4)), t.identity.s())()
    return [settle(res)]


@shape("chord with an empty header", [("value", 0)])
def _chord_empty(t):
    """chord([], tsum.s())"""
    return [settle(chord([], t.tsum.s())())]


@shape("group piped into a task (a chord)", [("value", 12)])
def _group_pipe_task(t):
    """group(add.si(i, i) for i in range(4)) | tsum.s()"""
    return [settle((group(t.add.si(i, i) for i in range(4)) | t.tsum.s())())]


@shape("chord with a chain in the header", [("value", 7), ["SUCCESS", "SUCCESS"]])
def _chord_chain_header(t):
    """chord([add.si(1, 1) | add.s(1), add.si(2, 2)], tsum.s())"""
    res = chord([t.add.si(1, 1) | t.add.s(1), t.add.si(2, 2)], t.tsum.s())()
    return [settle(res), states(res.parent)]


HEADER_FAILED = [("raises", "ValueError", "boom"), "FAILURE",
                 ("exception", "ChordError", "Dependency <id> raised ValueError('boom')"),
                 ("value", "errback saw <id>"),
                 ("value", "ChordError(\"Dependency <id> raised ValueError('boom')\")")]


def _chord_failure(t, header) -> List[Any]:
    """Runs chord(header, tsum.s()) with both kinds of errbacks on the body; returns what
    get() raises, the body's state and stored error, and what each errback saw."""
    body_id = str(uuid.uuid4())
    body = t.tsum.s().set(task_id=body_id)
    body.link_error(t.record_errback.s())
    body.link_error(t.record_errback_new.s())
    res = chord(header, body)()
    out = [settle(res)]
    # The same result object: Celery's Redis backend tracks one object per pending id, so a
    # second AsyncResult(body_id) would never see the state arrive.
    res.get(timeout=TIMEOUT, propagate=False)
    out += [res.state, stored_error(res)]
    out.append(errback_saw(t, f"errback-{body_id}"))
    out.append(errback_saw(t, f"errback-new-{body_id}"))
    return out


@shape("chord, a header task fails", HEADER_FAILED)
def _chord_header_fails(t):
    """chord([add.si(1, 1), fail.si('boom')], tsum.s()) with errbacks on the body"""
    return _chord_failure(t, [t.add.si(1, 1), t.fail.si("boom")])


@shape("chord, a header task fails inside a chain", HEADER_FAILED)
def _chord_header_fails_in_chain(t):
    """chord([add.si(1, 1), fail.si('boom') | add.si(1, 1)], tsum.s())"""
    return _chord_failure(t, [t.add.si(1, 1), t.fail.si("boom") | t.add.si(1, 1)])


@shape("chord, a header task fails at the tail of a chain", HEADER_FAILED)
def _chord_header_fails_chain_tail(t):
    """chord([add.si(1, 1), add.si(1, 1) | fail.si('boom')], tsum.s())"""
    return _chord_failure(t, [t.add.si(1, 1), t.add.si(1, 1) | t.fail.si("boom")])


@shape("chord, a header task fails inside a nested group", HEADER_FAILED)
def _chord_header_fails_nested_group(t):
    """chord([add.si(1, 1), group(add.si(1, 1), fail.si('boom'))], tsum.s())"""
    return _chord_failure(t, [t.add.si(1, 1), group(t.add.si(1, 1), t.fail.si("boom"))])


@shape("chord, the body fails", [("raises", "ValueError", "body"), "FAILURE"])
def _chord_body_fails(t):
    """chord([add.si(1, 1)], fail.si('body'))"""
    res = chord([t.add.si(1, 1)], t.fail.si("body"))()
    return [settle(res), res.state]


@shape("chain with nested groups (issue 13)", [("value", 11)])
def _chain_nested_groups(t):
    """chain(add.si(1, 0), group(add.si(1, 100), chain(add.si(1, 200),
    group(add.si(1, 1000), add.si(1, 2000)))), add.si(1, 10))"""
    res = chain(t.add.si(1, 0),
                group(t.add.si(1, 100),
                      chain(t.add.si(1, 200), group(t.add.si(1, 1000), t.add.si(1, 2000)))),
                t.add.si(1, 10))()
    return [settle(res)]


@shape("chord whose header ends in a chain ending in a group",
       [("value", [2, [4, 5]])])
def _chord_header_chain_group(t):
    """chord(group(add.si(1, 1), chain(add.si(1, 2), group(add.si(1, 3), add.si(1, 4)))),
    identity.s())"""
    header = group(t.add.si(1, 1), chain(t.add.si(1, 2), group(t.add.si(1, 3), t.add.si(1, 4))))
    return [settle(chord(header, t.identity.s())())]


@shape("chain of chords whose headers end in a chain ending in a group",
       [("value", [2, [4, 5]])])
def _chain_of_such_chords(t):
    """chord(header, identity.s()) | identity.s() | chord(header, identity.s()), the header
    as above (immutable: the second chord's body gets its own header's results)"""
    def header():
        return group(t.add.si(1, 1),
                     chain(t.add.si(1, 2), group(t.add.si(1, 3), t.add.si(1, 4))))
    first = chord(header(), t.identity.s())
    second = chord(header(), t.identity.s())
    res = chain(first, t.identity.s(), second)()
    return [settle(res)]


@shape("chord inside a chord's header", [("value", [2, 5])])
def _chord_in_chord(t):
    """chord([add.si(1, 1), chord([add.si(1, 2), add.si(1, 1)], tsum.s())], identity.s())"""
    inner = chord([t.add.si(1, 2), t.add.si(1, 1)], t.tsum.s())
    return [settle(chord([t.add.si(1, 1), inner], t.identity.s())())]


@shape("group of chords", [("value", [6, 6, 6])])
def _group_of_chords(t):
    """group(chord([add.si(i, i) for i in range(3)], tsum.s()) for _ in range(3))"""
    res = group(chord([t.add.si(i, i) for i in range(3)], t.tsum.s()) for _ in range(3))()
    return [settle(res)]


@shape("chord in a chain", [("value", 17)])
def _chord_in_chain(t):
    """chain(add.si(1, 1), chord([add.s(1), add.s(2)], tsum.s()), add.s(10))"""
    res = chain(t.add.si(1, 1), chord([t.add.s(1), t.add.s(2)], t.tsum.s()), t.add.s(10))()
    return [settle(res)]


@shape("chain of chords", [("value", 15)])
def _chain_of_chords(t):
    """chord([add.si(1, 1), add.si(2, 2)], tsum.s()) | chord([add.s(1), add.s(2)], tsum.s())"""
    res = (chord([t.add.si(1, 1), t.add.si(2, 2)], t.tsum.s())
           | chord([t.add.s(1), t.add.s(2)], t.tsum.s()))()
    return [settle(res)]


@shape("chain ending in a group", [("value", [3, 4])])
def _chain_ends_in_group(t):
    """chain(add.si(1, 1), group(add.s(1), add.s(2)))"""
    return [settle(chain(t.add.si(1, 1), group(t.add.s(1), t.add.s(2)))())]


@shape("starmap", [("value", [0, 2, 4, 6, 8])])
def _starmap(t):
    """add.starmap(zip(range(5), range(5)))"""
    return [settle(t.add.starmap(zip(range(5), range(5))).delay())]


@shape("map", [("value", [3, 7])])
def _map(t):
    """tsum.map([[1, 2], [3, 4]])"""
    return [settle(t.tsum.map([[1, 2], [3, 4]]).delay())]


@shape("chunks", [("value", [[0, 2, 4], [6, 8, 10], [12, 14, 16], [18]])])
def _chunks(t):
    """add.chunks(zip(range(10), range(10)), 3)"""
    return [settle(t.add.chunks(zip(range(10), range(10)), 3).group().delay())]


@shape("link (callback)", [("value", 4), [("value", 20)]])
def _link(t):
    """add.apply_async((2, 2), link=add.s(16))"""
    res = t.add.apply_async((2, 2), link=t.add.s(16))
    first = settle(res)
    return [first, [settle(c) for c in (res.children or [])]]


@shape("link_error (errbacks of both kinds)",
       [("raises", "ValueError", "linked"), ("value", "errback saw <id>"),
        ("value", "ValueError('linked')")])
def _link_error(t):
    """fail.apply_async(('linked',), link_error=[record_errback.s(), record_errback_new.s()])"""
    res = t.fail.apply_async(("linked",),
                             link_error=[t.record_errback.s(), t.record_errback_new.s()])
    return [settle(res), errback_saw(t, f"errback-{res.id}"),
            errback_saw(t, f"errback-new-{res.id}")]


@shape("task.replace with a task", [("value", 6), "SUCCESS"])
def _replace(t):
    """replace_with_add.delay(5): replaced by add.si(5, 1)"""
    res = t.replace_with_add.delay(5)
    return [settle(res), res.state]


@shape("task.replace with a group", [("value", [6, 7])])
def _replace_group(t):
    """replace_with_group.delay(5): replaced by group(add.si(5, 1), add.si(5, 2))"""
    return [settle(t.replace_with_group.delay(5))]


@shape("task.replace with a chain", [("value", 16)])
def _replace_chain(t):
    """replace_with_chain.delay(5): replaced by add.si(5, 1) | add.s(10)"""
    return [settle(t.replace_with_chain.delay(5))]


@shape("task.replace inside a chord's header", [("value", [6, [4, 5], 16, 4])])
def _replace_in_chord(t):
    """chord([replace_with_add.si(5), replace_with_group.si(3), replace_with_chain.si(5),
    add.si(2, 2)], identity.s())"""
    header = [t.replace_with_add.si(5), t.replace_with_group.si(3), t.replace_with_chain.si(5),
              t.add.si(2, 2)]
    out = settle(chord(header, t.identity.s())())
    # The replacing group's two results come in no defined order (on Celery's Redis backend
    # too: they have no group index, so they tie and their task ids decide): sorted here.
    if out[0] == "value" and isinstance(out[1], list) and isinstance(out[1][1], list):
        out[1][1].sort()
    return [out]


@shape("task.replace by a failing task inside a chord's header", HEADER_FAILED[:3])
def _replace_failure_in_chord(t):
    """chord([add.si(1, 1), replace_with_failure.si('boom')], tsum.s())"""
    res = chord([t.add.si(1, 1), t.replace_with_failure.si("boom")], t.tsum.s())()
    out = [settle(res)]
    res.get(timeout=TIMEOUT, propagate=False)
    return out + [res.state, stored_error(res)]


@shape("Task.add_to_chord", [("value", [1, 2, 101, 102])])
def _add_to_chord(t):
    """chord([grow_chord.si(1), grow_chord.si(2)], identity.s()): each header task adds
    add.si(x, 100) to the chord"""
    res = chord([t.grow_chord.si(1), t.grow_chord.si(2)], t.identity.s())()
    ok, value = settle(res)
    return [(ok, sorted(value) if isinstance(value, list) else value)]


@shape("revoke before the task runs",
       [("raises", "TaskRevokedError", "revoked"), "REVOKED"])
def _revoke(t):
    """sleep_then.apply_async((0, 1), countdown=1), then revoke()"""
    res = t.sleep_then.apply_async((0, 1), countdown=1)
    res.revoke()
    return [settle(res), res.state]


@shape("retries, then success", [("value", 2), "SUCCESS"])
def _retries(t):
    """flaky.delay(2): two RETRY states, then SUCCESS"""
    res = t.flaky.delay(2)
    return [settle(res), res.state]


@shape("retries exhausted", [("raises", "ValueError", "again"), "FAILURE"])
def _retries_exhausted(t):
    """always_retry.delay('again') with max_retries=1"""
    res = t.always_retry.delay("again")
    return [settle(res), res.state]


@shape("result_extended", [("value", 5), ["canvas.add", [2, 3], {}, "celery"]])
def _result_extended(t):
    """add.delay(2, 3): name, args, kwargs and queue stored with the result"""
    res = t.add.delay(2, 3)
    out = settle(res)
    fresh = t.app.AsyncResult(res.id)  # read back from the store, not from the cache
    return [out, norm([fresh.name, list(fresh.args), fresh.kwargs, fresh.queue])]


@shape("ignore_result", [("value", None), "PENDING"])
def _ignore_result(t):
    """ignored.delay(1).get(timeout=1): nothing is ever stored, get() knows it"""
    res = t.ignored.delay(1)
    return [settle(res, timeout=1), res.state]


@shape("result_expires", [True, True])
def _result_expires(t):
    """add.delay(1, 1): the stored result and the group metadata get result_expires as TTL"""
    res = t.add.delay(1, 1)
    res.get(timeout=TIMEOUT)
    g = group(t.add.si(1, 1), t.add.si(2, 2))()
    g.get(timeout=TIMEOUT)
    g.save()
    expires = canvas_tasks.RESULT_EXPIRES
    _, task_ttl = t.peek(f"celery-task-meta-{res.id}".encode())
    _, group_ttl = t.peek(f"celery-taskset-meta-{g.id}".encode())
    return [expires - 60 < task_ttl <= expires, expires - 60 < group_ttl <= expires]


@shape("forget", [("value", 2), "PENDING"])
def _forget(t):
    """add.delay(1, 1).get(), then forget(): the result is gone"""
    res = t.add.delay(1, 1)
    out = settle(res)
    res.forget()
    return [out, t.app.AsyncResult(res.id).state]


@shape("get(timeout) on a slow task", [("raises", "TimeoutError", "The operation timed out.")])
def _get_timeout(t):
    """sleep_then.delay(3, 1).get(timeout=0.5)"""
    res = t.sleep_then.delay(3, 1)
    out = [settle(res, timeout=0.5)]
    res.get(timeout=TIMEOUT)
    return out


@shape("GroupResult.get(timeout) on slow tasks",
       [("raises", "TimeoutError", "The operation timed out.")])
def _group_timeout(t):
    """group(sleep_then.si(3, 1), add.si(1, 1)).get(timeout=0.5)"""
    res = group(t.sleep_then.si(3, 1), t.add.si(1, 1))()
    out = [settle(res, timeout=0.5)]
    res.get(timeout=TIMEOUT)
    return out


class _Alarm(Exception):
    pass


@shape("join_native(timeout=0) waits until interrupted",
       [("interrupted", "_Alarm"), ("interrupted", "_Alarm")])
def _timeout_zero(t):
    """ResultSet([ids that never finish]).join_native(timeout=0, interval=30) and
    AsyncResult.get(timeout=0): Celery takes 0 as no limit; a signal handler interrupts the
    wait within about a second"""
    def handler(*_):
        raise _Alarm()
    out = []
    old = signal.signal(signal.SIGALRM, handler)
    try:
        for call in (lambda: ResultSet([t.app.AsyncResult(str(uuid.uuid4())) for _ in range(2)])
                     .join_native(timeout=0, interval=30),
                     lambda: t.app.AsyncResult(str(uuid.uuid4())).get(timeout=0)):
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            t0 = time.monotonic()
            try:
                call()
                out.append("returned")
            except _Alarm:
                took = time.monotonic() - t0
                out.append(("interrupted", "_Alarm") if took < 2.0 else ("late", took))
            except Exception as exc:  # noqa: BLE001
                out.append(("raised", type(exc).__name__))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, old)
    return out


# -- the comparison

_REPORT: Dict[str, Dict[str, Any]] = {}


#: Runs of a shape on Celery's Redis backend before a difference counts: that backend is not
#: deterministic in every shape (seen here: a chord whose header ends in a chain ending in a
#: group hanging once in ~50 runs; a chain's first task read back as PENDING right after the
#: chain failed), so the reference gets three tries to give what ours gives.
REFERENCE_TRIES = 3


def _run(t: SimpleNamespace, shape_: Shape) -> Any:
    t.app.set_current()  # canvas built without an app takes the current one
    t0 = time.monotonic()
    out = shape_.run(t)
    return out, time.monotonic() - t0


@pytest.mark.parametrize("name", [s.name for s in SHAPES])
def test_same_outcome_on_both_backends(name, setups):
    shape_ = next(s for s in SHAPES if s.name == name)
    got: Dict[str, Any] = {}
    took: Dict[str, float] = {}
    for backend in BACKENDS:
        got[backend], took[backend] = _run(setups[backend], shape_)
    reference_runs = [got["redis"]]
    while got["redis"] != got["databridge"] and len(reference_runs) < REFERENCE_TRIES:
        got["redis"], took["redis"] = _run(setups["redis"], shape_)
        reference_runs.append(got["redis"])
    _REPORT[name] = dict(doc=shape_.doc, got=got, took=took, expected=shape_.expected,
                         reference_runs=reference_runs)
    assert got["databridge"] == shape_.expected, (
        f"{name}: data-bridge-kv gives {got['databridge']!r}, Celery documents "
        f"{shape_.expected!r} (Celery's Redis backend gave {reference_runs!r})")
    assert got["databridge"] == got["redis"], (
        f"{name}: data-bridge-kv gives {got['databridge']!r}, Celery's Redis backend gives "
        f"{reference_runs!r}")


def _write_report() -> None:
    path = os.environ.get("DBKV_CANVAS_REPORT")
    if not path or not _REPORT:
        return
    lines = ["| shape | Redis backend | data-bridge-kv | s (Redis) | s (ours) |",
             "|---|---|---|---:|---:|"]
    for name, r in _REPORT.items():
        ok = {b: "pass" if r["got"][b] == r["expected"] else "FAIL" for b in BACKENDS}
        runs = r["reference_runs"]
        if len(runs) > 1:
            ok["redis"] += f" ({sum(x == r['expected'] for x in runs)} of {len(runs)} runs)"
        lines.append(f"| {name} | {ok['redis']} | {ok['databridge']} | "
                     f"{r['took']['redis']:.2f} | {r['took']['databridge']:.2f} |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    _write_report()


def test_issue_chain_on_single_process_workers(broker, server, tmp_path_factory):
    """The chain of issue 13 on workers of one process each. Celery's generic INCR chord
    counted the nested group's results against the number of direct header results, ran the
    body early and joined the rest inside the worker: with one process, nothing else could
    run and the chain never completed. Celery's Redis backend completes it; so must ours."""
    solo = _start(broker, server, str(tmp_path_factory.mktemp("canvas-solo")), 1, (4, 5, 6))
    try:
        shape_ = next(s for s in SHAPES if s.name == "chain with nested groups (issue 13)")
        for backend in BACKENDS:
            got, _ = _run(solo[backend], shape_)
            assert got == shape_.expected, backend
    finally:
        _stop(solo)
