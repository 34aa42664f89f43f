"""Errors: every failure is a KvError subclass (never a bare RuntimeError), with a clear message;
URL forms; authentication; timeouts."""
from __future__ import annotations

import asyncio
import os
import time
from decimal import Decimal

import pytest

import data_bridge.kv as kvmod
from data_bridge.kv import (KvAuthError, KvClient, KvConnectionError, KvError, KvOutOfMemoryError,
                            KvOverflowError, KvPoolTimeoutError, KvProtocolError, KvResponseError,
                            KvTimeoutError, KvUnknownCommandError, KvWrongTypeError,
                            LockNotOwnedError, aio)
from _kv_helpers import SilentServer, free_port

pytestmark = pytest.mark.timeout(60)

PASSWORD = "s3cr3t pässword"


def test_hierarchy():
    for cls in (KvConnectionError, KvTimeoutError, KvAuthError, KvResponseError,
                KvUnknownCommandError, KvWrongTypeError, KvOverflowError, KvOutOfMemoryError,
                KvProtocolError, LockNotOwnedError, KvPoolTimeoutError):
        assert issubclass(cls, KvError), cls
        assert not issubclass(cls, RuntimeError), cls
    assert issubclass(KvConnectionError, ConnectionError)
    assert issubclass(KvTimeoutError, TimeoutError)
    assert issubclass(KvPoolTimeoutError, KvTimeoutError)
    assert issubclass(KvWrongTypeError, (KvResponseError, TypeError))
    assert issubclass(KvOverflowError, OverflowError)
    assert issubclass(KvOutOfMemoryError, MemoryError)
    assert issubclass(KvUnknownCommandError, KvResponseError)
    assert issubclass(LockNotOwnedError, KvResponseError)
    for name in kvmod.__all__:
        assert hasattr(kvmod, name), name


def test_server_errors_map_to_classes_with_codes(client):
    client.set("s", "text")
    client.set("i", 1)
    cases = [
        (lambda: client.incr("s"), KvWrongTypeError, "WRONGTYPE"),
        (lambda: client.lpop("i"), KvWrongTypeError, "WRONGTYPE"),
        (lambda: client.rpush("s", 1), KvWrongTypeError, "WRONGTYPE"),
        (lambda: client.execute("NOPE"), KvUnknownCommandError, "UNKNOWN"),
        (lambda: client.execute("GET"), KvResponseError, "ERR"),
        (lambda: client.execute("GET", "a", "b"), KvResponseError, "ERR"),
        (lambda: client.lrange("l", "a", 1), KvResponseError, "ERR"),
        (lambda: client.execute("SET", "k", 1, "BOGUS"), KvResponseError, "ERR"),
        (lambda: client.incr("n", 1.5), KvResponseError, "ERR"),
        (lambda: client.execute("LOCK", "l", "", 1000), KvResponseError, "ERR"),
        (lambda: client.execute("UNLOCK", "free-lock", "token"), LockNotOwnedError, "NOTOWNER"),
        (lambda: client.incr("i", 2**63 - 1), KvOverflowError, "OVERFLOW"),
        (lambda: client.execute("INCR", "n", Decimal("1" * 38) * 10), KvOverflowError, None),
        (lambda: client.execute("HELLO", 2), KvResponseError, "ERR"),
    ]
    for call, cls, code in cases:
        with pytest.raises(cls) as e:
            call()
        assert str(e.value), "an error without a message"
        if code is not None:
            assert e.value.code == code, (e.value, e.value.code)
    assert client.ping()


def test_wrong_type_message(client):
    client.set("s", "text")
    with pytest.raises(KvWrongTypeError, match="wrong kind of value"):
        client.lpop("s")
    # INCR on text that is not a number: still WRONGTYPE, with Redis's text (since faa634b)
    with pytest.raises(KvWrongTypeError, match="not an integer") as e:
        client.incr("s")
    assert e.value.code == "WRONGTYPE"


def test_unknown_server_code_is_still_kv_error(client):
    keys = [f"cross{i}" for i in range(16)]
    with pytest.raises(KvResponseError) as e:
        client.blpop(keys, timeout=0.1)
    assert e.value.code == "CROSSSHARD"
    assert str(e.value).startswith("CROSSSHARD ")


