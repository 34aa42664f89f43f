#!/usr/bin/env python3
"""data-bridge-kv beside Redis 7 on this machine: the benchmark report behind `make bench`.

Starts Debian's redis-server (no RDB, no AOF) and our server (memory only) on free ports and
runs data-bridge-kv-bench (one engine for both protocols) over the matrix

    workload GET, SET, mixed 80/20  x  connections 1, 50  x  pipeline 1, 16  x  values 100 B, 4 KiB

in rounds: every round runs every cell once against each server, the order of the two servers
alternating from cell to cell and round to round; the key space is written before each value
size's cells, and every run measures after its own warm-up. Per run: ops/s, latency
p50/p99/p99.9, and the server's CPU time (user + system from /proc/PID/stat) per operation.

Then RSS per key: fresh servers, the same N Celery-shaped results with EX 86400 written to both
(the shapes of bench/tiering.py, 1-4 KiB JSON, and of bench/durability.py, ~170 B JSON), RSS
after minus RSS idle, divided by N. Optionally the acknowledged-write rows of
bench/durability.py.

Writes OUT/report.md (machine, versions, commands, date, tables of medians with min-max and
ratios ours/Redis, and a "where we lose" section computed from the data), OUT/chart.png and
OUT/runs.json (every run). Every server it starts, it stops, on errors and Ctrl-C too.

  bench/report.py                    # the full report, about 15 minutes on 2 cores
  bench/report.py --quick            # every cell once, short runs, 50 k keys for RSS: ~2 min
  bench/report.py --runs 5 --duration 6 --workloads get,set --connections 50 --skip-rss

Build first: bazel build //server:data-bridge-kv-server //bench:data-bridge-kv-bench
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import compare  # noqa: E402  (the harness: servers, load generator, sampling, clients)
from compare import geomean, loadavg, log, ratio, rss  # noqa: E402

ROOT = compare.ROOT
SERVERS = ("redis", "kv")
NAMES = {"redis": "Redis 7", "kv": "data-bridge-kv"}
# A ratio within this factor of 1 is called noise: interleaved runs on this kind of machine
# agree to about +-10 % (docs/PERFORMANCE.md).
NOISE = 0.10
TAIL_NOISE = 0.25  # p99.9 rests on a few hundred samples per run: noisier

# Full run / --quick defaults of the options left unset.
DEFAULTS = {
    "runs": (3, 1),
    "duration": (4.0, 1.0),
    "warmup": (1.0, 0.3),
    "warmup_run": (2.0, 0.5),
    "keys": (100000, 10000),
    "rss_keys": (1000000, 50000),
    "durability": (True, False),
}


def sh(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


# -- What the report states about the machine and the software.

def machine_info():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    distro = ""
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": mem_kib / (1 << 20),
            "kernel": platform.release(), "os": distro, "hostname": socket.gethostname()}


def versions():
    rev = sh(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"]) or "unknown"
    dirty = sh(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])
    return {
        "redis": sh(["redis-server", "--version"]),
        "redis_package": sh(["dpkg-query", "-W", "-f=${Version}", "redis-server"]),
        "ours": sh([compare.SERVER, "--version"]),
        "git_rev": rev + (" (with uncommitted changes)" if dirty else ""),
        "git_subject": sh(["git", "-C", ROOT, "log", "-1", "--format=%s"]),
        "caf_package": sh(["dpkg-query", "-W", "-f=${Version}", "libcaf-dev"]),
        "compiler": sh(["g++", "--version"]).splitlines()[0] if sh(["g++", "--version"]) else "",
        "python": platform.python_version(),
    }


# -- Server processes: every one started is stopped, whatever happens.

class Servers(compare.Servers):
    """The servers this script starts, each with a data directory and log in tmp;
    stop_all() stops every one still running."""

    def __init__(self, tmp, kv_flags, tls):
        super().__init__()
        self.tmp, self.kv_flags, self.tls = tmp, kv_flags, tls
        self.commands = {}

    def start(self, name, tag):
        d = os.path.join(self.tmp, f"{name}-{tag}")
        os.makedirs(d, exist_ok=True)
        log_path = os.path.join(self.tmp, f"{name}-{tag}.log")
        if name == "redis":
            server = self.redis(d, tls=self.tls, log_path=log_path)
        else:
            server = self.kv(self.kv_flags, tls=self.tls, log_path=log_path)
        self.commands[name] = server.command()
        log(f"started {name} (pid {server.pid}) at {server.url}")
        return server


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop servers


# -- 1. The load matrix.

def workload_label(w):
    if w in ("get", "set"):
        return w.upper()
    if w.startswith("mixed:"):
        reads = int(w[len("mixed:"):])
        return f"mixed {reads}/{100 - reads}"
    return w


def cell_label(c):
    w, conns, pipeline, size = c
    return (f"{workload_label(w)}, {conns} conn{'s' if conns > 1 else ''}, P{pipeline}, "
            f"{fmt_size(size)}")


def fmt_size(n):
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} B"


def tls_args(pki):
    return ["--tls-ca", pki.ca] if pki else []


def preload(url, pid, size, args, pki):
    """Writes the whole key space once with values of this size (so that GETs hit)."""
    cmd = compare.bench_cmd(url, pid, "get", 1, 8, size, args.keys, 0, 0,
                            ["--requests", "1"] + tls_args(pki))
    r = compare.run_json(cmd, timeout=600)
    if r.get("errors"):
        raise RuntimeError(f"preload of {url} failed: {r.get('first_error')}")


def matrix(args, servers, pki):
    cells = [(w, c, p, s) for s in args.value_sizes for w in args.workloads
             for c in args.connections for p in args.pipelines]
    procs = {name: servers.start(name, "matrix") for name in SERVERS}
    runs = []  # every run: the bench JSON plus server, round, cell
    extra = ["--no-preload", "--threads", str(args.threads)] + tls_args(pki)
    total = len(cells) * 2 * args.runs
    done = 0
    t0 = time.monotonic()
    for rnd in range(args.runs):
        for size in args.value_sizes:
            for name in SERVERS:
                s = procs[name]
                log(f"round {rnd + 1}: writing {args.keys} keys of {fmt_size(size)} to {name}")
                preload(s.url, s.pid, size, args, pki)
                if rnd == 0 and args.warmup_run > 0:  # caches, allocator, page faults
                    compare.run_json(compare.bench_cmd(
                        s.url, s.pid, "mixed:80", 16, 50, size, args.keys, args.warmup_run, 0,
                        extra), timeout=args.warmup_run + 120)
            for i, cell in enumerate(c for c in cells if c[3] == size):
                order = SERVERS if (rnd + i) % 2 == 0 else SERVERS[::-1]
                for name in order:
                    s = procs[name]
                    if s.proc.poll() is not None:
                        raise RuntimeError(f"{name} exited with {s.proc.returncode} "
                                           f"(log in {servers.tmp})")
                    w, conns, pipeline, _ = cell
                    cmd = compare.bench_cmd(s.url, s.pid, w, pipeline, conns, size, args.keys,
                                            args.duration, args.warmup, extra)
                    try:
                        r = compare.run_json(cmd, timeout=args.duration + args.warmup + 120)
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        r = {"failed": str(e), "errors": 1, "ops_per_sec": 0.0}
                    r.update(server=name, round=rnd, workload=w, connections=conns,
                             pipeline=pipeline, value_size=size, load=loadavg())
                    runs.append(r)
                    done += 1
                    eta = (time.monotonic() - t0) / done * (total - done)
                    log(f"  [{done}/{total}, ~{eta / 60:.1f} min left] {name:5} "
                        f"{cell_label(cell)}: {r['ops_per_sec']:.0f} ops/s"
                        + (f", p99 {r['p99_us']:.0f} us, {r['server_cpu_us_per_op']:.2f} us "
                           f"CPU/op" if "p99_us" in r else "")
                        + (f"  ERRORS {r['errors']}: {r.get('first_error') or r.get('failed')}"
                           if r.get("errors") else ""))
    for name in SERVERS:
        procs[name].stop()
    return cells, runs


def summarize(cells, runs):
    """Per cell and server: medians, min and max of each figure."""
    out = {}
    for cell in cells:
        row = {}
        for name in SERVERS:
            rs = [r for r in runs if r["server"] == name and (r["workload"], r["connections"],
                                                              r["pipeline"], r["value_size"])
                  == cell and "failed" not in r]
            errors = sum(r.get("errors", 0) for r in runs if r["server"] == name and (
                r["workload"], r["connections"], r["pipeline"], r["value_size"]) == cell)
            s = {"n": len(rs), "errors": errors}
            for f in ("ops_per_sec", "p50_us", "p99_us", "p999_us", "server_cpu_us_per_op"):
                xs = [r[f] for r in rs]
                s[f] = (statistics.median(xs), min(xs), max(xs)) if xs else (math.nan,) * 3
            row[name] = s
        out[cell] = row
    return out


# -- 2. RSS per key.

SHAPES = {
    "celery-large": ("1-4 KiB JSON results (bench/tiering.py)", compare.celery_large),
    "celery-small": ("~170 B JSON results (bench/durability.py)",
                     lambda n: compare.celery_small(n, 7)),
    "tiny": ("16 B keys and 16 B values", compare.tiny),
}


def rss_shape(shape, n, servers, batch):
    """Writes the same n items with EX 86400 to fresh servers (no TLS); returns per-server
    figures."""
    what, items = SHAPES[shape]
    plain = Servers(servers.tmp, servers.kv_flags, None)
    try:
        procs = {name: plain.start(name, "rss-" + shape) for name in SERVERS}
        time.sleep(0.5)
        idle = {name: rss(procs[name].pid) for name in SERVERS}
        kv = compare.KvConnection(procs["kv"].port)
        red = compare.redis_client(procs["redis"].port)
        errors = {name: 0 for name in SERVERS}
        data_bytes = 0
        t0 = time.monotonic()
        pending = []

        def flush():
            # Both servers take each batch at the same time.
            sent = kv.send_sets(pending, ex=86400)
            errors["redis"] += compare.redis_set_many(red, pending, ex=86400)
            errors["kv"] += kv.read_errors(sent)
            pending.clear()

        for k, v in items(n):
            data_bytes += len(k) + len(v)
            pending.append((k, v))
            if len(pending) == batch:
                flush()
        if pending:
            flush()
        load_s = time.monotonic() - t0
        kv.close()
        time.sleep(2)  # let both allocators settle
        out = {"shape": shape, "what": what, "keys": n, "data_bytes": data_bytes,
               "load_s": load_s}
        info = compare.kv_info(procs["kv"].port)
        out["kv"] = {"idle": idle["kv"], "rss": rss(procs["kv"].pid), "errors": errors["kv"],
                     "dbsize": compare.kv_call(procs["kv"].port, "DBSIZE"),
                     "accounted": info.get("memory_bytes")}
        out["redis"] = {"idle": idle["redis"], "rss": rss(procs["redis"].pid),
                        "errors": errors["redis"], "dbsize": red.dbsize(),
                        "accounted": red.info("memory")["used_memory"]}
        red.close()
        for name in SERVERS:
            s = out[name]
            s["per_key"] = (s["rss"] - s["idle"]) / n
        return out
    finally:
        plain.stop_all()


# -- 3. Durability (bench/durability.py, acknowledged writes only).

def durability_rows():
    """Runs bench/durability.py (its own servers) in a process group of its own, so that an
    interruption here stops it and every server it started."""
    cmd = [sys.executable, os.path.join(HERE, "durability.py"), "--writers", "1,16", "--runs",
           "1", "--duration", "3", "--warmup", "0.5", "--skip-recovery"]
    log("durability: " + " ".join(cmd[1:]))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=900)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    if proc.returncode != 0:
        return cmd, f"(failed with exit code {proc.returncode}: {err.strip()[-500:]})"
    return cmd, out


# -- The report.

def fmt_ops(x):
    if math.isnan(x):
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.0f} k" if x >= 1e4 else f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def fmt_us(x):
    if math.isnan(x):
        return "-"
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def fmt_ratio(x):
    return "-" if math.isnan(x) else f"{x:.2f}"


def durability_ratios(text):
    """(writers, comparison, ratio) from the ratio table bench/durability.py prints."""
    out = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("| writers | always / always"):
            continue
        heads = [h.strip() for h in line.strip("|").split("|")]
        for row in lines[i + 2:]:
            if not row.startswith("|"):
                break
            cells = [c.strip() for c in row.strip("|").split("|")]
            for head, cell in zip(heads[1:], cells[1:]):
                try:
                    out.append((int(cells[0]), head, float(cell)))
                except ValueError:
                    pass
    return out


def where_we_lose(summary, rss_rows, durability_text=None):
    """Plain sentences, computed from the data: every cell where we are clearly behind."""
    lines = []
    thr, lat, cpu, errs = [], [], [], []
    for cell, row in summary.items():
        k, r = row["kv"], row["redis"]
        q = ratio(k["ops_per_sec"][0], r["ops_per_sec"][0])
        if q < 1 - NOISE:
            if min(k["n"], r["n"]) < 2:
                how = "one run each"
            elif k["ops_per_sec"][2] < r["ops_per_sec"][1]:
                how = "our best run below their worst"
            else:
                how = "the ranges overlap"
            thr.append((q, f"{cell_label(cell)}: {q:.2f}x Redis's throughput "
                           f"({fmt_ops(k['ops_per_sec'][0])} vs {fmt_ops(r['ops_per_sec'][0])} "
                           f"ops/s; {how})"))
        q = ratio(k["p99_us"][0], r["p99_us"][0])
        q9 = ratio(k["p999_us"][0], r["p999_us"][0])
        if q > 1 + NOISE or q9 > 1 + TAIL_NOISE:
            lat.append((-max(q, q9), f"{cell_label(cell)}: p99 {q:.2f}x Redis's "
                                     f"({fmt_us(k['p99_us'][0])} vs {fmt_us(r['p99_us'][0])} us), "
                                     f"p99.9 {q9:.2f}x ({fmt_us(k['p999_us'][0])} vs "
                                     f"{fmt_us(r['p999_us'][0])} us)"))
        q = ratio(k["server_cpu_us_per_op"][0], r["server_cpu_us_per_op"][0])
        if q > 1 + NOISE:
            cpu.append((-q, f"{cell_label(cell)}: {q:.2f}x Redis's server CPU per operation "
                            f"({k['server_cpu_us_per_op'][0]:.2f} vs "
                            f"{r['server_cpu_us_per_op'][0]:.2f} us)"))
        for name in SERVERS:
            if row[name]["errors"]:
                errs.append(f"{cell_label(cell)}: {row[name]['errors']} errors against "
                            f"{NAMES[name]}")
    n = len(summary)
    if summary:
        lines.append(f"- **Throughput**: behind Redis by more than {NOISE:.0%} in {len(thr)} of "
                     f"{n} cells" + (":" if thr else "."))
        lines += [f"  - {t}" for _, t in sorted(thr)]
        lines.append(f"- **Latency**: p99 more than {NOISE:.0%} above Redis's, or p99.9 more "
                     f"than {TAIL_NOISE:.0%}, in {len(lat)} of {n} cells" + (":" if lat else "."))
        lines += [f"  - {t}" for _, t in sorted(lat)]
        lines.append(f"- **Efficiency**: more server CPU per operation than Redis (by more than "
                     f"{NOISE:.0%}) in {len(cpu)} of {n} cells" + (":" if cpu else "."))
        lines += [f"  - {t}" for _, t in sorted(cpu)]
    for row in rss_rows:
        q = ratio(row["kv"]["per_key"], row["redis"]["per_key"])
        detail = (f"{q:.2f}x: {row['kv']['per_key']:.0f} vs {row['redis']['per_key']:.0f} B per "
                  f"key, {row['keys']} keys")
        if q > 1 + NOISE / 2:
            lines.append(f"- **Memory** ({row['shape']}): more RSS per key than Redis ({detail}).")
        elif q < 1 - NOISE / 2:
            lines.append(f"- Memory ({row['shape']}): less RSS per key than Redis ({detail}).")
        else:
            lines.append(f"- Memory ({row['shape']}): about the same RSS per key as Redis "
                         f"({detail}).")
    if durability_text:
        names = {"always / always": "fsync always vs appendfsync always",
                 "periodic / everysec": "fsync periodic vs appendfsync everysec",
                 "never / no": "fsync never vs appendfsync no",
                 "memory / memory": "memory only vs memory only"}
        behind = [(q, f"{names.get(what, what)}, {w} writer{'s' if w > 1 else ''}: {q:.2f}x")
                  for w, what, q in durability_ratios(durability_text) if q < 1 - NOISE]
        if behind:
            lines.append("- **Durable writes** (SET, 100 B, pipeline 1; one round, see below): "
                         "behind Redis in " + "; ".join(t for _, t in sorted(behind)) + ".")
    if errs:
        lines.append("- **Errors** (runs with error replies or failures):")
        lines += [f"  - {e}" for e in errs]
    return lines


def write_report(path, ctx):
    a, m, v = ctx["args"], ctx["machine"], ctx["versions"]
    summary, rss_rows = ctx["summary"], ctx["rss"]
    L = []
    L.append("# data-bridge-kv beside Redis 7: benchmark report")
    L.append("")
    if a.quick:
        L.append("> **Quick run** (`--quick`): one short run per cell, a small key space. It "
                 "checks the tooling; its figures are not for conclusions.")
        L.append("")
    L.append(f"Generated {ctx['date']} by `bench/report.py` in {ctx['elapsed'] / 60:.1f} min. "
             f"Load average before: {ctx['load_before']}; after: {ctx['load_after']}.")
    L.append("")
    L.append("## Machine and versions")
    L.append("")
    L.append("| | |")
    L.append("|---|---|")
    L.append(f"| CPU | {m['cpu']}, {m['cores']} cores (load generator and server share them) |")
    L.append(f"| RAM | {m['ram_gib']:.1f} GiB |")
    L.append(f"| kernel / OS | Linux {m['kernel']} / {m['os']} |")
    L.append(f"| Redis | {v['redis']} (Debian package {v['redis_package']}) |")
    L.append(f"| data-bridge-kv | {v['ours']}, git {v['git_rev']} ({v['git_subject']}); "
             f"Bazel `-c opt`, {v['compiler']}, CAF {v['caf_package']} |")
    L.append(f"| load generator | `data-bridge-kv-bench` from the same tree, {a.threads} "
             f"thread{'s' if a.threads > 1 else ''} |")
    L.append("")
    L.append("## Method")
    L.append("")
    L.append(f"- Command: `{ctx['command']}`")
    for name in SERVERS:
        if name in ctx["server_commands"]:
            L.append(f"- {NAMES[name]}: `{ctx['server_commands'][name]}` (ports vary)")
    if summary:
        L.append(f"- Load: `{ctx['bench_example']}`, closed loop: each connection keeps "
                 f"`--pipeline` requests in flight. Keys are `key:<n>` drawn uniformly from "
                 f"{a.keys} keys, all written before each value size's cells; GETs hit.")
        L.append(f"- {a.runs} round{'s' if a.runs > 1 else ''}: each round runs every cell "
                 f"once against each server, the order alternating from cell to cell and round "
                 f"to round. Each run: {a.warmup:g} s of warm-up on its connections, then "
                 f"{a.duration:g} s measured. Before the first round, {a.warmup_run:g} s of "
                 f"mixed load per server and value size, not recorded.")
        L.append("- Figures are medians over the runs; min-max in parentheses. Latency is per "
                 "request, from queueing it to its reply (HDR-style histogram). Server CPU is "
                 "user + system time of the server process over the measured window (from "
                 "/proc/PID/stat, 10 ms ticks) divided by the operations: lower is better; "
                 "`CPU-s per M ops` = the same figure in seconds per million operations.")
        L.append(f"- Ratios are ours / Redis. Throughput: above 1 we are faster. Latency and CPU: "
                 f"above 1 we are worse. Differences under {NOISE:.0%} are within run-to-run "
                 f"noise on a machine like this (docs/PERFORMANCE.md).")
        if ctx["tls"]:
            L.append("- **TLS on both servers** (`--tls`): every connection speaks TLS.")
    L.append("")
    if summary:
        thr = geomean(ratio(r["kv"]["ops_per_sec"][0], r["redis"]["ops_per_sec"][0])
                      for r in summary.values())
        eff = geomean(ratio(r["redis"]["server_cpu_us_per_op"][0],
                            r["kv"]["server_cpu_us_per_op"][0]) for r in summary.values())
        L.append("## Summary")
        L.append("")
        L.append(f"- Throughput, geometric mean over the {len(summary)} cells: **{thr:.2f}x** "
                 f"Redis's. Operations per server CPU-second: **{eff:.2f}x** Redis's.")
        for p in a.pipelines:
            sub = [r for c, r in summary.items() if c[2] == p]
            L.append(f"  - pipeline {p}: throughput {geomean(ratio(r['kv']['ops_per_sec'][0], r['redis']['ops_per_sec'][0]) for r in sub):.2f}x, "  # noqa: E501
                     f"ops per CPU-second {geomean(ratio(r['redis']['server_cpu_us_per_op'][0], r['kv']['server_cpu_us_per_op'][0]) for r in sub):.2f}x")  # noqa: E501
        verdict = ("holds" if thr >= 1.4 else "does not hold")
        L.append(f"- The seed's claim of 1.4-1.7x Redis {verdict} on this machine for this "
                 f"matrix (throughput {thr:.2f}x, efficiency {eff:.2f}x).")
        L.append("")
    L.append("## Where we lose")
    L.append("")
    L += where_we_lose(summary, rss_rows, ctx["durability"][1] if ctx["durability"] else None) \
        or ["- Nothing measured."]
    L.append("")
    if summary:
        L.append("## Throughput and server CPU")
        L.append("")
        L.append("| cell | Redis ops/s | ours ops/s | ratio | Redis CPU us/op | ours CPU us/op "
                 "| CPU ratio | Redis CPU-s per M ops | ours CPU-s per M ops |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for cell, row in summary.items():
            r, k = row["redis"], row["kv"]

            def ops(s):
                med, lo, hi = s["ops_per_sec"]
                return f"{fmt_ops(med)} ({fmt_ops(lo)}-{fmt_ops(hi)})"

            def cpu(s):
                med, lo, hi = s["server_cpu_us_per_op"]
                return f"{med:.2f} ({lo:.2f}-{hi:.2f})"
            L.append(f"| {cell_label(cell)} | {ops(r)} | {ops(k)} "
                     f"| {fmt_ratio(ratio(k['ops_per_sec'][0], r['ops_per_sec'][0]))} "
                     f"| {cpu(r)} | {cpu(k)} "
                     f"| {fmt_ratio(ratio(k['server_cpu_us_per_op'][0], r['server_cpu_us_per_op'][0]))} "  # noqa: E501
                     f"| {r['server_cpu_us_per_op'][0]:.2f} | {k['server_cpu_us_per_op'][0]:.2f} |")
        L.append("")
        L.append("## Latency (us; medians over the runs of each run's percentile)")
        L.append("")
        L.append("| cell | Redis p50 | ours p50 | Redis p99 | ours p99 | p99 ratio | Redis p99.9 "
                 "| ours p99.9 | p99.9 ratio |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for cell, row in summary.items():
            r, k = row["redis"], row["kv"]
            L.append(f"| {cell_label(cell)} | {fmt_us(r['p50_us'][0])} | {fmt_us(k['p50_us'][0])} "
                     f"| {fmt_us(r['p99_us'][0])} ({fmt_us(r['p99_us'][1])}-{fmt_us(r['p99_us'][2])}) "  # noqa: E501
                     f"| {fmt_us(k['p99_us'][0])} ({fmt_us(k['p99_us'][1])}-{fmt_us(k['p99_us'][2])}) "  # noqa: E501
                     f"| {fmt_ratio(ratio(k['p99_us'][0], r['p99_us'][0]))} "
                     f"| {fmt_us(r['p999_us'][0])} | {fmt_us(k['p999_us'][0])} "
                     f"| {fmt_ratio(ratio(k['p999_us'][0], r['p999_us'][0]))} |")
        L.append("")
        if ctx["chart"]:
            L.append(f"![ratios ours / Redis]({os.path.basename(ctx['chart'])})")
            L.append("")
    L.append("## Memory: RSS per key")
    L.append("")
    if rss_rows:
        L.append("Fresh servers (memory only, no limit), the same keys written to both with "
                 "`SET key value EX 86400`, pipelined. Per key = (RSS after writing, 2 s later - "
                 "RSS idle) / keys. Accounted = what the server counts itself (ours: INFO "
                 "`memory_bytes`; Redis: `used_memory`, including its own overhead).")
        L.append("")
        L.append("| data | keys | key+value bytes | Redis RSS per key | ours RSS per key | ratio "
                 "| Redis RSS | ours RSS | Redis accounted | ours accounted | keys back (Redis / "
                 "ours) |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        mib = 1 << 20
        for row in rss_rows:
            r, k = row["redis"], row["kv"]
            L.append(f"| {row['what']} | {row['keys']} | {row['data_bytes'] / row['keys']:.0f} B "
                     f"per key | {r['per_key']:.0f} B | {k['per_key']:.0f} B "
                     f"| {fmt_ratio(ratio(k['per_key'], r['per_key']))} "
                     f"| {r['rss'] / mib:.0f} MiB | {k['rss'] / mib:.0f} MiB "
                     f"| {r['accounted'] / mib:.0f} MiB "
                     f"| {(k['accounted'] or 0) / mib:.0f} MiB | {r['dbsize']} / {k['dbsize']} |")
        L.append("")
    else:
        L.append("Not measured in this run (`--skip-rss`). Command: `bench/report.py "
                 "--skip-matrix`.")
        L.append("")
    L.append("## Durability and Celery")
    L.append("")
    if ctx["durability"]:
        cmd, text = ctx["durability"]
        L.append(f"Acknowledged SETs with persistence, from `{' '.join(cmd[1:])}` (one round: "
                 f"indicative only; the full comparison with recovery times: "
                 f"`bench/durability.py`, about 10 minutes).")
        L.append("")
        # durability.py prints its own markdown: nest its headings under this section.
        L.append(re.sub(r"^(#+) ", r"#\1 ", text.strip(), flags=re.M))
    else:
        L.append("Not run here (`--no-durability`): `bench/durability.py` (about 10 minutes; "
                 "`--writers 1,16 --runs 1 --duration 3 --skip-recovery` for a 1-minute look).")
    L.append("")
    # The comparisons that run on their own (minutes each, other tools): their latest results,
    # as their scripts wrote them beside this report, with the command and date they carry.
    for name, title, how in COMPANIONS:
        L.append(f"## {title}")
        L.append("")
        text = companion_text(os.path.join(os.path.dirname(path), name))
        if text is None:
            L.append(f"Not measured yet: {how}")
        else:
            L.append(f"From `bench/results/{name}` ({how}):")
            L.append("")
            L.append(text)
        L.append("")
    L.append("Tiered storage against Redis on Celery-shaped data (RSS with 10x more data than "
             "`--max-memory`, mass expiry): `bench/results/tiering.md`, from `bench/tiering.py` "
             "and `bench/expiry.py`. The full durability comparison (1/16/64 writers, recovery "
             "of 1 M keys): `bench/results/durability.md`, from `bench/durability.py`.")
    L.append("")
    L.append("Every run is in `runs.json` beside this report.")
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


# Results files of the separate comparisons, included in the report when present.
COMPANIONS = [
    ("celery.md", "Celery: AsyncResult.get() and tasks/s, this backend vs Celery's Redis backend",
     "`bindings/python/tests/celery_support/bench_celery.py`, a real prefork worker and broker"),
    ("resp.md", "RESP: redis-benchmark against both servers", "`bench/resp_compare.py`"),
]


def companion_text(path):
    """A results file's Markdown with its headings nested under the report's, or None."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return re.sub(r"^(#+) ", r"##\1 ", text, flags=re.M)


def write_chart(path, summary, rss_rows):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        log("matplotlib is missing (make bench installs it): no chart")
        return None
    cells = list(summary)
    labels = [cell_label(c) for c in cells]
    panels = [
        ("throughput, ours / Redis (>1: we are faster)", "ops_per_sec", False),
        ("p99 latency, ours / Redis (<1: we are faster)", "p99_us", True),
        ("server CPU per op, ours / Redis (<1: we use less)", "server_cpu_us_per_op", True),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(16, 0.32 * len(cells) + 2.2), sharey=True)
    y = list(range(len(cells)))
    for ax, (title, field, lower_better) in zip(axes, panels):
        med, lo, hi = [], [], []
        for c in cells:
            k, r = summary[c]["kv"][field], summary[c]["redis"][field]
            m = ratio(k[0], r[0])
            med.append(m)
            # The widest ratio the runs allow: our best against their worst and back.
            lo.append(max(0.0, m - ratio(k[1], r[2])))
            hi.append(max(0.0, ratio(k[2], r[1]) - m))
        colors = []
        for m in med:
            if math.isnan(m) or abs(m - 1) < NOISE:
                colors.append("#999999")  # within noise
            elif (m < 1) == lower_better:
                colors.append("#4c9a2a")  # we do better
            else:
                colors.append("#c0392b")  # we do worse
        med = [1.0 if math.isnan(m) else m for m in med]
        # Bars grow from 1 (parity) on a log axis: 2x better and 2x worse look alike.
        ax.barh(y, [m - 1 for m in med], left=1, xerr=[lo, hi], color=colors,
                error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "#555"})
        ax.set_xscale("log", base=2)
        # Symmetric limits around 1, past the widest whisker; readable ticks.
        ends = [m - l for m, l in zip(med, lo)] + [m + h for m, h in zip(med, hi)]
        span = max([1.25] + [max(e, 1 / e) for e in ends if e > 0]) * 1.1
        ax.set_xlim(1 / span, span)
        ticks = [t for t in (0.125, 0.25, 0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 4, 8)
                 if 1 / span <= t <= span]
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(labels, fontsize=8)
    axes[0].invert_yaxis()
    note = ("bars: medians; whiskers: min-max of the runs' ratios; green: we do better, red: "
            f"worse, grey: within {NOISE:.0%}")
    if rss_rows:
        note += "; RSS per key ours / Redis: " + ", ".join(
            f"{r['shape']} {ratio(r['kv']['per_key'], r['redis']['per_key']):.2f}"
            for r in rss_rows)
    fig.suptitle("data-bridge-kv vs Redis 7 (" + note + ")", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="defaults for checking the tooling: 1 round of 1 s runs, 10 k keys, "
                         "50 k keys for RSS, no durability")
    ap.add_argument("--runs", type=int, help="rounds (default 3)")
    ap.add_argument("--duration", type=float, help="measured seconds per run (default 4)")
    ap.add_argument("--warmup", type=float, help="warm-up seconds per run (default 1)")
    ap.add_argument("--warmup-run", type=float,
                    help="seconds of unrecorded load per server and value size before the first "
                         "round (default 2)")
    ap.add_argument("--workloads", default="get,set,mixed:80")
    ap.add_argument("--connections", default="1,50")
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--value-sizes", default="100,4096")
    ap.add_argument("--keys", type=int, help="key space of the matrix (default 100000)")
    ap.add_argument("--threads", type=int, default=1, help="load generator threads")
    ap.add_argument("--kv-flags", default="", help="extra flags for data-bridge-kv-server")
    ap.add_argument("--tls", action="store_true",
                    help="TLS on both servers (a throwaway CA and certificate)")
    ap.add_argument("--rss-keys", type=int, help="keys for RSS per key (default 1000000)")
    ap.add_argument("--rss-shapes", default="celery-large,celery-small",
                    help="comma-separated: " + ", ".join(SHAPES))
    ap.add_argument("--rss-batch", type=int, default=1000, help="SETs per pipelined batch")
    ap.add_argument("--skip-matrix", action="store_true")
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--durability", dest="durability", action="store_true", default=None,
                    help="include bench/durability.py's acknowledged-write rows (1 round, about "
                         "1.5 min; default on, off with --quick)")
    ap.add_argument("--no-durability", dest="durability", action="store_false")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    for name, (full, quick) in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.workloads = args.workloads.split(",")
    args.connections = [int(x) for x in args.connections.split(",")]
    args.pipelines = [int(x) for x in args.pipelines.split(",")]
    args.value_sizes = [int(x) for x in args.value_sizes.split(",")]
    args.rss_shapes = [s for s in args.rss_shapes.split(",") if s]
    for s in args.rss_shapes:
        if s not in SHAPES:
            sys.exit(f"--rss-shapes: {s}? ({', '.join(SHAPES)})")
    compare.require_binaries()

    cells = len(args.workloads) * len(args.connections) * len(args.pipelines) * len(
        args.value_sizes)
    if not args.skip_matrix:
        est = cells * 2 * args.runs * (args.duration + args.warmup + 0.2)
        log(f"matrix: {cells} cells x 2 servers x {args.runs} rounds, about {est / 60:.1f} min")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    os.makedirs(args.out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="dbkv-report-")
    start = time.monotonic()
    ctx = {"args": args, "machine": machine_info(), "versions": versions(),
           "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
           "load_before": loadavg(), "tls": args.tls, "rss": [], "summary": {},
           "durability": None, "chart": None, "server_commands": {},
           "command": " ".join(shlex.quote(a) for a in [os.path.relpath(
               os.path.abspath(sys.argv[0]), ROOT)] + sys.argv[1:])}
    pki = None
    if args.tls:
        import pki as pki_mod
        pki = pki_mod.make_pki(os.path.join(tmp, "pki"))
    servers = Servers(tmp, args.kv_flags.split(), pki)
    runs = []
    try:
        if not args.skip_matrix:
            cells_list, runs = matrix(args, servers, pki)
            ctx["summary"] = summarize(cells_list, runs)
            ctx["server_commands"] = dict(servers.commands)
            ex = compare.bench_cmd("URL", "PID", "get", 16, 50, 100, args.keys, args.duration,
                                   args.warmup, ["--threads", str(args.threads)] +
                                   (["--tls-ca", "CA"] if pki else []))
            ctx["bench_example"] = " ".join(["data-bridge-kv-bench"] + ex[1:])
        if not args.skip_rss:
            for shape in args.rss_shapes:
                log(f"RSS: {args.rss_keys} keys, {SHAPES[shape][0]}, into fresh servers")
                row = rss_shape(shape, args.rss_keys, servers, args.rss_batch)
                log(f"  Redis {row['redis']['per_key']:.0f} B/key, ours "
                    f"{row['kv']['per_key']:.0f} B/key (written in {row['load_s']:.0f} s)")
                ctx["rss"].append(row)
        if args.durability:
            ctx["durability"] = durability_rows()
    finally:
        servers.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    ctx["elapsed"] = time.monotonic() - start
    ctx["load_after"] = loadavg()
    with open(os.path.join(args.out_dir, "runs.json"), "w") as f:
        json.dump({"machine": ctx["machine"], "versions": ctx["versions"], "date": ctx["date"],
                   "command": ctx["command"], "runs": runs, "rss": ctx["rss"]}, f, indent=1)
    if ctx["summary"]:
        ctx["chart"] = write_chart(os.path.join(args.out_dir, "chart.png"), ctx["summary"],
                                   ctx["rss"])
    report = os.path.join(args.out_dir, "report.md")
    write_report(report, ctx)
    log(f"wrote {report}" + (f" and {ctx['chart']}" if ctx["chart"] else "") +
        f" in {ctx['elapsed'] / 60:.1f} min")
    failed = sum(1 for r in runs if r.get("errors"))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; every server this script started is stopped")
        sys.exit(130)
    except SystemExit as e:
        if isinstance(e.code, int) and e.code > 128:
            log(f"stopped by signal {e.code - 128}; every server this script started is stopped")
        raise
