#!/usr/bin/env python3
"""Side-by-side load runs against Redis 7 and data-bridge-kv, on this machine, in one run.

Starts Debian's redis-server (nothing on disk) and our server on free ports, runs
data-bridge-kv-bench against each in turn (alternating, after a warm-up) for every cell of the
matrix, and prints medians of ops/s and server CPU microseconds per operation, with ratios.

  bench/compare.py --workloads get,set --pipelines 1,16 --connections 50 --runs 3 --duration 5

As a module, this is the one harness of every script in bench/ (report.py, durability.py,
expiry.py, tiering.py, resp_compare.py, bench_test.py):
  - servers: Server (start on a free port, wait until it accepts connections, stop; SIGTERM to
    it if the script dies), start_kv, start_redis, and Servers, which stops all it started;
  - the load generator: bench_cmd, run_json;
  - sampling a process: rss, cpu_seconds, proc_stat, loadavg;
  - figures: medians, spread_pct, percentile, ratio, geomean, alternate;
  - clients: KvConnection (our binary protocol, protocol/PROTOCOL.md: a 12-byte header, the
    payload packed by the msgpack package), redis_client and redis_set_many (redis-py), and
    fill (pipelined SETs over either);
  - the Celery-shaped data that report.py, durability.py and tiering.py write.
"""
import argparse
import ctypes
import json
import math
import os
import random
import shlex
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

import msgpack
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "bazel-bin")
SERVER = os.path.join(BIN, "server/data-bridge-kv-server")
BENCH = os.path.join(BIN, "bench/data-bridge-kv-bench")
TICKS = os.sysconf("SC_CLK_TCK")
USAGE = __doc__.split("\nAs a module")[0]  # what --help says: the side-by-side run


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def require_binaries(*paths):
    """Exits with a message unless our binaries are built and redis-server is installed."""
    for path in paths or (SERVER, BENCH):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} missing: bazel build //server:data-bridge-kv-server "
                     f"//bench:data-bridge-kv-bench")
    if shutil.which("redis-server") is None:
        sys.exit("redis-server not found (apt-get install redis-server)")


