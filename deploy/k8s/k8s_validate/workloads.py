"""Deployments and StatefulSets: selectors, volumes, resources, probes, listening addresses,
password, memory against --max-memory, cache or store mode, shutdown budget, thread counts.

Settings are read as the manifests state them; what the server would make of them (defaults,
sizes such as --max-memory in bytes) comes from its --check-config summary when it accepted
the configuration (server_config.py). Whether the values are valid at all is the server's call.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from .findings import Report
from .manifests import Context, Doc, parse_quantity
from .podenv import EnvVar, effective_env, server_args, settings
from .pods import (
    container_ports,
    container_where,
    containers,
    mount_for,
    pod_labels,
    pod_spec,
    prestop_seconds,
    resolve_port,
    selects,
    split_host_port,
    volumes_by_name,
)
from .server_config import server_result

MIN_STARTUP_BUDGET_S = {"store": 600, "cache": 30}  # time the startupProbe allows
MEMORY_HEADROOM_WARN = 1.25  # limit / max-memory below this: a warning
GRACE_MARGIN_S = 5
DEFAULT_GRACE_S = 30  # Kubernetes' terminationGracePeriodSeconds default
WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]"}


def check_workloads(ctx: Context, report: Report) -> None:
    for w in ctx.workloads():
        spec = w.obj.get("spec") or {}
        sel = spec.get("selector") or {}
        if not sel or not selects(sel, pod_labels(w)):
            report.error(w.where, "spec.selector does not match the pod template's labels")
        if not pod_spec(w).get("containers"):
            report.error(w.where, "no containers")
            continue
        for c in containers(w):
            _check_container(ctx, report, w, c)
        if w.kind == "StatefulSet":
            _check_statefulset(ctx, report, w)


def _check_volumes(ctx: Context, report: Report, where: str, c: dict[str, Any],
                   vols: dict[Any, dict[str, Any]]) -> None:
    """Every mount has a volume; /tmp is a writable emptyDir; referenced objects exist."""
    for m in c.get("volumeMounts") or []:
        if m.get("name") not in vols:
            report.error(where, f"volumeMount {m.get('name')} has no volume")
    tmp = mount_for("/tmp", c)
    if tmp is None or tmp.get("mountPath") != "/tmp" or "emptyDir" not in vols.get(
            tmp.get("name"), {}):
        report.error(where, "no emptyDir mounted at /tmp (the root filesystem is read-only)")
    for v in vols.values():
        sec = v.get("secret")
        if sec is not None:
            keys = ctx.secret_keys(sec.get("secretName", ""))
            if keys is None and not sec.get("optional"):
                report.error(where, f"volume {v.get('name')}: Secret "
                             f"'{sec.get('secretName')}' is not defined")
            for item in sec.get("items") or []:
                if keys is not None and item.get("key") not in keys:
                    report.error(where, f"volume {v.get('name')}: Secret "
                                 f"{sec.get('secretName')} has no key {item.get('key')}")
        cm = v.get("configMap")
        if cm is not None and ctx.configmap_data(cm.get("name", "")) is None and not cm.get(
                "optional"):
            report.error(where, f"volume {v.get('name')}: ConfigMap '{cm.get('name')}' is "
                         "not defined")


def _check_resources(report: Report, where: str, c: dict[str, Any]) -> Decimal | None:
    """cpu and memory requests and a memory limit; returns the memory limit in bytes."""
    res = c.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    for key, kind, src in (("cpu", "requests", req), ("memory", "requests", req),
                           ("memory", "limits", lim)):
        if key not in src:
            report.error(where, f"no resources.{kind}.{key}")
        elif parse_quantity(src[key]) is None:
            report.error(where, f"resources.{kind}.{key} '{src[key]}' is not a quantity")
    mem_req, mem_lim = parse_quantity(req.get("memory")), parse_quantity(lim.get("memory"))
    if mem_req is not None and mem_lim is not None and mem_req > mem_lim:
        report.error(where, "requests.memory is above limits.memory")
    return mem_lim


def _check_probe(report: Report, where: str, c: dict[str, Any], key: str, paths: list[str],
                 http_port: int | None) -> dict[str, Any] | None:
    probe = c.get(key)
    if not probe:
        report.error(where, f"no {key}")
        return None
    get = probe.get("httpGet")
    if not get:
        report.error(where, f"{key} is not an httpGet probe on the HTTP port")
        return probe
    if get.get("path") not in paths:
        report.error(where, f"{key} checks {get.get('path')}, expected {' or '.join(paths)}")
    port = resolve_port(c, get.get("port"))
    if port is None:
        report.error(where, f"{key} port {get.get('port')!r} is not a container port")
    elif http_port is not None and port != http_port:
        report.error(where, f"{key} probes port {port}, the server serves HTTP on {http_port} "
                     "(KV_HTTP_BIND)")
    if str(get.get("scheme", "HTTP")).upper() != "HTTP":
        report.error(where, f"{key} uses {get.get('scheme')}: /health and /ready are plain HTTP")
    return probe


def _check_addresses(report: Report, where: str, c: dict[str, Any], s: dict[str, EnvVar],
                     bind: str | None, http: str | None) -> int | None:
    """Both listeners on every pod address, on declared container ports; returns the HTTP
    port. bind/http: as the server reads them (None: not known)."""
    ports = container_ports(c)
    hp = split_host_port(bind) if bind else None
    if hp is not None:
        if hp[0] not in WILDCARD_HOSTS:
            report.error(where, f"KV_BIND listens on {hp[0]}: other pods cannot reach it "
                         "(use 0.0.0.0)")
        if hp[1] not in ports.values():
            report.error(where, f"KV_BIND port {hp[1]} is not a containerPort")
        elif ports.get("kv") not in (None, hp[1]):
            report.error(where, f"container port 'kv' is {ports['kv']}, KV_BIND says {hp[1]}")
    if "http-bind" not in s:
        report.error(where, "KV_HTTP_BIND is not set: the default 127.0.0.1:7380 is "
                     "unreachable for the kubelet's probes and Prometheus")
        return None
    if http == "none":
        report.error(where, "KV_HTTP_BIND is 'none': the probes and /metrics need it")
        return None
    hp = split_host_port(http) if http else None
    if hp is None:
        return None
    if hp[0] not in WILDCARD_HOSTS:
        report.error(where, f"KV_HTTP_BIND listens on {hp[0]}: the kubelet's probes cannot "
                     "reach it (use 0.0.0.0)")
    if hp[1] not in ports.values():
        report.error(where, f"KV_HTTP_BIND port {hp[1]} is not a containerPort")
    return hp[1]


def _check_container(ctx: Context, report: Report, w: Doc, c: dict[str, Any]) -> None:
    where = container_where(w, c)
    pod = pod_spec(w)
    if not c.get("image"):
        report.error(where, "no image")
    _check_volumes(ctx, report, where, c, volumes_by_name(w))
    mem_lim = _check_resources(report, where, c)
    if server_args(ctx, c) is None:
        return  # not the server: the rest is about its settings
    env = effective_env(ctx, w, c, report)
    s = settings(ctx, w, c, report)
    checked = server_result(ctx, w, c)
    accepted = checked[0] if checked is not None and checked[0].ok else None

    def value(flag: str) -> str | None:
        """As the manifests set it, else the server's default (None: not known)."""
        if flag in s:
            return s[flag].value
        return ctx.server.defaults.get(flag) if ctx.server is not None else None

    http_port = _check_addresses(
        report, where, c, s, accepted.bind if accepted else value("bind"),
        accepted.http_bind if accepted else value("http-bind"))

    _check_probe(report, where, c, "livenessProbe", ["/health", "/healthz", "/livez"], http_port)
    _check_probe(report, where, c, "readinessProbe", ["/ready", "/readyz"], http_port)
    startup = _check_probe(report, where, c, "startupProbe",
                           ["/ready", "/readyz", "/health", "/healthz"], http_port)
    live = c.get("livenessProbe") or {}
    if live and int(live.get("timeoutSeconds", 1)) < 2:
        report.warning(where, "livenessProbe.timeoutSeconds < 2: /health waits up to 1 s for "
                       "the shards")

    # A data dir makes it a store; recovery needs a longer startup budget.
    data_dir = value("data-dir")
    mode = "store" if data_dir else "cache"
    if startup:
        budget = int(startup.get("periodSeconds", 10)) * int(startup.get("failureThreshold", 3))
        if budget < MIN_STARTUP_BUDGET_S[mode]:
            report.error(where, f"startupProbe allows {budget} s; recovery of a {mode} needs "
                         f">= {MIN_STARTUP_BUDGET_S[mode]} s (periodSeconds x failureThreshold)")

    # Password: from a Secret (podfiles.py checks the file's volume), never a literal.
    pw_env = env.get("KV_PASSWORD")
    if pw_env is not None and not pw_env.secret:
        report.error(where, "KV_PASSWORD is a literal value in the manifests: use a Secret "
                     "(a mounted file for KV_PASSWORD_FILE)")
    if not value("password-file") and pw_env is None:
        report.error(where, "no password (KV_PASSWORD_FILE from a Secret): any pod in the "
                     "cluster could read and write")

    limit = ((c.get("resources") or {}).get("limits") or {}).get("memory")
    _check_memory(report, where, mode, (limit, mem_lim), s.get("max-memory"),
                  accepted.max_memory if accepted else None)

    eviction = value("eviction")
    if mode == "cache":
        if eviction in (None, "noeviction"):
            report.warning(where, "cache with noeviction: writes fail when full")
    else:
        if w.kind != "StatefulSet":
            report.error(where, f"KV_DATA_DIR set in a {w.kind}: a data dir needs a "
                         "StatefulSet with a PersistentVolumeClaim per pod")
        if eviction not in (None, "noeviction"):
            report.warning(where, f"store with eviction {eviction}: results could vanish before "
                           "they are read")

    # Shutdown: the grace period covers preStop + drain (+ final flush and snapshot).
    timeout_ms = value("shutdown-timeout-ms")
    if timeout_ms is not None and timeout_ms.isdigit():
        timeout_s = int(timeout_ms) / 1000
        grace = pod.get("terminationGracePeriodSeconds", DEFAULT_GRACE_S)
        need = prestop_seconds(c) + timeout_s * (2 if mode == "store" else 1) + GRACE_MARGIN_S
        if grace < need:
            report.error(where, f"terminationGracePeriodSeconds {grace} < {need:g} s (preStop "
                         f"{prestop_seconds(c)} s + {'2 x ' if mode == 'store' else ''}"
                         f"shutdown-timeout {timeout_s:g} s + {GRACE_MARGIN_S} s): SIGKILL would "
                         "cut the shutdown flush")

    # Threads: unset or 0, the server counts the node's cores, not the pod's.
    io = s.get("io-threads")
    if io is None or io.value == "0":
        report.warning(where, f"KV_IO_THREADS {'unset' if io is None else '0'}: the server "
                       "starts one event loop per node core minus one, not one per core of the "
                       "pod (set it from requests.cpu with the Downward API)")
    workers = s.get("workers")
    if workers is None or workers.value == "0":
        report.warning(where, f"KV_WORKERS {'unset' if workers is None else '0'}: the server "
                       "starts node cores - io-threads scheduler threads for timers and "
                       "housekeeping (one is enough), and as many shards with KV_SHARDS 0")


