"""data_bridge.kv: the Python client of data-bridge-kv.

    from data_bridge.kv import KvClient
    kv = KvClient("databridge://127.0.0.1:7379/myapp")
    kv.set("price", Decimal("1.10"), ttl=60)
    kv.get("price")            # Decimal('1.10')
    kv.wait("job:42", timeout=30)   # blocks until the key exists, woken by the server

``data_bridge.kv.aio.KvClient`` is the asyncio version; ``KvPool`` pools connections;
``data_bridge.kv.celery`` is a Celery result backend (``result_backend = "databridge://..."``).
"""
from . import _native
from . import errors as _errors
from .client import KvClient, Lock
from .errors import (
    KvAuthError,
    KvConnectionError,
    KvError,
    KvOutOfMemoryError,
    KvOverflowError,
    KvPoolTimeoutError,
    KvProtocolError,
    KvResponseError,
    KvTimeoutError,
    KvUnknownCommandError,
    KvWrongTypeError,
    LockNotOwnedError,
)
from .pool import KvPool, PoolConfig

_native.set_error_factory(_errors._from_code)

__version__ = "0.1.0"

__all__ = [
    "KvAuthError",
    "KvClient",
    "KvConnectionError",
    "KvError",
    "KvOutOfMemoryError",
    "KvOverflowError",
    "KvPool",
    "KvPoolTimeoutError",
    "KvProtocolError",
    "KvResponseError",
    "KvTimeoutError",
    "KvUnknownCommandError",
    "KvWrongTypeError",
    "Lock",
    "LockNotOwnedError",
    "PoolConfig",
    "__version__",
]
