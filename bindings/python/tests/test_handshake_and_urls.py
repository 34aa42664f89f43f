"""One connect is one HELLO (counted by the server's /metrics), and the URL's query string sets
options or is refused: never silently dropped."""
from __future__ import annotations

import asyncio
import os
import re
import time
import urllib.request
from typing import Dict

import pytest

from data_bridge.kv import KvAuthError, KvClient, KvError, KvTimeoutError, aio
from data_bridge.kv._config import ConnectionConfig
from _kv_helpers import SilentServer

pytestmark = pytest.mark.timeout(60)

PASSWORD = "pw-4711"

_SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def scrape(server) -> Dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    samples = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m:
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples


def hellos(server) -> float:
    """HELLO commands the server ran, whatever their outcome."""
    return sum(v for k, v in scrape(server).items()
               if k.startswith('databridge_kv_commands_total{command="hello"'))


@pytest.fixture
def fresh_server(server_factory):
    return server_factory("--shards", "1")


@pytest.fixture
def auth_server(server_factory, tmp_path):
    path = tmp_path / "password"
    path.write_text(PASSWORD)
    os.chmod(path, 0o600)
    return server_factory("--shards", "1", "--password-file", str(path))


# -- one HELLO per connect


def test_connect_sends_one_hello(fresh_server):
    assert hellos(fresh_server) == 0
    with KvClient(fresh_server.url("ns")) as c:
        c.connect()
        assert hellos(fresh_server) == 1
        c.connect()  # connected already: nothing sent
        assert c.ping()
        assert hellos(fresh_server) == 1


def test_first_call_then_connect_share_one_hello(fresh_server):
    with KvClient(fresh_server.url("ns")) as c:
        assert c.ping()
        c.connect()
        assert hellos(fresh_server) == 1


def test_aio_connect_sends_one_hello(fresh_server):
    async def main():
        async with aio.KvClient(fresh_server.url("ns")) as c:
            await c.connect()
            await c.connect()

    asyncio.run(main())
    assert hellos(fresh_server) == 1


def test_right_password_one_hello_no_failure(auth_server):
    with KvClient(auth_server.url("ns", password=PASSWORD)) as c:
        c.connect()
    m = scrape(auth_server)
    assert m["databridge_kv_auth_failures_total"] == 0
    assert hellos(auth_server) == 1


def test_wrong_password_counts_one_failure_per_connect(auth_server):
    with KvClient(auth_server.url("ns", password="wrong")) as c:
        with pytest.raises(KvAuthError, match="invalid password"):
            c.connect()
    assert scrape(auth_server)["databridge_kv_auth_failures_total"] == 1
    assert hellos(auth_server) == 1


# -- the query string


def test_query_sets_timeout_and_connect_timeout(server, namespace):
    with KvClient(server.url(namespace) + "?timeout=0.25&connect_timeout=1.5") as c:
        assert c.timeout == 0.25
        assert c.config.connect_timeout == 1.5
        assert c.namespace == namespace  # the query is not part of the namespace
        assert c.ping()
    c = aio.KvClient(server.url(namespace) + "?timeout=0.25")
    assert c.config.timeout == 0.25 and c.config.connect_timeout == 0.25
    c.close()


def test_query_timeout_applies_to_calls():
    """A server that never answers: the call gives up after the URL's 0.3 s, not 5 s."""
    with SilentServer() as silent:
        with KvClient(f"127.0.0.1:{silent.port}?timeout=0.3") as c:
            t = time.monotonic()
            with pytest.raises(KvTimeoutError):
                c.ping()
            assert time.monotonic() - t < 2


def test_keywords_win_over_the_query(server):
    url = f"databridge://127.0.0.1:{server.port}/ns?timeout=2&connect_timeout=3&ca_file=/a.pem"
    config = ConnectionConfig.from_url(url, timeout=7, ca_file="/b.pem")
    assert (config.timeout, config.connect_timeout, config.ca_file) == (7.0, 3.0, "/b.pem")
    config = ConnectionConfig.from_url(url)
    assert (config.timeout, config.connect_timeout, config.ca_file) == (2.0, 3.0, "/a.pem")
    # Without the URL or a keyword: 5 s, and connect_timeout follows timeout.
    config = ConnectionConfig.from_url("h:1")
    assert (config.timeout, config.connect_timeout) == (5.0, 5.0)
    assert ConnectionConfig.from_url("h:1", timeout=2).connect_timeout == 2.0


def test_query_tls_options():
    config = ConnectionConfig.from_url(
        "databridges://h:1/ns?ca_file=%2Fetc%2Fca.pem&cert_file=/c.pem&key_file=/k.pem"
        "&server_name=kv.internal")
    assert config.tls
    assert (config.ca_file, config.cert_file, config.key_file, config.server_name) == (
        "/etc/ca.pem", "/c.pem", "/k.pem", "kv.internal")


@pytest.mark.parametrize("query, message", [
    ("ignored=1", "unknown query option 'ignored'"),
    ("timout=1", "unknown query option 'timout' (known: timeout, connect_timeout"),
    ("timeout=0", "timeout must be a number of seconds > 0"),
    ("timeout=abc", "timeout must be a number of seconds > 0"),
    ("timeout=", "empty value"),
    ("timeout", "has no value"),
    ("timeout=1&timeout=2", "given twice"),
])
def test_bad_query_is_an_error(server, query, message):
    url = f"databridge://127.0.0.1:{server.port}/ns?{query}"
    with pytest.raises(KvError) as e:
        KvClient(url)
    assert message in str(e.value)
    assert "invalid URL" in str(e.value)
    with pytest.raises(KvError, match=re.escape(message)):
        aio.KvClient(url)


def test_bad_timeout_keyword():
    for bad in (0, -1, True):
        with pytest.raises(ValueError):
            KvClient("h:1", timeout=bad)
        with pytest.raises(ValueError):
            KvClient("h:1", connect_timeout=bad)