def _check_memory(report: Report, where: str, mode: str, limit: tuple[Any, Decimal | None],
                  setting: EnvVar | None, max_memory: int | None) -> None:
    """limits.memory (as written, in bytes) >= --max-memory, with headroom. max_memory: bytes
    as the server parsed it (0: unlimited; None: not known, the server refused the
    configuration or is absent)."""
    limit_text, mem_lim = limit
    if max_memory == 0 or (max_memory is None and (setting is None or not setting.value)):
        if mode == "cache":
            report.error(where, "cache without KV_MAX_MEMORY: it grows until the kernel "
                         "OOM-kills it")
        else:
            report.warning(where, "store without KV_MAX_MEMORY: no tiering to disk, memory "
                           "grows with the data")
        return
    if max_memory is None or mem_lim is None:
        return
    shown = setting.value if setting is not None else f"{max_memory} bytes"
    if mem_lim < max_memory:
        report.error(where, f"limits.memory ({limit_text}) is below --max-memory "
                     f"({shown}): the kernel kills the pod before the server evicts or tiers")
    elif mem_lim < max_memory * Decimal(str(MEMORY_HEADROOM_WARN)):
        report.warning(where, f"limits.memory ({limit_text}) leaves under "
                       f"{int((MEMORY_HEADROOM_WARN - 1) * 100)}% headroom over "
                       f"--max-memory ({shown}) for buffers and fragmentation")


