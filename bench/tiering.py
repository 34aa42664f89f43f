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

Needs the Python package (make python) and bench/requirements.txt (redis, msgpack) in the
interpreter that runs it.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the harness: servers, sampling, figures, the Celery shape)
from compare import celery_task_key as task_key, celery_task_result as task_result  # noqa: E402
from compare import rss  # noqa: E402


def start_ours(data_dir: str, args, port=None) -> compare.Server:
    """Ours with tiered storage: --max-memory and a data dir (its log beside the data dir)."""
    return compare.start_kv(["--max-memory", args.max_memory, "--shards", str(args.shards)],
                            data_dir=data_dir, http_bind="none", port=port, timeout=60,
                            poll=0.01, log_path=os.path.join(data_dir, "..", "server.log"))


def load_ours(port: int, n: int, batch: int) -> float:
    from data_bridge.kv import KvClient
    c = KvClient(f"127.0.0.1:{port}", timeout=120)
    start = time.monotonic()
    for i in range(0, n, batch):
        c.mset({task_key(k): task_result(k) for k in range(i, min(n, i + batch))}, ttl=86400)
    took = time.monotonic() - start
    c.close()
    return took


def reader(kind: str, port: int, n: int, seconds: float, seed: int, out: mp.Queue) -> None:
    rnd = random.Random(seed)
    lat = []
    if kind == "ours":
        from data_bridge.kv import KvClient
        c = KvClient(f"127.0.0.1:{port}", timeout=60)
        get = c.get
    else:
        c = compare.redis_client(port)
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
        return compare.percentile(lat, p, 0.0) * 1e6
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
        with compare.Servers(stop_timeout=120) as servers:
            srv = servers.add(start_ours(data_dir, args))
            port = srv.port
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
            _, ours["stop_s"] = srv.term(timeout=120)
            srv = servers.add(start_ours(data_dir, args, port))
            ours["restart_ready_s"] = srv.ready_s
            ours["rss_after_restart"] = rss(srv.pid)
            srv.term(timeout=120)
            results["ours"] = ours

            if not args.skip_redis:
                redis_dir = os.path.join(work, "redis")
                os.makedirs(redis_dir)
                rs = servers.redis(redis_dir, timeout=60, poll=0.01)
                ridle = rss(rs.pid)
                rtook = compare.fill(rs, ((task_key(k), task_result(k)) for k in range(n)),
                                     args.batch)
                time.sleep(2)
                red = {"load_s": rtook, "load_keys_per_s": n / rtook, "rss_idle": ridle,
                       "rss": rss(rs.pid)}
                red["reads"] = read_phase("redis", rs.port, n, args.readers, args.read_seconds)
                rs.stop()
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
