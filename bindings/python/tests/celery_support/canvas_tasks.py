"""Tasks of the canvas comparison (tests/test_celery_canvas.py), on an app built per backend.

``make_app(broker, backend)`` builds a Celery app with every task registered under an explicit
name (``canvas.<name>``), so that the test process can hold one app per result backend (ours
and Celery's Redis backend) and both send the same tasks to their own worker. The worker runs
``celery -A celery_support.canvas_tasks worker``: the module-level ``app``, configured from
``DBKV_CELERY_BROKER`` and ``DBKV_CELERY_BACKEND``.

The two apps differ in nothing but ``result_backend``: same serializer, same
``result_extended``, same ``result_expires``, same chord join timeout.
"""
from __future__ import annotations

import os
import time
from typing import Any, Dict

from celery import Celery, group

#: ``result_expires`` of both apps (seconds): the tests compare the TTL of stored results.
RESULT_EXPIRES = 3600


def settings(broker: str, backend: str) -> Dict[str, Any]:
    return dict(
        broker_url=broker,
        result_backend=backend,
        result_extended=True,  # name, args, kwargs... stored with each result
        result_expires=RESULT_EXPIRES,
        task_track_started=False,  # Celery's default
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_send_task_events=False,
        task_send_sent_event=False,
        result_chord_join_timeout=10.0,
    )


def make_app(broker: str, backend: str) -> Celery:
    app = Celery("canvas", set_as_current=False)
    app.conf.update(settings(broker, backend))

    @app.task(name="canvas.add")
    def add(x, y):
        return x + y

    @app.task(name="canvas.tsum")
    def tsum(values):
        return sum(values)

    @app.task(name="canvas.identity")
    def identity(value):
        return value

    @app.task(name="canvas.fail")
    def fail(message, *args):
        raise ValueError(message)

    @app.task(name="canvas.sleep_then")
    def sleep_then(seconds, value):
        time.sleep(seconds)
        return value

    @app.task(name="canvas.ignored", ignore_result=True)
    def ignored(value):
        return value

    @app.task(name="canvas.record_errback")
    def record_errback(task_id):
        """An old-style errback (it gets the failed task's id): stores what it saw under a
        result id the test knows."""
        app.backend.mark_as_done(f"errback-{task_id}", f"errback saw {task_id}")
        return task_id

    @app.task(name="canvas.record_errback_new")
    def record_errback_new(request, exc, traceback):
        """A new-style errback (request, exc, traceback), called inline by the worker."""
        app.backend.mark_as_done(f"errback-new-{request.id}", repr(exc))

    @app.task(name="canvas.replace_with_add", bind=True)
    def replace_with_add(self, x):
        raise self.replace(add.si(x, 1))

    @app.task(name="canvas.replace_with_group", bind=True)
    def replace_with_group(self, x):
        raise self.replace(group(add.si(x, 1), add.si(x, 2)))

    @app.task(name="canvas.replace_with_chain", bind=True)
    def replace_with_chain(self, x):
        raise self.replace(add.si(x, 1) | add.s(10))

    @app.task(name="canvas.replace_with_failure", bind=True)
    def replace_with_failure(self, message):
        raise self.replace(fail.si(message))

    @app.task(name="canvas.grow_chord", bind=True)
    def grow_chord(self, x):
        """A chord header task that adds another task to its chord (Task.add_to_chord)."""
        self.add_to_chord(add.si(x, 100))
        return x

    @app.task(name="canvas.flaky", bind=True, max_retries=3)
    def flaky(self, succeed_on):
        """Retries (RETRY states) until its ``succeed_on``-th retry, then returns the count."""
        if self.request.retries < succeed_on:
            raise self.retry(countdown=0)
        return self.request.retries

    @app.task(name="canvas.always_retry", bind=True, max_retries=1)
    def always_retry(self, message):
        raise self.retry(exc=ValueError(message), countdown=0)

    return app


app = make_app(os.environ.get("DBKV_CELERY_BROKER", "redis://127.0.0.1:6379/0"),
               os.environ.get("DBKV_CELERY_BACKEND", "databridge://127.0.0.1:7379/canvas"))
