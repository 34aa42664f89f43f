"""What each client method sends and how its reply becomes a Python value.

Each function returns a ``Command``: the name, the arguments, a function applied to the reply,
and the extra seconds the call may take (blocking commands). The sync and asyncio clients both
run these, so the two APIs cannot drift apart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import (
    Any,
    Callable,
    Dict,
    Generic,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

Key = Any  # str or bytes (ints are accepted and stand for their text)
Number = Any  # int or Decimal


T = TypeVar("T")


@dataclass(frozen=True)
class Command(Generic[T]):
    """A command to send, and how its reply becomes the method's result (of type T)."""

    name: str
    args: Tuple[Any, ...]
    convert: Callable[[Any], T]
    # None: the client's timeout; else seconds the server may legitimately wait (added to it),
    # or math.inf for "no limit".
    wait: Optional[float] = None


def _same(r: Any) -> Any:
    return r


def _bool(r: Any) -> bool:
    return bool(r)


def ttl_ms(ttl: float) -> int:
    """Seconds (int, float or Decimal) as whole milliseconds, rounded up; must be > 0."""
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float, Decimal)):
        raise TypeError(f"ttl must be a number of seconds, not {type(ttl).__name__}")
    if not ttl > 0:
        raise ValueError(f"ttl must be positive, got {ttl!r}")
    return max(1, math.ceil(float(ttl) * 1000))


#: The shortest wait sent to the server (seconds; its timers count milliseconds). A method's
#: ``timeout=0`` sends this: the server looks once, and answers "nothing" 1 ms later.
POLL = 0.001


def timeout_arg(timeout: Optional[float]) -> Any:
    """A blocking method's timeout as the command's argument: None (wait forever) is the
    server's 0; 0 (look once, do not wait) is :data:`POLL`; otherwise seconds."""
    if timeout is None:
        return 0
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float, Decimal)):
        raise TypeError(f"timeout must be a number of seconds or None, not "
                        f"{type(timeout).__name__}")
    if not timeout >= 0:  # negative or NaN
        raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
    return max(float(timeout), POLL)


def _wait(timeout: Optional[float]) -> float:
    """How long the server may hold the command (added to the client's reply timeout)."""
    return math.inf if timeout is None else timeout_arg(timeout)


def ping() -> Command[bool]:
    return Command("PING", (), lambda r: r == "PONG")


def get(key: Key, default: Any = None) -> Command[Any]:
    if default is None:
        return Command("GET", (key,), _same)
    # GET answers nil both for a missing key and for a stored None; GETV tells them apart, so
    # that a stored None is returned as None rather than replaced by the default.
    return Command("GETV", (key,), lambda r: default if r is None else r[0])


def set_(key: Key, value: Any, ttl: Optional[float] = None, nx: bool = False,
         xx: bool = False) -> Command[bool]:
    args: List[Any] = [key, value]
    if ttl is not None:
        args += ["PX", ttl_ms(ttl)]
    if nx:
        args.append("NX")
    if xx:
        args.append("XX")
    return Command("SET", tuple(args), lambda r: r is not None)


def setnx(key: Key, value: Any, ttl: Optional[float] = None) -> Command[bool]:
    return set_(key, value, ttl, nx=True)


def delete(*keys: Key) -> Command[int]:
    return Command("DEL", keys, _same)


def exists(key: Key) -> Command[bool]:
    return Command("EXISTS", (key,), _bool)


def incr(key: Key, by: Number = 1) -> Command[Any]:
    return Command("INCR", (key, by), _same)


def decr(key: Key, by: Number = 1) -> Command[Any]:
    return Command("DECR", (key, by), _same)


def ttl(key: Key) -> Command[Optional[float]]:
    return Command("PTTL", (key,), lambda r: None if r < 0 else r / 1000.0)


def expire(key: Key, ttl: float) -> Command[bool]:
    return Command("PEXPIRE", (key, ttl_ms(ttl)), _bool)


