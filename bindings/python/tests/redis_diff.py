#!/usr/bin/env python3
"""Seeded differential testing of data-bridge-kv against Debian's redis-server, over raw RESP.

The same seeded random command sequence goes to both servers, one command at a time, and every
pair of replies is compared as a type-tagged tree (so `$-1` and `*-1` differ). Every so often,
and at the end, the whole keyspace (type, value, expiry) of both is compared too.

Exceptions to "exactly equal":
- TTL/PTTL (and the expiries in the state check) within 1 s / 1000 ms;
- KEYS replies are compared as sorted lists and SCAN as the set of keys a full iteration gives;
- an error is compared on its code (first word) and on its full text; a text-only mismatch is
  a divergence of its own kind ("text");
- divergences matched by a rule of ALLOWLIST (intended, documented behaviour) or KNOWN_BUGS
  (reported, not yet fixed) are counted, not failed. After a matched divergence the keys the
  command names are deleted on both servers (or the database re-selected), so that the two
  keyspaces agree again.

Any other divergence is a failure, reported with the seed, the index, the command, both replies,
and the sequence shrunk to a short one that still fails (bounded in replays and time).

As a script, for long local runs:

    python bindings/python/tests/redis_diff.py --seed 7 --ops 20000 [--proto 2|3|both]
        [--server PATH] [--redis-server PATH] [--shards 4]
"""
from __future__ import annotations

import argparse
import os
import random
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union

# A reply as a type-tagged tree: ("+", "OK"), ("-", "ERR ..."), (":", 5), ("$", b"..."),
# ("$", None) (null bulk), ("*", None) (null array), ("*", [replies]); RESP3: ("_", None),
# (",", "1.5"), ("#", True), ("(", big int), ("=", b"txt:..."), ("!", b"ERR ..."),
# ("%", [(key, value), ...]), ("~", [replies]), (">", [replies]). Attributes ("|") are skipped.
# The runner adds ("keys", sorted replies) and ("scan", sorted keys) for KEYS and SCAN.
Reply = Tuple[str, Any]
Address = Union[str, Tuple[str, int]]

ROOT = Path(__file__).resolve().parents[3]


# --------------------------------------------------------------------------------------------
# RESP client
# --------------------------------------------------------------------------------------------

class RespError(Exception):
    """A malformed reply, or the connection closed mid-reply."""


