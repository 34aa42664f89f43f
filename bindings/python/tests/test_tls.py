"""TLS from Python: ``databridges://`` URLs and the ``tls``/``ca_file``/``cert_file``/
``key_file``/``server_name`` arguments, for the blocking and the asyncio client, against a real
server started with --tls-cert/--tls-key (and --tls-ca for mutual TLS). The certificates are
made once per module with the openssl CLI."""
from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from data_bridge.kv import KvConnectionError, KvClient, aio

pytestmark = pytest.mark.timeout(60)

# A connection failure must come well before this: no hang until a timeout.
FAST = 2.0

OPENSSL_CNF = """\
[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
"""

NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Pki:
    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    other_ca: str
    other_cert: str
    other_key: str


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    """A CA; a server certificate for localhost and 127.0.0.1; a client certificate from the
    same CA; a client certificate from another CA."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is not installed (scripts/setup.sh installs it)")
    d: Path = tmp_path_factory.mktemp("pki")
    cnf = d / "openssl.cnf"
    cnf.write_text(OPENSSL_CNF)

    def p(name: str) -> str:
        return str(d / name)

    def make_ca(name: str, cn: str) -> None:
        _openssl("req", "-x509", "-config", str(cnf), "-extensions", "ca_ext", *NEW_KEY,
                 "-keyout", p(f"{name}.key"), "-out", p(f"{name}.pem"), "-days", "2",
                 "-subj", f"/CN={cn}")

    serial = iter(range(2, 100))

    def make_leaf(name: str, cn: str, ca: str, ext: str) -> None:
        _openssl("req", "-new", "-config", str(cnf), *NEW_KEY, "-keyout", p(f"{name}.key"),
                 "-out", p(f"{name}.csr"), "-subj", f"/CN={cn}")
        _openssl("x509", "-req", "-in", p(f"{name}.csr"), "-CA", p(f"{ca}.pem"), "-CAkey",
                 p(f"{ca}.key"), "-set_serial", str(next(serial)), "-days", "2", "-extfile",
                 str(cnf), "-extensions", ext, "-out", p(f"{name}.pem"))

    make_ca("ca", "data-bridge-kv test CA")
    make_ca("other-ca", "some other CA")
    make_leaf("server", "localhost", "ca", "server_ext")
    make_leaf("client", "test client", "ca", "client_ext")
    make_leaf("other", "intruder", "other-ca", "client_ext")
    return Pki(ca=p("ca.pem"), server_cert=p("server.pem"), server_key=p("server.key"),
               client_cert=p("client.pem"), client_key=p("client.key"),
               other_ca=p("other-ca.pem"), other_cert=p("other.pem"), other_key=p("other.key"))


@pytest.fixture
def tls_server(server_factory, pki: Pki):
    return server_factory("--shards", "2", "--tls-cert", pki.server_cert, "--tls-key",
                          pki.server_key)


@pytest.fixture
def mtls_server(server_factory, pki: Pki):
    return server_factory("--tls-cert", pki.server_cert, "--tls-key", pki.server_key,
                          "--tls-ca", pki.ca)


VALUES = {
    "str": "héllo wörld",
    "int": -(2 ** 63),
    "float": 2.5,
    "decimal": Decimal("1.10"),
    "bytes": b"\x00\xff" * 5000,  # spans TLS records
    "none": None,
    "bool": True,
    "list": [1, "two", Decimal("3.000"), [None, False]],
    "dict": {"a": 1, "b": [b"x", "y"]},
}


def round_trip(c: KvClient) -> None:
    for key, value in VALUES.items():
        assert c.set(key, value) is True
    for key, value in VALUES.items():
        got = c.get(key)
        assert got == value and type(got) is type(value), key
    assert c.incr("n") == 1
    assert c.incr("n", 41) == 42
    assert c.mget(["str", "missing", "n"]) == [VALUES["str"], None, 42]
    assert c.delete("str", "missing") == 1


def connection_error(make_client) -> KvConnectionError:
    """Makes a client and pings: it must fail with KvConnectionError, fast."""
    start = time.monotonic()
    with pytest.raises(KvConnectionError) as info:
        with make_client() as c:
            c.ping()
    assert time.monotonic() - start < FAST
    return info.value


def test_databridges_url_round_trip(tls_server, pki):
    url = tls_server.url("tls-ns", scheme="databridges")
    with KvClient(url, ca_file=pki.ca) as c:
        assert c.config.tls
        assert repr(c).startswith("KvClient('databridges://")
        round_trip(c)
    # The namespace came from the URL.
    with KvClient(tls_server.url("other-ns", scheme="databridges"), ca_file=pki.ca) as c:
        assert c.get("n") is None


def test_tls_argument_with_a_plain_url(tls_server, pki):
    with KvClient(tls_server.url("tls-arg"), tls=True, ca_file=pki.ca) as c:
        assert c.config.tls
        round_trip(c)


def test_aio_client_over_tls(tls_server, pki):
    async def main():
        async with aio.KvClient(tls_server.url("aio", scheme="databridges"),
                                ca_file=pki.ca) as c:
            assert await c.ping()
            await c.set("d", Decimal("1.10"))
            assert await c.get("d") == Decimal("1.10")
            await c.set("b", b"\x01" * 100_000)
            assert await c.get("b") == b"\x01" * 100_000
            results = await asyncio.gather(*[c.incr("n") for _ in range(500)])
            assert sorted(results) == list(range(1, 501))
            assert await c.get("n") == 500

    asyncio.run(asyncio.wait_for(main(), 30))


def test_aio_client_without_the_ca_fails(tls_server):
    async def main():
        async with aio.KvClient(tls_server.url(scheme="databridges")) as c:
            with pytest.raises(KvConnectionError, match="certificate verify failed"):
                await c.ping()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_plaintext_client_against_the_tls_server_fails_fast(tls_server, pki):
    for _ in range(3):
        connection_error(lambda: KvClient(tls_server.url(), timeout=30))
    # The server goes on serving TLS clients.
    with KvClient(tls_server.url(scheme="databridges"), ca_file=pki.ca) as c:
        assert c.ping()


def test_tls_client_against_a_plaintext_server_fails_fast(server_factory, pki):
    plain = server_factory()
    e = connection_error(
        lambda: KvClient(plain.url(scheme="databridges"), ca_file=pki.ca, timeout=30))
    assert "TLS handshake" in str(e)


def test_without_the_ca_verification_fails(tls_server):
    e = connection_error(lambda: KvClient(tls_server.url(scheme="databridges")))
    assert "certificate verify failed" in str(e)


def test_another_ca_fails_verification(tls_server, pki):
    e = connection_error(
        lambda: KvClient(tls_server.url(scheme="databridges"), ca_file=pki.other_ca))
    assert "certificate verify failed" in str(e)


def test_server_name_is_verified(tls_server, pki):
    url = tls_server.url(scheme="databridges")
    e = connection_error(lambda: KvClient(url, ca_file=pki.ca, server_name="db.example.com"))
    assert "certificate verify failed" in str(e)
    with KvClient(url, ca_file=pki.ca, server_name="localhost") as c:
        assert c.ping()


def test_missing_ca_file_is_named(tls_server, pki, tmp_path):
    missing = str(tmp_path / "missing.pem")
    e = connection_error(lambda: KvClient(tls_server.url(scheme="databridges"), ca_file=missing))
    assert "missing.pem" in str(e)
    assert "No such file" in str(e)


def test_mutual_tls(mtls_server, pki):
    url = mtls_server.url("mtls", scheme="databridges")
    # No client certificate, or one from another CA: refused.
    connection_error(lambda: KvClient(url, ca_file=pki.ca))
    connection_error(lambda: KvClient(url, ca_file=pki.ca, cert_file=pki.other_cert,
                                      key_file=pki.other_key))
    with KvClient(url, ca_file=pki.ca, cert_file=pki.client_cert, key_file=pki.client_key) as c:
        round_trip(c)

    async def main():
        async with aio.KvClient(url, ca_file=pki.ca, cert_file=pki.client_cert,
                                key_file=pki.client_key) as c:
            assert await c.get("n") == 42

    asyncio.run(asyncio.wait_for(main(), 30))


def test_password_over_tls(server_factory, pki, tmp_path):
    password_file = tmp_path / "password"
    password_file.write_text("tls-password\n")
    s = server_factory("--tls-cert", pki.server_cert, "--tls-key", pki.server_key,
                       "--password-file", str(password_file))
    with KvClient(s.url("pw", scheme="databridges", password="tls-password"),
                  ca_file=pki.ca) as c:
        assert c.set("k", "v")
        assert c.get("k") == "v"
