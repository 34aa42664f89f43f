#!/usr/bin/env python3
"""Tests of the benchmark tooling: data-bridge-kv-bench's TLS and JSON output against both
servers, and bench/report.py (a tiny matrix end to end; every server stopped, also when the
script is interrupted; the "where we lose" lines).

    bazel build //server:data-bridge-kv-server //bench:data-bridge-kv-bench
    python3 bench/bench_test.py          # or: make bench-test; about 30 s

Needs redis-server and the openssl CLI (scripts/setup.sh installs both).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import compare  # noqa: E402
import pki  # noqa: E402
import report  # noqa: E402

BENCH = compare.BENCH
SERVER = compare.SERVER


def bench(url, *flags, timeout=60):
    return subprocess.run([BENCH, "--url", url, *flags], capture_output=True, text=True,
                          timeout=timeout)


def last_json(p):
    return json.loads(p.stdout.strip().splitlines()[-1])


def started_pids(stderr):
    """The server pids bench/report.py says it started ("started NAME (pid N) at URL")."""
    return {int(line.split("(pid ")[1].split(")")[0]) for line in stderr.splitlines()
            if line.startswith("started ") and "(pid " in line}


def alive(pids, wait_s=10):
    """Those of pids still running (not zombies) after up to wait_s seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        left = set()
        for pid in pids:
            try:
                if compare.proc_stat(pid)[0] != "Z":
                    left.add(pid)
            except OSError:
                pass
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@unittest.skipUnless(os.access(BENCH, os.X_OK) and os.access(SERVER, os.X_OK),
                     "build first: bazel build //server:data-bridge-kv-server "
                     "//bench:data-bridge-kv-bench")
@unittest.skipUnless(shutil.which("redis-server") and shutil.which("openssl"),
                     "needs redis-server and openssl")
