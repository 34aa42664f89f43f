"""Typed exceptions. Every error the client raises is a KvError."""
from __future__ import annotations

from typing import Optional


class KvError(Exception):
    """Base of every data-bridge-kv error. ``code`` is the server's status name (``"ERR"``,
    ``"WRONGTYPE"``...) when the error came from the server."""

    def __init__(self, message: str = "", code: Optional[str] = None):
        super().__init__(message)
        self.code = code


class KvConnectionError(KvError, ConnectionError):
    """Cannot connect, or the connection broke (requests in flight fail with it)."""


class KvTimeoutError(KvError, TimeoutError):
    """No reply within the timeout."""


class KvAuthError(KvError):
    """Authentication required, or a wrong password."""


class KvResponseError(KvError):
    """The server refused the command (bad arguments, unknown command...)."""


class KvUnknownCommandError(KvResponseError):
    """No such command on the server (a plugin not loaded?)."""


class KvWrongTypeError(KvResponseError, TypeError):
    """The key holds another kind of value (INCR on a string, LPOP on an int...)."""


class KvOverflowError(KvResponseError, OverflowError):
    """A number out of range: an int beyond 64 bits, a Decimal beyond 38 digits."""


class KvOutOfMemoryError(KvResponseError, MemoryError):
    """The server is full (--max-memory with noeviction)."""


class KvProtocolError(KvError):
    """Malformed data on the wire (a bug, or a frame over the server's limit)."""


class LockNotOwnedError(KvResponseError):
    """Releasing or extending a lock this owner does not hold (any more)."""


class KvPoolTimeoutError(KvTimeoutError):
    """No pooled connection became free within the pool's acquire timeout."""


_BY_CODE = {
    "ERR": KvResponseError,
    "UNKNOWN": KvUnknownCommandError,
    "WRONGTYPE": KvWrongTypeError,
    "OVERFLOW": KvOverflowError,
    "PROTOCOL": KvProtocolError,
    "TOOBIG": KvProtocolError,
    "NOAUTH": KvAuthError,
    "OOM": KvOutOfMemoryError,
    "IOERR": KvConnectionError,
    "TIMEOUT": KvTimeoutError,
    "NOTOWNER": LockNotOwnedError,
}


def _from_code(code: int, name: str, message: str) -> KvError:
    """Called by the native module to build the exception of an error reply."""
    cls = _BY_CODE.get(name, KvResponseError)
    text = f"{name} {message}" if cls is KvResponseError and name not in ("ERR",) else message
    return cls(text, code=name)
