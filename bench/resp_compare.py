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
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the harness: servers, sampling, figures)
from compare import cpu_seconds, loadavg, log  # noqa: E402


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
    rows = []
    load_before = loadavg()
    with compare.Servers() as servers:
        srv = {"redis": servers.redis(tmp, timeout=30),
               "ours": servers.kv(args.kv_flags.split(), http_bind="none", timeout=30)}
        for test in args.tests.split(","):
            for pipeline in [int(p) for p in args.pipelines.split(",")]:
                probe = bench(srv["redis"].port, srv["redis"].pid, test, pipeline, args.clients,
                              20000 * pipeline, args.keyspace)
                n = int(probe["rps"] * args.seconds / 10000 + 1) * 10000

                def run(name, _rnd):
                    s = srv[name]
                    r = bench(s.port, s.pid, test, pipeline, args.clients, n, args.keyspace)
                    log(f"  {name:5} {test} -P {pipeline} -n {n}: {r['rps']:.0f} req/s, "
                        f"{r['cpu_s_per_m']:.2f} CPU-s per M, {r['wall']:.1f} s "
                        f"(load {loadavg()})")
                    return r
                rows.append((test, pipeline, n, compare.alternate(("redis", "ours"), args.runs,
                                                                  run)))
    load_after = loadavg()

    print(f"redis-benchmark -c {args.clients} -r {args.keyspace}, {args.runs} runs per server, "
          f"alternating; medians (spread = (max - min) / median).")
    print(f"Load average before: {load_before}; after: {load_after}.\n")
    print("| test | -P | -n | Redis req/s | ours req/s | ratio | Redis CPU-s/M | ours CPU-s/M "
          "| CPU ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for test, pipeline, n, res in rows:
        med = {k: compare.medians(v, ("rps", "cpu_s_per_m")) for k, v in res.items()}
        spread = {k: compare.spread_pct(r["rps"] for r in v) for k, v in res.items()}
        r, o = med["redis"], med["ours"]
        print(f"| {test.upper()} | {pipeline} | {n} | {r['rps']:.0f} (±{spread['redis']:.0f}%) "
              f"| {o['rps']:.0f} (±{spread['ours']:.0f}%) "
              f"| {compare.ratio(o['rps'], r['rps']):.2f} "
              f"| {r['cpu_s_per_m']:.2f} | {o['cpu_s_per_m']:.2f} "
              f"| {compare.ratio(o['cpu_s_per_m'], r['cpu_s_per_m']):.2f} |")
    print("\nCommands (ports vary):")
    for test, pipeline, n, res in rows:
        print(f"    {res['ours'][0]['cmd']}")


if __name__ == "__main__":
    main()