class TlsTest(unittest.TestCase):
    """--tls against our server and Redis, both serving TLS only."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dbkv-bench-test-")
        cls.pki = pki.make_pki(os.path.join(cls.tmp, "pki"))
        cls.servers = compare.Servers()
        cls.kv = cls.servers.kv(tls=cls.pki)
        cls.kv_url = cls.kv.url
        cls.redis = cls.servers.redis(cls.tmp, tls=cls.pki)
        cls.redis_url = cls.redis.url

    @classmethod
    def tearDownClass(cls):
        cls.servers.stop_all()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_urls_say_tls(self):
        self.assertTrue(self.kv_url.startswith("kvs://"))
        self.assertTrue(self.redis_url.startswith("rediss://"))

    def test_every_workload_over_tls_on_both_protocols(self):
        for url, proc in ((self.kv_url, self.kv), (self.redis_url, self.redis)):
            plain_scheme = url.replace("kvs://", "kv://").replace("rediss://", "redis://")
            for workload in ("get", "set", "mixed:80"):
                with self.subTest(url=url, workload=workload):
                    p = bench(plain_scheme, "--tls", "--tls-ca", self.pki.ca, "--workload",
                              workload, "--connections", "4", "--pipeline", "8", "--requests",
                              "4000", "--keys", "500", "--value-size", "1000", "--ttl", "60",
                              "--server-pid", str(proc.pid), "--json")
                    self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                    r = last_json(p)
                    self.assertTrue(r["tls"])
                    self.assertEqual(r["errors"], 0)
                    self.assertGreater(r["ops"], 0)
                    for f in ("ops_per_sec", "p50_us", "p99_us", "p999_us"):
                        self.assertGreater(r[f], 0, f)

    def test_tls_urls_imply_tls(self):
        for url in (self.kv_url, self.redis_url):
            with self.subTest(url=url):
                p = bench(url, "--tls-ca", self.pki.ca, "--requests", "500", "--keys", "50",
                          "--json")
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertTrue(last_json(p)["tls"])

    def test_a_duration_run_over_tls(self):
        p = bench(self.kv_url, "--tls-ca", self.pki.ca, "--duration", "0.5", "--warmup", "0.2",
                  "--connections", "3", "--threads", "2", "--workload", "mixed:50", "--keys",
                  "100", "--json")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertGreater(last_json(p)["ops"], 0)

    def test_the_server_is_verified(self):
        for url in (self.kv_url, self.redis_url):
            with self.subTest(url=url):
                # Not the name in the certificate.
                p = bench(url, "--tls-ca", self.pki.ca, "--tls-server-name", "elsewhere.example",
                          "--requests", "10", "--keys", "5")
                self.assertEqual(p.returncode, 1)
                self.assertIn("certificate verify failed", p.stderr)
                # Not signed by a CA we trust (the system's CAs).
                p = bench(url, "--requests", "10", "--keys", "5")
                self.assertEqual(p.returncode, 1)
                self.assertIn("certificate verify failed", p.stderr)
                # Unless told not to verify.
                p = bench(url, "--tls-insecure", "--tls-server-name", "elsewhere.example",
                          "--requests", "10", "--keys", "5")
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_plaintext_against_a_tls_port_fails_fast(self):
        t = time.monotonic()
        p = bench(self.kv_url.replace("kvs://", "kv://"), "--requests", "10", "--keys", "5",
                  timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertLess(time.monotonic() - t, 15)

    def test_tls_options_need_tls(self):
        p = bench("kv://127.0.0.1:1", "--tls-insecure")
        self.assertEqual(p.returncode, 2)
        self.assertIn("need --tls", p.stderr)

    def test_a_bad_ca_file_is_reported(self):
        p = bench(self.kv_url, "--tls-ca", os.path.join(self.tmp, "missing.pem"), "--requests",
                  "1")
        self.assertEqual(p.returncode, 1)
        self.assertIn("--tls-ca", p.stderr)


@unittest.skipUnless(os.access(BENCH, os.X_OK) and os.access(SERVER, os.X_OK),
                     "build first")
@unittest.skipUnless(shutil.which("redis-server"), "needs redis-server")
class ReportTest(unittest.TestCase):
    def setUp(self):
        self.out = tempfile.mkdtemp(prefix="dbkv-report-test-")

    def tearDown(self):
        shutil.rmtree(self.out, ignore_errors=True)

    def test_a_tiny_report_end_to_end(self):
        p = subprocess.run(
            [sys.executable, os.path.join(HERE, "report.py"), "--quick", "--workloads",
             "get,set", "--connections", "2", "--pipelines", "4", "--value-sizes", "100",
             "--duration", "0.3", "--warmup", "0.1", "--warmup-run", "0.2", "--keys", "200",
             "--runs", "2", "--rss-keys", "2000", "--rss-shapes", "celery-small",
             "--out-dir", self.out],
            capture_output=True, text=True, timeout=180)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        with open(os.path.join(self.out, "report.md")) as f:
            text = f.read()
        for part in ("## Machine and versions", "## Where we lose", "## Throughput and server CPU",
                     "## Latency", "## Memory: RSS per key", "GET, 2 conns, P4, 100 B",
                     "SET, 2 conns, P4, 100 B", "Quick run", "redis-server", "git "):
            self.assertIn(part, text)
        with open(os.path.join(self.out, "runs.json")) as f:
            data = json.load(f)
        self.assertEqual(len(data["runs"]), 2 * 2 * 2)  # cells x servers x rounds
        self.assertTrue(all(r["errors"] == 0 for r in data["runs"]), data["runs"])
        self.assertEqual(data["rss"][0]["kv"]["dbsize"], 2000)
        self.assertEqual(data["rss"][0]["redis"]["dbsize"], 2000)
        try:
            import matplotlib  # noqa: F401
            self.assertTrue(os.path.exists(os.path.join(self.out, "chart.png")))
        except ImportError:
            pass
        pids = started_pids(p.stderr)
        self.assertEqual(len(pids), 4)  # the matrix's two, the RSS phase's two
        self.assertEqual(alive(pids), set())

    def test_an_interrupted_report_stops_its_servers(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig):
                proc = subprocess.Popen(
                    [sys.executable, os.path.join(HERE, "report.py"), "--workloads", "get",
                     "--connections", "1", "--pipelines", "1", "--value-sizes", "100",
                     "--duration", "30", "--warmup", "0", "--warmup-run", "0", "--keys", "100",
                     "--skip-rss", "--no-durability", "--out-dir", self.out],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                err = ""
                try:
                    # Wait until it is measuring (both servers up).
                    line = ""
                    while "writing" not in line:
                        line = proc.stderr.readline()
                        self.assertTrue(line, "report.py ended early: " + err)
                        err += line
                    time.sleep(1.0)
                    pids = started_pids(err)
                    self.assertEqual(len(pids), 2)
                    self.assertEqual(alive(pids, 0), pids)
                    proc.send_signal(sig)
                    proc.wait(timeout=60)
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
                    proc.stderr.close()
                self.assertIn(proc.returncode, (128 + sig, 130))
                self.assertEqual(alive(pids), set())


class WhereWeLoseTest(unittest.TestCase):
    @staticmethod
    def row(ops, p99, cpu):
        return {"ops_per_sec": (ops, ops * 0.95, ops * 1.05), "p50_us": (p99 / 2,) * 3,
                "p99_us": (p99,) * 3, "p999_us": (p99 * 2,) * 3,
                "server_cpu_us_per_op": (cpu,) * 3, "errors": 0, "n": 3}

    def test_losses_are_named_and_wins_are_not(self):
        summary = {
            ("get", 50, 16, 100): {"redis": self.row(1e6, 500, 1.0),
                                   "kv": self.row(5e5, 900, 2.0)},
            ("set", 1, 1, 4096): {"redis": self.row(2e4, 80, 20.0),
                                  "kv": self.row(3e4, 60, 10.0)},
        }
        rss = [{"shape": "celery-small", "keys": 1000, "kv": {"per_key": 500.0},
                "redis": {"per_key": 400.0}}]
        text = "\n".join(report.where_we_lose(summary, rss))
        self.assertIn("GET, 50 conns, P16, 100 B: 0.50x Redis's throughput", text)
        self.assertIn("our best run below their worst", text)
        self.assertIn("GET, 50 conns, P16, 100 B: p99 1.80x", text)
        self.assertIn("GET, 50 conns, P16, 100 B: 2.00x Redis's server CPU", text)
        self.assertNotIn("SET, 1 conn", text)
        self.assertIn("1 of 2 cells", text)
        self.assertIn("**Memory** (celery-small): more RSS per key than Redis (1.25x", text)

    def test_durability_ratios_are_read_from_its_table(self):
        text = ("### Ratios, data-bridge-kv / Redis (ops/s; >1: kv faster)\n\n"
                "| writers | always / always | periodic / everysec | never / no | memory / memory |\n"
                "|---:|---:|---:|---:|---:|\n"
                "| 1 | 0.95 | 0.79 | 1.20 | 0.96 |\n"
                "| 16 | 0.89 | 0.64 | 0.58 | 1.70 |\n\nkv always: ...\n")
        self.assertEqual(len(report.durability_ratios(text)), 8)
        lines = report.where_we_lose({}, [], text)
        self.assertEqual(len(lines), 1)
        self.assertIn("fsync never vs appendfsync no, 16 writers: 0.58x", lines[0])
        self.assertIn("fsync periodic vs appendfsync everysec, 1 writer: 0.79x", lines[0])
        self.assertNotIn("memory only", lines[0])

    def test_labels(self):
        self.assertEqual(report.cell_label(("mixed:80", 1, 16, 4096)),
                         "mixed 80/20, 1 conn, P16, 4 KiB")


if __name__ == "__main__":
    unittest.main(verbosity=2)
