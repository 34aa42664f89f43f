#!/usr/bin/env python3
"""Tiered storage against Redis 7 on the same Celery-shaped data.

Loads N results (53-byte ``celery-task-meta-<uuid>`` keys, 1-4 KiB JSON values, one-day TTL as
Celery sets them) into data-bridge-kv started with ``--max-memory`` and ``--data-dir``, and into
redis-server (no persistence), then reports for both: RSS, RSS per key, load throughput; for
ours also the memory it accounts, the keys whose value is on disk, disk bytes; random reads
over the whole key space (mostly from disk for us, all from RAM for Redis) from several
processes: throughput and latency percentiles; and our restart time and RSS after it.

    bazel build //server:data-bridge-kv-server
    python3 bench/tiering.py --keys 256000 --max-memory 64MiB

Needs the Python package (make python) and redis (pip) in the interpreter that runs it.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "bazel-bin/server/data-bridge-kv-server"


def task_key(i: int) -> str:
    h = (i * 2654435761) & 0xFFFFFFFF
    return "celery-task-meta-%08x-%04x-4%03x-a%03x-%012x" % (
        h, i & 0xFFFF, (i >> 4) & 0xFFF, (h >> 8) & 0xFFF, i)


def task_result(i: int) -> str:
    size = 1000 + (i * 7919) % 3096
    parts = ['{"status": "SUCCESS", "task_id": "%s", "date_done": "2026-11-26T04:%d:00", '
             '"result": [' % (task_key(i)[17:], i % 60)]
    n = len(parts[0])
    x = i + 1
    while n < size:
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        s = '{"row": %d, "name": "item-%d"}, ' % (x % 100000, (x >> 8) % 977)
        parts.append(s)
        n += len(s)
    v = "".join(parts)[: size - 2]
    return v + "]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return time.monotonic() - start
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("server did not come up")


def start_ours(port: int, data_dir: str, args) -> subprocess.Popen:
    cmd = [str(SERVER), "--bind", f"127.0.0.1:{port}", "--http-bind", "none", "--data-dir",
           data_dir, "--max-memory", args.max_memory, "--shards", str(args.shards)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(
        os.path.join(data_dir, "..", "server.log"), "ab"))


def load_ours(port: int, n: int, batch: int) -> float:
    from data_bridge.kv import KvClient
    c = KvClient(f"127.0.0.1:{port}", timeout=120)
    start = time.monotonic()
    for i in range(0, n, batch):
        c.mset({task_key(k): task_result(k) for k in range(i, min(n, i + batch))}, ttl=86400)
    took = time.monotonic() - start
    c.close()
    return took


def load_redis(port: int, n: int, batch: int) -> float:
    import redis
    r = redis.Redis(port=port)
    start = time.monotonic()
    for i in range(0, n, batch):
        p = r.pipeline(transaction=False)
        for k in range(i, min(n, i + batch)):
            p.set(task_key(k), task_result(k), ex=86400)
        p.execute()
    took = time.monotonic() - start
    r.close()
    return took


def reader(kind: str, port: int, n: int, seconds: float, seed: int, out: mp.Queue) -> None:
    rnd = random.Random(seed)
    lat = []
    if kind == "ours":
        from data_bridge.kv import KvClient
        c = KvClient(f"127.0.0.1:{port}", timeout=60)
        get = c.get
    else:
        import redis
        c = redis.Redis(port=port)
        get = c.get
    end = time.monotonic() + seconds
    wrong = 0
    while time.monotonic() < end:
        i = rnd.randrange(n)
        t0 = time.perf_counter()
        v = get(task_key(i))
        lat.append(time.perf_counter() - t0)
        if isinstance(v, bytes):
            v = v.decode()
        if v != task_result(i):
            wrong += 1
    out.put((lat, wrong))


def read_phase(kind: str, port: int, n: int, procs: int, seconds: float) -> dict:
    q: mp.Queue = mp.Queue()
    ps = [mp.Process(target=reader, args=(kind, port, n, seconds, s, q)) for s in range(procs)]
    for p in ps:
        p.start()
    lat, wrong = [], 0
    for _ in ps:
        l, w = q.get()
        lat += l
        wrong += w
    for p in ps:
        p.join()
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1e6 if lat else 0.0
    return {"reads_per_s": len(lat) / seconds, "p50_us": pct(0.5), "p99_us": pct(0.99),
            "p999_us": pct(0.999), "wrong": wrong}


def info_ours(port: int) -> dict:
    from data_bridge.kv import KvClient
    with KvClient(f"127.0.0.1:{port}") as c:
        return c.info()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keys", type=int, default=256000)
    ap.add_argument("--max-memory", default="64MiB")
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--readers", type=int, default=4, help="reading processes")
    ap.add_argument("--read-seconds", type=float, default=10)
    ap.add_argument("--skip-redis", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    n = args.keys
    results = {"keys": n, "max_memory": args.max_memory,
               "value_bytes_total": sum(len(task_result(i)) for i in range(0, n, 97)) * 97}
    work = tempfile.mkdtemp(prefix="dbkv-tiering-")
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir)
    try:
        port = free_port()
        srv = start_ours(port, data_dir, args)
        wait_port(port, srv)
        idle = rss(srv.pid)
        took = load_ours(port, n, args.batch)
        peak_after_load = rss(srv.pid)
        time.sleep(2)
        info = info_ours(port)
        ours = {"load_s": took, "load_keys_per_s": n / took, "rss_idle": idle,
                "rss_after_load": peak_after_load, "rss": rss(srv.pid),
                "memory_bytes": info["memory_bytes"], "cold_keys": info["cold_keys"],
                "disk_bytes": info["disk_bytes"], "spilled_bytes": info["spilled_bytes"]}
        ours["reads"] = read_phase("ours", port, n, args.readers, args.read_seconds)
        ours["rss_after_reads"] = rss(srv.pid)
        srv.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        srv.wait(timeout=120)
        ours["stop_s"] = time.monotonic() - t0
        srv = start_ours(port, data_dir, args)
        ours["restart_ready_s"] = wait_port(port, srv)
        ours["rss_after_restart"] = rss(srv.pid)
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=120)
        results["ours"] = ours

        if not args.skip_redis:
            rport = free_port()
            redis_dir = os.path.join(work, "redis")
            os.makedirs(redis_dir)
            rs = subprocess.Popen(["redis-server", "--port", str(rport), "--save", "",
                                   "--appendonly", "no", "--dir", redis_dir],
                                  stdout=subprocess.DEVNULL)
            wait_port(rport, rs)
            ridle = rss(rs.pid)
            rtook = load_redis(rport, n, args.batch)
            time.sleep(2)
            red = {"load_s": rtook, "load_keys_per_s": n / rtook, "rss_idle": ridle,
                   "rss": rss(rs.pid)}
            red["reads"] = read_phase("redis", rport, n, args.readers, args.read_seconds)
            rs.terminate()
            rs.wait(timeout=30)
            results["redis"] = red
    finally:
        shutil.rmtree(work, ignore_errors=True)

    o = results["ours"]
    mib = 1 << 20
    print(f"{n} Celery results, {results['value_bytes_total'] / mib:.0f} MiB of values, "
          f"--max-memory {args.max_memory}, {args.shards} shards")
    print("| | data-bridge-kv | Redis 7 |")
    print("|---|---:|---:|")
    r = results.get("redis")

    def row(name, a, b):
        print(f"| {name} | {a} | {b} |")
    row("RSS after load (MiB)", f"{o['rss'] / mib:.0f}", f"{r['rss'] / mib:.0f}" if r else "-")
    row("RSS per key (B)", f"{(o['rss'] - o['rss_idle']) / n:.0f}",
        f"{(r['rss'] - r['rss_idle']) / n:.0f}" if r else "-")
    row("data / RSS", f"{results['value_bytes_total'] / o['rss']:.1f}",
        f"{results['value_bytes_total'] / r['rss']:.1f}" if r else "-")
    row("accounted memory per key (B)", f"{o['memory_bytes'] / n:.0f}", "-")
    row("keys with value on disk", f"{o['cold_keys']}", "0")
    row("disk (MiB)", f"{o['disk_bytes'] / mib:.0f}", "0")
    row("load (keys/s)", f"{o['load_keys_per_s']:.0f}", f"{r['load_keys_per_s']:.0f}" if r else "-")
    row("random GET (reads/s)", f"{o['reads']['reads_per_s']:.0f}",
        f"{r['reads']['reads_per_s']:.0f}" if r else "-")
    row("GET p50 / p99 / p99.9 (us)",
        f"{o['reads']['p50_us']:.0f} / {o['reads']['p99_us']:.0f} / {o['reads']['p999_us']:.0f}",
        f"{r['reads']['p50_us']:.0f} / {r['reads']['p99_us']:.0f} / {r['reads']['p999_us']:.0f}"
        if r else "-")
    row("wrong values read", o["reads"]["wrong"], r["reads"]["wrong"] if r else "-")
    row("restart: ready (s) / RSS (MiB)",
        f"{o['restart_ready_s']:.2f} / {o['rss_after_restart'] / mib:.0f}", "-")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
