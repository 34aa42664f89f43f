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
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the harness: servers, load generator, sampling, clients)
from compare import kv_call, kv_info, log  # noqa: E402

ARGS = None  # the parsed command line
# Recovery of a big data dir can take minutes; poll often, since its time is measured.
READY = {"timeout": 600, "poll": 0.005}


def loadavg():
    return "load average " + compare.loadavg()


def du(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:
                pass
    return total


def start_kv(name, tmp, data_dir=None, extra=(), binary=None):
    return compare.start_kv(extra, data_dir=data_dir, log_path=os.path.join(tmp, name + ".log"),
                            http_bind="none", binary=binary or ARGS.server, name=name, **READY)


def start_redis(name, tmp, data_dir, persistence, port=None):
    """persistence: None, "always", "everysec" or "no" (appendonly yes with that appendfsync)."""
    os.makedirs(data_dir, exist_ok=True)
    return compare.start_redis(data_dir, persistence, log_path=os.path.join(tmp, name + ".log"),
                               port=port, name=name, **READY)


def run_bench(server, writers, args):
    return compare.run_json(compare.bench_cmd(server.url, server.pid, "set", 1, writers, 100,
                                              args.bench_keys, args.duration, args.warmup))


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
    with compare.Servers(stop_timeout=600) as started:
        servers = {}
        for name, flags in KV_FSYNC_FLAGS.items():
            slug = name.replace(" ", "-")
            servers[name] = started.add(start_kv(slug, tmp, os.path.join(tmp, slug), flags))
            if args.baseline_server:
                servers[name + BASELINE] = started.add(start_kv(
                    slug + "-baseline", tmp, os.path.join(tmp, slug + "-baseline"), flags,
                    binary=args.baseline_server))
        servers["kv memory"] = started.add(start_kv("kv-memory", tmp))
        for name, persistence in (("Redis always", "always"), ("Redis everysec", "everysec"),
                                  ("Redis no", "no"), ("Redis memory", None)):
            slug = name.lower().replace(" ", "-")
            servers[name] = started.add(start_redis(slug, tmp, os.path.join(tmp, slug),
                                                    persistence))
        results = {}  # (config, writers) -> [run dicts]
        for writers in args.writers:
            def run(name, rnd):
                r = run_bench(servers[name], writers, args)
                log(f"  {writers:3} writers, round {rnd + 1}: {name:15} "
                    f"{r['ops_per_sec']:9.0f} ops/s  p50 {r['p50_us']:8.1f} us  "
                    f"p99 {r['p99_us']:8.1f} us  {r['server_cpu_us_per_op']:6.2f} us CPU/op"
                    f"{'  ERRORS ' + str(r['errors']) if r['errors'] else ''}")
                return r
            names = [name for name, _ in configs(args)]
            for name, runs in compare.alternate(names, args.runs, run).items():
                results[(name, writers)] = runs
        fsyncs = {}
        for name in ("kv always", "kv periodic"):
            for n in (name, name + BASELINE):
                if n in servers:
                    fsyncs[n] = kv_info(servers[n].port)
    return results, fsyncs


def print_throughput(results, fsyncs, args):
    med = {k: compare.medians(v, ("ops_per_sec", "p50_us", "p99_us", "server_cpu_us_per_op"))
           for k, v in results.items()}
    spread = {k: compare.spread_pct(r["ops_per_sec"] for r in v) for k, v in results.items()}
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
    with compare.Servers(stop_timeout=600) as started:
        s = started.add(start_kv(name + "-1", tmp, data_dir, extra))
        row = {"fill_s": compare.fill(s, compare.celery_small(n, seed))}
        if snapshot:
            code, row["stop_s"] = s.term()
            if code != 0:
                raise RuntimeError(f"server exited {code} on SIGTERM")
        else:
            time.sleep(0.5)  # past the 100 ms periodic sync: what was acknowledged is written
            s.kill()
            row["stop_s"] = None
        row["disk"] = du(data_dir)
        s2 = started.add(start_kv(name + "-2", tmp, data_dir, extra))
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
    with compare.Servers(stop_timeout=600) as started:
        s = started.add(start_redis("redis-recovery-1", tmp, data_dir, "everysec"))
        fill_s = compare.fill(s, compare.celery_small(n, seed))
        time.sleep(1.5)  # past the everysec fsync
        s.kill()
        row = {"fill_s": fill_s, "stop_s": None, "disk": du(data_dir)}
        s2 = started.add(start_redis("redis-recovery-2", tmp, data_dir, "everysec",
                                     port=s.port))
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
        with compare.redis_client(s2.port) as r:
            row["dbsize"] = r.dbsize()
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
    ap.add_argument("--server", default=compare.SERVER,
                    help="the data-bridge-kv-server binary (default: this tree's bazel-bin)")
    ap.add_argument("--baseline-server",
                    help="another data-bridge-kv-server binary: its kv fsync rows are measured "
                         "too, in the same rounds")
    args = ap.parse_args()
    global ARGS
    ARGS = args
    args.writers = [int(w) for w in args.writers.split(",")]
    compare.require_binaries(args.server, compare.BENCH,
                             *([args.baseline_server] if args.baseline_server else []))

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