def persist(key: Key) -> Command[bool]:
    return Command("PERSIST", (key,), _bool)


def mget(keys: Sequence[Key]) -> Command[List[Any]]:
    keys = tuple(keys)
    if not keys:
        return Command("PING", (), lambda r: [])
    return Command("MGET", keys, _same)


def mset(mapping: Mapping[Key, Any], ttl: Optional[float] = None) -> Command[None]:
    args: List[Any] = []
    for k, v in mapping.items():
        args += [k, v]
    if not args:
        return Command("PING", (), lambda r: None)
    if ttl is None:
        return Command("MSET", tuple(args), lambda r: None)
    return Command("MSETPX", (ttl_ms(ttl), *args), lambda r: None)


def mdel(keys: Sequence[Key]) -> Command[int]:
    keys = tuple(keys)
    if not keys:
        return Command("PING", (), lambda r: 0)
    return Command("MDEL", keys, _same)


def mexists(keys: Sequence[Key]) -> Command[List[bool]]:
    keys = tuple(keys)
    if not keys:
        return Command("PING", (), lambda r: [])
    return Command("MEXISTS", keys, lambda r: [bool(x) for x in r])


def get_versioned(key: Key) -> Command[Optional[Tuple[Any, int]]]:
    return Command("GETV", (key,), lambda r: None if r is None else (r[0], r[1]))


def cas(key: Key, value: Any, version: int, ttl: Optional[float] = None) -> Command[bool]:
    args: List[Any] = [key, version, value]
    if ttl is not None:
        args += ["PX", ttl_ms(ttl)]
    return Command("CAS", tuple(args), _bool)


def rpush(key: Key, *values: Any) -> Command[int]:
    return Command("RPUSH", (key, *values), _same)


def lpush(key: Key, *values: Any) -> Command[int]:
    return Command("LPUSH", (key, *values), _same)


def lpop(key: Key, count: Optional[int] = None) -> Command[Any]:
    return Command("LPOP", (key,) if count is None else (key, count), _same)


def rpop(key: Key, count: Optional[int] = None) -> Command[Any]:
    return Command("RPOP", (key,) if count is None else (key, count), _same)


def lrange(key: Key, start: int, stop: int) -> Command[List[Any]]:
    return Command("LRANGE", (key, start, stop), _same)


def llen(key: Key) -> Command[int]:
    return Command("LLEN", (key,), _same)


def _pair(r: Any) -> Any:
    return None if r is None else (r[0], r[1])


def _keys(keys: Any) -> Tuple[Any, ...]:
    """One key (str, bytes or int) or an iterable of keys."""
    if isinstance(keys, (str, bytes, bytearray, int)):
        return (keys,)
    return tuple(keys)


def blpop(keys: Iterable[Key],
          timeout: Optional[float] = None) -> Command[Optional[Tuple[Any, Any]]]:
    return Command("BLPOP", (*_keys(keys), timeout_arg(timeout)), _pair, _wait(timeout))


def brpop(keys: Iterable[Key],
          timeout: Optional[float] = None) -> Command[Optional[Tuple[Any, Any]]]:
    return Command("BRPOP", (*_keys(keys), timeout_arg(timeout)), _pair, _wait(timeout))


def wait(key: Key, timeout: Optional[float] = None) -> Command[Any]:
    return Command("WAIT", (key, timeout_arg(timeout)), _same, _wait(timeout))


def mwait(keys: Sequence[Key], timeout: Optional[float] = None) -> Command[List[Any]]:
    return Command("MWAIT", (timeout_arg(timeout), *keys), _same, _wait(timeout))


def waitany(keys: Sequence[Key],
            timeout: Optional[float] = None) -> Command[Optional[Tuple[Any, Any]]]:
    return Command("WAITANY", (timeout_arg(timeout), *keys), _pair, _wait(timeout))