# -- connecting


def test_connection_refused():
    port = free_port()
    c = KvClient(f"127.0.0.1:{port}")
    t0 = time.monotonic()
    with pytest.raises(KvConnectionError) as e:
        c.get("k")
    assert time.monotonic() - t0 < 5
    msg = str(e.value)
    assert "cannot connect" in msg and f"127.0.0.1:{port}" in msg and "refused" in msg.lower()
    with pytest.raises(KvConnectionError):
        c.connect()
    with pytest.raises(KvConnectionError):
        c.wait("k", timeout=1)
    c.close()


def test_connection_refused_aio():
    async def main():
        c = aio.KvClient(f"127.0.0.1:{free_port()}")
        with pytest.raises(KvConnectionError, match="cannot connect"):
            await c.get("k")
        with pytest.raises(KvConnectionError):
            await c.blpop("k", timeout=1)
        await c.aclose()

    asyncio.run(main())


def test_unresolvable_host():
    with pytest.raises(KvConnectionError, match="no-such-host.invalid"):
        KvClient("no-such-host.invalid:7379", timeout=3).ping()


def test_reply_timeout():
    with SilentServer() as silent:
        c = KvClient(f"127.0.0.1:{silent.port}", timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(KvTimeoutError) as e:
            c.get("k")
        assert 0.25 <= time.monotonic() - t0 < 3
        assert "GET" in str(e.value)
        assert isinstance(e.value, TimeoutError)
        with pytest.raises(KvTimeoutError):
            c.connect()
        # a blocking command gets its own wait on top of the client's timeout
        t0 = time.monotonic()
        with pytest.raises(KvTimeoutError):
            c.wait("k", timeout=0.2)
        assert 0.45 <= time.monotonic() - t0 < 3
        c.close()


def test_reply_timeout_aio():
    async def main():
        with SilentServer() as silent:
            c = aio.KvClient(f"127.0.0.1:{silent.port}", timeout=0.3)
            t0 = time.monotonic()
            with pytest.raises(KvTimeoutError):
                await c.get("k")
            assert 0.25 <= time.monotonic() - t0 < 3
            with pytest.raises(KvTimeoutError):
                await c.wait("k", timeout=0.1)
            c.close()

    asyncio.run(main())


@pytest.mark.parametrize("timeout", [0, -1])
def test_bad_client_timeout(timeout):
    with pytest.raises(ValueError):
        KvClient("127.0.0.1:7379", timeout=timeout)


# -- URLs


def test_url_forms(server, namespace):
    port = server.port
    forms = {
        f"127.0.0.1:{port}": "",
        f"127.0.0.1:{port}/{namespace}": namespace,
        f"databridge://127.0.0.1:{port}": "",
        f"databridge://127.0.0.1:{port}/{namespace}": namespace,
        f"databridge://localhost:{port}/{namespace}": namespace,
        f"databridge://127.0.0.1:{port}/{namespace}?timeout=5": namespace,
        f"databridge://[::ffff:127.0.0.1]:{port}/{namespace}": namespace,
    }
    with KvClient(server.url(namespace)) as writer:
        writer.set("marker", "here")
    for url, ns in forms.items():
        with KvClient(url) as c:
            assert c.namespace == ns, url
            assert c.config.port == port
            assert c.get("marker") == ("here" if ns else None), url


def test_url_namespace_percent_escape(server):
    with KvClient(f"127.0.0.1:{server.port}/a%20b") as c:
        assert c.namespace == "a b"
        assert c.info()["namespace"] == "a b"


def test_url_default_port():
    c = KvClient("localhost")
    assert (c.config.host, c.config.port) == ("localhost", 7379)
    c.close()


@pytest.mark.parametrize("url", [
    "",
    "http://127.0.0.1:7379",
    "redis://127.0.0.1:7379",
    "127.0.0.1:notaport",
    "127.0.0.1:70000",
    "127.0.0.1:0",
    ":7379",
    "databridge://",
    "databridge://:pw@",
    "[::1",
    "127.0.0.1:7379/" + "n" * 256,
    "127.0.0.1:7379/%zz",
    "databridge://:%zz@127.0.0.1:7379",
])
def test_bad_urls(url):
    with pytest.raises(KvError) as e:
        KvClient(url)
    assert "invalid URL" in str(e.value)
    with pytest.raises(KvError):
        aio.KvClient(url)


# -- authentication


@pytest.fixture(scope="module")
def password_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("auth") / "password"
    path.write_text(PASSWORD)
    os.chmod(path, 0o600)
    return str(path)


@pytest.fixture
def auth_server(server_factory, password_file):
    return server_factory("--password-file", password_file)


def test_auth_missing_password(auth_server):
    with KvClient(f"127.0.0.1:{auth_server.port}/ns") as c:
        with pytest.raises(KvAuthError) as e:
            c.get("k")
        assert e.value.code == "NOAUTH"
        with pytest.raises(KvAuthError):
            c.set("k", 1)
        with pytest.raises(KvAuthError):
            c.connect()


def test_auth_wrong_password(auth_server):
    with KvClient(f"127.0.0.1:{auth_server.port}/ns", password="wrong") as c:
        with pytest.raises(KvAuthError):
            c.get("k")
        with pytest.raises(KvAuthError, match="invalid password"):
            c.connect()
    url = auth_server.url("ns", password="wrong")
    with KvClient(url) as c:
        with pytest.raises(KvAuthError):
            c.set("k", 1)
        with pytest.raises(KvAuthError):
            c.wait("k", timeout=1)


def test_auth_wrong_password_reported_by_first_command(auth_server):
    with KvClient(f"127.0.0.1:{auth_server.port}/ns", password="wrong") as c:
        with pytest.raises(KvAuthError, match="invalid password"):
            c.ping()


def test_auth_right_password_keyword(auth_server):
    with KvClient(f"127.0.0.1:{auth_server.port}/ns", password=PASSWORD) as c:
        c.connect()
        c.set("k", Decimal("1.10"))
        assert c.get("k") == Decimal("1.10")
        assert c.wait("k", timeout=1) == Decimal("1.10")
        assert c.info()["namespace"] == "ns"


def test_auth_right_password_in_url(auth_server):
    from urllib.parse import quote

    url = f"databridge://:{quote(PASSWORD)}@127.0.0.1:{auth_server.port}/ns"
    with KvClient(url) as c:
        assert c.config.password == PASSWORD
        c.set("k", 1)
        assert c.get("k") == 1
    # a user name before the colon is ignored; the keyword wins over the URL
    with KvClient(f"databridge://default:bad@127.0.0.1:{auth_server.port}/ns",
                  password=PASSWORD) as c:
        assert c.get("k") == 1
    simple = f"databridge://:plain@127.0.0.1:{auth_server.port}/ns"
    with KvClient(simple) as c:
        assert c.config.password == "plain"
        with pytest.raises(KvAuthError):
            c.get("k")


def test_auth_aio(auth_server):
    async def main():
        async with aio.KvClient(f"127.0.0.1:{auth_server.port}/ns") as c:
            with pytest.raises(KvAuthError):
                await c.get("k")
        async with aio.KvClient(f"127.0.0.1:{auth_server.port}/ns", password=PASSWORD) as c:
            await c.set("k", 2)
            assert await c.get("k") == 2

    asyncio.run(main())


def test_no_runtime_error_anywhere(client):
    """A sample of failures of every kind: all KvError (or the documented ValueError/TypeError
    for bad client-side arguments), never a bare RuntimeError."""
    failures = [
        lambda: client.execute("NOPE"),
        lambda: client.set("k", 2**64),
        lambda: client.set("k", object()),
        lambda: client.set("k", Decimal("NaN")),
        lambda: client.execute("UNLOCK", "x", "y"),
        lambda: KvClient(f"127.0.0.1:{free_port()}").get("k"),
        lambda: KvClient("bad url:x"),
    ]
    for f in failures:
        with pytest.raises(Exception) as e:
            f()
        assert isinstance(e.value, KvError), repr(e.value)
        assert type(e.value) is not RuntimeError
