"""The Grafana dashboard (deploy/grafana/data-bridge-kv.json) against a real server.

Every PromQL expression of every panel and template variable is parsed by a real PromQL parser
(promql-parser), and every metric it names, every label it matches on or aggregates by, is
checked against what a running server exports on /metrics (parsed by prometheus_client). The
server runs with a data dir, a small --max-memory and --fsync always, and serves a little work,
so that every family exists (the WAL and tiering ones only exist with a data dir, the command
families only once commands ran).

    python -m pytest -q deploy/k8s/test_dashboard.py

Needs bindings/python/requirements-test.txt (promql-parser, prometheus-client,
kubernetes-validate, PyYAML).

The server binary comes from $DBKV_SERVER, else bazel-bin (make test-python builds it).
"""
from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import threading
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import kubernetes_validate
import promql_parser as promql
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "data-bridge-kv.json"

# Labels Prometheus adds to every series of a scrape target (the ServiceMonitor's targets;
# podTargetLabels turns app.kubernetes.io/component into app_kubernetes_io_component).
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "endpoint", "container",
                 "app_kubernetes_io_component"}
# Grafana's variables, replaced by what Grafana would put there before the query runs.
VARIABLES = {"$__rate_interval": "1m", "$__interval": "30s", "$__range": "1h",
             "$component": ".*", "${component}": ".*", "$pod": ".*", "${pod}": ".*"}
# What the issue asks the dashboard to show (the samples' names as PromQL sees them).
REQUIRED = {
    "databridge_kv_commands_total", "databridge_kv_command_duration_seconds_bucket",
    "databridge_kv_keys", "databridge_kv_cold_keys", "databridge_kv_memory_bytes",
    "databridge_kv_max_memory_bytes", "databridge_kv_spilled_bytes_total",
    "databridge_kv_hits_total", "databridge_kv_misses_total",
    "databridge_kv_expired_keys_total", "databridge_kv_evicted_keys_total",
    "databridge_kv_connections", "databridge_kv_auth_failures_total",
    "databridge_kv_wal_bytes_total", "databridge_kv_wal_fsync_duration_seconds_bucket",
    "databridge_kv_wal_failed", "databridge_kv_last_snapshot_timestamp_seconds",
}


def server_binary() -> str:
    path = os.environ.get("DBKV_SERVER") or str(ROOT / "bazel-bin/server/data-bridge-kv-server")
    if not os.access(path, os.X_OK):
        pytest.fail(f"server binary not found at {path}: bazel build //server:data-bridge-kv-server "
                    "(make test-python does)")
    return path


# --- a real server -------------------------------------------------------------------------


def resp(*args: bytes) -> bytes:
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def read_reply(f) -> object:
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b":"):
        return rest
    if kind == b"-":
        raise AssertionError(f"error reply: {rest!r}")
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if kind == b"*":
        return [read_reply(f) for _ in range(int(rest))]
    raise AssertionError(f"unexpected reply line {line!r}")