class RespConn:
    """One RESP connection, one request at a time: call() sends a multibulk, read() parses."""

    def __init__(self, address: Address, timeout: float = 10.0) -> None:
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        if family == socket.AF_INET:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self) -> None:
        self.sock.close()

    def call(self, *args: bytes) -> Reply:
        self.send(args)
        return self.read()

    def send(self, args: Sequence[bytes]) -> None:
        self.sock.sendall(encode(args))

    def _fill(self) -> None:
        if self.pos:
            del self.buf[:self.pos]
            self.pos = 0
        data = self.sock.recv(1 << 16)
        if not data:
            raise RespError("connection closed by the server")
        self.buf += data

    def _line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = bytes(self.buf[self.pos:end])
                self.pos = end + 2
                return line
            self._fill()

    def _exact(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise RespError("bulk not followed by CRLF")
        self.pos += n + 2
        return data

    def read(self) -> Reply:
        line = self._line()
        if not line:
            raise RespError("empty reply line")
        t, body = chr(line[0]), line[1:]
        if t in "+-":
            return (t, body.decode("utf-8", "replace"))
        if t in ":(":
            return (t, int(body))
        if t in "$!=":
            n = int(body)
            return (t, None) if n < 0 else (t, self._exact(n))
        if t in "*~>":
            n = int(body)
            return (t, None) if n < 0 else (t, [self.read() for _ in range(n)])
        if t in "%|":
            pairs = []
            for _ in range(int(body)):
                k = self.read()
                pairs.append((k, self.read()))
            return self.read() if t == "|" else ("%", pairs)
        if t == "_":
            return ("_", None)
        if t == ",":
            return (",", body.decode())
        if t == "#":
            return ("#", body == b"t")
        raise RespError(f"unknown reply type in {line[:40]!r}")


def encode(args: Sequence[bytes]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out += [b"$%d\r\n" % len(a), a, b"\r\n"]
    return b"".join(out)


def is_error(r: Reply) -> bool:
    return r[0] in ("-", "!")


def error_text(r: Reply) -> str:
    v = r[1]
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def error_code(r: Reply) -> str:
    return error_text(r).split(" ", 1)[0]


def show_arg(a: bytes) -> str:
    if len(a) > 40:
        return f"{show_arg(a[:16])}...({len(a)} bytes)"
    if a and all(33 <= c < 127 and c not in b"\"'\\" for c in a):
        return a.decode()
    return repr(a)[1:]  # b'..' -> '..'


def fmt_reply(r: Reply) -> str:
    t, v = r
    if t in ("+", "-"):
        return f"{t}{v}"
    if t in (":", "(", ","):
        return f"{t}{v}"
    if t == "#":
        return "#t" if v else "#f"
    if t == "_":
        return "_"
    if v is None:
        return f"{t}-1"
    if t in ("$", "=", "!"):
        return repr(v)
    if t == "%":
        return "%{" + ", ".join(f"{fmt_reply(k)}: {fmt_reply(x)}" for k, x in v) + "}"
    if t in ("keys", "scan"):
        return f"{t}[" + ", ".join(show_arg(k) if isinstance(k, bytes) else fmt_reply(k)
                                   for k in v) + "]"
    return t + "[" + ", ".join(fmt_reply(x) for x in v) + "]"


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------

class Proc:
    """A server process whose output is read until a line says it is ready, then drained."""

    def __init__(self, name: str, argv: List[str], ready: re.Pattern[str],
                 timeout: float = 30.0, cwd: Optional[str] = None) -> None:
        self.name = name
        self.lines: List[str] = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=cwd)
        assert self.proc.stdout is not None
        self.match = self._await(ready, timeout)
        self._drain = threading.Thread(target=self._drain_rest, daemon=True)
        self._drain.start()

    def _await(self, ready: re.Pattern[str], timeout: float) -> re.Match[str]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        pending = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self.stop()
                    raise RuntimeError(f"{self.name} not ready within {timeout} s:\n"
                                       + "\n".join(self.lines))
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    code = self.stop()
                    raise RuntimeError(f"{self.name} exited ({code}) before it was ready:\n"
                                       + "\n".join(self.lines))
                pending += chunk
                *done, pending = pending.split(b"\n")
                for raw in done:
                    line = raw.decode("utf-8", "replace")
                    self.lines.append(line)
                    m = ready.search(line)
                    if m:
                        if pending:
                            self.lines.append(pending.decode("utf-8", "replace"))
                        return m

    def _drain_rest(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def log(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_drain", None) is not None:
            self._drain.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


class ServerPair:
    """Debian's redis-server (on a Unix socket only, nothing on disk) and our server (on a free
    TCP port, memory only). stop() stops both; use it in a finally or a fixture's teardown."""

    def __init__(self, server_binary: str, redis_binary: str = "redis-server",
                 shards: int = 4) -> None:
        self.dir = tempfile.mkdtemp(prefix="dbkv-diff-")
        self.procs: List[Proc] = []
        try:
            sock = os.path.join(self.dir, "redis.sock")
            self.redis = Proc("redis-server", [
                redis_binary, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
                "--save", "", "--appendonly", "no", "--dir", self.dir, "--logfile", "",
                "--daemonize", "no", "--databases", "16"],
                re.compile(r"ready to accept connections"), cwd=self.dir)
            self.procs.append(self.redis)
            self.redis_addr: Address = sock
            self.ours = Proc("data-bridge-kv", [
                server_binary, "--bind", "127.0.0.1:0", "--http-bind", "none",
                "--shards", str(shards)],
                re.compile(r"listening on (\S+):(\d+)"))
            self.procs.append(self.ours)
            self.ours_addr: Address = (self.ours.match.group(1), int(self.ours.match.group(2)))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> Dict[str, Optional[int]]:
        """Stops both (SIGTERM); their exit codes by name."""
        codes = {p.name: p.stop() for p in reversed(self.procs)}
        self.procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)
        return codes


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Op:
    """One command. keys: those it names (deleted on both sides after a tolerated divergence).
    mode: "call" (compare the reply), "keys" (a list in no order), "pairs" (a map in no order),
    "scan" (iterate from cursor 0 to the end; args are SCAN's options after the cursor),
    "pipe" (the commands of batch sent at once, then their replies read)."""

    args: Tuple[bytes, ...]
    keys: Tuple[bytes, ...] = ()
    mode: str = "call"
    batch: Tuple[Op, ...] = ()

    @property
    def name(self) -> str:
        if self.mode in ("scan", "pipe"):
            return self.mode.upper()
        return self.args[0].decode("latin-1").upper()

    def __str__(self) -> str:
        if self.mode == "pipe":
            return "pipelined: " + " | ".join(str(op) for op in self.batch)
        shown = " ".join(show_arg(a) for a in self.args)
        if self.mode == "inline":
            return f"{shown} (as an inline command)"
        return f"SCAN 0.. {shown} (full iteration)" if self.mode == "scan" else shown


STR_KEYS = (b"s1", b"s2", b"n1", b"n2", b"x", b"y")
LIST_KEYS = (b"l1", b"l2", b"{t}a", b"{t}b", b"{t}c")
TAGGED = (b"{t}a", b"{t}b", b"{t}c")  # one shard: blocking pops need that
HASH_KEYS = (b"h1", b"h2", b"h3")
ALL_KEYS = STR_KEYS + LIST_KEYS + HASH_KEYS + (b"k\xff\x00", b"")
FIELDS = (b"f1", b"f2", b"f3", b"5", b"", b"\xff", b"a b")

SMALL_INTS = (b"0", b"1", b"-1", b"2", b"3", b"10", b"42", b"-7", b"100")
EDGE_INTS = (b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808",
             b"-9223372036854775809", b"18446744073709551616", b"007", b"+5", b" 3", b"3 ",
             b"-0", b"1e3", b"0x10", b"", b"1.5", b"abc", b"9223372036854775806",
             b"-9223372036854775807")
FLOATS = (b"1.5", b"-0.25", b"3.0e3", b"0.1", b"1e308", b"1e400", b"-1e400", b"inf", b"-inf",
          b"nan", b"1.", b".5", b"5e-324", b"10.50", b"1.5.5", b"0", b"-0.0", b"1e-20",
          b"17", b" 1.5", b"0x1p3", b"1,5")
WORDS = (b"foo", b"bar", b"", b"hello world", b"OK", b"\x00\xff\r\n", b"-ERR fake", b"$3",
         b"*1", b"nil", b"\xe2\x82\xac")
TTL_EDGE = (b"0", b"-1", b"-100", b"9223372036854775807", b"9223372036854775",
            b"9223372036854776", b"-9223372036854775808", b"abc", b"1.5", b"", b"+5", b"007",
            b"18446744073709551616")
EXAT_VALUES = (b"1", b"1000000000", b"4102444800", b"0", b"-5", b"abc", b"9223372036854775807")
PXAT_VALUES = (b"1", b"4102444800000", b"0", b"-1", b"9223372036854775807")
KEY_PATTERNS = (b"*", b"s*", b"l?", b"{t}*", b"[sn]1", b"*\xff*", b"\\{t\\}*", b"x", b"[^s]*",
                b"[a-", b"", b"?", b"*1", b"[l-n]*", b"\\", b"k\\\xff*")

# name -> (min, max) arguments after the name in Redis 7 (max None: any number).
ARITY: Dict[bytes, Tuple[int, Optional[int]]] = {
    b"GET": (1, 1), b"SET": (2, None), b"SETNX": (2, 2), b"SETEX": (3, 3), b"PSETEX": (3, 3),
    b"GETSET": (2, 2), b"GETDEL": (1, 1), b"INCR": (1, 1), b"DECR": (1, 1), b"INCRBY": (2, 2),
    b"DECRBY": (2, 2), b"INCRBYFLOAT": (2, 2), b"MGET": (1, None), b"MSET": (2, None),
    b"DEL": (1, None), b"UNLINK": (1, None), b"EXISTS": (1, None), b"TTL": (1, 1),
    b"PTTL": (1, 1), b"EXPIRE": (2, None), b"PEXPIRE": (2, None), b"PERSIST": (1, 1),
    b"TYPE": (1, 1), b"DBSIZE": (0, 0), b"KEYS": (1, 1), b"SCAN": (1, None),
    b"LPUSH": (2, None), b"RPUSH": (2, None), b"LPOP": (1, 2), b"RPOP": (1, 2),
    b"LRANGE": (3, 3), b"LLEN": (1, 1), b"BLPOP": (2, None), b"BRPOP": (2, None),
    b"PING": (0, 1), b"ECHO": (1, 1), b"SELECT": (1, 1), b"FLUSHDB": (0, None),
    b"APPEND": (2, 2), b"STRLEN": (1, 1), b"GETRANGE": (3, 3), b"SETRANGE": (3, 3),
    b"GETEX": (1, None), b"SETBIT": (3, 3), b"GETBIT": (2, 2), b"BITCOUNT": (1, None),
    b"EXPIREAT": (2, None), b"PEXPIREAT": (2, None), b"EXPIRETIME": (1, 1),
    b"PEXPIRETIME": (1, 1), b"TOUCH": (1, None), b"LINDEX": (2, 2), b"LSET": (3, 3),
    b"LINSERT": (4, 4), b"LREM": (3, 3), b"LTRIM": (3, 3), b"LPOS": (2, None),
    b"LPUSHX": (2, None), b"RPUSHX": (2, None), b"HSET": (3, None), b"HSETNX": (3, 3),
    b"HGET": (2, 2), b"HMGET": (2, None), b"HGETALL": (1, 1), b"HDEL": (2, None),
    b"HLEN": (1, 1), b"HEXISTS": (2, 2), b"HSTRLEN": (2, 2), b"HKEYS": (1, 1),
    b"HVALS": (1, 1), b"HINCRBY": (3, 3), b"HINCRBYFLOAT": (3, 3), b"HSCAN": (2, None),
    b"FLUSHALL": (0, None),
}


OTHER_NAMES = frozenset({"CLIENT", "CONFIG", "HELLO", "AUTH"})


class Gen:
    """Seeded command generator over a small keyspace shared between types."""

    WEIGHTS: Tuple[Tuple[str, float], ...] = (
        ("get", 8), ("set", 12), ("setnx", 2), ("setex", 2), ("psetex", 2), ("getset", 2),
        ("getdel", 2), ("incr", 5), ("decr", 3), ("incrby", 3), ("decrby", 2),
        ("incrbyfloat", 4), ("mget", 3), ("mset", 3), ("del", 3), ("unlink", 1), ("exists", 2),
        ("ttl", 3), ("pttl", 2), ("expire", 3), ("pexpire", 2), ("persist", 2), ("type", 2),
        ("dbsize", 1), ("keys", 1), ("scan", 1), ("scan_bad", 0.5), ("lpush", 5), ("rpush", 5),
        ("lpop", 4), ("rpop", 4), ("lrange", 4), ("llen", 2), ("blpop", 0.7), ("brpop", 0.7),
        ("ping", 1), ("echo", 1), ("flushdb", 0.2), ("select", 0.5), ("client", 0.5),
        ("config", 0.5), ("hello", 0.3), ("auth", 0.3), ("arity", 3), ("unknown", 0.5),
        ("pipe", 8),
        # Strings, key expiry, list edits, hashes (issue 16). Not OBJECT ENCODING: Redis's
        # answer depends on a value's history (an APPENDed string stays raw).
        ("append", 2), ("strlen", 1.5), ("getrange", 2), ("setrange", 2), ("getex", 2),
        ("setbit", 1.5), ("getbit", 1), ("bitcount", 1.5), ("expireat", 1.5), ("expiretime", 1.5),
        ("touch", 1), ("lindex", 2), ("lset", 1.5), ("linsert", 1.5), ("lrem", 1.5),
        ("ltrim", 1), ("lpos", 2), ("pushx", 1.5), ("hset", 6), ("hsetnx", 1.5), ("hget", 3),
        ("hmget", 2), ("hgetall", 2), ("hdel", 2), ("hlen", 1), ("hexists", 1),
        ("hstrlen", 1), ("hkeys", 1), ("hvals", 1), ("hincrby", 2), ("hincrbyfloat", 1.5),
        ("hscan", 1), ("flushall", 0.1),
    )
    # Not in pipelines: they change the database, need Redis's value before them (PREREAD),
    # or are not one request.
    NOT_PIPELINED = frozenset({"SELECT", "FLUSHDB", "FLUSHALL", "HELLO", "AUTH", "INCR", "DECR",
                               "INCRBY", "DECRBY", "SCAN", "PIPE"})

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.names = [n for n, _ in self.WEIGHTS]
        self.weights = [w for _, w in self.WEIGHTS]

    def ops(self, n: int) -> List[Op]:
        return [self.op() for _ in range(n)]

    def op(self) -> Op:
        name = self.r.choices(self.names, self.weights)[0]
        op: Op = getattr(self, "g_" + name)()
        if op.mode in ("call", "keys") and self.r.random() < 0.1:  # names ignore case
            first = op.args[0]
            mixed = bytes(c ^ 0x20 if 65 <= c <= 90 and self.r.random() < 0.5 else c
                          for c in first)
            op = Op((mixed, *op.args[1:]), op.keys, op.mode)
        if op.mode == "call" and op.args[0] and self.r.random() < 0.05:
            op = Op(op.args, op.keys, "inline")  # sent as one line of text, quoted as needed
        return op

    # -- pieces --

    def key(self, kind: str = "any") -> bytes:
        pool = {"str": STR_KEYS, "list": LIST_KEYS, "hash": HASH_KEYS}.get(kind, ALL_KEYS)
        if self.r.random() < 0.25:
            pool = ALL_KEYS
        return self.r.choice(pool)

    def keys(self, lo: int, hi: int, kind: str = "any") -> List[bytes]:
        if self.r.random() < 0.1:  # many keys, over every shard, with repeats
            hi = 30
        return [self.key(kind) for _ in range(self.r.randint(lo, hi))]

    def value(self) -> bytes:
        x = self.r.random()
        if x < 0.35:
            return self.r.choice(SMALL_INTS)
        if x < 0.42:
            return self.r.choice(EDGE_INTS)
        if x < 0.55:
            return self.r.choice(FLOATS)
        if x < 0.85:
            return self.r.choice(WORDS)
        if x < 0.97:
            return bytes(self.r.randrange(256) for _ in range(self.r.randint(0, 12)))
        return b"v" * self.r.randint(100, 3000)

    def int_arg(self, lo: int, hi: int, edge: float = 0.15) -> bytes:
        if self.r.random() < edge:
            return self.r.choice(EDGE_INTS + TTL_EDGE)
        return str(self.r.randint(lo, hi)).encode()

    def seconds(self) -> bytes:
        """An expiry in seconds: long enough not to run out during a run, or an edge case."""
        if self.r.random() < 0.2:
            return self.r.choice(TTL_EDGE)
        return str(self.r.randint(100, 100000)).encode()

    def millis(self) -> bytes:
        if self.r.random() < 0.2:
            return self.r.choice(TTL_EDGE)
        return str(self.r.randint(100000, 100000000)).encode()

    def cmd(self, *args: bytes, keys: Sequence[bytes] = ()) -> Op:
        return Op(tuple(args), tuple(keys))

    # -- strings --

    def g_get(self) -> Op:
        k = self.key("str")
        return self.cmd(b"GET", k, keys=[k])

    def g_set(self) -> Op:
        k = self.key("str")
        args = [b"SET", k, self.value()]
        n = self.r.choices([0, 1, 2, 3, 4], [4, 4, 3, 1, 0.3])[0]
        for _ in range(n):
            c = self.r.randrange(15)
            if c == 0:
                args += [b"EX", self.seconds()]
            elif c == 1:
                args += [b"PX", self.millis()]
            elif c == 2:
                args += [b"EXAT", self.r.choice(EXAT_VALUES)]
            elif c == 3:
                args += [b"PXAT", self.r.choice(PXAT_VALUES)]
            elif c in (4, 5):
                args.append(b"KEEPTTL")
            elif c in (6, 7):
                args.append(self.r.choice((b"NX", b"nx")))
            elif c in (8, 9):
                args.append(self.r.choice((b"XX", b"xX")))
            elif c in (10, 11):
                args.append(self.r.choice((b"GET", b"get")))
            elif c == 12:
                args.append(self.r.choice((b"FOO", b"EX", b"PX", b"", b"EXAT")))
            elif c == 13:  # long enough not to expire during a run (timing would decide)
                args += self.r.choice(([b"ex", b"100"], [b"px", b"100000"], [b"EX", b"-1"]))
            else:
                args += [b"EX", self.r.choice((b"10000", b"1000"))]
        return self.cmd(*args, keys=[k])

    def g_setnx(self) -> Op:
        k = self.key("str")
        return self.cmd(b"SETNX", k, self.value(), keys=[k])

    def g_setex(self) -> Op:
        k = self.key("str")
        return self.cmd(b"SETEX", k, self.seconds(), self.value(), keys=[k])

    def g_psetex(self) -> Op:
        k = self.key("str")
        return self.cmd(b"PSETEX", k, self.millis(), self.value(), keys=[k])

    def g_getset(self) -> Op:
        k = self.key("str")
        return self.cmd(b"GETSET", k, self.value(), keys=[k])

    def g_getdel(self) -> Op:
        k = self.key("str")
        return self.cmd(b"GETDEL", k, keys=[k])

    def _incr_like(self, name: bytes) -> Op:
        k = self.key("str")
        if self.r.random() < 0.08:  # Redis: wrong number of arguments
            return self.cmd(name, k, self.int_arg(-5, 5), keys=[k])
        return self.cmd(name, k, keys=[k])

    def g_incr(self) -> Op:
        return self._incr_like(b"INCR")

    def g_decr(self) -> Op:
        return self._incr_like(b"DECR")

    def g_incrby(self) -> Op:
        k = self.key("str")
        return self.cmd(b"INCRBY", k, self.int_arg(-1000, 1000, 0.3), keys=[k])

    def g_decrby(self) -> Op:
        k = self.key("str")
        return self.cmd(b"DECRBY", k, self.int_arg(-1000, 1000, 0.3), keys=[k])

    def g_incrbyfloat(self) -> Op:
        k = self.key("str")
        inc = (self.r.choice(FLOATS) if self.r.random() < 0.5
               else self.r.choice(SMALL_INTS + EDGE_INTS))
        return self.cmd(b"INCRBYFLOAT", k, inc, keys=[k])

    def g_mget(self) -> Op:
        ks = self.keys(1, 4, "str")
        return self.cmd(b"MGET", *ks, keys=ks)

    def g_mset(self) -> Op:
        args: List[bytes] = [b"MSET"]
        ks = self.keys(1, 3, "str")
        for k in ks:
            args += [k, self.value()]
        if self.r.random() < 0.1:
            args.pop()
        return self.cmd(*args, keys=ks)

    # -- keyspace --

    def _multi_key(self, name: bytes) -> Op:
        ks = self.keys(1, 4)
        return self.cmd(name, *ks, keys=ks)

    def g_del(self) -> Op:
        return self._multi_key(b"DEL")

    def g_unlink(self) -> Op:
        return self._multi_key(b"UNLINK")

    def g_exists(self) -> Op:
        return self._multi_key(b"EXISTS")

    def g_ttl(self) -> Op:
        k = self.key()
        return self.cmd(b"TTL", k, keys=[k])

    def g_pttl(self) -> Op:
        k = self.key()
        return self.cmd(b"PTTL", k, keys=[k])

    def _expire(self, name: bytes, t: bytes) -> Op:
        k = self.key()
        args = [name, k, t]
        for _ in range(self.r.choices([0, 1, 2], [5, 4, 1])[0]):
            args.append(self.r.choice((b"NX", b"XX", b"GT", b"LT", b"nx", b"gt", b"FOO", b"")))
        return self.cmd(*args, keys=[k])

    def g_expire(self) -> Op:
        return self._expire(b"EXPIRE", self.seconds())

    def g_pexpire(self) -> Op:
        return self._expire(b"PEXPIRE", self.millis())

    def g_persist(self) -> Op:
        k = self.key()
        return self.cmd(b"PERSIST", k, keys=[k])

    def g_type(self) -> Op:
        k = self.key()
        return self.cmd(b"TYPE", k, keys=[k])

    def g_dbsize(self) -> Op:
        return self.cmd(b"DBSIZE")

    def g_keys(self) -> Op:
        return Op((b"KEYS", self.r.choice(KEY_PATTERNS)), (), "keys")

    def g_scan(self) -> Op:
        opts: List[bytes] = []
        if self.r.random() < 0.5:
            opts += [b"MATCH", self.r.choice(KEY_PATTERNS)]
        if self.r.random() < 0.5:
            opts += [b"COUNT", self.r.choice((b"1", b"2", b"5", b"10", b"1000"))]
        if self.r.random() < 0.3:
            opts += [b"TYPE", self.r.choice((b"string", b"list", b"hash", b"LIST"))]
        return Op(tuple(opts), (), "scan")

    def g_scan_bad(self) -> Op:
        c = self.r.randrange(4)
        if c == 0:
            return self.cmd(b"SCAN", self.r.choice((b"abc", b"-1", b"1.5", b"",
                                                    b"18446744073709551616")))
        if c == 1:
            return self.cmd(b"SCAN", b"0", b"COUNT", self.r.choice((b"0", b"-1", b"abc", b"")))
        if c == 2:
            return self.cmd(b"SCAN", b"0", self.r.choice((b"MATCH", b"COUNT", b"TYPE", b"FOO")))
        return self.cmd(b"SCAN", b"0", b"FOO", b"bar")

    # -- lists --

    def _push(self, name: bytes) -> Op:
        k = self.key("list")
        vals = [self.value() for _ in range(self.r.randint(1, 4))]
        return self.cmd(name, k, *vals, keys=[k])

    def g_lpush(self) -> Op:
        return self._push(b"LPUSH")

    def g_rpush(self) -> Op:
        return self._push(b"RPUSH")

    def _pop(self, name: bytes) -> Op:
        k = self.key("list")
        if self.r.random() < 0.5:
            return self.cmd(name, k, keys=[k])
        count = self.r.choice((b"0", b"1", b"2", b"3", b"10", b"-1", b"abc", b"",
                               b"9223372036854775807", b"-9223372036854775808", b"1.5", b"+2"))
        return self.cmd(name, k, count, keys=[k])

    def g_lpop(self) -> Op:
        return self._pop(b"LPOP")

    def g_rpop(self) -> Op:
        return self._pop(b"RPOP")

    def g_lrange(self) -> Op:
        k = self.key("list")
        return self.cmd(b"LRANGE", k, self.int_arg(-6, 6), self.int_arg(-6, 6), keys=[k])

    def g_llen(self) -> Op:
        k = self.key("list")
        return self.cmd(b"LLEN", k, keys=[k])

    def _bpop(self, name: bytes) -> Op:
        ks = [self.r.choice(TAGGED) for _ in range(self.r.randint(1, 3))]
        if self.r.random() < 0.1:  # keys on different shards
            ks.append(self.r.choice(LIST_KEYS[:2]))
        t = self.r.choice((b"0.01", b"0.01", b"0.01", b"0.02", b"-1", b"abc", b"", b"1e-2"))
        return self.cmd(name, *ks, t, keys=ks)

    def g_blpop(self) -> Op:
        return self._bpop(b"BLPOP")

    def g_brpop(self) -> Op:
        return self._bpop(b"BRPOP")

    # -- more strings and key expiry --

    def g_append(self) -> Op:
        k = self.key("str")
        return self.cmd(b"APPEND", k, self.value(), keys=[k])

    def g_strlen(self) -> Op:
        k = self.key()
        return self.cmd(b"STRLEN", k, keys=[k])

    def g_getrange(self) -> Op:
        k = self.key("str")
        name = self.r.choice((b"GETRANGE", b"GETRANGE", b"SUBSTR"))
        return self.cmd(name, k, self.int_arg(-8, 8), self.int_arg(-8, 8), keys=[k])

    def g_setrange(self) -> Op:
        k = self.key("str")
        off = self.r.choice((b"0", b"1", b"3", b"7", b"20", b"-1", b"abc", b"536870912",
                             b"536870911"))
        return self.cmd(b"SETRANGE", k, off, self.r.choice((b"", b"xy", b"hello", b"\x00")),
                        keys=[k])

    def g_getex(self) -> Op:
        k = self.key("str")
        c = self.r.randrange(8)
        opts: Tuple[bytes, ...] = ()
        if c == 1:
            opts = (b"EX", self.seconds())
        elif c == 2:
            opts = (b"PX", self.millis())
        elif c == 3:
            opts = (b"EXAT", self.r.choice(EXAT_VALUES))
        elif c == 4:
            opts = (b"PXAT", self.r.choice(PXAT_VALUES))
        elif c == 5:
            opts = (self.r.choice((b"PERSIST", b"persist")),)
        elif c == 6:
            opts = self.r.choice(((b"EX",), (b"FOO",), (b"EX", b"100", b"PERSIST"),
                                  (b"PERSIST", b"PERSIST")))
        return self.cmd(b"GETEX", k, *opts, keys=[k])

    def g_setbit(self) -> Op:
        k = self.key("str")
        off = self.r.choice((b"0", b"1", b"7", b"8", b"13", b"100", b"-1", b"abc",
                             b"4294967295", b"4294967296"))
        bit = self.r.choice((b"0", b"1", b"1", b"2", b"-1", b"x"))
        if off == b"4294967295" and bit in (b"0", b"1"):
            off = b"4000"  # not a 512 MiB string in each server
        return self.cmd(b"SETBIT", k, off, bit, keys=[k])

    def g_getbit(self) -> Op:
        k = self.key("str")
        off = self.r.choice((b"0", b"1", b"7", b"8", b"13", b"100", b"-1", b"abc", b"4294967296"))
        return self.cmd(b"GETBIT", k, off, keys=[k])

    def g_bitcount(self) -> Op:
        k = self.key("str")
        c = self.r.randrange(5)
        if c == 0:
            return self.cmd(b"BITCOUNT", k, keys=[k])
        args = [b"BITCOUNT", k, self.int_arg(-10, 10), self.int_arg(-10, 10)]
        if c == 2:
            args.append(self.r.choice((b"BIT", b"BYTE", b"bit", b"FOO")))
        elif c == 3:
            args = args[:3]
        return self.cmd(*args, keys=[k])

    def g_expireat(self) -> Op:
        k = self.key()
        name = self.r.choice((b"EXPIREAT", b"PEXPIREAT"))
        t = self.r.choice(EXAT_VALUES if name == b"EXPIREAT" else PXAT_VALUES)
        args = [name, k, t]
        for _ in range(self.r.choices([0, 1, 2], [5, 4, 1])[0]):
            args.append(self.r.choice((b"NX", b"XX", b"GT", b"LT", b"FOO")))
        return self.cmd(*args, keys=[k])

    def g_expiretime(self) -> Op:
        k = self.key()
        return self.cmd(self.r.choice((b"EXPIRETIME", b"PEXPIRETIME")), k, keys=[k])

    def g_touch(self) -> Op:
        return self._multi_key(b"TOUCH")

    def g_flushall(self) -> Op:
        return self.cmd(b"FLUSHALL", *self.r.choice(((), (b"ASYNC",), (b"SYNC",), (b"FOO",))))

    # -- more lists --

    def g_lindex(self) -> Op:
        k = self.key("list")
        return self.cmd(b"LINDEX", k, self.int_arg(-6, 6), keys=[k])

    def g_lset(self) -> Op:
        k = self.key("list")
        return self.cmd(b"LSET", k, self.int_arg(-6, 6), self.value(), keys=[k])

    def g_linsert(self) -> Op:
        k = self.key("list")
        where = self.r.choice((b"BEFORE", b"AFTER", b"after", b"MIDDLE"))
        return self.cmd(b"LINSERT", k, where, self.pivot(), self.value(), keys=[k])

    def pivot(self) -> bytes:
        return self.r.choice(SMALL_INTS[:4] + WORDS[:3])

    def g_lrem(self) -> Op:
        k = self.key("list")
        return self.cmd(b"LREM", k, self.r.choice((b"0", b"1", b"-1", b"2", b"-2", b"x")),
                        self.pivot(), keys=[k])

    def g_ltrim(self) -> Op:
        k = self.key("list")
        return self.cmd(b"LTRIM", k, self.int_arg(-6, 6), self.int_arg(-6, 6), keys=[k])

    def g_lpos(self) -> Op:
        k = self.key("list")
        args = [b"LPOS", k, self.pivot()]
        for _ in range(self.r.choices([0, 1, 2], [4, 4, 2])[0]):
            opt = self.r.choice((b"RANK", b"COUNT", b"MAXLEN", b"FOO"))
            args += [opt, self.r.choice((b"0", b"1", b"2", b"-1", b"-2", b"3", b"x"))]
        if self.r.random() < 0.05:
            args.append(b"RANK")
        return self.cmd(*args, keys=[k])

    def g_pushx(self) -> Op:
        k = self.key("list")
        vals = [self.value() for _ in range(self.r.randint(1, 3))]
        return self.cmd(self.r.choice((b"LPUSHX", b"RPUSHX")), k, *vals, keys=[k])

    # -- hashes --

    def field(self) -> bytes:
        return self.r.choice(FIELDS)

    def g_hset(self) -> Op:
        k = self.key("hash")
        args = [self.r.choice((b"HSET", b"HSET", b"HMSET")), k]
        for _ in range(self.r.randint(1, 3)):
            args += [self.field(), self.value()]
        if self.r.random() < 0.05:
            args.pop()
        return self.cmd(*args, keys=[k])

    def g_hsetnx(self) -> Op:
        k = self.key("hash")
        return self.cmd(b"HSETNX", k, self.field(), self.value(), keys=[k])

    def g_hget(self) -> Op:
        k = self.key("hash")
        return self.cmd(b"HGET", k, self.field(), keys=[k])

    def g_hmget(self) -> Op:
        k = self.key("hash")
        return self.cmd(b"HMGET", k, *[self.field() for _ in range(self.r.randint(1, 4))],
                        keys=[k])

    def g_hgetall(self) -> Op:
        k = self.key("hash")
        return Op((b"HGETALL", k), (k,), "pairs")

    def g_hdel(self) -> Op:
        k = self.key("hash")
        return self.cmd(b"HDEL", k, *[self.field() for _ in range(self.r.randint(1, 3))],
                        keys=[k])

    def _hash_one(self, name: bytes, with_field: bool) -> Op:
        k = self.key("hash")
        return self.cmd(name, k, self.field(), keys=[k]) if with_field else self.cmd(
            name, k, keys=[k])

    def g_hlen(self) -> Op:
        return self._hash_one(b"HLEN", False)

    def g_hexists(self) -> Op:
        return self._hash_one(b"HEXISTS", True)

    def g_hstrlen(self) -> Op:
        return self._hash_one(b"HSTRLEN", True)

    def g_hkeys(self) -> Op:
        k = self.key("hash")
        return Op((b"HKEYS", k), (k,), "keys")

    def g_hvals(self) -> Op:
        k = self.key("hash")
        return Op((b"HVALS", k), (k,), "keys")

    def g_hincrby(self) -> Op:
        k = self.key("hash")
        return self.cmd(b"HINCRBY", k, self.field(), self.int_arg(-1000, 1000, 0.3), keys=[k])

    def g_hincrbyfloat(self) -> Op:
        k = self.key("hash")
        inc = (self.r.choice(FLOATS) if self.r.random() < 0.5
               else self.r.choice(SMALL_INTS + EDGE_INTS))
        return self.cmd(b"HINCRBYFLOAT", k, self.field(), inc, keys=[k])

    def g_hscan(self) -> Op:
        k = self.key("hash")
        args = [b"HSCAN", k, self.r.choice((b"0", b"0", b"x", b"-1"))]
        if self.r.random() < 0.4:
            args += [b"MATCH", self.r.choice((b"f*", b"*", b"?", b"[a-f]1", b"x"))]
        if self.r.random() < 0.3:
            args += [b"COUNT", self.r.choice((b"1", b"10", b"0", b"x"))]
        return Op(tuple(args), (k,), "hscan")

    # -- connection / server --

    def g_ping(self) -> Op:
        return self.cmd(b"PING", self.value()) if self.r.random() < 0.5 else self.cmd(b"PING")

    def g_echo(self) -> Op:
        return self.cmd(b"ECHO", self.value())

    def g_flushdb(self) -> Op:
        args = self.r.choice(((), (), (b"ASYNC",), (b"SYNC",), (b"async",), (b"FOO",),
                              (b"ASYNC", b"SYNC")))
        return self.cmd(b"FLUSHDB", *args)

    def g_select(self) -> Op:
        db = self.r.choice((b"0", b"1", b"0", b"1", b"-1", b"16", b"abc", b"1.5", b"", b"01"))
        return self.cmd(b"SELECT", db)

    def g_client(self) -> Op:
        c = self.r.randrange(4)
        if c == 0:
            return self.cmd(b"CLIENT", b"GETNAME")
        if c == 1:
            return self.cmd(b"CLIENT", b"SETNAME",
                            self.r.choice((b"diff", b"", b"a b", b"x\n", b"name-1")))
        if c == 2:
            return self.cmd(b"CLIENT", b"SETINFO", self.r.choice((b"LIB-NAME", b"lib-ver",
                                                                  b"FOO")), b"x")
        return self.cmd(b"CLIENT", self.r.choice((b"NOSUCH", b"GETNAME")), b"extra")

    def g_config(self) -> Op:
        params = self.r.sample((b"save", b"appendonly", b"databases", b"maxmemory-policy",
                                b"maxmemory", b"nosuchparam", b"appendfsync"),
                               self.r.randint(1, 2))
        return Op((b"CONFIG", b"GET", *params), (), "pairs")

    def g_pipe(self) -> Op:
        batch: List[Op] = []
        n = self.r.randint(2, 8)
        for _ in range(100):
            if len(batch) >= n:
                break
            op = self.op()
            if op.name not in self.NOT_PIPELINED:
                batch.append(op)
        return Op((), tuple(k for op in batch for k in op.keys), "pipe", tuple(batch))

    def g_hello(self) -> Op:
        args = self.r.choice(((), (b"2",), (b"3",), (b"4",), (b"1",), (b"abc",), (b"3", b"FOO"),
                              (b"2", b"SETNAME", b"diff"), (b"3", b"SETNAME", b"a b"),
                              (b"3", b"AUTH", b"default", b"pw"), (b"2", b"AUTH", b"default")))
        return Op((b"HELLO", *args), (), "hello")

    def g_auth(self) -> Op:
        # No refused password (another user): ours delays those replies, up to 4 s.
        args = self.r.choice(((b"pw",), (b"default", b"pw"), (), (b"a", b"b", b"c")))
        return self.cmd(b"AUTH", *args)

    def g_arity(self) -> Op:
        name = self.r.choice(sorted(ARITY))
        lo, hi = ARITY[name]
        choices = list(range(0, lo))
        if hi is not None:
            choices += [hi + 1, hi + 2]
        if not choices:
            return self.g_unknown()
        args = [name] + [self.key() if i == 0 else self.value()
                         for i in range(self.r.choice(choices))]
        return self.cmd(*args, keys=args[1:2])

    def g_unknown(self) -> Op:
        name = self.r.choice((b"NOSUCHCMD", b"foo", b"x" * 70, b"GETT", b"\xff"))
        args = [name] + [self.value() for _ in range(self.r.randint(0, 2))]
        return self.cmd(*args)


# --------------------------------------------------------------------------------------------
# Comparison and rules
# --------------------------------------------------------------------------------------------

def compare(op: Op, r: Reply, o: Reply) -> str:
    """"same", "text" (the same error code, other text) or "diff"."""
    if is_error(r) and is_error(o):
        if error_text(r) == error_text(o):
            return "same"
        return "text" if error_code(r) == error_code(o) else "diff"
    if op.name in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME") and r[0] == o[0] == ":":
        a, b = r[1], o[1]
        if a < 0 or b < 0:
            return "same" if a == b else "diff"
        return "same" if abs(a - b) <= (1 if op.name in ("TTL", "EXPIRETIME") else 1000) else "diff"
    return "same" if r == o else "diff"


@dataclass
class Ctx:
    """What a rule sees: the command, both replies, the outcome ("diff" or "text"); for the
    commands in PREREAD, Redis's GET of the first key just before the command ran; for a
    command in a pipeline, the commands after it there."""

    op: Op
    redis: Reply
    ours: Reply
    outcome: str
    before: Optional[Reply] = None
    later: Tuple[Op, ...] = ()

    @property
    def name(self) -> str:
        return self.op.name

    def arg(self, i: int) -> bytes:
        return self.op.args[i] if i < len(self.op.args) else b""

    def redis_err(self, text: str) -> bool:
        return is_error(self.redis) and error_text(self.redis).startswith(text)

    def ours_err(self, text: str) -> bool:
        return is_error(self.ours) and error_text(self.ours).startswith(text)


PREREAD = frozenset({"INCR", "DECR", "INCRBY", "DECRBY", "INCRBYFLOAT"})


@dataclass
class Rule:
    name: str
    reason: str
    match: Callable[[Ctx], bool]
    # A command sequence on an empty keyspace whose last command shows the divergence; the
    # tests check that it still does (so that a fixed bug gets its KNOWN_BUGS entry removed).
    repro: Tuple[Tuple[bytes, ...], ...] = ()


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
ARITY_ERR = "ERR wrong number of arguments"
NOT_INT = "ERR value is not an integer or out of range"
DECIMAL_TEXT = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
CANONICAL_INT = re.compile(rb"0|-?[1-9]\d*")


def _is_list_reply(r: Reply) -> bool:
    return r[0] in ("*", "~") and r[1] is not None


def _is_null(r: Reply) -> bool:
    return r[0] in ("$", "*", "_") and r[1] is None


def _set_repeats_option(args: Sequence[bytes]) -> bool:
    """Whether SET's options (after key and value) name one option twice, as Redis allows:
    a flag repeated, or an expiry word repeated (the last one wins)."""
    seen: Set[bytes] = set()
    i = 3
    while i < len(args):
        word = args[i].upper()
        if word in seen:
            return True
        seen.add(word)
        i += 2 if word in (b"EX", b"PX", b"EXAT", b"PXAT") else 1
    return False


def _holds_decimal_text(c: Ctx) -> bool:
    """Redis's value of the key before the command was a string holding a non-integer
    decimal (which our INCR family takes as a number, as documented)."""
    if c.before is None or c.before[0] != "$" or not isinstance(c.before[1], bytes):
        return False
    v = c.before[1]
    if CANONICAL_INT.fullmatch(v):  # beyond int64 (Redis refuses it), a Decimal for us
        return not -(2**63) <= int(v) < 2**63
    return DECIMAL_TEXT.fullmatch(v) is not None


# Intended divergences: typed-value behaviour and extensions documented in protocol/PROTOCOL.md.
ALLOWLIST: List[Rule] = [
    Rule("GET/GETDEL/GETSET/SET..GET of a list or a hash answers it",
         "PROTOCOL.md 'Values, both ways' and 'Known differences': typed values; these answer a "
         "list (or a hash: a map) where Redis answers WRONGTYPE (and GETSET/SET..GET then "
         "overwrite it)",
         lambda c: c.name in ("GET", "GETDEL", "GETSET", "SET")
         and c.redis_err(WRONGTYPE) and (_is_list_reply(c.ours) or c.ours[0] == "%"),
         ((b"RPUSH", b"l", b"a"), (b"GET", b"l"))),
    Rule("MGET of a list answers the list",
         "PROTOCOL.md 'Values, both ways': MGET is a stored-value reply, a list in it an array "
         "(Redis: nil for a non-string)",
         lambda c: c.name == "MGET" and c.redis[0] == c.ours[0] and c.redis[1] is not None
         and c.ours[1] is not None and len(c.redis[1]) == len(c.ours[1])
         and all(a == b or (_is_null(a) and (_is_list_reply(b) or b[0] == "%"))
                 for a, b in zip(c.redis[1], c.ours[1])),
         ((b"RPUSH", b"l", b"a"), (b"MGET", b"l"))),
    Rule("INCR/DECR take an optional increment",
         "PROTOCOL.md 'INCR key [by]': the binary protocol's opcode takes `by`, on RESP too "
         "(Redis: arity error)",
         lambda c: c.name in ("INCR", "DECR") and len(c.op.args) == 3
         and c.redis_err(ARITY_ERR),
         ((b"INCR", b"n", b"5"),)),
    Rule("INCR/INCRBY/DECR/DECRBY of a string holding a decimal",
         "PROTOCOL.md 'INCR' and 'Known differences': text holding a decimal (or an integer "
         "beyond int64) counts as that Decimal, added exactly (result, or a decimal OVERFLOW), "
         "where Redis answers 'value is not an integer'",
         lambda c: c.name in ("INCR", "DECR", "INCRBY", "DECRBY") and c.redis_err(NOT_INT)
         and _holds_decimal_text(c) and (c.ours[0] == "$" or c.ours_err("ERR decimal")),
         ((b"SET", b"n", b"1.5"), (b"INCR", b"n"))),
    Rule("BLPOP/BRPOP keys must share a shard",
         "PROTOCOL.md 'Keys': blocking pops over keys of several shards answer CROSSSLOT",
         lambda c: c.name in ("BLPOP", "BRPOP") and c.ours_err("CROSSSLOT"),
         ((b"BLPOP", b"a", b"b", b"c", b"d", b"e", b"0.01"),)),
    Rule("DBSIZE after a write with an expiry already past",
         "SET ... EXAT/PXAT <past> (and EXPIRE <= 0) delete the key at once, as PROTOCOL.md "
         "says; Redis 7.0 stores it expired and DBSIZE counts it until it is reclaimed (the "
         "state check, through KEYS, still compares the live keys)",
         lambda c: c.name == "DBSIZE" and c.redis[0] == c.ours[0] == ":"
         and c.ours[1] < c.redis[1],
         ((b"SET", b"k", b"v", b"EXAT", b"1"), (b"DBSIZE",))),
    Rule("CONFIG GET appendfsync is 'no'",
         "PROTOCOL.md 'CONFIG GET': it shows our server's settings; memory only (no --data-dir) "
         "nothing is synced, so 'no' (Redis: its default, 'everysec')",
         lambda c: c.name == "CONFIG" and without_pair(c.redis, b"appendfsync")
         == without_pair(c.ours, b"appendfsync"),
         ((b"CONFIG", b"GET", b"appendfsync"),)),
    Rule("CLIENT SETINFO exists",
         "PROTOCOL.md 'CLIENT': SETINFO (Redis 7.2's, which redis-py sends) is accepted; Redis "
         "7.0 answers 'ERR unknown subcommand'",
         lambda c: c.name == "CLIENT" and c.arg(1).upper() == b"SETINFO"
         and c.redis_err("ERR unknown subcommand 'SETINFO'"),
         ((b"CLIENT", b"SETINFO", b"LIB-NAME", b"x"),)),
    Rule("Pipelined commands after a blocked BLPOP/BRPOP run while it waits",
         "PROTOCOL.md 'Blocking commands': requests after a blocked command are read and run, "
         "so a later write in the same pipeline wakes it (an element, or WRONGTYPE); Redis "
         "runs them only after it times out (nil)",
         lambda c: c.name in ("BLPOP", "BRPOP") and _is_null(c.redis)
         and any(set(c.op.keys) & set(op.keys) for op in c.later),
         ()),
    Rule("One SCAN step, or HSCAN from a cursor no scan gave",
         "PROTOCOL.md 'SCAN' and 'HSCAN': a cursor is read as Redis reads it ('' is 0, '-1' "
         "wraps), but what one step returns depends on each server's table (full iterations "
         "are compared as sets); Redis's scan from 2^64-1 visits some of its buckets, ours "
         "starts past the end, or gives a small hash whole",
         lambda c: not is_error(c.redis) and not is_error(c.ours) and (
             (c.name == "SCAN" and c.op.mode != "scan")
             or (c.name == "HSCAN" and c.arg(2) not in (b"0", b""))),
         ((b"SET", b"a", b"1"), (b"SCAN", b"-1"))),
    Rule("SELECT of a non-number or a number >= 16 selects a namespace",
         "PROTOCOL.md 'SELECT db': databases are namespaces, any n >= 1 or a name is accepted "
         "(Redis: ERR DB index is out of range / not an integer)",
         lambda c: c.name == "SELECT" and c.ours == ("+", "OK") and is_error(c.redis),
         ((b"SELECT", b"16"),)),
]

# Divergences that are bugs: reported, tolerated by the comparison until fixed.
KNOWN_BUGS: List[Rule] = [
    Rule("LPOP/RPOP count not an integer: error text",
         "Redis: 'ERR value is out of range, must be positive' for any bad count (abc, 1.5, +2); "
         "ours: 'ERR value is not an integer or out of range'",
         lambda c: c.name in ("LPOP", "RPOP") and c.outcome == "text"
         and c.redis_err("ERR value is out of range, must be positive") and c.ours_err(NOT_INT),
         ((b"LPOP", b"l", b"abc"),)),
    Rule("SET with a repeated option",
         "Redis accepts an option twice (NX NX; EX 1 EX 100: the last expiry wins, its value "
         "alone is checked); ours answers 'ERR syntax error' (or checks the earlier expiry)",
         lambda c: c.name == "SET" and len(c.op.args) <= 9 and _set_repeats_option(c.op.args)
         and (c.ours_err("ERR syntax error") or c.ours_err("ERR invalid expire time")),
         ((b"SET", b"k", b"v", b"NX", b"NX"),)),
    Rule("SET with more than 7 arguments",
         "ours: 'ERR wrong number of arguments' (max 7); Redis parses them (OK for e.g. "
         "NX NX NX NX NX NX, else 'ERR syntax error')",
         lambda c: c.name == "SET" and len(c.op.args) > 8 and c.ours_err(ARITY_ERR),
         ((b"SET", b"k", b"v", b"NX", b"NX", b"NX", b"NX", b"NX", b"NX"),)),
    Rule("SET error precedence: syntax before expire time",
         "Redis parses every option before it checks the expiry value: a bad word anywhere is "
         "'ERR syntax error'; ours reports the bad time first ('invalid expire time')",
         lambda c: c.name == "SET" and c.outcome == "text" and c.redis_err("ERR syntax error")
         and c.ours_err("ERR invalid expire time"),
         ((b"SET", b"k", b"v", b"EX", b"0", b"FOO"),)),
    Rule("SET EX/PX/EXAT/PXAT with a non-integer: error text",
         "Redis: 'ERR value is not an integer or out of range' (abc, 1.5, +5, 007, empty); "
         "ours: 'ERR invalid expire time in 'set' command' (as PROTOCOL.md says)",
         lambda c: c.name == "SET" and c.outcome == "text" and c.redis_err(NOT_INT)
         and c.ours_err("ERR invalid expire time"),
         ((b"SET", b"k", b"v", b"EX", b"abc"),)),
    Rule("INCRBYFLOAT on a non-string with a bad increment",
         "Redis checks the key's type first (WRONGTYPE); ours the increment first ('ERR value is "
         "not a valid float')",
         lambda c: c.name == "INCRBYFLOAT" and c.redis_err(WRONGTYPE)
         and c.ours_err("ERR value is not a valid float"),
         ((b"RPUSH", b"l", b"a"), (b"INCRBYFLOAT", b"l", b"abc"))),
    Rule("FLUSHDB with two or more arguments: error text",
         "Redis: 'ERR syntax error'; ours: 'ERR wrong number of arguments for 'flushdb' command'",
         lambda c: c.name == "FLUSHDB" and c.outcome == "text"
         and c.redis_err("ERR syntax error") and c.ours_err(ARITY_ERR),
         ((b"FLUSHDB", b"ASYNC", b"SYNC"),)),
    Rule("Unknown command: error text",
         "Redis: \"ERR unknown command '<name, up to 128 bytes>', with args beginning with: "
         "'<arg>' ...\"; ours: \"ERR unknown command '<name, up to 64 bytes>'\"",
         lambda c: c.outcome == "text" and c.redis_err("ERR unknown command")
         and c.ours_err("ERR unknown command"),
         ((b"NOSUCHCMD", b"a"),)),
    Rule("CLIENT subcommand with extra arguments: error text",
         "Redis: \"ERR wrong number of arguments for 'client|getname' command\"; ours: "
         "\"ERR unknown subcommand 'GETNAME'. Try CLIENT HELP.\"",
         lambda c: c.name == "CLIENT" and c.outcome == "text"
         and c.redis_err("ERR wrong number of arguments for 'client|")
         and c.ours_err("ERR unknown subcommand"),
         ((b"CLIENT", b"GETNAME", b"extra"),)),
    Rule("AUTH default <password> on a server without a password",
         "Redis: OK (the default user has nopass: any password is accepted), for HELLO ... AUTH "
         "default <pw> too; ours: 'ERR AUTH <password> called without any password configured "
         "for the default user...'",
         lambda c: c.name in ("AUTH", "HELLO") and not is_error(c.redis)
         and c.ours_err("ERR AUTH <password> called without any password configured"),
         ((b"AUTH", b"default", b"pw"),)),
    Rule("AUTH with three or more arguments: error text",
         "Redis: 'ERR syntax error'; ours: \"ERR wrong number of arguments for 'auth' command\"",
         lambda c: c.name == "AUTH" and c.outcome == "text" and c.redis_err("ERR syntax error")
         and c.ours_err(ARITY_ERR),
         ((b"AUTH", b"a", b"b", b"c"),)),
    Rule("HELLO with an unsupported protocol version: error code",
         "Redis: '-NOPROTO unsupported protocol version'; ours: '-ERR unsupported protocol "
         "version' (as PROTOCOL.md says)",
         lambda c: c.name == "HELLO" and c.redis_err("NOPROTO")
         and c.ours_err("ERR unsupported protocol version"),
         ((b"HELLO", b"4"),)),
    Rule("HELLO with a bad option: error text",
         "Redis: \"ERR Syntax error in HELLO option '<opt>'\" (capital S); ours: 'syntax error' "
         "(as PROTOCOL.md says)",
         lambda c: c.name == "HELLO" and c.outcome == "text"
         and c.redis_err("ERR Syntax error in HELLO option")
         and c.ours_err("ERR syntax error in HELLO option"),
         ((b"HELLO", b"3", b"FOO"),)),
    Rule("BLPOP/BRPOP bad timeout: error text",
         "Redis: 'ERR timeout is negative' / 'ERR timeout is not a float or out of range'; ours: "
         "'ERR timeout is not a number of seconds >= 0'",
         lambda c: c.name in ("BLPOP", "BRPOP") and c.outcome == "text"
         and c.redis_err("ERR timeout is") and c.ours_err("ERR timeout is not a number"),
         ((b"BLPOP", b"l", b"-1"),)),
]


def classify(ctx: Ctx) -> Optional[Tuple[str, Rule]]:
    for r in ALLOWLIST:
        if r.match(ctx):
            return ("allowed", r)
    for r in KNOWN_BUGS:
        if r.match(ctx):
            return ("known-bug", r)
    return None


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------

@dataclass
class Divergence:
    seed: int
    proto: int
    index: int
    op: Op
    redis: Reply
    ours: Reply
    outcome: str  # "diff", "text", "state"
    verdict: Optional[Tuple[str, Rule]] = None
    shrunk: Optional[List[Op]] = None
    pipeline: Optional[Op] = None  # the pipeline op was in, if any

    def signature(self) -> Tuple[str, ...]:
        def shape(r: Reply) -> str:  # the type, or an error's text without its numbers
            return re.sub(r"\d+", "N", error_text(r))[:48] if is_error(r) else r[0]
        return (self.op.name, self.outcome, shape(self.redis), shape(self.ours))

    def describe(self) -> str:
        where = "keyspace after op" if self.outcome == "state" else "op"
        lines = [f"seed {self.seed}, RESP{self.proto}, {where} #{self.index} ({self.outcome}): "
                 f"{self.op}"]
        if self.pipeline is not None:
            lines.append(f"  in {self.pipeline}")
        lines.append(f"  redis: {fmt_reply(self.redis)[:600]}")
        lines.append(f"  ours:  {fmt_reply(self.ours)[:600]}")
        if self.shrunk is not None:
            lines.append(f"  shortest failing sequence found ({len(self.shrunk)} commands, "
                         "on an empty keyspace):")
            lines += [f"    {op}" for op in self.shrunk]
        return "\n".join(lines)


@dataclass
class RunResult:
    seed: int
    proto: int
    compared: int = 0
    divergences: List[Divergence] = field(default_factory=list)
    by_name: Dict[str, int] = field(default_factory=dict)

    def count(self, op: Op) -> None:
        self.compared += 1
        name = op.name if op.name.encode() in ARITY or op.name in OTHER_NAMES else "(unknown)"
        self.by_name[name] = self.by_name.get(name, 0) + 1

    @property
    def failures(self) -> List[Divergence]:
        return [d for d in self.divergences if d.verdict is None]

    def tally(self) -> Dict[str, int]:
        out: Dict[str, int] = {}
        for d in self.divergences:
            k = f"{d.verdict[0]}: {d.verdict[1].name}" if d.verdict else f"UNEXPLAINED {d.outcome}"
            out[k] = out.get(k, 0) + 1
        return out


Snapshot = Dict[bytes, Tuple[str, Reply, int]]


class Session:
    """A connection to each server, in RESP2 or RESP3, on an emptied keyspace."""

    def __init__(self, servers: ServerPair, proto: int) -> None:
        self.proto = proto
        self.redis = RespConn(servers.redis_addr)
        try:
            self.ours = RespConn(servers.ours_addr)
        except BaseException:
            self.redis.close()
            raise
        self.db = b"0"
        for conn in (self.redis, self.ours):
            for db in (b"1", b"0"):
                for cmd in ((b"SELECT", db), (b"FLUSHDB",)):
                    r = conn.call(*cmd)
                    assert r == ("+", "OK"), (cmd, r)
            if proto == 3:
                r = conn.call(b"HELLO", b"3")
                assert r[0] == "%", f"HELLO 3: {fmt_reply(r)}"

    def close(self) -> None:
        self.redis.close()
        self.ours.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, conn: RespConn, op: Op) -> Reply:
        if op.mode == "scan":
            return scan_all(conn, op.args)
        conn.sock.sendall(request(op))
        return self.normalize(op, conn.read())

    def pipeline(self, conn: RespConn, ops: Sequence[Op]) -> List[Reply]:
        conn.sock.sendall(b"".join(request(op) for op in ops))
        return [self.normalize(op, conn.read()) for op in ops]

    def normalize(self, op: Op, r: Reply) -> Reply:
        if op.mode == "keys" and r[0] in ("*", "~") and r[1] is not None:
            return ("keys", sorted(r[1], key=repr))
        if op.mode == "pairs":  # a map in no particular order (RESP2: flat)
            return sort_pairs(r)
        if op.mode == "hscan" and r[0] == "*" and r[1] is not None and len(r[1]) == 2:
            return ("*", [r[1][0], sort_pairs(r[1][1])])  # a hash's order is Redis's encoding's
        if op.mode == "hello" and not is_error(r):  # servers differ: compare the protocol
            pairs = r[1] if r[0] == "%" else list(zip(r[1][::2], r[1][1::2]))
            return ("hello", [v for k, v in pairs if k[1] == b"proto"])
        return r

    def resync(self, op: Op) -> None:
        """After a tolerated divergence: make the two keyspaces agree again."""
        name = op.name
        if name == "SELECT":
            for conn in (self.redis, self.ours):
                conn.call(b"SELECT", self.db)
        elif name in ("HELLO", "AUTH"):
            for conn in (self.redis, self.ours):
                conn.call(b"HELLO", b"%d" % self.proto)
        elif name in ("FLUSHDB", "FLUSHALL"):
            for conn in (self.redis, self.ours):
                conn.call(b"FLUSHDB")
        elif op.keys:
            for conn in (self.redis, self.ours):
                conn.call(b"DEL", *op.keys)

    def snapshot(self, conn: RespConn) -> Snapshot:
        r = conn.call(b"KEYS", b"*")
        assert r[0] == "*" and r[1] is not None, fmt_reply(r)
        out: Snapshot = {}
        for k in r[1]:
            key = k[1]
            t = conn.call(b"TYPE", key)
            typ = str(t[1])
            if typ == "list":
                v = conn.call(b"LRANGE", key, b"0", b"-1")
            elif typ == "hash":
                v = sort_pairs(conn.call(b"HGETALL", key))
            else:
                v = conn.call(b"GET", key)
            p = conn.call(b"PTTL", key)
            out[key] = (typ, v, int(p[1]) if p[0] == ":" else -3)
        return out

    def state_diff(self) -> Optional[Tuple[Reply, Reply]]:
        """None if both keyspaces hold the same keys, types, values and (±1 s) expiries."""
        a, b = self.snapshot(self.redis), self.snapshot(self.ours)
        for key in sorted(set(a) | set(b)):
            x, y = a.get(key), b.get(key)
            if x is not None and y is not None and x[:2] == y[:2] and (
                    x[2] == y[2] or (x[2] >= 0 and y[2] >= 0 and abs(x[2] - y[2]) <= 1000)):
                continue

            def show(s: Optional[Tuple[str, Reply, int]]) -> Reply:
                if s is None:
                    return ("+", "(absent)")
                return ("*", [("+", s[0]), s[1], (":", s[2])])
            return (("*", [("$", key), show(x)]), ("*", [("$", key), show(y)]))
        return None


def request(op: Op) -> bytes:
    """op's request: a multibulk, or for mode "inline" a line of (quoted) words."""
    if op.mode == "inline":
        return b" ".join(inline_quote(a) for a in op.args) + b"\r\n"
    return encode(op.args)


def inline_quote(a: bytes) -> bytes:
    """An argument of an inline command, double-quoted (with redis-cli's escapes) unless it
    is plain printable text."""
    if a and all(33 <= c < 127 and c not in b"\"'\\" for c in a):
        return a
    out = bytearray(b'"')
    for c in a:
        if c in b'"\\':
            out += b"\\" + bytes([c])
        elif 32 <= c < 127:
            out.append(c)
        else:
            out += b"\\x%02x" % c
    return bytes(out + b'"')


def sort_pairs(r: Reply) -> Reply:
    if r[0] == "%":
        return ("%", sorted(r[1], key=repr))
    if r[0] == "*" and r[1] is not None and len(r[1]) % 2 == 0:
        pairs = sorted(zip(r[1][::2], r[1][1::2]), key=repr)
        return ("*", [x for kv in pairs for x in kv])
    return r


def without_pair(r: Reply, key: bytes) -> Reply:
    """A CONFIG GET reply (sorted by sort_pairs) without the entry for key."""
    if r[0] == "%":
        return ("%", [kv for kv in r[1] if kv[0] != ("$", key)])
    if r[0] == "*" and r[1] is not None:
        pairs = [kv for kv in zip(r[1][::2], r[1][1::2]) if kv[0] != ("$", key)]
        return ("*", [x for kv in pairs for x in kv])
    return r


def scan_all(conn: RespConn, opts: Sequence[bytes], max_steps: int = 10000) -> Reply:
    cursor = b"0"
    seen: Set[bytes] = set()
    for _ in range(max_steps):
        r = conn.call(b"SCAN", cursor, *opts)
        if r[0] not in ("*",) or r[1] is None or len(r[1]) != 2:
            return r
        cur, keys = r[1]
        if cur[0] != "$" or keys[0] not in ("*", "~"):
            return r
        seen.update(k[1] for k in keys[1])
        cursor = cur[1]
        if cursor == b"0":
            return ("scan", sorted(seen))
    raise RespError(f"SCAN did not end within {max_steps} steps")


def run_ops(servers: ServerPair, ops: Sequence[Op], seed: int, proto: int,
            state_every: int = 100, on_first_failure: bool = False) -> RunResult:
    """Runs ops on both servers from an empty keyspace, comparing every reply and, every
    state_every commands and at the end, the whole keyspace."""
    res = RunResult(seed, proto)
    with Session(servers, proto) as s:
        for i, op in enumerate(ops):
            if op.mode == "pipe":
                found = run_pipeline(s, res, i, op)
            else:
                before = (s.redis.call(b"GET", op.keys[0])
                          if op.name in PREREAD and op.keys else None)
                r = s.execute(s.redis, op)
                o = s.execute(s.ours, op)
                res.count(op)
                outcome = compare(op, r, o)
                found = []
                if outcome == "same":
                    if op.name == "SELECT" and r == ("+", "OK"):
                        s.db = op.args[1]
                    elif op.name == "HELLO" and len(op.args) > 1 and not is_error(r):
                        s.proto = int(op.args[1])
                else:
                    found = [Divergence(seed, proto, i, op, r, o, outcome,
                                        classify(Ctx(op, r, o, outcome, before)))]
                    s.resync(op)
            res.divergences += found
            if on_first_failure and any(d.verdict is None for d in found):
                return res
            last = i == len(ops) - 1
            if (state_every and (i + 1) % state_every == 0) or last:
                diff = s.state_diff()
                if diff is not None:
                    res.divergences.append(Divergence(seed, proto, i, op, diff[0], diff[1],
                                                      "state"))
                    for conn in (s.redis, s.ours):
                        conn.call(b"FLUSHDB")
                    if on_first_failure:
                        return res
    return res


CASCADE = Rule("Follows a tolerated divergence in the same pipeline",
               "an earlier command of the pipeline diverged (tolerated) on a key this one "
               "reads, or this one reads the whole keyspace: its reply is not comparable",
               lambda c: False)


def run_pipeline(s: Session, res: RunResult, i: int, op: Op) -> List[Divergence]:
    """Sends op.batch pipelined to each server and compares the replies one by one. After a
    tolerated divergence, the replies of later commands on its keys (or on no key: DBSIZE,
    KEYS...) are not compared (CASCADE)."""
    rs, os_ = s.pipeline(s.redis, op.batch), s.pipeline(s.ours, op.batch)
    found: List[Divergence] = []
    tainted: Set[bytes] = set()
    for j, (sub, r, o) in enumerate(zip(op.batch, rs, os_)):
        res.count(sub)
        outcome = compare(sub, r, o)
        if outcome == "same":
            continue
        if tainted and (not sub.keys or tainted & set(sub.keys)):
            verdict: Optional[Tuple[str, Rule]] = ("allowed", CASCADE)
        else:
            verdict = classify(Ctx(sub, r, o, outcome, later=op.batch[j + 1:]))
        found.append(Divergence(res.seed, res.proto, i, sub, r, o, outcome, verdict,
                                pipeline=op))
        tainted |= set(sub.keys)
    for d in found:
        s.resync(d.op)
    return found


def shrink(servers: ServerPair, ops: Sequence[Op], failure: Divergence,
           max_replays: int = 300, budget_s: float = 10.0) -> List[Op]:
    """A short subsequence of ops[:failure.index + 1] that still fails the same way: for a
    reply divergence, at its last command; for a state divergence, at the end."""
    state = failure.outcome == "state"
    want = failure.signature()
    deadline = time.monotonic() + budget_s
    replays = 0

    def fails(seq: List[Op]) -> bool:
        nonlocal replays
        replays += 1
        res = run_ops(servers, seq, failure.seed, failure.proto, state_every=0 if not state
                      else len(seq), on_first_failure=True)
        for d in res.failures:
            if state:
                return d.outcome == "state"
            return d.index == len(seq) - 1 and d.signature() == want
        return False

    def budget() -> bool:
        return replays < max_replays and time.monotonic() < deadline

    seq = list(ops[:failure.index + 1])
    if state:  # find the first command after which the keyspaces differ
        res = run_ops(servers, seq, failure.seed, failure.proto, state_every=1,
                      on_first_failure=True)
        for d in res.failures:
            seq = seq[:d.index + 1]
            break
    # Remove chunks of halving size wherever the rest still fails (ddmin-like, bounded),
    # always keeping the failing command.
    chunk = max(1, len(seq) // 2)
    while chunk >= 1 and budget():
        i = 0
        removed = False
        while i < len(seq) - 1 and budget():
            end = min(i + chunk, len(seq) - 1)
            cand = seq[:i] + seq[end:]
            if end > i and fails(cand):
                seq = cand
                removed = True
            else:
                i += chunk
        if not removed:
            chunk //= 2
    return seq


def run_seed(servers: ServerPair, seed: int, n_ops: int, proto: int,
             shrink_failures: int = 3) -> RunResult:
    """One seeded run; the first few distinct unexplained divergences get shrunk."""
    ops = Gen(seed).ops(n_ops)
    res = run_ops(servers, ops, seed, proto)
    seen: Set[Tuple[str, ...]] = set()
    for d in res.failures:
        if d.signature() in seen or len(seen) >= shrink_failures:
            continue
        seen.add(d.signature())
        d.shrunk = shrink(servers, ops, d)
    return res


def check_repro(servers: ServerPair, rule: Rule, proto: int) -> Optional[Divergence]:
    """Runs rule.repro on an empty keyspace: the last command's divergence if it still
    diverges the way the rule describes, else None."""
    ops = [Op(tuple(a), tuple(a[1:2])) for a in rule.repro]
    with Session(servers, proto) as s:
        for i, op in enumerate(ops):
            r, o = s.execute(s.redis, op), s.execute(s.ours, op)
            if i == len(ops) - 1:
                outcome = compare(op, r, o)
                if outcome != "same" and rule.match(Ctx(op, r, o, outcome)):
                    return Divergence(0, proto, i, op, r, o, outcome, ("repro", rule))
    return None


def report(results: Sequence[RunResult]) -> str:
    lines = []
    total: Dict[str, int] = {}
    for res in results:
        for k, v in res.tally().items():
            total[k] = total.get(k, 0) + v
    compared = sum(r.compared for r in results)
    names: Dict[str, int] = {}
    for res in results:
        for k, v in res.by_name.items():
            names[k] = names.get(k, 0) + v
    lines.append(f"{compared} commands compared over {len(results)} run(s): "
                 + ", ".join(f"{k} {v}" for k, v in sorted(names.items())))
    for k in sorted(total):
        lines.append(f"  {total[k]:6d}  {k}")
    groups: Dict[Tuple[str, ...], List[Divergence]] = {}
    for res in results:
        for d in res.failures:
            groups.setdefault(d.signature(), []).append(d)
    if groups:
        lines.append(f"{len(groups)} kind(s) of unexplained divergence (the first of each, "
                     "up to 20 kinds):")
    for ds in sorted(groups.values(), key=lambda ds: ds[0].shrunk is None)[:20]:
        first = next((d for d in ds if d.shrunk is not None), ds[0])
        lines.append(f"[{len(ds)}x] {first.describe()}")
    return "\n".join(lines)


def default_server() -> str:
    return os.environ.get("DBKV_SERVER") or str(ROOT / "bazel-bin/server/data-bridge-kv-server")


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--seeds", type=int, default=1, help="run seeds seed .. seed+N-1")
    p.add_argument("--ops", type=int, default=5000)
    p.add_argument("--proto", choices=("2", "3", "both"), default="both")
    p.add_argument("--server", default=default_server(), help="our server binary ($DBKV_SERVER)")
    p.add_argument("--redis-server", default="redis-server")
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--no-shrink", action="store_true")
    p.add_argument("--show-tolerated", type=int, default=0, metavar="N",
                   help="also print the first N tolerated divergences of each rule")
    a = p.parse_args(argv)
    protos = [2, 3] if a.proto == "both" else [int(a.proto)]
    servers = ServerPair(a.server, a.redis_server, a.shards)
    results: List[RunResult] = []
    t0 = time.monotonic()
    try:
        for seed in range(a.seed, a.seed + a.seeds):
            for proto in protos:
                results.append(run_seed(servers, seed, a.ops, proto,
                                        0 if a.no_shrink else 3))
        if a.show_tolerated:
            shown: Dict[str, int] = {}
            for res in results:
                for d in res.divergences:
                    if d.verdict is None:
                        continue
                    k = d.verdict[1].name
                    if shown.get(k, 0) < a.show_tolerated:
                        shown[k] = shown.get(k, 0) + 1
                        print(f"[{d.verdict[0]}: {k}]\n{d.describe()}")
    finally:
        servers.stop()
    print(report(results))
    print(f"{time.monotonic() - t0:.1f} s")
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
