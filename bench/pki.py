"""A throwaway PKI for TLS benchmarks and tests: a CA and a server certificate for localhost and
127.0.0.1 (EC P-256), made with the openssl CLI in a directory of the caller's choosing."""
import os
import shutil
import subprocess
from dataclasses import dataclass

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
"""

NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Pki:
    ca: str
    server_cert: str
    server_key: str


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


def make_pki(directory):
    """Writes ca.pem, server.pem and server.key into directory; returns their paths."""
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl CLI is not installed (apt-get install openssl)")
    os.makedirs(directory, exist_ok=True)

    def p(name):
        return os.path.join(directory, name)

    with open(p("openssl.cnf"), "w") as f:
        f.write(OPENSSL_CNF)
    _openssl("req", "-x509", "-config", p("openssl.cnf"), "-extensions", "ca_ext", *NEW_KEY,
             "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2",
             "-subj", "/CN=data-bridge-kv bench CA")
    _openssl("req", "-new", "-config", p("openssl.cnf"), *NEW_KEY, "-keyout", p("server.key"),
             "-out", p("server.csr"), "-subj", "/CN=localhost")
    _openssl("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
             "-set_serial", "2", "-days", "2", "-extfile", p("openssl.cnf"), "-extensions",
             "server_ext", "-out", p("server.pem"))
    return Pki(ca=p("ca.pem"), server_cert=p("server.pem"), server_key=p("server.key"))
