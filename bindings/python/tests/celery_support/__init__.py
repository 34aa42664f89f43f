"""Helpers of the Celery tests (test_celery_*.py): a throwaway redis-server broker, a Celery
worker subprocess, the tasks module the worker runs, and the benchmark bench_celery.py."""
