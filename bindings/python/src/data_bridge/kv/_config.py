"""Connection settings from a URL and keyword arguments."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from . import _native

#: Seconds a call waits for its reply when neither a keyword nor the URL says otherwise.
DEFAULT_TIMEOUT = 5.0

#: Options a URL's query string may set.
URL_QUERY_KEYS = ("timeout", "connect_timeout", "ca_file", "cert_file", "key_file",
                  "server_name")


@dataclass(frozen=True)
class ConnectionConfig:
    host: str
    port: int
    namespace: str
    password: Optional[str]
    tls: bool
    ca_file: Optional[str]
    cert_file: Optional[str]
    key_file: Optional[str]
    server_name: Optional[str]
    timeout: float
    connect_timeout: float

    @classmethod
    def from_url(cls, url: str, *, password: Optional[str] = None, tls: bool = False,
                 ca_file: Optional[str] = None, timeout: Optional[float] = None,
                 connect_timeout: Optional[float] = None, cert_file: Optional[str] = None,
                 key_file: Optional[str] = None,
                 server_name: Optional[str] = None) -> ConnectionConfig:
        """``host:port[/namespace][?query]``,
        ``databridge://[:password@]host:port[/namespace][?query]``, or ``databridges://...``
        (TLS). The query string sets options: ``timeout``, ``connect_timeout`` (seconds > 0),
        ``ca_file``, ``cert_file``, ``key_file``, ``server_name`` (%-escaped); any other key is
        an error (:class:`~data_bridge.kv.errors.KvError`, "unknown query option"), never
        silently dropped. Keyword arguments win over the URL; without either, ``timeout`` is
        5 s and ``connect_timeout`` is ``timeout``. TLS verifies the server against ``ca_file``
        (default: the system's CAs) and ``server_name`` (default: the host);
        ``cert_file``/``key_file`` present a client certificate (mutual TLS)."""
        parts = _native.parse_url(url)
        query = parts["options"]
        for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise ValueError(f"{name} must be positive, got {value!r}")

        def pick(keyword: Any, name: str, default: Any = None) -> Any:
            return keyword if keyword is not None else query.get(name, default)

        timeout = float(pick(timeout, "timeout", DEFAULT_TIMEOUT))
        return cls(
            host=parts["host"],
            port=parts["port"],
            namespace=parts["namespace"],
            password=password if password is not None else parts["password"],
            tls=tls or parts["tls"],
            ca_file=pick(ca_file, "ca_file"),
            cert_file=pick(cert_file, "cert_file"),
            key_file=pick(key_file, "key_file"),
            server_name=pick(server_name, "server_name"),
            timeout=timeout,
            connect_timeout=float(pick(connect_timeout, "connect_timeout", timeout)),
        )

    def native(self, shared_io: bool = False) -> _native.NativeClient:
        """A native connection: with an I/O thread of its own, or (``shared_io``) on the
        process's one shared I/O thread (the connections of blocking commands)."""
        return _native.NativeClient(self.host, self.port, self.namespace, self.password or "",
                                    self.tls or bool(self.ca_file), self.connect_timeout,
                                    self.timeout, self.ca_file or "", self.cert_file or "",
                                    self.key_file or "", self.server_name or "", shared_io)

    def blocking_native(self) -> _native.NativeClient:
        """A connection for one blocking command at a time, on the shared I/O thread."""
        return self.native(shared_io=True)

    def url(self) -> str:
        scheme = "databridges" if self.tls else "databridge"
        ns = f"/{self.namespace}" if self.namespace else ""
        return f"{scheme}://{self.host}:{self.port}{ns}"
