"""Processes for the Celery tests and the benchmark: a redis-server and a Celery worker.

Both are started on free ports / in temporary folders, and stopped by the caller (the pytest
fixtures, or bench_celery.py) through their own process ids only.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
TESTS_DIR = HERE.parent


def free_port() -> int:
    """A TCP port nobody listens on right now (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_server_binary() -> Optional[str]:
    return os.environ.get("REDIS_SERVER") or shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None)


class KvServer:
    """A data-bridge-kv server on a free port (the binary from $DBKV_SERVER, else bazel-bin).
    The tests use conftest.py's fixtures instead; this is for bench_celery.py."""

    def __init__(self, *args: str) -> None:
        root = TESTS_DIR.parents[2]
        binary = os.environ.get("DBKV_SERVER") or str(
            root / "bazel-bin/server/data-bridge-kv-server")
        if not os.access(binary, os.X_OK):
            raise RuntimeError(f"server binary not found at {binary}: "
                               "bazel build //server:data-bridge-kv-server")
        self.dir = tempfile.mkdtemp(prefix="dbkv-bench-")
        port_file = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "server.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1:0", "--http-bind", "127.0.0.1:0", "--port-file",
             port_file] + list(args),
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file) or not Path(port_file).read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start:\n{self.log()}")
            time.sleep(0.01)
        ports = Path(port_file).read_text().split()  # data port, then HTTP port
        self.port = int(ports[0])
        self.http_port = int(ports[1]) if len(ports) > 1 else 0

    def url(self, namespace: str = "") -> str:
        return f"databridge://127.0.0.1:{self.port}" + (f"/{namespace}" if namespace else "")

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class RedisServer:
    """A throwaway redis-server: free port, no persistence (``--save '' --appendonly no``)."""

    def __init__(self) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("redis-server not found (apt-get install redis-server)")
        self.dir = tempfile.mkdtemp(prefix="dbkv-redis-")
        self.log_path = os.path.join(self.dir, "redis.log")
        last_error = ""
        for _ in range(5):  # the free port may be taken between probing and binding
            self.port = free_port()
            self._log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--dir", self.dir,
                 "--loglevel", "warning"],
                stdout=self._log, stderr=subprocess.STDOUT)
            if self._wait_ready(10.0):
                return
            last_error = self.log()
            self.stop()
        raise RuntimeError(f"redis-server did not start:\n{last_error}")

    def _wait_ready(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class CeleryWorker:
    """``celery -A celery_support.tasks worker --pool=prefork`` as a subprocess (``app``: another
    tasks module).

    The tasks module reads its broker and backend from the environment (see tasks.py). The
    worker runs in a session of its own, so that stopping it can also reach its pool children
    by their process group (the group this object created), never by name.
    """

    def __init__(self, broker: str, backend: str, *, name: str = "w1",
                 concurrency: int = 2, expires: Optional[str] = None,
                 loglevel: str = "INFO", extra_args: Optional[List[str]] = None,
                 log_dir: Optional[str] = None, env: Optional[Dict[str, str]] = None,
                 app: str = "celery_support.tasks") -> None:
        self.dir = log_dir or tempfile.mkdtemp(prefix="dbkv-celery-")
        self.name = name
        self.log_path = os.path.join(self.dir, f"worker-{name}-{int(time.time() * 1000)}.log")
        env = dict(os.environ, **(env or {}))
        env["DBKV_CELERY_BROKER"] = broker
        env["DBKV_CELERY_BACKEND"] = backend
        if expires is not None:
            env["DBKV_CELERY_RESULT_EXPIRES"] = expires
        else:
            env.pop("DBKV_CELERY_RESULT_EXPIRES", None)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(TESTS_DIR)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, "worker",
             "--pool=prefork", f"--concurrency={concurrency}", f"--loglevel={loglevel}",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"{name}@%h"] + (extra_args or []),
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=str(TESTS_DIR),
            start_new_session=True)

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Waits for the worker's "celery@... ready." line (written once the consumer is
        connected to the broker and the pool is up), within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited ({self.proc.returncode}):\n{self.log()}")
            if " ready." in self.log():
                return
            time.sleep(0.05)
        raise RuntimeError(f"worker not ready after {timeout} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Warm shutdown (SIGTERM: running tasks finish, unstarted ones go back to the
        broker); SIGKILL to the worker's own process group if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        else:
            # Pool children left behind by an abnormal exit share the worker's group.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode
