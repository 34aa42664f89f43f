#!/usr/bin/env python3
"""Mass expiry: a million keys expiring in the same second, against Redis 7 and data-bridge-kv.

For each server (Debian's redis-server with nothing on disk, and ours in cache mode, started on
free ports): writes --keys keys that all expire at the same instant (SET k v PXAT t, pipelined),
then one client (its own process) times GETs of a key that stays, from --settle seconds before
that instant to --after seconds after it, while another samples DBSIZE until only that key is
left. Prints how long reclaiming
took, and the GET latency percentiles before and during the expiry, side by side.

Both servers are driven by the same client (redis-py over RESP), so the client's own cost is
the same on both sides.

  bench/expiry.py --keys 1000000
"""
import argparse
import os
import sys
import tempfile
import multiprocessing as mp
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the harness: servers, figures)
from compare import percentile as pct  # noqa: E402


def time_gets(port, expire_at_ms, args, q):
    g = compare.redis_client(port)
    before, during, slow = [], [], []
    end_ms = expire_at_ms + args.after * 1000
    while time.time() * 1000 < expire_at_ms - args.settle * 1000:
        time.sleep(0.01)
    while True:
        a = time.perf_counter()
        got = g.get("stays")
        us = (time.perf_counter() - a) * 1e6
        assert got == b"here"
        now_ms = time.time() * 1000
        if now_ms >= end_ms:
            break
        if now_ms < expire_at_ms:
            before.append(us)
        else:
            during.append(us)
            if us > 10000:
                slow.append((round(now_ms - expire_at_ms), round(us)))
    q.put((before, during, slow))


def run(name, port, args):
    r = compare.redis_client(port)
    r.set("stays", "here")
    pipe_size = 1000
    # Everything expires at one instant, some seconds after the writes end.
    t0 = time.time()
    per_s = 150000  # a conservative write rate for redis-py pipelines
    expire_at_ms = int((t0 + args.keys / per_s + args.settle + 2) * 1000)
    value = "v" * args.value_size
    for i in range(0, args.keys, pipe_size):
        p = r.pipeline(transaction=False)
        for k in range(i, min(i + pipe_size, args.keys)):
            p.set(f"expiring:{k:08d}", value, pxat=expire_at_ms)
        p.execute()
    wrote_s = time.time() - t0
    if time.time() * 1000 > expire_at_ms - 1000:
        raise RuntimeError("writes took longer than planned; lower --keys")
    assert r.dbsize() == args.keys + 1

    # The GETs are timed in another process (no GIL shared with the DBSIZE sampler), over the
    # same window on both servers: from --settle seconds before the instant to --after after.
    q = mp.Queue()
    timer = mp.Process(target=time_gets, args=(port, expire_at_ms, args, q))
    timer.start()
    c = compare.redis_client(port)
    reclaimed = {}
    deadline = expire_at_ms / 1000 + args.timeout
    while time.time() < deadline:
        if c.dbsize() <= 1:
            reclaimed["s"] = time.time() - expire_at_ms / 1000
            break
        time.sleep(0.01)
    before, during, slow = q.get(timeout=args.timeout + args.settle + args.after + 60)
    timer.join()
    before.sort()
    during.sort()
    return {
        "name": name,
        "wrote_s": wrote_s,
        "reclaimed_s": reclaimed.get("s", float("nan")),
        "before": before,
        "during": during,
        "slow": slow,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--settle", type=float, default=3.0,
                    help="seconds of GETs timed before the expiry instant")
    ap.add_argument("--after", type=float, default=3.0,
                    help="seconds of GETs timed from the expiry instant on")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="give up if the keys are not reclaimed this long after expiry")
    ap.add_argument("--shards", type=int, default=2)
    args = ap.parse_args()

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        # One server at a time; our port speaks RESP too.
        for name, start in (("redis", lambda s: s.redis(tmp)),
                            ("data-bridge-kv", lambda s: s.kv(["--shards", str(args.shards)]))):
            with compare.Servers() as servers:
                results.append(run(name, start(servers).port, args))

    print(f"mass expiry of {args.keys} keys ({args.value_size} B values) in the same second; "
          f"GETs of another key from one redis-py client")
    print(f"{'server':16} {'reclaimed s':>11} {'GETs':>7} {'p50 us':>8} {'p99 us':>8} "
          f"{'p99.9 us':>9} {'max us':>9}   (before expiry: p50 / p99 us)")
    for res in results:
        d, b = res["during"], res["before"]
        print(f"{res['name']:16} {res['reclaimed_s']:11.2f} {len(d):7d} {pct(d, .5):8.0f} "
              f"{pct(d, .99):8.0f} {pct(d, .999):9.0f} {(d[-1] if d else 0):9.0f}   "
              f"({pct(b, .5):.0f} / {pct(b, .99):.0f})")
    for res in results:
        if res["slow"]:
            print(f"{res['name']}: GETs over 10 ms (ms after the instant, us): {res['slow'][:10]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
