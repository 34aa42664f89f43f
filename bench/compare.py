#!/usr/bin/env python3
"""Side-by-side load runs against Redis 7 and data-bridge-kv, on this machine, in one run.

Starts Debian's redis-server (nothing on disk) and our server on free ports, runs
data-bridge-kv-bench against each in turn (alternating, after a warm-up) for every cell of the
matrix, and prints medians of ops/s and server CPU microseconds per operation, with ratios.

  bench/compare.py --workloads get,set --pipelines 1,16 --connections 50 --runs 3 --duration 5
"""
import argparse
import ctypes
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "bazel-bin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20, poll=0.05):
    """Returns once port accepts connections; raises if proc exits first or after timeout s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(poll)
    raise RuntimeError(f"port {port} not open after {timeout}s")


def _die_with_parent():
    """In the child: SIGTERM when this script dies, even by SIGKILL (Linux prctl)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(argv, port, log_path):
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)
    finally:
        if log_path:
            out.close()
    try:
        wait_port(port, proc)
    except BaseException:
        stop(proc)
        raise
    return proc


def start_redis(tmp, extra=(), tls=None, log_path=None):
    """redis-server on a free port, nothing on disk; returns (process, URL). tls: a
    bench/pki.py Pki: the port speaks TLS only (rediss://)."""
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", tmp]
    if tls:
        argv += ["--port", "0", "--tls-port", str(port), "--tls-cert-file", tls.server_cert,
                 "--tls-key-file", tls.server_key, "--tls-ca-cert-file", tls.ca,
                 "--tls-auth-clients", "no"]
    proc = _spawn(argv + list(extra), port, log_path)
    return proc, f"{'rediss' if tls else 'redis'}://127.0.0.1:{port}"


def start_kv(tmp, extra, tls=None, log_path=None):
    """Our server on a free port (memory only unless extra says otherwise); returns (process,
    URL). tls: a bench/pki.py Pki: the port speaks TLS only (kvs://)."""
    port = free_port()
    argv = [os.path.join(BIN, "server/data-bridge-kv-server"), "--bind", f"127.0.0.1:{port}",
            "--http-bind", "127.0.0.1:0"]
    if tls:
        argv += ["--tls-cert", tls.server_cert, "--tls-key", tls.server_key]
    proc = _spawn(argv + list(extra), port, log_path)
    return proc, f"{'kvs' if tls else 'kv'}://127.0.0.1:{port}"


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


def bench_cmd(url, pid, workload, pipeline, connections, value_size, keys, duration, warmup,
              extra=()):
    """The data-bridge-kv-bench command line for one run (JSON result on the last line)."""
    return [os.path.join(BIN, "bench/data-bridge-kv-bench"), "--url", url,
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


def run_bench(url, pid, workload, pipeline, args):
    r = run_json(bench_cmd(url, pid, workload, pipeline, args.connections, args.value_size,
                           args.keys, args.duration, args.warmup))
    if r.get("errors"):
        raise RuntimeError(f"{url} {workload}: {r['errors']} errors ({r.get('first_error')})")
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
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
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="dbkv-bench-")
    redis, redis_url = start_redis(tmp)
    try:
        kv, kv_url = start_kv(tmp, args.kv_flags.split())
    except BaseException:
        stop(redis)
        raise
    rows = []
    raw = []
    try:
        for workload in args.workloads.split(","):
            for pipeline in [int(p) for p in args.pipelines.split(",")]:
                res = {"redis": [], "kv": []}
                for _ in range(args.runs):  # alternate the two servers
                    for name, proc, url in (("redis", redis, redis_url), ("kv", kv, kv_url)):
                        r = run_bench(url, proc.pid, workload, pipeline, args)
                        res[name].append(r)
                        raw.append(dict(r, server=name))
                        print(f"  {name:5} {workload} P{pipeline}: {r['ops_per_sec']:.0f} ops/s, "
                              f"{r['server_cpu_us_per_op']:.2f} us CPU/op, p99 {r['p99_us']:.0f} us",
                              file=sys.stderr)
                med = {n: {k: statistics.median(x[k] for x in v)
                           for k in ("ops_per_sec", "server_cpu_us_per_op", "p50_us", "p99_us")}
                       for n, v in res.items()}
                spread = {n: (max(x["ops_per_sec"] for x in v) - min(x["ops_per_sec"] for x in v))
                          / med[n]["ops_per_sec"] * 100 for n, v in res.items()}
                rows.append((workload, pipeline, med, spread))
    finally:
        for p in (redis, kv):
            stop(p)
    print(f"{args.connections} connections, {args.value_size} B values, {args.keys} keys, "
          f"{args.runs} runs of {args.duration}s each (medians; spread = (max-min)/median)")
    print("| workload | pipeline | Redis ops/s | ours ops/s | ratio | Redis CPU us/op | ours CPU us/op "
          "| CPU ratio | Redis p99 us | ours p99 us |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for workload, pipeline, med, spread in rows:
        r, k = med["redis"], med["kv"]
        print(f"| {workload} | {pipeline} | {r['ops_per_sec']:.0f} (±{spread['redis']:.0f}%) "
              f"| {k['ops_per_sec']:.0f} (±{spread['kv']:.0f}%) "
              f"| {k['ops_per_sec'] / r['ops_per_sec']:.2f} | {r['server_cpu_us_per_op']:.2f} "
              f"| {k['server_cpu_us_per_op']:.2f} "
              f"| {k['server_cpu_us_per_op'] / r['server_cpu_us_per_op']:.2f} "
              f"| {r['p99_us']:.0f} | {k['p99_us']:.0f} |")
    if args.json_out:
        with open(args.json_out, "w") as f:
            for r in raw:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
