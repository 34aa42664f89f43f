"""Celery with data-bridge-kv as result backend vs Celery's Redis backend, side by side.

Not a test: a measurement. Same broker (one redis-server), same worker (prefork, same
concurrency, same tasks module and settings), same client code; only ``result_backend`` changes:

* ``databridge``: ``databridge://127.0.0.1:<port>/bench`` (this package; waits via WAITANYV);
* ``redis``: ``redis://127.0.0.1:<port>/0``, Celery's Redis backend (pub/sub), on a second
  redis-server (Debian's) so that the broker's load does not land on the backend;
* ``databridge-polling`` (latency only, unless --skip-polling): the same server and worker,
  but the client waits the way Celery's generic key-value backends do (re-reading the key
  every ``interval`` = 0.5 s), to show what the server-side wait buys.

For each: ``--latency-tasks`` single tasks one after the other (``add.delay(i, 1).get()``:
median and p90 of the round trip); ``--canvas-runs`` groups and then chords of
``--canvas-size`` tasks one after the other (``group(add.s(i, i) ...)().get()`` and
``chord(add.s(i, i) ...)(tsum.s()).get()``: median round trip); then ``--tasks`` tasks sent at
once and collected with ``ResultSet.get()`` (tasks per second, from the first send to the last
result).

Run from the repository root, after ``make python`` (or pip install ./bindings/python) and
``bazel build //server:data-bridge-kv-server``::

    .venv/bin/python bindings/python/tests/celery_support/bench_celery.py \\
        --tasks 2000 --latency-tasks 200 --concurrency 2

``--rounds N`` runs the two backends N times, alternating which goes first (fresh workers each
time), and reports the median over the rounds with the min-max.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the tests folder: celery_support is importable

import celery  # noqa: E402
from celery import Celery, chord, group  # noqa: E402
from celery.backends.base import BaseKeyValueStoreBackend, SyncBackendMixin  # noqa: E402
from celery.result import AsyncResult, ResultSet  # noqa: E402

from celery_support import tasks  # noqa: E402
from celery_support.helpers import CeleryWorker, KvServer, RedisServer  # noqa: E402
from data_bridge.kv.celery import DataBridgeBackend  # noqa: E402


class PollingDataBridgeBackend(DataBridgeBackend):
    """The same storage, waiting like Celery's generic key-value backends (for comparison)."""
    wait_for = SyncBackendMixin.wait_for
    get_many = BaseKeyValueStoreBackend.get_many


