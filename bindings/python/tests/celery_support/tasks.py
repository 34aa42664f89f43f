"""Tasks run by the Celery worker subprocesses of the tests and of bench_celery.py.

Configured from the environment when imported (the worker is started as
``celery -A celery_support.tasks worker``):

``DBKV_CELERY_BROKER``
    broker URL (the tests start a redis-server on a free port);
``DBKV_CELERY_BACKEND``
    result backend URL (``databridge://127.0.0.1:<port>/<namespace>`` or ``redis://...``);
``DBKV_CELERY_RESULT_EXPIRES``
    ``result_expires`` in seconds (unset: Celery's default, one day; ``none``: never);
``DBKV_CELERY_TRACK_STARTED``
    ``task_track_started`` (``1``, the default here: a STARTED write precedes every result;
    ``0``: Celery's default).
"""
from __future__ import annotations

import os
import time
from decimal import Decimal

from celery import Celery


def settings(broker: str, backend: str, expires: "str | None" = None,
             track_started: bool = True) -> dict:
    """The configuration shared by the worker and the test's client app."""
    conf = dict(
        broker_url=broker,
        result_backend=backend,
        task_track_started=track_started,  # a STARTED write precedes every result
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        result_backend_always_retry=True,  # ride through backend connection errors
        result_backend_max_retries=20,
        worker_send_task_events=False,
        task_send_sent_event=False,
        result_chord_join_timeout=10.0,
    )
    if expires is not None:
        conf["result_expires"] = None if expires.lower() == "none" else float(expires)
    return conf


app = Celery("celery_support.tasks")
app.conf.update(settings(
    os.environ.get("DBKV_CELERY_BROKER", "redis://127.0.0.1:6379/0"),
    os.environ.get("DBKV_CELERY_BACKEND", "databridge://127.0.0.1:7379/celery"),
    os.environ.get("DBKV_CELERY_RESULT_EXPIRES"),
    os.environ.get("DBKV_CELERY_TRACK_STARTED", "1") != "0",
))


@app.task
def add(x, y):
    return x + y


@app.task
def tsum(values):
    return sum(values)


@app.task
def fail(message):
    raise ValueError(message)


@app.task
def price():
    return Decimal("1.10")


@app.task
def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


@app.task
def whoami():
    return os.getpid()
