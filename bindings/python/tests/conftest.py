"""Fixtures: a real data-bridge-kv server on a free port, and clients in namespaces of their own.

The server binary comes from $DBKV_SERVER (make test-python sets it), else bazel-bin. One
server serves the whole session; each test gets a namespace named after it, so tests cannot see
each other's keys. Tests that need other flags start their own with ``server_factory``.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[3]


def server_binary() -> str:
    path = os.environ.get("DBKV_SERVER") or str(ROOT / "bazel-bin/server/data-bridge-kv-server")
    if not os.access(path, os.X_OK):
        pytest.exit(f"server binary not found at {path}: run `make test-python` (or bazel build "
                    "//server:data-bridge-kv-server)", returncode=2)
    return path


def plugin_path(name: str) -> str:
    d = os.environ.get("DBKV_PLUGIN_DIR") or str(ROOT / "bazel-bin/plugins/examples")
    return os.path.join(d, name)


class Server:
    """A running server process. ``url(ns)`` builds a client URL for it."""

    def __init__(self, args: List[str], env: Optional[dict] = None, port: int = 0):
        self.dir = tempfile.mkdtemp(prefix="dbkv-py-")
        port_file = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "server.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [server_binary(), "--bind", f"127.0.0.1:{port}", "--http-bind", "127.0.0.1:0",
             "--port-file", port_file] + args,
            stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file):
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"server did not start:\n{self.log()}")
            time.sleep(0.01)  # the port file appears within milliseconds
        ports = Path(port_file).read_text().split()  # data port, then HTTP port
        self.port = int(ports[0])
        self.http_port = int(ports[1]) if len(ports) > 1 else 0

    def url(self, namespace: str = "", scheme: str = "databridge", password: str = "") -> str:
        auth = f":{password}@" if password else ""
        ns = f"/{namespace}" if namespace else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}{ns}"

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    s = Server(["--shards", "4"])
    yield s
    assert s.stop() == 0, s.log()


@pytest.fixture
def server_factory() -> Iterator:
    started: List[Server] = []

    def start(*args: str, env: Optional[dict] = None, port: int = 0) -> Server:
        """A server with these extra flags; ``port`` (default: any free one) to bind."""
        s = Server(list(args), env=env, port=port)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def namespace(request) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.nodeid)[-200:]


@pytest.fixture
def url(server: Server, namespace: str) -> str:
    return server.url(namespace)


@pytest.fixture
def client(url: str):
    from data_bridge.kv import KvClient

    c = KvClient(url)
    yield c
    c.close()