def percentile(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def canvas_latency(app: Celery, kind: str, size: int, runs: int) -> float:
    """Median seconds from sending a group (or a chord with a tsum body) of ``size`` add
    tasks to its ``get()`` returning."""
    add, tsum = "celery_support.tasks.add", "celery_support.tasks.tsum"
    times = []
    for _ in range(runs):
        header = [app.signature(add, args=(i, i)) for i in range(size)]
        start = time.perf_counter()
        if kind == "group":
            got = group(header, app=app)().get(timeout=120)
            assert got == [i + i for i in range(size)]
        else:
            got = chord(header, app.signature(tsum), app=app)().get(timeout=120)
            assert got == sum(i + i for i in range(size))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(app: Celery, n_latency: int, n_tasks: int, polling_backend=None,
            canvas_size: int = 0, canvas_runs: int = 0) -> dict:
    add_name = "celery_support.tasks.add"
    # warm-up: connections, pool processes, first imports
    for i in range(20):
        app.send_task(add_name, (i, i)).get(timeout=60)

    latencies = []
    for i in range(n_latency):
        start = time.perf_counter()
        r = app.send_task(add_name, (i, 1))
        if polling_backend is not None:
            r = AsyncResult(r.id, backend=polling_backend, app=app)
        assert r.get(timeout=60) == i + 1
        latencies.append(time.perf_counter() - start)
    out = {
        "latency_median_ms": statistics.median(latencies) * 1000,
        "latency_p90_ms": percentile(latencies, 90) * 1000,
        "latency_n": n_latency,
    }
    if canvas_runs:
        out["group_ms"] = canvas_latency(app, "group", canvas_size, canvas_runs) * 1000
        out["chord_ms"] = canvas_latency(app, "chord", canvas_size, canvas_runs) * 1000
    if n_tasks:
        start = time.perf_counter()
        results = [app.send_task(add_name, (i, i)) for i in range(n_tasks)]
        sent = time.perf_counter()
        if polling_backend is not None:
            results = [AsyncResult(r.id, backend=polling_backend, app=app) for r in results]
        got = ResultSet(results, app=app).get(timeout=600)
        end = time.perf_counter()
        assert got == [i + i for i in range(n_tasks)]
        out.update(tasks=n_tasks, tasks_per_s=n_tasks / (end - start),
                   send_s=sent - start, total_s=end - start)
    return out


def run_backend(name: str, broker_url: str, backend_url: str, args, log_dir: str,
                polling: bool = False) -> dict:
    worker = CeleryWorker(broker_url, backend_url, name=name, concurrency=args.concurrency,
                          loglevel="WARNING", log_dir=log_dir,
                          env={"DBKV_CELERY_TRACK_STARTED": "1" if args.track_started else "0"})
    app = Celery("bench-client", set_as_current=False)
    app.conf.update(tasks.settings(broker_url, backend_url, track_started=args.track_started))
    try:
        _wait_started(worker, broker_url)
        polling_backend = PollingDataBridgeBackend(app=app, url=backend_url) if polling else None
        result = measure(app, args.latency_tasks if not polling else args.polling_latency_tasks,
                         0 if polling and not args.polling_throughput else args.tasks,
                         polling_backend, args.canvas_size, 0 if polling else args.canvas_runs)
        if polling_backend is not None:
            polling_backend.close()
        return result
    finally:
        worker.stop()
        # AsyncResults caught in reference cycles are collected here, while the servers are
        # still up: Celery's Redis backend unsubscribes in AsyncResult.__del__ and retries
        # for a long time if its server is gone by then.
        gc.collect()
        backend = getattr(app._local, "backend", None)
        if isinstance(backend, DataBridgeBackend):
            backend.close()


def _wait_started(worker: CeleryWorker, broker_url: str, timeout: float = 60.0) -> None:
    """At --loglevel=WARNING the "ready." line is not printed: ping the worker instead."""
    app = Celery("bench-ping", set_as_current=False)
    app.conf.update(broker_url=broker_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.proc.poll() is not None:
            raise RuntimeError(f"worker exited:\n{worker.log()}")
        if app.control.ping(timeout=0.5):
            return
    raise RuntimeError(f"worker not ready after {timeout} s:\n{worker.log()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000,
                        help="tasks sent at once for the throughput run (default 1000)")
    parser.add_argument("--latency-tasks", type=int, default=100,
                        help="sequential single tasks for the latency run (default 100)")
    parser.add_argument("--polling-latency-tasks", type=int, default=20,
                        help="sequential tasks with the polling client (default 20)")
    parser.add_argument("--polling-throughput", action="store_true",
                        help="also run the throughput part with the polling client")
    parser.add_argument("--skip-polling", action="store_true")
    parser.add_argument("--canvas-size", type=int, default=100,
                        help="tasks in each group and chord of the canvas latency run")
    parser.add_argument("--canvas-runs", type=int, default=10,
                        help="groups, then chords, one after the other (0: skip)")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork processes")
    parser.add_argument("--track-started", action="store_true",
                        help="task_track_started=True (a STARTED write before each result); "
                             "off by default, as in Celery")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate the backends this many times (fresh workers each "
                             "time) and report the median and min-max over the rounds")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()

    import tempfile
    log_dir = tempfile.mkdtemp(prefix="dbkv-bench-celery-")
    broker = RedisServer()
    redis_backend = RedisServer()
    kv = KvServer()
    rounds: dict = {}
    try:
        for i in range(max(1, args.rounds)):
            # alternate which backend goes first, so that neither always runs on a warmer or
            # a busier machine
            order = ["databridge", "redis"] if i % 2 == 0 else ["redis", "databridge"]
            for name in order:
                if name == "databridge":
                    r = run_backend("databridge", broker.url(0), kv.url(f"bench{i}"), args,
                                    log_dir)
                else:
                    r = run_backend("redis", broker.url(1), redis_backend.url(0), args, log_dir)
                rounds.setdefault(name, []).append(r)
            if not args.skip_polling and i == 0:
                rounds["databridge-polling"] = [run_backend(
                    "dbpoll", broker.url(2), kv.url("bench-polling"), args, log_dir,
                    polling=True)]
    finally:
        kv.stop()
        redis_backend.stop()
        broker.stop()

    # per backend: the median over the rounds of each figure, and its min and max
    results = {}
    spread = {}
    for name, runs in rounds.items():
        results[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        spread[name] = {k: (min(r[k] for r in runs), max(r[k] for r in runs)) for k in runs[0]}

    if args.json:
        print(json.dumps({"summary": results, "rounds": rounds}, indent=2))
        return 0
    print(f"Celery {celery.__version__}, prefork --concurrency={args.concurrency}, "
          f"task_track_started={args.track_started}, broker redis-server (Debian), "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"{'backend':<20} {'get() median':>13} {'get() p90':>10} "
          f"{'group' + str(args.canvas_size):>10} {'chord' + str(args.canvas_size):>10} "
          f"{'tasks/s':>9} {'send':>8}  (latency: n sequential tasks; groupN/chordN: median "
          f"get() of {args.canvas_runs} groups/chords of N tasks; throughput: {args.tasks} "
          "tasks sent at once, then ResultSet.get(); send: time to send them)")
    for name, r in results.items():
        tput = f"{r['tasks_per_s']:9.0f}" if "tasks_per_s" in r else f"{'-':>9}"
        send = f"{r['send_s']:6.2f} s" if "send_s" in r else f"{'-':>8}"
        canvas = "".join(f"{r[k]:7.1f} ms" if k in r else f"{'-':>10}" for k in
                         ("group_ms", "chord_ms"))
        n = len(rounds[name])
        print(f"{name:<20} {r['latency_median_ms']:10.2f} ms {r['latency_p90_ms']:7.2f} ms "
              f"{canvas} {tput} {send}  (n={r['latency_n']}"
              + (f", median of {n} rounds" if n > 1 else "") + ")")
        if n > 1:
            lo, hi = spread[name]["latency_median_ms"]
            line = f"{'':<20} get() median {lo:.2f}-{hi:.2f} ms"
            if "tasks_per_s" in r:
                lo, hi = spread[name]["tasks_per_s"]
                line += f", tasks/s {lo:.0f}-{hi:.0f}"
            print(line + " (min-max over the rounds)")
    if "redis" in results:
        d, r = results["databridge"], results["redis"]
        line = f"databridge / redis: latency x{d['latency_median_ms'] / r['latency_median_ms']:.2f}"
        for k in ("group_ms", "chord_ms"):
            if k in d:
                line += f", {k[:-3]}{args.canvas_size} x{d[k] / r[k]:.2f}"
        print(line + f", throughput x{d['tasks_per_s'] / r['tasks_per_s']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