def _check_statefulset(ctx: Context, report: Report, w: Doc) -> None:
    spec = w.obj.get("spec") or {}
    svc_name = spec.get("serviceName")
    svc = ctx.find("Service", svc_name) if svc_name else None
    if svc is None:
        report.error(w.where, f"serviceName '{svc_name}' is not a Service in these manifests")
    else:
        sspec = svc.obj.get("spec") or {}
        if sspec.get("clusterIP") != "None":
            report.error(w.where, f"serviceName {svc_name} is not headless (clusterIP: None)")
        if not selects(sspec.get("selector") or {}, pod_labels(w)):
            report.error(w.where, f"Service {svc_name} does not select this StatefulSet's pods")
    mounted = {m.get("name") for c in containers(w) for m in c.get("volumeMounts") or []}
    for t in spec.get("volumeClaimTemplates") or []:
        name = (t.get("metadata") or {}).get("name")
        tspec = t.get("spec") or {}
        storage = ((tspec.get("resources") or {}).get("requests") or {}).get("storage")
        if parse_quantity(storage) is None:
            report.error(w.where, f"volumeClaimTemplate {name} requests no storage")
        if not tspec.get("accessModes"):
            report.error(w.where, f"volumeClaimTemplate {name} has no accessModes")
        if name not in mounted:
            report.warning(w.where, f"volumeClaimTemplate {name} is never mounted")
    if int(spec.get("replicas", 1)) > 1:
        report.warning(w.where, "more than one store replica: each is an independent store "
                       "(no cluster mode yet)")
