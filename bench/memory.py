#!/usr/bin/env python3
"""RSS per key, ours against Redis 7, at several key counts, in one run on this machine.

For every shape and every N: fresh servers (Debian's redis-server, nothing on disk, and ours,
memory only), the same N items written to both with EX 86400 in pipelined batches, then
(RSS - idle RSS) / N for each, and the ratio with the target of the memory issue beside it.
Several N, because a hash table's fill factor swings with N (a table that just doubled is half
empty): one N alone can flatter either server.

  bench/memory.py                                # 750k, 1M and 1.5M keys; every shape
  bench/memory.py --keys 100000 --shapes tiny    # a quick look
  bench/memory.py --out bench/results/memory.md  # the table as a Markdown file too

Shapes: celery-small (53 B keys, ~170 B JSON results), celery-large (1-4 KiB results), tiny
(16 B keys and 16 B values). About 6 GB of RAM per server at 1.5M celery-large keys.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import compare  # noqa: E402  (the harness: bench/compare.py)
import report  # noqa: E402  (rss_shape: the load and the measurement, as make bench does)


# The memory issue's targets, ours / Redis (RSS per key).
TARGETS = {"celery-small": 0.70, "celery-large": 1.00, "tiny": 0.50}


def redis_version():
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    return out.split(" sha=")[0].strip() or "redis-server"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", default="750000,1000000,1500000", help="comma-separated N")
    ap.add_argument("--shapes", default="celery-small,tiny,celery-large",
                    help="comma-separated: " + ", ".join(report.SHAPES))
    ap.add_argument("--batch", type=int, default=1000, help="SETs per pipelined batch")
    ap.add_argument("--kv-flags", default="", help="extra flags for data-bridge-kv-server")
    ap.add_argument("--out", help="also write the table (Markdown) here")
    args = ap.parse_args()
    shapes = [s for s in args.shapes.split(",") if s]
    for s in shapes:
        if s not in report.SHAPES:
            sys.exit(f"--shapes: {s}? ({', '.join(report.SHAPES)})")
    counts = [int(n) for n in args.keys.split(",") if n]

    tmp = tempfile.mkdtemp(prefix="dbkv-memory-")
    servers = report.Servers(tmp, args.kv_flags.split(), None)
    rows = []
    started = time.monotonic()
    for shape in shapes:
        for n in counts:
            compare.log(f"{shape}: {n} keys into fresh servers")
            r = report.rss_shape(shape, n, servers, args.batch)
            for name in ("kv", "redis"):
                if r[name]["errors"] or r[name]["dbsize"] != n:
                    sys.exit(f"{name}: {r[name]['errors']} errors, {r[name]['dbsize']} keys "
                             f"of {n}: the figures would not mean anything")
            rows.append(r)
    lines = [
        f"RSS per key after writing N keys with EX 86400 (fresh servers, pipelined batches of "
        f"{args.batch}); {redis_version()}; {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{time.monotonic() - started:.0f} s",
        "",
        "| shape | N | data B/key | ours B/key | Redis B/key | ours / Redis | target | "
        "ours accounted B/key |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        kv, red = r["kv"], r["redis"]
        ratio = compare.ratio(kv["per_key"], red["per_key"])
        target = TARGETS.get(r["shape"])
        accounted = (kv["accounted"] or 0) / r["keys"]
        lines.append(
            f"| {r['what']} | {r['keys']} | {r['data_bytes'] / r['keys']:.0f} "
            f"| {kv['per_key']:.0f} | {red['per_key']:.0f} | {ratio:.2f} "
            f"| {'<= %.2f' % target if target else '-'} | {accounted:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