def scrape(http_port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


@pytest.fixture(scope="module")
def exposition(tmp_path_factory) -> Iterator[str]:
    """/metrics of a server with a data dir and a 1 MiB memory limit, after a few commands
    (the command families appear with the first command; the tiering and WAL families exist
    from the start with these flags)."""
    data = tmp_path_factory.mktemp("dashboard-data")
    proc = subprocess.Popen(
        [server_binary(), "--bind", "127.0.0.1:0", "--http-bind", "127.0.0.1:0", "--data-dir",
         str(data), "--max-memory", "1MiB", "--fsync", "always", "--shards", "2",
         "--log-format", "text", "--log-level", "info"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: "queue.Queue[bytes]" = queue.Queue()
    log: List[bytes] = []

    def pump() -> None:  # the log, line by line, until the server exits
        for line in proc.stdout:
            log.append(line)
            lines.put(line)
        lines.put(b"")

    threading.Thread(target=pump, daemon=True).start()
    try:
        http_port = data_port = 0
        while not (http_port and data_port):
            line = lines.get(timeout=30)
            assert line, "server exited at start-up:\n" + b"".join(log).decode(errors="replace")
            if m := re.search(rb"http: /metrics, /health, /ready on [\d.]+:(\d+)", line):
                http_port = int(m.group(1))
            elif m := re.search(rb"listening on [\d.]+:(\d+)", line):
                data_port = int(m.group(1))
        with socket.create_connection(("127.0.0.1", data_port), timeout=10) as s:
            f = s.makefile("rb")
            s.sendall(resp(b"SET", b"k", b"v") + resp(b"GET", b"k") + resp(b"GET", b"nope"))
            assert [read_reply(f) for _ in range(3)] == [b"OK", b"v", None]
        yield scrape(http_port)
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0, b"".join(log).decode(errors="replace")


@pytest.fixture(scope="module")
def exported(exposition: str) -> Dict[str, Set[str]]:
    """Sample name (as PromQL sees it: _total, _bucket, _count, _sum) -> its label names."""
    names: Dict[str, Set[str]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


# --- the dashboard -------------------------------------------------------------------------


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def all_panels(dashboard: dict) -> Iterator[dict]:
    for p in dashboard["panels"]:
        yield p
        yield from p.get("panels", [])  # collapsed rows hold their panels


def substitute(expr: str) -> str:
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, VARIABLES[name])
    assert "$" not in expr, f"a Grafana variable this test does not know: {expr}"
    return expr


def queries(dashboard: dict) -> List[Tuple[str, str]]:
    """(where, PromQL) for every panel target and every label_values() variable."""
    out = []
    for p in all_panels(dashboard):
        for t in p.get("targets", []):
            out.append((f"panel {p['title']!r} target {t['refId']}", t["expr"]))
    for v in dashboard["templating"]["list"]:
        if v["type"] != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.*),\s*([a-zA-Z_]\w*)\)", q.strip())
        assert m, f"variable {v['name']}: expected label_values(selector, label), got {q!r}"
        out.append((f"variable {v['name']}", m.group(1)))
        out.append((f"variable {v['name']} (label)", f"count by ({m.group(2)}) ({m.group(1)})"))
    return out


def selectors(expr) -> List:
    found = []
    promql.walk(expr, lambda n: found.append(n) if isinstance(n, promql.VectorSelector) else None)
    return found


def problems(dashboard: dict, exported: Dict[str, Set[str]]) -> List[str]:
    """What in the dashboard's queries does not match the server's metrics."""
    out = []
    for where, text in queries(dashboard):
        try:
            expr = promql.parse(substitute(text))
        except Exception as e:  # noqa: BLE001 - the parser's own error types
            out.append(f"{where}: does not parse: {e}: {text}")
            continue
        for vs in selectors(expr):
            if vs.name not in exported:
                out.append(f"{where}: {vs.name} is not on /metrics")
                continue
            for matcher in vs.matchers.matchers:
                if matcher.name not in exported[vs.name] | TARGET_LABELS:
                    out.append(f"{where}: {vs.name} has no label {matcher.name}")

        def check_grouping(node) -> None:
            labels, inner = [], []
            if isinstance(node, promql.AggregateExpr) and node.modifier is not None:
                labels, inner = node.modifier.labels, [node.expr]
            elif (isinstance(node, promql.BinaryExpr) and node.modifier is not None
                  and node.modifier.matching is not None):
                labels, inner = node.modifier.matching.labels, [node.lhs, node.rhs]
            if not labels:
                return None
            known = set(TARGET_LABELS)
            for e in inner:
                for vs in selectors(e):
                    known |= exported.get(vs.name, set())
            for label in labels:
                if label not in known:
                    out.append(f"{where}: groups by {label}, which no series under it has")
            return None

        promql.walk(expr, check_grouping)
    return out


def test_every_query_parses_and_names_only_what_the_server_exports(exported):
    assert not problems(load_dashboard(), exported), "\n".join(problems(load_dashboard(), exported))


def test_the_check_catches_a_wrong_name_a_wrong_label_and_bad_promql(exported):
    d = load_dashboard()
    panel = next(p for p in all_panels(d) if p["title"] == "Keys and cold keys")
    panel["targets"][0]["expr"] = "sum(databridge_kv_key)"
    panel["targets"][1]["expr"] = 'sum by (shard) (databridge_kv_cold_keys{tier="ram"})'
    panel = next(p for p in all_panels(d) if p["title"] == "Blocked commands")
    panel["targets"][0]["expr"] = "sum(rate(databridge_kv_blocked_commands[1m]"
    found = "\n".join(problems(d, exported))
    assert "databridge_kv_key is not on /metrics" in found
    assert "databridge_kv_cold_keys has no label tier" in found
    assert "groups by shard" in found
    assert "does not parse" in found


def test_the_dashboard_shows_what_the_issue_asks_for():
    used = set()
    for _, text in queries(load_dashboard()):
        used |= {vs.name for vs in selectors(promql.parse(substitute(text)))}
    assert REQUIRED <= used, f"not on the dashboard: {sorted(REQUIRED - used)}"


def test_quantiles_come_from_buckets_summed_by_le():
    n = 0
    for where, text in queries(load_dashboard()):
        def check(node) -> None:
            nonlocal n
            if isinstance(node, promql.Call) and node.func.name == "histogram_quantile":
                n += 1
                inner = node.args[1]
                assert isinstance(inner, promql.AggregateExpr), where
                assert "le" in inner.modifier.labels, f"{where}: not aggregated by le"
                assert all(vs.name.endswith("_bucket") for vs in selectors(inner)), where
            return None
        promql.walk(promql.parse(substitute(text)), check)
    assert n >= 5


def test_dashboard_structure():
    d = load_dashboard()
    assert d["uid"] == "data-bridge-kv" and d["title"]
    assert isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in all_panels(d)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    occupied = set()
    for p in all_panels(d):
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
        cells = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                 for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & occupied, f"panel {p['title']!r} overlaps another"
        occupied |= cells
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"] and p.get("description"), p["title"]
        for t in p["targets"]:
            assert t["datasource"] == p["datasource"], p["title"]


def test_configmap_for_grafanas_sidecar():
    """deploy/grafana/kustomization.yaml's ConfigMap, as kustomize makes it, is a valid
    ConfigMap, small enough for `kubectl apply` (its last-applied annotation holds the whole
    object, at most 256 KiB)."""
    k = yaml.safe_load((GRAFANA / "kustomization.yaml").read_text())
    (gen,) = k["configMapGenerator"]
    assert gen["files"] == [DASHBOARD.name]
    assert gen["options"]["labels"]["grafana_dashboard"] == "1"
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": gen["name"], "labels": gen["options"]["labels"]},
                 "data": {DASHBOARD.name: DASHBOARD.read_text()}}
    kubernetes_validate.validate(configmap, "1.31", strict=True)
    assert len(json.dumps(configmap)) < 200 * 1024
