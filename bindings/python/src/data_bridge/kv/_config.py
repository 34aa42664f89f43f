"""Connection settings from a URL and keyword arguments."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import _native


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
                 ca_file: Optional[str] = None, timeout: float = 5.0,
                 connect_timeout: Optional[float] = None, cert_file: Optional[str] = None,
                 key_file: Optional[str] = None,
                 server_name: Optional[str] = None) -> "ConnectionConfig":
        """``host:port[/namespace]``, ``databridge://[:password@]host:port[/namespace]``, or
        ``databridges://...`` (TLS). Keyword arguments win over the URL. TLS verifies the
        server against ``ca_file`` (default: the system's CAs) and ``server_name`` (default: the
        host); ``cert_file``/``key_file`` present a client certificate (mutual TLS)."""
        parts = _native.parse_url(url)
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        return cls(
            host=parts["host"],
            port=parts["port"],
            namespace=parts["namespace"],
            password=password if password is not None else parts["password"],
            tls=tls or parts["tls"],
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            server_name=server_name,
            timeout=float(timeout),
            connect_timeout=float(connect_timeout if connect_timeout is not None else timeout),
        )

    def native(self) -> "_native.NativeClient":
        return _native.NativeClient(self.host, self.port, self.namespace, self.password or "",
                                    self.tls or bool(self.ca_file), self.connect_timeout,
                                    self.timeout, self.ca_file or "", self.cert_file or "",
                                    self.key_file or "", self.server_name or "")

    def url(self) -> str:
        scheme = "databridges" if self.tls else "databridge"
        ns = f"/{self.namespace}" if self.namespace else ""
        return f"{scheme}://{self.host}:{self.port}{ns}"
