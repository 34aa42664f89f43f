"""Fork safety: a client made and used before fork() works in the child (prefork Celery
workers), and the parent keeps working."""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from data_bridge.kv import KvClient
from _kv_helpers import LONG, blocked, in_thread, wait_parked

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()"),
]


def wait_child(pid: int, timeout: float = LONG * 2) -> int:
    """The child's exit code; kills it (and fails) if it does not exit in time."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError("child process hung")
        time.sleep(0.01)


def fork_and_run(body) -> int:
    """Runs body() in a forked child, which exits 0 only if body returns True."""
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            code = 0 if body() is True else 2
        except BaseException:  # noqa: BLE001
            import traceback

            traceback.print_exc()
            code = 3
        finally:
            os._exit(code)
    return wait_child(pid)


def test_client_used_before_fork_works_in_child(client):
    client.set("before", "fork")
    assert client.get("before") == "fork"

    def child():
        assert client.get("before") == "fork"
        assert client.incr("child-count") == 1
        client.set("from-child", os.getpid())
        assert client.mget(["before", "from-child"]) == ["fork", os.getpid()]
        assert client.wait("before", timeout=1) == "fork"
        return True

    assert fork_and_run(child) == 0
    # the parent keeps working, on its own connection, and sees the child's writes
    assert client.get("before") == "fork"
    assert isinstance(client.get("from-child"), int)
    assert client.incr("child-count") == 2


def test_many_children_and_parent_interleaved(client):
    client.set("n", 0)
    pids = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:
            ok = False
            try:
                ok = all(isinstance(client.incr("n"), int) for _ in range(25))
            finally:
                os._exit(0 if ok else 1)
        pids.append(pid)
        client.incr("n")  # the parent uses the client between forks
    assert [wait_child(p) for p in pids] == [0] * 4
    assert client.get("n") == 4 * 25 + 4


def test_fork_while_another_thread_is_blocked(client):
    base = blocked(client)
    waiter = in_thread(lambda: client.wait("release", timeout=LONG))
    wait_parked(client, base + 1)

    def child():
        # the parent's waiting thread does not exist here; the client still works
        client.set("child", 1)
        return client.get("child") == 1 and client.wait("child", timeout=1) == 1

    assert fork_and_run(child) == 0
    client.set("release", "go")
    assert waiter.get() == "go"


def test_child_closing_unused_client_does_not_hang(client):
    client.ping()
    assert fork_and_run(lambda: client.close() is None) == 0
    assert client.ping()


def test_child_exiting_normally_does_not_hang(url):
    """A forked child that never touches an inherited client and exits through the interpreter
    (finalizers run) must not wait for the parent's I/O thread."""
    script = textwrap.dedent(f"""
        import os, sys
        from data_bridge.kv import KvClient, aio
        c = KvClient({url!r})
        c.set("k", 1)
        a = aio.KvClient({url!r})
        pid = os.fork()
        if pid == 0:
            sys.exit(0)  # normal exit: c and a are destroyed by the interpreter
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert c.get("k") == 1
        print("parent ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=LONG * 2)
    assert out.returncode == 0, out.stderr
    assert "parent ok" in out.stdout


# -- multiprocessing (fork start method) with a module-level client, as prefork workers do

_MP_CLIENT = None


def _mp_task(i):
    c = _MP_CLIENT
    c.set(f"task:{i}", {"pid": os.getpid(), "i": i})
    n = c.incr("done")
    return c.get(f"task:{i}")["i"], n


def test_multiprocessing_fork_pool_with_module_level_client(url):
    global _MP_CLIENT
    _MP_CLIENT = KvClient(url)
    try:
        _MP_CLIENT.set("done", 0)  # used in the parent before the workers fork
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(4) as pool:
            results = pool.map(_mp_task, range(40), chunksize=2)
        assert sorted(i for i, _ in results) == list(range(40))
        assert sorted(n for _, n in results) == list(range(1, 41))
        assert _MP_CLIENT.get("done") == 40
        pids = {_MP_CLIENT.get(f"task:{i}")["pid"] for i in range(40)}
        assert os.getpid() not in pids
        assert _MP_CLIENT.ping()
    finally:
        _MP_CLIENT.close()
        _MP_CLIENT = None


def test_threads_in_parent_during_forks(client):
    """Forks while other threads of the parent are calling: the children work, the parent's
    threads are not disturbed."""
    stop = threading.Event()
    errors = []

    def busy():
        try:
            while not stop.is_set():
                client.incr("busy")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=busy) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        codes = [fork_and_run(lambda: client.incr("forked") > 0) for _ in range(5)]
    finally:
        stop.set()
        for t in threads:
            t.join(LONG)
    assert codes == [0] * 5
    assert not errors
    assert client.get("forked") == 5


def test_blocking_connections_on_the_shared_io_thread_across_fork(client, url):
    """Blocking calls run on one shared I/O thread per process: a child gets a new one (the
    parent's does not exist there), for the inherited client and for new ones alike, and the
    parent's keeps serving."""
    import asyncio

    from data_bridge.kv import aio

    assert client.wait("missing", timeout=0.05) is None  # an idle blocking connection is kept
    client.set("k", 1)

    def child():
        assert client.wait("k", timeout=1) == 1

        async def many():
            async with aio.KvClient(url) as c:
                return await asyncio.gather(*[c.wait("k", timeout=1) for _ in range(10)])

        assert asyncio.run(many()) == [1] * 10
        return True

    assert fork_and_run(child) == 0
    assert client.wait("k", timeout=1) == 1
    assert client.blpop("nothing", timeout=0.05) is None


def test_pool_whose_lock_a_parent_thread_holds_works_in_child(url):
    """KvPool's lock is renewed in a child: a parent thread holding it at the fork (it never
    releases it in the child) does not hang the child's pool."""
    from data_bridge.kv import KvPool, PoolConfig

    pool = KvPool(url, PoolConfig(max_size=2))
    pool.set("p", 1)
    holding, done = threading.Event(), threading.Event()

    def hold():
        with pool._cond:
            holding.set()
            done.wait(LONG)

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    holding.wait(LONG)
    try:
        assert fork_and_run(lambda: pool.get("p") == 1 and pool.stats()["waiting"] == 0) == 0
    finally:
        done.set()
        t.join()
    assert pool.get("p") == 1
    pool.close()
