#!/usr/bin/env python3
"""redis-benchmark against Redis 7 and against data-bridge-kv's RESP side, in one run.

Starts Debian's redis-server (--save "" --appendonly no) and our server (--http-bind none, no
data directory) on free ports, then for every test and pipeline depth runs redis-benchmark
against each in turn, alternating, --runs times, reading the server's CPU time from
/proc/PID/stat (utime + stime) around every run. Prints medians of requests/s and of server
CPU-seconds per million requests, with ratios (ours / Redis), as a Markdown table, and the
machine's load average before and after.

  bench/resp_compare.py --tests set,get --pipelines 1,16 --clients 50 --runs 3 --seconds 5

-n is chosen per (test, pipeline) so that a run against Redis takes about --seconds (from a short
calibration run against Redis), and the same -n is used for both servers.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
from compare import free_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "bazel-bin", "server", "data-bridge-kv-server")
TICKS = os.sysconf("SC_CLK_TCK")


def wait_port(port, proc):
    compare.wait_port(port, proc, timeout=30)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def bench(port, pid, test, pipeline, clients, n, keyspace):
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
           "-P", str(pipeline), "-t", test, "-n", str(n), "-r", str(keyspace), "--csv"]
    before = cpu_seconds(pid)
    start = time.monotonic()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = time.monotonic() - start
    cpu = cpu_seconds(pid) - before
    rps = None
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if cells and cells[0].upper() == test.upper():
            rps = float(cells[1])
    if rps is None:
        raise RuntimeError(f"no result for {test} in:\n{out}")
    return {"rps": rps, "cpu_s_per_m": cpu / n * 1e6, "wall": wall, "cmd": " ".join(cmd)}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tests", default="set,get")
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--keyspace", type=int, default=100000, help="redis-benchmark -r")
    ap.add_argument("--kv-flags", default="", help="extra flags for data-bridge-kv-server")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="dbkv-resp-bench-")
    rport, kport = free_port(), free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    kv = subprocess.Popen(
        [SERVER, "--bind", f"127.0.0.1:{kport}", "--http-bind", "none"] + args.kv_flags.split(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    servers = (("redis", redis, rport), ("ours", kv, kport))
    rows = []
    load_before = loadavg()
    try:
        for proc, port in ((redis, rport), (kv, kport)):
            wait_port(port, proc)
        for test in args.tests.split(","):
            for pipeline in [int(p) for p in args.pipelines.split(",")]:
                probe = bench(rport, redis.pid, test, pipeline, args.clients,
                              20000 * pipeline, args.keyspace)
                n = int(probe["rps"] * args.seconds / 10000 + 1) * 10000
                res = {"redis": [], "ours": []}
                for _ in range(args.runs):
                    for name, proc, port in servers:
                        r = bench(port, proc.pid, test, pipeline, args.clients, n, args.keyspace)
                        res[name].append(r)
                        print(f"  {name:5} {test} -P {pipeline} -n {n}: {r['rps']:.0f} req/s, "
                              f"{r['cpu_s_per_m']:.2f} CPU-s per M, {r['wall']:.1f} s "
                              f"(load {loadavg()})", file=sys.stderr)
                rows.append((test, pipeline, n, res))
    finally:
        for _, proc, _ in servers:
            proc.terminate()
            proc.wait(timeout=30)
    load_after = loadavg()

    print(f"redis-benchmark -c {args.clients} -r {args.keyspace}, {args.runs} runs per server, "
          f"alternating; medians (spread = (max - min) / median).")
    print(f"Load average before: {load_before}; after: {load_after}.\n")
    print("| test | -P | -n | Redis req/s | ours req/s | ratio | Redis CPU-s/M | ours CPU-s/M "
          "| CPU ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for test, pipeline, n, res in rows:
        med = {k: {f: statistics.median(r[f] for r in v) for f in ("rps", "cpu_s_per_m")}
               for k, v in res.items()}
        spread = {k: (max(r["rps"] for r in v) - min(r["rps"] for r in v)) / med[k]["rps"] * 100
                  for k, v in res.items()}
        r, o = med["redis"], med["ours"]
        print(f"| {test.upper()} | {pipeline} | {n} | {r['rps']:.0f} (±{spread['redis']:.0f}%) "
              f"| {o['rps']:.0f} (±{spread['ours']:.0f}%) | {o['rps'] / r['rps']:.2f} "
              f"| {r['cpu_s_per_m']:.2f} | {o['cpu_s_per_m']:.2f} "
              f"| {o['cpu_s_per_m'] / r['cpu_s_per_m']:.2f} |")
    print("\nCommands (ports vary):")
    for test, pipeline, n, res in rows:
        print(f"    {res['ours'][0]['cmd']}")


if __name__ == "__main__":
    main()
