#!/usr/bin/env python3
"""What durability costs, and how fast a restart is: data-bridge-kv beside Redis 7, on this
machine. A measurement, not a test: it prints markdown tables.

1. Acknowledged writes per second, p50/p99 latency and server CPU per operation, for SET of
   100 B values over 1, 16 and 64 connections (one writer each, pipeline 1), with:
     kv --fsync always      (a reply only after fdatasync; group commit)
     kv --fsync periodic    (fdatasync every 100 ms)
     kv --fsync never       (the OS writes back)
     kv memory only         (no --data-dir)
     Redis appendonly yes, appendfsync always / everysec / no, and no persistence
   All servers run at once on free ports with their data in one temp directory; for each
   writer count, the runs alternate between them (3 rounds by default), and the tables give
   medians. Load: bazel-bin/bench/data-bridge-kv-bench (kv:// and redis://, the same engine).

2. Recovery: 1 M Celery-shaped results (53-byte keys "celery-task-meta-<uuid4>", ~170 B JSON
   values, EX 86400) loaded into a server, then
     - SIGTERM (final snapshot), restart: snapshot load;
     - with snapshots disabled, SIGKILL, restart: pure WAL replay;
     - Redis (appendfsync everysec), SIGKILL, restart: AOF replay, for reference.
   Time to ready is from exec to the port answering; the server's own figure is its log line
   "recovered N keys in S s (... keys/s)" (Redis: "DB loaded from append only file: S seconds").

  bench/durability.py                                  # all of it, about 10 minutes
  bench/durability.py --writers 1,16 --runs 1 --duration 3 --skip-recovery
  bench/durability.py --skip-throughput --keys 200000
  bench/durability.py --server /tmp/old-server --skip-recovery   # another build
  bench/durability.py --baseline-server /tmp/old-server --skip-recovery
      # the kv fsync rows of another build too, in the same rounds (a fair before/after on a
      # machine shared with other work)

Build first: bazel build //server:data-bridge-kv-server //bench:data-bridge-kv-bench
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
from compare import free_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "bazel-bin")
SERVER = os.path.join(BIN, "server/data-bridge-kv-server")
BENCH = os.path.join(BIN, "bench/data-bridge-kv-bench")
ARGS = None  # the parsed command line


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def wait_port(port, proc):
    # Recovery of a big data dir can take minutes; poll often, since its time is measured.
    compare.wait_port(port, proc, timeout=600, poll=0.005)


def loadavg():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def du(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:
                pass
    return total


class Server:
    """One server process: its URL, log file and how it is stopped."""

    def __init__(self, name, argv, port, scheme, log_path):
        self.name, self.port, self.scheme, self.log_path = name, port, scheme, log_path
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.started = time.monotonic()
        with open(log_path, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        wait_port(port, self.proc)
        self.ready_s = time.monotonic() - self.started

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def term(self, timeout=600):
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - t

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def start_kv(name, tmp, data_dir=None, extra=(), binary=None):
    port = free_port()
    argv = [binary or ARGS.server, "--bind", f"127.0.0.1:{port}", "--http-bind", "none"]
    if data_dir:
        argv += ["--data-dir", data_dir]
    argv += list(extra)
    return Server(name, argv, port, "kv", os.path.join(tmp, name + ".log"))


def start_redis(name, tmp, data_dir, persistence):
    """persistence: None, "always" or "everysec" (appendonly yes with that appendfsync)."""
    os.makedirs(data_dir, exist_ok=True)
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--dir", data_dir, "--logfile", ""]
    if persistence:
        argv += ["--appendonly", "yes", "--appendfsync", persistence]
    else:
        argv += ["--appendonly", "no"]
    return Server(name, argv, port, "redis", os.path.join(tmp, name + ".log"))


def run_bench(server, writers, args):
    cmd = [BENCH, "--url", server.url, "--connections", str(writers), "--pipeline", "1",
           "--workload", "set", "--value-size", "100", "--keys", str(args.bench_keys),
           "--duration", str(args.duration), "--warmup", str(args.warmup),
           "--server-pid", str(server.proc.pid), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# -- 1. Throughput.

CONFIGS = [
    # (name, what)
    ("kv always", "fsync always"),
    ("Redis always", "appendfsync always"),
    ("kv periodic", "fsync periodic, 100 ms"),
    ("Redis everysec", "appendfsync everysec"),
    ("kv never", "fsync never"),
    ("Redis no", "appendfsync no"),
    ("kv memory", "no --data-dir"),
    ("Redis memory", "no AOF, no RDB"),
]


KV_FSYNC_FLAGS = {
    "kv always": ["--fsync", "always"],
    "kv periodic": ["--fsync", "periodic", "--fsync-interval-ms", "100"],
    "kv never": ["--fsync", "never"],
}
BASELINE = " (baseline)"


def configs(args):
    """CONFIGS, with each kv fsync row followed by its baseline twin under --baseline-server."""
    out = []
    for name, what in CONFIGS:
        out.append((name, what))
        if args.baseline_server and name in KV_FSYNC_FLAGS:
            out.append((name + BASELINE, what + ", baseline build"))
    return out


def throughput(args, tmp):
    servers = {}
    try:
        for name, flags in KV_FSYNC_FLAGS.items():
            slug = name.replace(" ", "-")
            servers[name] = start_kv(slug, tmp, os.path.join(tmp, slug), flags)
            if args.baseline_server:
                servers[name + BASELINE] = start_kv(slug + "-baseline", tmp,
                                                    os.path.join(tmp, slug + "-baseline"), flags,
                                                    binary=args.baseline_server)
        servers["kv memory"] = start_kv("kv-memory", tmp)
        servers["Redis always"] = start_redis("redis-always", tmp,
                                              os.path.join(tmp, "redis-always"), "always")
        servers["Redis everysec"] = start_redis("redis-everysec", tmp,
                                                os.path.join(tmp, "redis-everysec"), "everysec")
        servers["Redis no"] = start_redis("redis-no", tmp, os.path.join(tmp, "redis-no"), "no")
        servers["Redis memory"] = start_redis("redis-memory", tmp,
                                              os.path.join(tmp, "redis-memory"), None)
        results = {}  # (config, writers) -> [run dicts]
        for writers in args.writers:
            for rnd in range(args.runs):
                for name, _ in configs(args):
                    r = run_bench(servers[name], writers, args)
                    results.setdefault((name, writers), []).append(r)
                    log(f"  {writers:3} writers, round {rnd + 1}: {name:15} "
                        f"{r['ops_per_sec']:9.0f} ops/s  p50 {r['p50_us']:8.1f} us  "
                        f"p99 {r['p99_us']:8.1f} us  {r['server_cpu_us_per_op']:6.2f} us CPU/op"
                        f"{'  ERRORS ' + str(r['errors']) if r['errors'] else ''}")
        fsyncs = {}
        for name in ("kv always", "kv periodic"):
            for n in (name, name + BASELINE):
                if n in servers:
                    fsyncs[n] = kv_info(servers[n].port)
    finally:
        for s in servers.values():
            s.term()
    return results, fsyncs


def print_throughput(results, fsyncs, args):
    med = {k: {f: statistics.median(r[f] for r in v)
               for f in ("ops_per_sec", "p50_us", "p99_us", "server_cpu_us_per_op")}
           for k, v in results.items()}
    spread = {k: (max(r["ops_per_sec"] for r in v) - min(r["ops_per_sec"] for r in v))
              / max(med[k]["ops_per_sec"], 1) * 100 for k, v in results.items()}
    errors = sum(r["errors"] for v in results.values() for r in v)
    print(f"\n### Acknowledged SETs: 100 B values, pipeline 1, one connection per writer\n")
    print(f"{args.runs} alternating rounds of {args.duration:g} s (after {args.warmup:g} s of "
          f"warm-up) per cell; medians, ± = (max-min)/median of ops/s. Server CPU is user+sys "
          f"of the server process over the measured window. Load generator: "
          f"data-bridge-kv-bench, 1 thread. {os.cpu_count()} cores. Errors: {errors}.\n")
    print("| writers | server | durability | ops/s | p50 us | p99 us | server CPU us/op |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for writers in args.writers:
        for name, what in configs(args):
            m = med[(name, writers)]
            print(f"| {writers} | {name} | {what} | {m['ops_per_sec']:.0f} "
                  f"(±{spread[(name, writers)]:.0f}%) | {m['p50_us']:.0f} | {m['p99_us']:.0f} "
                  f"| {m['server_cpu_us_per_op']:.2f} |")
    print("\n### Ratios, data-bridge-kv / Redis (ops/s; >1: kv faster)\n")
    print("| writers | always / always | periodic / everysec | never / no | memory / memory |")
    print("|---:|---:|---:|---:|---:|")
    for writers in args.writers:
        def ratio(a, b):
            return med[(a, writers)]["ops_per_sec"] / max(med[(b, writers)]["ops_per_sec"], 1)
        print(f"| {writers} | {ratio('kv always', 'Redis always'):.2f} "
              f"| {ratio('kv periodic', 'Redis everysec'):.2f} "
              f"| {ratio('kv never', 'Redis no'):.2f} "
              f"| {ratio('kv memory', 'Redis memory'):.2f} |")
    for name, info in fsyncs.items():
        if info:
            n = info.get("wal_fsyncs", 0)
            rec = info.get("wal_records", 0)
            print(f"\n{name}: {n} fdatasyncs for {rec} WAL records over the whole run"
                  + (f" ({rec / n:.1f} records per sync)" if n else ""))


# -- The kv protocol, enough to load keys fast and ask INFO / DBSIZE.

def _mp_str(b):
    n = len(b)
    if n < 32:
        return bytes([0xa0 | n]) + b
    if n < 256:
        return b"\xd9" + bytes([n]) + b
    return b"\xda" + struct.pack(">H", n) + b


def _mp_int(i):
    if 0 <= i < 128:
        return bytes([i])
    return b"\xd3" + struct.pack(">q", i)


def _frame(req_id, opcode, items):
    payload = bytes([0x90 | len(items)]) + b"".join(items)
    return struct.pack(">IBBHI", 8 + len(payload), 1, opcode, 0, req_id) + payload


OP_BY_NAME, OP_SET = 0x00, 0x11


def _read_frames(sock, buf, n):
    """Reads n response frames; returns (list of (status, payload), rest of buf)."""
    out = []
    while len(out) < n:
        while len(buf) >= 4:
            length = struct.unpack_from(">I", buf, 0)[0]
            if len(buf) < 4 + length:
                break
            out.append((buf[5], bytes(buf[12:4 + length])))
            del buf[:4 + length]
            if len(out) == n:
                return out, buf
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk
    return out, buf


def _mp_decode(b, i=0):
    """A tiny msgpack decoder for INFO replies: maps, strings, ints, nil, bools."""
    t = b[i]
    if t < 0x80:
        return t, i + 1
    if t >= 0xe0:
        return t - 256, i + 1
    if 0xa0 <= t <= 0xbf:
        n = t & 0x1f
        return b[i + 1:i + 1 + n].decode(errors="replace"), i + 1 + n
    if 0x80 <= t <= 0x8f or t in (0xde, 0xdf):
        if t <= 0x8f:
            n, i = t & 0x0f, i + 1
        elif t == 0xde:
            n, i = struct.unpack_from(">H", b, i + 1)[0], i + 3
        else:
            n, i = struct.unpack_from(">I", b, i + 1)[0], i + 5
        d = {}
        for _ in range(n):
            k, i = _mp_decode(b, i)
            v, i = _mp_decode(b, i)
            d[k] = v
        return d, i
    fixed = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q", 0xd0: ">b", 0xd1: ">h",
             0xd2: ">i", 0xd3: ">q"}
    if t in fixed:
        v = struct.unpack_from(fixed[t], b, i + 1)[0]
        return v, i + 1 + struct.calcsize(fixed[t])
    if t in (0xd9, 0xda, 0xdb):
        w = {0xd9: 1, 0xda: 2, 0xdb: 4}[t]
        n = int.from_bytes(b[i + 1:i + 1 + w], "big")
        s = i + 1 + w
        return b[s:s + n].decode(errors="replace"), s + n
    if t == 0xc0:
        return None, i + 1
    if t in (0xc2, 0xc3):
        return t == 0xc3, i + 1
    raise ValueError(f"msgpack type {t:#x} not handled")


def kv_call(port, name):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(_frame(1, OP_BY_NAME, [_mp_str(name.encode())]))
        frames, _ = _read_frames(s, bytearray(), 1)
        status, payload = frames[0]
        if status != 0:
            raise RuntimeError(f"{name}: error status {status}")
        return _mp_decode(payload)[0]


def kv_info(port):
    try:
        return kv_call(port, "INFO")
    except Exception as e:  # noqa: BLE001 - a figure we can do without
        log(f"INFO failed: {e}")
        return {}


def celery_items(n, seed):
    """n (key, value) pairs shaped like Celery results."""
    rng = random.Random(seed)
    for i in range(n):
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        key = "celery-task-meta-" + task_id  # 17 + 36 = 53 bytes
        value = json.dumps({"status": "SUCCESS", "result": rng.randint(0, 10 ** 9),
                            "traceback": None, "children": [],
                            "date_done": "2025-11-26T02:50:11.%06d" % (i % 1000000),
                            "task_id": task_id})
        yield key.encode(), value.encode()


def fill_kv(port, n, seed, batch=2000):
    ex = [_mp_str(b"EX"), _mp_int(86400)]
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        pending, out, req = 0, [], 0
        errors = 0
        for key, value in celery_items(n, seed):
            req += 1
            out.append(_frame(req & 0xffffffff, OP_SET, [_mp_str(key), _mp_str(value)] + ex))
            pending += 1
            if pending == batch:
                s.sendall(b"".join(out))
                out = []
                frames, buf = _read_frames(s, buf, pending)
                errors += sum(1 for st, _ in frames if st != 0)
                pending = 0
        if pending:
            s.sendall(b"".join(out))
            frames, buf = _read_frames(s, buf, pending)
            errors += sum(1 for st, _ in frames if st != 0)
    if errors:
        raise RuntimeError(f"{errors} SETs failed")


def _resp(*parts):
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


def fill_redis(port, n, seed, batch=2000):
    with socket.create_connection(("127.0.0.1", port)) as s:
        buf = b""
        out, pending = [], 0

        def drain(k):
            nonlocal buf
            got = 0
            while got < k:
                while True:
                    j = buf.find(b"\r\n")
                    if j < 0:
                        break
                    line, buf = buf[:j], buf[j + 2:]
                    if line.startswith(b"-"):
                        raise RuntimeError(line.decode())
                    got += 1
                if got < k:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        raise RuntimeError("redis closed the connection")
                    buf += chunk

        for key, value in celery_items(n, seed):
            out.append(_resp(b"SET", key, value, b"EX", b"86400"))
            pending += 1
            if pending == batch:
                s.sendall(b"".join(out))
                out = []
                drain(pending)
                pending = 0
        if pending:
            s.sendall(b"".join(out))
            drain(pending)


def redis_dbsize(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "DBSIZE"], capture_output=True,
                         text=True, check=True).stdout
    return int(out.strip())


# -- 2. Recovery.

RECOVERED_RE = re.compile(r"recovered (\d+) keys in ([0-9.]+) s \((\d+) snapshot entries, "
                          r"(\d+) WAL records, ([0-9]+) keys/s\)")


def kv_recovery(tmp, n, seed, snapshot, shards_flags):
    """Fills n keys, stops (SIGTERM with a final snapshot, or SIGKILL with snapshots off),
    restarts; returns a result row."""
    name = "kv-recovery-" + ("snapshot" if snapshot else "wal")
    data_dir = os.path.join(tmp, name)
    extra = list(shards_flags)
    if not snapshot:
        extra += ["--snapshot-every-writes", "0", "--snapshot-interval-s", "0"]
    s = start_kv(name + "-1", tmp, data_dir, extra)
    t = time.monotonic()
    fill_kv(s.port, n, seed)
    fill_s = time.monotonic() - t
    row = {"fill_s": fill_s}
    if snapshot:
        code, row["stop_s"] = s.term()
        if code != 0:
            raise RuntimeError(f"server exited {code} on SIGTERM")
    else:
        time.sleep(0.5)  # past the 100 ms periodic sync: what was acknowledged is written
        s.kill()
        row["stop_s"] = None
    row["disk"] = du(data_dir)
    s2 = start_kv(name + "-2", tmp, data_dir, extra)
    row["ready_s"] = s2.ready_s
    m = RECOVERED_RE.search(s2.log_text())
    if not m:
        raise RuntimeError("no 'recovered' line in " + s2.log_path)
    row.update(keys=int(m.group(1)), log_s=float(m.group(2)), snap=int(m.group(3)),
               wal=int(m.group(4)), keys_per_s=int(m.group(5)))
    row["dbsize"] = kv_call(s2.port, "DBSIZE")
    s2.term()
    return row


def redis_recovery(tmp, n, seed):
    data_dir = os.path.join(tmp, "redis-recovery")
    s = start_redis("redis-recovery-1", tmp, data_dir, "everysec")
    t = time.monotonic()
    fill_redis(s.port, n, seed)
    fill_s = time.monotonic() - t
    time.sleep(1.5)  # past the everysec fsync
    s.kill()
    row = {"fill_s": fill_s, "stop_s": None, "disk": du(data_dir)}
    s2 = Server("redis-recovery-2", ["redis-server", "--port", str(s.port), "--bind",
                                     "127.0.0.1", "--save", "", "--dir", data_dir,
                                     "--appendonly", "yes", "--appendfsync", "everysec",
                                     "--logfile", ""],
                s.port, "redis", os.path.join(tmp, "redis-recovery-2.log"))
    # Redis accepts connections while loading (replies LOADING): wait for the log line.
    deadline = time.time() + 600
    m = None
    while time.time() < deadline:
        m = re.search(r"DB loaded from append only file: ([0-9.]+) seconds", s2.log_text())
        if m:
            break
        time.sleep(0.01)
    row["ready_s"] = time.monotonic() - s2.started
    row["log_s"] = float(m.group(1)) if m else float("nan")
    row["dbsize"] = redis_dbsize(s2.port)
    row["keys"] = row["dbsize"]
    row["keys_per_s"] = row["keys"] / row["log_s"] if m and row["log_s"] > 0 else float("nan")
    s2.term()
    return row


def recovery(args, tmp):
    rows = []
    shards_flags = ["--shards", str(args.shards)] if args.shards else []
    log(f"recovery: filling {args.keys} keys, SIGTERM (final snapshot), restart")
    rows.append(("kv: SIGTERM, final snapshot, restart", kv_recovery(
        tmp, args.keys, 1, True, shards_flags)))
    log(f"recovery: filling {args.keys} keys with snapshots off, SIGKILL, restart")
    rows.append(("kv: snapshots off, SIGKILL, WAL replay", kv_recovery(
        tmp, args.keys, 2, False, shards_flags)))
    if not args.skip_redis_recovery:
        log(f"recovery: Redis, filling {args.keys} keys, SIGKILL, restart")
        rows.append(("Redis 7: appendfsync everysec, SIGKILL, AOF replay",
                     redis_recovery(tmp, args.keys, 3)))
    return rows


def print_recovery(rows, args):
    print(f"\n### Recovery: {args.keys} Celery-shaped results (53 B keys, ~170 B JSON values, "
          f"EX 86400)\n")
    print("Ready = exec to the port accepting (Redis: to its 'DB loaded' line); log = the "
          "server's own load time.\n")
    print("| scenario | keys back | on disk | fill s | stop s | log: load s | keys/s "
          "| ready s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        stop = f"{r['stop_s']:.2f}" if r.get("stop_s") is not None else "(SIGKILL)"
        extra = ""
        if "snap" in r:
            extra = f" ({r['snap']} from snapshot, {r['wal']} WAL records)"
        print(f"| {name} | {r['dbsize']}{extra} | {r['disk'] / 1e6:.0f} MB | {r['fill_s']:.1f} "
              f"| {stop} | {r['log_s']:.2f} | {r['keys_per_s']:.0f} | {r['ready_s']:.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--writers", default="1,16,64",
                    help="comma-separated connection counts (one writer each)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--bench-keys", type=int, default=100000, help="key space of the SET load")
    ap.add_argument("--keys", type=int, default=1000000, help="keys for the recovery runs")
    ap.add_argument("--shards", type=int, default=0, help="--shards for the kv recovery runs")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-recovery", action="store_true")
    ap.add_argument("--skip-redis-recovery", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    ap.add_argument("--server", default=SERVER,
                    help="the data-bridge-kv-server binary (default: this tree's bazel-bin)")
    ap.add_argument("--baseline-server",
                    help="another data-bridge-kv-server binary: its kv fsync rows are measured "
                         "too, in the same rounds")
    args = ap.parse_args()
    global ARGS
    ARGS = args
    args.writers = [int(w) for w in args.writers.split(",")]
    for path in (args.server, BENCH) + ((args.baseline_server,) if args.baseline_server else ()):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} missing: bazel build //server:data-bridge-kv-server "
                     f"//bench:data-bridge-kv-bench")
    if shutil.which("redis-server") is None:
        sys.exit("redis-server not found (apt-get install redis-server)")

    tmp = tempfile.mkdtemp(prefix="dbkv-durability-", dir=os.environ.get("DURABILITY_TMP"))
    log(f"working in {tmp}")
    try:
        print(f"## Durability benchmark ({time.strftime('%Y-%m-%d %H:%M')}, "
              f"{os.cpu_count()} cores, data in {tmp}, server {args.server}"
              + (f", baseline {args.baseline_server}" if args.baseline_server else "") + ")")
        # Other work on the machine skews every figure: the load average is printed with them.
        if not args.skip_throughput:
            before = loadavg()
            results, fsyncs = throughput(args, tmp)
            print_throughput(results, fsyncs, args)
            print(f"\n(before: {before}; after: {loadavg()})")
        if not args.skip_recovery:
            before = loadavg()
            rows = recovery(args, tmp)
            print_recovery(rows, args)
            print(f"\n(before: {before}; after: {loadavg()})")
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