# -- Server processes.

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20, poll=0.05):
    """Returns the seconds it took until port accepted connections; raises if proc exits first
    or after timeout s."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return time.monotonic() - start
        except OSError:
            time.sleep(poll)
    raise RuntimeError(f"port {port} not open after {timeout}s")


def _die_with_parent():
    """In the child: SIGTERM when this script dies, even by SIGKILL (Linux prctl)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def stop(proc, timeout=30):
    """SIGTERM, then SIGKILL if the process has not exited within timeout seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Server:
    """One server process: started on a port, ready once the port accepts connections (it is
    stopped if it never gets there), with its URL, log file and the ways it is stopped."""

    def __init__(self, name, argv, port, scheme, log_path=None, timeout=20, poll=0.05):
        self.name, self.argv, self.port, self.log_path = name, list(argv), port, log_path
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.started = time.monotonic()
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                         preexec_fn=_die_with_parent)
        finally:
            if log_path:
                out.close()
        try:
            wait_port(port, self.proc, timeout, poll)
        except BaseException:
            self.stop()
            raise
        self.ready_s = time.monotonic() - self.started

    @property
    def pid(self):
        return self.proc.pid

    def command(self):
        return " ".join(shlex.quote(a) for a in self.argv)

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def term(self, timeout=600):
        """SIGTERM and wait; returns (exit code, seconds it took to exit)."""
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - t

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self, timeout=30):
        stop(self.proc, timeout)


def start_redis(data_dir, persistence=None, tls=None, extra=(), log_path=None, port=None,
                name="redis", timeout=20, poll=0.05):
    """Debian's redis-server on a free port (or port), with nothing on disk unless persistence
    is "always", "everysec" or "no" (appendonly yes with that appendfsync). tls: a bench/pki.py
    Pki: the port speaks TLS only (rediss://)."""
    port = port or free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += (["--appendonly", "yes", "--appendfsync", persistence] if persistence
             else ["--appendonly", "no"])
    argv += ["--dir", data_dir]
    if tls:
        argv += ["--port", "0", "--tls-port", str(port), "--tls-cert-file", tls.server_cert,
                 "--tls-key-file", tls.server_key, "--tls-ca-cert-file", tls.ca,
                 "--tls-auth-clients", "no"]
    return Server(name, argv + list(extra), port, "rediss" if tls else "redis", log_path,
                  timeout, poll)


def start_kv(extra=(), data_dir=None, tls=None, log_path=None, http_bind="127.0.0.1:0",
             binary=None, port=None, name="kv", timeout=20, poll=0.05):
    """Our server on a free port (or port), memory only unless data_dir. tls: a bench/pki.py
    Pki: the port speaks TLS only (kvs://)."""
    port = port or free_port()
    argv = [binary or SERVER, "--bind", f"127.0.0.1:{port}", "--http-bind", http_bind]
    if data_dir:
        argv += ["--data-dir", data_dir]
    if tls:
        argv += ["--tls-cert", tls.server_cert, "--tls-key", tls.server_key]
    return Server(name, argv + list(extra), port, "kvs" if tls else "kv", log_path, timeout,
                  poll)


class Servers:
    """The servers a script starts: stop_all() (or the end of a with block) stops every one
    still running, on errors and Ctrl-C too."""

    def __init__(self, stop_timeout=30):
        self.started = []
        self.stop_timeout = stop_timeout

    def add(self, server):
        self.started.append(server)
        return server

    def kv(self, *args, **kwargs):
        return self.add(start_kv(*args, **kwargs))

    def redis(self, *args, **kwargs):
        return self.add(start_redis(*args, **kwargs))

    def stop_all(self):
        for s in self.started:
            s.stop(self.stop_timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()


# -- Sampling a process and the machine.

def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name: [0] state, [11] utime, [12] stime."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid):
    """User + system CPU time of the process so far."""
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def loadavg():
    return "%.2f %.2f %.2f" % os.getloadavg()


# -- The load generator, bazel-bin/bench/data-bridge-kv-bench.

def bench_cmd(url, pid, workload, pipeline, connections, value_size, keys, duration, warmup,
              extra=()):
    """The data-bridge-kv-bench command line for one run (JSON result on the last line)."""
    return [BENCH, "--url", url,
            "--connections", str(connections), "--pipeline", str(pipeline),
            "--workload", workload, "--value-size", str(value_size),
            "--keys", str(keys), "--duration", str(duration),
            "--warmup", str(warmup), "--server-pid", str(pid), "--json"] + list(extra)


def run_json(cmd, timeout=None):
    """Runs the load generator; returns its JSON result. A run with error replies (exit 1)
    still returns its result (its "errors" field counts them); no JSON line raises."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = p.stdout.strip().splitlines()
    if lines and lines[-1].startswith("{"):
        r = json.loads(lines[-1])
        if p.returncode != 0:
            r["first_error"] = next((ln[len("first error: "):] for ln in lines
                                     if ln.startswith("first error: ")), p.stderr.strip())
        return r
    raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}{p.stderr}")


# -- Figures.

def alternate(names, rounds, run):
    """Calls run(name, round) for every name in turn, rounds times (the servers alternate);
    returns {name: [its results in order]}."""
    results = {name: [] for name in names}
    for rnd in range(rounds):
        for name in names:
            results[name].append(run(name, rnd))
    return results


def medians(runs, fields):
    return {f: statistics.median(r[f] for r in runs) for f in fields}


def spread_pct(xs):
    """(max - min) / median of xs, in percent: how far the runs agree."""
    xs = list(xs)
    return (max(xs) - min(xs)) / max(statistics.median(xs), 1) * 100


def percentile(sorted_xs, p, empty=math.nan):
    if not sorted_xs:
        return empty
    return sorted_xs[min(len(sorted_xs) - 1, int(p * len(sorted_xs)))]


def ratio(a, b):
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def geomean(xs):
    xs = [x for x in xs if x > 0 and not math.isnan(x)]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else math.nan


# -- Clients. Our binary protocol (protocol/PROTOCOL.md): a frame is a 12-byte big-endian
# header (length after the length field, version 1, opcode or status, flags 0, request id) and
# one msgpack value; requests are arrays of arguments. Keys and values go as msgpack str.

OP_BY_NAME, OP_SET = 0x00, 0x11
_HEADER = struct.Struct(">IBBHI")
_packer = msgpack.Packer(use_bin_type=False)  # bytes as msgpack str, as Redis strings


def kv_frame(req_id, opcode, args):
    payload = _packer.pack(list(args))
    return _HEADER.pack(8 + len(payload), 1, opcode, 0, req_id & 0xffffffff) + payload


def kv_decode(payload):
    return msgpack.unpackb(payload, raw=False, unicode_errors="replace", strict_map_key=False)


class KvConnection:
    """A pipelining connection to our server over the binary protocol."""

    def __init__(self, port, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.next_id = 0

    def send(self, requests):
        """Sends (opcode, args) requests at once; returns how many."""
        frames = []
        for opcode, args in requests:
            self.next_id += 1
            frames.append(kv_frame(self.next_id, opcode, args))
        self.sock.sendall(b"".join(frames))
        return len(frames)

    def read(self, n):
        """Reads n response frames: [(status, payload bytes)]."""
        out = []
        while len(out) < n:
            if len(self.buf) >= _HEADER.size:
                length = _HEADER.unpack_from(self.buf, 0)[0]
                if len(self.buf) >= 4 + length:
                    out.append((self.buf[5], bytes(self.buf[_HEADER.size:4 + length])))
                    del self.buf[:4 + length]
                    continue
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk
        return out

    def send_sets(self, pairs, ex=None):
        """Sends SET key value [EX ex] for every pair; returns how many."""
        tail = ["EX", ex] if ex else []
        return self.send((OP_SET, [k, v] + tail) for k, v in pairs)

    def read_errors(self, n):
        """Reads n replies; returns how many were errors."""
        return sum(1 for status, _ in self.read(n) if status != 0)

    def set_many(self, pairs, ex=None):
        return self.read_errors(self.send_sets(pairs, ex))

    def call(self, name, *args):
        """One command by name; returns its decoded reply, raises on an error status."""
        self.send([(OP_BY_NAME, [name] + list(args))])
        status, payload = self.read(1)[0]
        if status != 0:
            raise RuntimeError(f"{name}: error status {status}")
        return kv_decode(payload)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def kv_call(port, name, *args):
    with KvConnection(port) as c:
        return c.call(name, *args)


def kv_info(port):
    """INFO of our server as a dict; {} if it fails (a figure we can do without)."""
    try:
        return kv_call(port, "INFO")
    except Exception as e:  # noqa: BLE001
        log(f"INFO failed: {e}")
        return {}


def redis_client(port, **kwargs):
    return redis.Redis(host="127.0.0.1", port=port, **kwargs)


def redis_set_many(client, pairs, ex=None):
    """SET key value [EX ex] for every pair, in one pipeline; returns how many failed."""
    pipe = client.pipeline(transaction=False)
    for k, v in pairs:
        pipe.set(k, v, ex=ex)
    return sum(1 for r in pipe.execute(raise_on_error=False) if isinstance(r, Exception))


def fill(server, items, batch=2000, ex=86400):
    """Writes every (key, value) of items to server (kv:// or redis://) with SET EX ex,
    `batch` per pipelined round trip; returns the seconds it took, raises if any failed."""
    if server.url.startswith("kv://"):
        conn = KvConnection(server.port)

        def set_many(pairs):
            return conn.set_many(pairs, ex)
    else:
        conn = redis_client(server.port)

        def set_many(pairs):
            return redis_set_many(conn, pairs, ex)
    errors = 0
    pending = []
    start = time.monotonic()
    try:
        for item in items:
            pending.append(item)
            if len(pending) == batch:
                errors += set_many(pending)
                pending = []
        if pending:
            errors += set_many(pending)
    finally:
        conn.close()
    if errors:
        raise RuntimeError(f"{errors} SETs failed")
    return time.monotonic() - start


# -- Celery-shaped data: results as Celery's Redis backend stores them.

def celery_small(n, seed):
    """n (key, value) pairs: 53-byte "celery-task-meta-<uuid4>" keys, ~170 B JSON results."""
    rng = random.Random(seed)
    for i in range(n):
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        key = "celery-task-meta-" + task_id  # 17 + 36 = 53 bytes
        value = json.dumps({"status": "SUCCESS", "result": rng.randint(0, 10 ** 9),
                            "traceback": None, "children": [],
                            "date_done": "2025-11-26T02:50:11.%06d" % (i % 1000000),
                            "task_id": task_id})
        yield key.encode(), value.encode()


def tiny(n):
    """n (key, value) pairs of 16 bytes each."""
    for i in range(n):
        yield b"k:%014d" % i, b"v:%014d" % i


def celery_large(n):
    """n (key, value) pairs: 53-byte keys, 1-4 KiB JSON results (celery_task_key/_result)."""
    for i in range(n):
        yield celery_task_key(i).encode(), celery_task_result(i).encode()


def celery_task_key(i):
    """The i-th 53-byte key of the large shape (deterministic, uuid-like)."""
    h = (i * 2654435761) & 0xFFFFFFFF
    return "celery-task-meta-%08x-%04x-4%03x-a%03x-%012x" % (
        h, i & 0xFFFF, (i >> 4) & 0xFFF, (h >> 8) & 0xFFF, i)


def celery_task_result(i):
    """The i-th result of the large shape: 1-4 KiB of JSON."""
    size = 1000 + (i * 7919) % 3096
    parts = ['{"status": "SUCCESS", "task_id": "%s", "date_done": "2026-11-26T04:%d:00", '
             '"result": [' % (celery_task_key(i)[17:], i % 60)]
    n = len(parts[0])
    x = i + 1
    while n < size:
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        s = '{"row": %d, "name": "item-%d"}, ' % (x % 100000, (x >> 8) % 977)
        parts.append(s)
        n += len(s)
    v = "".join(parts)[: size - 2]
    return v + "]}"


# -- The side-by-side run.

def run_bench(url, pid, workload, pipeline, args):
    r = run_json(bench_cmd(url, pid, workload, pipeline, args.connections, args.value_size,
                           args.keys, args.duration, args.warmup))
    if r.get("errors"):
        raise RuntimeError(f"{url} {workload}: {r['errors']} errors ({r.get('first_error')})")
    return r


def main():
    ap = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workloads", default="get,set")
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--kv-flags", default="", help="extra flags for data-bridge-kv-server")
    ap.add_argument("--json-out", help="write every run as JSON lines here")
    ap.add_argument("--kv-bin", action="append", default=[], metavar="NAME=PATH",
                    help="compare these builds of our server (repeat; e.g. before=/tmp/old "
                         "after=bazel-bin/server/data-bridge-kv-server) instead of the one in "
                         "bazel-bin; the first is the base of the last column")
    args = ap.parse_args()

    kv_bins = [tuple(b.split("=", 1)) for b in args.kv_bin] or [("kv", None)]
    names = ["redis"] + [n for n, _ in kv_bins]
    tmp = tempfile.mkdtemp(prefix="dbkv-bench-")
    rows = []
    raw = []
    fields = ("ops_per_sec", "server_cpu_us_per_op", "p50_us", "p99_us")
    with Servers() as servers:
        srv = {"redis": servers.redis(tmp)}
        for n, path in kv_bins:
            srv[n] = servers.kv(args.kv_flags.split(), binary=path, name=n)
        for workload in args.workloads.split(","):
            for pipeline in [int(p) for p in args.pipelines.split(",")]:
                def run(name, _rnd):
                    s = srv[name]
                    r = run_bench(s.url, s.pid, workload, pipeline, args)
                    raw.append(dict(r, server=name))
                    log(f"  {name:6} {workload} P{pipeline}: {r['ops_per_sec']:.0f} ops/s, "
                        f"{r['server_cpu_us_per_op']:.2f} us CPU/op, p99 {r['p99_us']:.0f} us")
                    return r
                res = alternate(names, args.runs, run)
                med = {n: medians(v, fields) for n, v in res.items()}
                spread = {n: spread_pct(x["ops_per_sec"] for x in v) for n, v in res.items()}
                rows.append((workload, pipeline, med, spread))
    print(f"{args.connections} connections, {args.value_size} B values, {args.keys} keys, "
          f"{args.runs} runs of {args.duration}s each (medians; spread = (max-min)/median)")
    kv_names = names[1:]
    head = ["workload", "pipeline", "Redis ops/s"] + [f"{n} ops/s" for n in kv_names] + \
        ["Redis CPU us/op"] + [f"{n} CPU us/op (/Redis)" for n in kv_names]
    if len(kv_names) > 1:
        head.append(f"ops per CPU-s {kv_names[-1]} / {kv_names[0]}")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for workload, pipeline, med, spread in rows:
        r = med["redis"]
        cells = [workload, str(pipeline), f"{r['ops_per_sec']:.0f} (±{spread['redis']:.0f}%)"]
        cells += [f"{med[n]['ops_per_sec']:.0f} (±{spread[n]:.0f}%)" for n in kv_names]
        cells.append(f"{r['server_cpu_us_per_op']:.2f}")
        cells += [f"{med[n]['server_cpu_us_per_op']:.2f} "
                  f"({ratio(med[n]['server_cpu_us_per_op'], r['server_cpu_us_per_op']):.2f})"
                  for n in kv_names]
        if len(kv_names) > 1:
            base, last = med[kv_names[0]], med[kv_names[-1]]
            cells.append(f"{ratio(base['server_cpu_us_per_op'], last['server_cpu_us_per_op']):.3f}")
        print("| " + " | ".join(cells) + " |")
    if args.json_out:
        with open(args.json_out, "w") as f:
            for r in raw:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