def lock_acquire(name: Key, token: str, ttl: float, blocking: bool,
                 timeout: Optional[float]) -> Command[bool]:
    if not blocking or timeout == 0:  # timeout=0: one try, as threading.Lock.acquire(True, 0)
        return Command("LOCK", (name, token, ttl_ms(ttl)), _bool)
    return Command("LOCK", (name, token, ttl_ms(ttl), timeout_arg(timeout)), _bool,
                   _wait(timeout))


def lock_release(name: Key, token: str) -> Command[bool]:
    return Command("UNLOCK", (name, token), _bool)


def lock_extend(name: Key, token: str, ttl: float) -> Command[bool]:
    return Command("LOCKEXTEND", (name, token, ttl_ms(ttl)), _bool)


def mget_versioned(keys: Sequence[Key]) -> Command[List[Optional[Tuple[Any, int]]]]:
    keys = tuple(keys)
    if not keys:
        return Command("PING", (), lambda r: [])
    return Command("MGETV", keys, lambda r: [None if e is None else (e[0], e[1]) for e in r])


def _versions(versions: Any) -> Tuple[Any, ...]:
    """WAITANYV's ``key version`` pairs from a mapping or an iterable of (key, version)."""
    items = versions.items() if isinstance(versions, Mapping) else versions
    pairs: List[Any] = []
    for key, version in items:
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise ValueError(f"version must be an int >= 0, got {version!r} for key {key!r}")
        pairs += [key, version]
    if not pairs:
        raise ValueError("waitany_versioned needs at least one key")
    return tuple(pairs)


def waitany_versioned(versions: Any, timeout: Optional[float] = None
                      ) -> Command[Optional[Tuple[Any, Any, int]]]:
    return Command("WAITANYV", (timeout_arg(timeout), *_versions(versions)),
                   lambda r: None if r is None else (r[0], r[1], r[2]), _wait(timeout))


def _seconds_arg(value: Any) -> float:
    """A blocking command's timeout argument as the server reads it (0: forever -> inf).
    Something the server will refuse counts as 0 s of waiting: the error comes back at once."""
    try:
        if isinstance(value, (bytes, bytearray)):
            value = value.decode()
        seconds = float(value)
    except (TypeError, ValueError, UnicodeDecodeError):
        return 0.0
    if seconds == 0:
        return math.inf
    return seconds if seconds > 0 and not math.isnan(seconds) else 0.0


def _arg_at(i: int, min_args: int) -> Callable[[Tuple[Any, ...]], Optional[float]]:
    return lambda args: _seconds_arg(args[i]) if len(args) >= min_args else None


#: The built-in commands that may block, and where their timeout argument is: what
#: ``execute()`` uses to run them like ``wait()``/``blpop()`` (on a connection of their own,
#: allowed that long). None: this form does not block (LOCK without a timeout).
BLOCKING_COMMANDS: Mapping[str, Callable[[Tuple[Any, ...]], Optional[float]]] = {
    "WAIT": _arg_at(1, 2),
    "BLPOP": _arg_at(-1, 2),
    "BRPOP": _arg_at(-1, 2),
    "MWAIT": _arg_at(0, 1),
    "WAITANY": _arg_at(0, 1),
    "WAITANYV": _arg_at(0, 1),
    "LOCK": lambda args: _seconds_arg(args[3]) if len(args) == 4 else None,
}


def execute(command: str, *args: Any, timeout: Optional[float] = None) -> Command[Any]:
    if timeout is not None:
        if isinstance(timeout, bool) or not timeout > 0:
            raise ValueError(f"timeout must be positive (math.inf: no limit), got {timeout!r}")
        return Command(command, args, _same, float(timeout))
    blocking = BLOCKING_COMMANDS.get(command.upper()) if isinstance(command, str) else None
    wait = blocking(args) if blocking is not None else None
    return Command(command, args, _same, wait)


def info() -> Command[Dict[str, Any]]:
    return Command("INFO", (), lambda r: {(k.decode() if isinstance(k, bytes) else k): v
                                          for k, v in r.items()})
