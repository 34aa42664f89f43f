#!/usr/bin/env python3
"""Checks the Kubernetes manifests in deploy/k8s/ without a cluster, against the server.

    python3 deploy/k8s/validate.py [--strict] [--server PATH] [--no-binary] [-q]

Needs PyYAML only. What it checks (each finding says file, object and why):

* every YAML document parses and has apiVersion, kind (a known pair) and metadata.name (a valid
  DNS name), and no metadata.namespace (the manifests are namespace-agnostic);
* kustomization.yaml lists every manifest file and only existing ones;
* workloads (Deployment, StatefulSet): selector matches the pod labels; each container has a
  liveness probe on /health, a readiness probe on /ready and a startup probe, all on the HTTP
  port the server binds (KV_HTTP_BIND), with a startup budget long enough for recovery; the
  security context (runAsNonRoot, non-zero uid, readOnlyRootFilesystem, no privilege
  escalation, capabilities drop ALL, seccomp RuntimeDefault); resource requests (cpu, memory)
  and a memory limit; an emptyDir at /tmp; every referenced ConfigMap/Secret/volume exists;
* server settings: every KV_* variable (env, envFrom ConfigMaps) and every --flag in
  command/args is a real server flag, read from `data-bridge-kv-server --help` when the binary
  is there and from server/*.cc (CLI11 add_option calls); values are valid (choices, byte sizes,
  host:port, integer ranges); KV_BIND and KV_HTTP_BIND listen on 0.0.0.0 and match the
  container ports; a password comes from a Secret (a mounted --password-file, or KV_PASSWORD
  from secretKeyRef, never a literal); the memory limit is >= --max-memory (warning under
  1.25x); a data dir is on a PersistentVolumeClaim of a StatefulSet; the grace period covers
  preStop + drain + final snapshot (2 x --shutdown-timeout-ms with a data dir); KV_IO_THREADS
  and KV_WORKERS are set (unset or 0, the server sizes its threads by the node's cores, not the
  pod's; a value from the Downward API's resourceFieldRef is checked like a literal);
* StatefulSet: serviceName is a headless Service selecting its pods; claim templates request
  storage and are mounted;
* Services select pods and target existing container ports; the ServiceMonitor selects the
  Services' labels, scrapes a port they expose at /metrics, and every workload is scraped; every
  PodDisruptionBudget selects pods, and every workload has one;
* the Dockerfile: USER and runAsUser agree, the container command is the binary the image
  installs, EXPOSE covers the ports, the build stage installs scripts/setup.sh's build and
  library packages, and (when the binaries, ldd and dpkg are here) every shared library the
  binaries load comes from a package in RUNTIME_PACKAGES, each of which has an apt candidate.

Flags that DESIGN.md promises but the server does not have yet (PLANNED_FLAGS) are warnings, not
errors: the server silently ignores a KV_* variable it does not know. --strict makes every
warning an error. Exit status: 0 clean, 1 errors.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# In DESIGN.md ("Server flags"), not necessarily in the server yet. Once the server has one, the
# real definition (from --help or the source) wins.
PLANNED_FLAGS: Dict[str, Dict[str, Any]] = {
    "http-bind": {},
    "max-memory": {"size": True},
    "eviction": {"choices": {"noeviction", "allkeys-lru", "volatile-ttl"}},
    "tls-cert": {},
    "tls-key": {},
    "tls-ca": {},
    "idle-timeout-s": {"integer": (0, None)},
    "log-format": {"choices": {"text", "json"}},
}

# Environment variables the server reads that are not KV_<FLAG> of a flag.
EXTRA_ENV = {"KV_PASSWORD": "the password itself (prefer --password-file)"}

KNOWN_KINDS = {
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("policy/v1", "PodDisruptionBudget"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet"}

MIN_STARTUP_BUDGET_S = {"store": 600, "cache": 30}  # time the startupProbe allows
MEMORY_HEADROOM_WARN = 1.25  # limit / max-memory below this: a warning
GRACE_MARGIN_S = 5
DEFAULT_GRACE_S = 30
WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]"}

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# --------------------------------------------------------------------------------------------
# Findings


@dataclasses.dataclass(frozen=True)
class Finding:
    level: str  # "error" | "warning"
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level.upper():7} {self.where}: {self.message}"


class Report:
    def __init__(self) -> None:
        self.findings: List[Finding] = []
        self.notes: List[str] = []

    def error(self, where: str, message: str) -> None:
        self.findings.append(Finding("error", where, message))

    def warning(self, where: str, message: str) -> None:
        self.findings.append(Finding("warning", where, message))

    def note(self, message: str) -> None:
        self.notes.append(message)

    @property
    def errors(self) -> List[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> List[Finding]:
        return [f for f in self.findings if f.level == "warning"]


# --------------------------------------------------------------------------------------------
# Quantities and server values


_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$")
_BINARY_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIX = {"": 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
                   "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def parse_quantity(value: Any) -> Optional[Decimal]:
    """A Kubernetes resource quantity ("1536Mi", "2", "500m", "1e3") as a Decimal, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    m = _QUANTITY.match(value.strip())
    if not m:
        return None
    number, suffix = m.groups()
    if suffix in _BINARY_SUFFIX:
        mult: Any = _BINARY_SUFFIX[suffix]
    elif suffix in _DECIMAL_SUFFIX:
        mult = _DECIMAL_SUFFIX[suffix]
    else:
        return None
    try:
        return Decimal(number) * Decimal(mult)
    except InvalidOperation:
        return None


_SERVER_SIZE_SUFFIX = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20,
                       "mb": 2**20, "mib": 2**20, "g": 2**30, "gb": 2**30, "gib": 2**30,
                       "t": 2**40, "tb": 2**40, "tib": 2**40}


def parse_server_size(text: str) -> Optional[int]:
    """A byte size as the server parses it (server/options.cc ParseByteSize): digits, then an
    optional case-insensitive B/K/KB/KiB/M/MB/MiB/G/GB/GiB/T/TB/TiB (all powers of 1024)."""
    m = re.match(r"^(\d+)([A-Za-z]*)$", text)
    if not m:
        return None
    suffix = m.group(2).lower()
    if suffix not in _SERVER_SIZE_SUFFIX:
        return None
    return int(m.group(1)) * _SERVER_SIZE_SUFFIX[suffix]


def split_host_port(text: str) -> Optional[Tuple[str, int]]:
    """host:port as the server splits it (last colon; [v6] brackets allowed)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        return None
    return host, int(port)


# --------------------------------------------------------------------------------------------
# Server flags


@dataclasses.dataclass
class Flag:
    name: str  # without the dashes
    env: str
    choices: Optional[Set[str]] = None
    default: Optional[str] = None
    integer: Optional[Tuple[Optional[int], Optional[int]]] = None  # (min, max)
    size: bool = False
    planned: bool = False
    sources: Set[str] = dataclasses.field(default_factory=set)


def env_name_for(flag: str) -> str:
    return "KV_" + flag.upper().replace("-", "_")


class ServerFlags:
    def __init__(self) -> None:
        self.flags: Dict[str, Flag] = {}
        self.extra_env: Dict[str, str] = dict(EXTRA_ENV)
        self.sources: List[str] = []

    def add(self, flag: Flag, source: str) -> None:
        have = self.flags.get(flag.name)
        if have is None or have.planned:
            flag.sources = {source}
            self.flags[flag.name] = flag
            return
        have.sources.add(source)
        have.choices = have.choices or flag.choices
        have.default = have.default if have.default is not None else flag.default
        have.integer = have.integer or flag.integer
        have.size = have.size or flag.size
        if flag.env and flag.env != have.env and source.startswith("--help"):
            have.env = flag.env

    def add_planned(self) -> None:
        for name, spec in PLANNED_FLAGS.items():
            if name in self.flags:
                continue
            self.flags[name] = Flag(name=name, env=env_name_for(name), planned=True,
                                    choices=spec.get("choices"), size=spec.get("size", False),
                                    integer=spec.get("integer"), sources={"DESIGN.md"})

    def by_env(self, env: str) -> Optional[Flag]:
        for f in self.flags.values():
            if f.env == env:
                return f
        return None

    def real(self) -> Dict[str, Flag]:
        return {n: f for n, f in self.flags.items() if not f.planned}


_HELP_LINE = re.compile(r"^\s+(?:-\w,)?--([a-z0-9][a-z0-9-]*)(?:\s+(\S+))?")


def flags_from_help(text: str) -> List[Flag]:
    out = []
    for line in text.splitlines():
        m = _HELP_LINE.match(line)
        if not m:
            continue
        name, spec = m.group(1), m.group(2) or ""
        if name in ("help", "version"):
            continue
        env = re.search(r"\(Env:(\w+)\)", line)
        f = Flag(name=name, env=env.group(1) if env else env_name_for(name))
        if spec.startswith("("):
            spec = ""
        ch = re.search(r":\{([^}]*)\}", spec)
        if ch:
            f.choices = {c.strip() for c in ch.group(1).split(",") if c.strip()}
        if "=" in spec:
            f.default = spec.split("=", 1)[1]
        if spec.startswith(("UINT", "INT")):
            rng = re.search(r"in \[(-?\d+) - (-?\d+)\]", line)
            lo = 0 if spec.startswith("UINT") else None
            f.integer = (int(rng.group(1)), int(rng.group(2))) if rng else (lo, None)
        f.size = name.endswith("-bytes") or name == "max-memory"
        out.append(f)
    return out


def flags_from_source(text: str) -> Tuple[List[Flag], Set[str]]:
    """CLI11 add_option/add_flag calls in C++ source, and getenv("KV_...") extras."""
    out = []
    for m in re.finditer(r"add_(?:option|flag)\(\s*\"([^\"]*)\"", text):
        names = [n for n in m.group(1).split(",") if n.startswith("--")]
        if not names:
            continue
        name = names[0][2:]
        if name in ("help", "version"):
            continue
        end = text.find(";", m.end())
        stmt = text[m.start(): end if end >= 0 else len(text)]
        env = re.search(r"envname\(\s*\"(\w+)\"\s*\)", stmt)
        f = Flag(name=name, env=env.group(1) if env else env_name_for(name))
        mem = re.search(r"IsMember\(\s*\{([^}]*)\}", stmt)
        if mem:
            f.choices = set(re.findall(r"\"([^\"]*)\"", mem.group(1)))
        rng = re.search(r"Range\(\s*(-?\d+)u?\s*,\s*(-?\d+)u?\s*\)", stmt)
        if rng:
            f.integer = (int(rng.group(1)), int(rng.group(2)))
        f.size = name.endswith("-bytes") or name == "max-memory"
        out.append(f)
    extra = set(re.findall(r"getenv\(\s*\"(KV_\w+)\"\s*\)", text))
    return out, extra


def default_server_binary() -> Optional[Path]:
    env = os.environ.get("DBKV_SERVER")
    if env:
        return Path(env)
    p = REPO / "bazel-bin" / "server" / "data-bridge-kv-server"
    return p if p.exists() else None


def load_server_flags(binary: Optional[Path], report: Report,
                      source_dir: Path = REPO / "server") -> ServerFlags:
    sf = ServerFlags()
    if binary is not None and binary.exists():
        env = {k: v for k, v in os.environ.items() if not k.startswith("KV_")}
        try:
            res = subprocess.run([str(binary), "--help"], capture_output=True, text=True,
                                 timeout=20, env=env)
            flags = flags_from_help(res.stdout)
            if res.returncode == 0 and flags:
                for f in flags:
                    sf.add(f, f"--help of {binary}")
                sf.sources.append(f"{binary} --help ({len(flags)} flags)")
            else:
                report.warning(str(binary), f"--help exited {res.returncode} with no flags")
        except (OSError, subprocess.TimeoutExpired) as e:
            report.warning(str(binary), f"cannot run --help: {e}")
    n = 0
    for cc in sorted(source_dir.glob("*.cc")) if source_dir.is_dir() else []:
        text = cc.read_text(errors="replace")
        flags, extra = flags_from_source(text)
        for f in flags:
            sf.add(f, str(cc.relative_to(REPO)) if REPO in cc.parents else str(cc))
        n += len(flags)
        for e in extra:
            sf.extra_env.setdefault(e, f"read by {cc.name}")
    if n:
        sf.sources.append(f"{source_dir}/*.cc ({n} add_option calls)")
    if not sf.flags:
        report.error("server flags", "found neither the server binary nor server/*.cc: "
                     "cannot check flag names")
    sf.add_planned()
    return sf


def check_flag_value(flag: Flag, value: str) -> Optional[str]:
    """None if the server accepts value for flag, else why not."""
    if flag.choices and value not in flag.choices:
        return f"'{value}' is not one of {sorted(flag.choices)}"
    if flag.size and parse_server_size(value) is None:
        return f"'{value}' is not a byte size the server parses (e.g. 512MiB, 2GiB)"
    if flag.integer is not None:
        if not re.fullmatch(r"-?\d+", value):
            return f"'{value}' is not an integer"
        lo, hi = flag.integer
        v = int(value)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return f"{v} is outside [{lo} - {hi}]"
    if flag.name in ("bind", "http-bind"):
        if not (flag.name == "http-bind" and value == "none") and split_host_port(value) is None:
            return f"'{value}' is not host:port"
    return None


# --------------------------------------------------------------------------------------------
# Manifests


@dataclasses.dataclass
class Doc:
    path: Path
    index: int
    obj: Dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.kind or '?'}/{self.name or '?'}"


@dataclasses.dataclass
class Context:
    directory: Path
    docs: List[Doc]
    kustomization: Optional[Dict[str, Any]]
    flags: ServerFlags
    dockerfile: Optional[str] = None
    setup_sh: Optional[str] = None

    def of_kind(self, kind: str) -> List[Doc]:
        return [d for d in self.docs if d.kind == kind]

    def find(self, kind: str, name: str) -> Optional[Doc]:
        for d in self.docs:
            if d.kind == kind and d.name == name:
                return d
        return None

    def workloads(self) -> List[Doc]:
        return [d for d in self.docs if d.kind in WORKLOAD_KINDS]

    def generated_secrets(self) -> Dict[str, Set[str]]:
        """Secrets made by kustomization.yaml's secretGenerator: name -> keys."""
        out: Dict[str, Set[str]] = {}
        for g in (self.kustomization or {}).get("secretGenerator") or []:
            keys: Set[str] = set()
            for f in g.get("files") or []:
                keys.add(f.split("=", 1)[0] if "=" in f else Path(f).name)
            for lit in g.get("literals") or []:
                keys.add(lit.split("=", 1)[0])
            out[g.get("name", "")] = keys
        return out

    def generated_configmaps(self) -> Dict[str, Dict[str, Optional[str]]]:
        out: Dict[str, Dict[str, Optional[str]]] = {}
        for g in (self.kustomization or {}).get("configMapGenerator") or []:
            data: Dict[str, Optional[str]] = {}
            for lit in g.get("literals") or []:
                k, _, v = lit.partition("=")
                data[k] = v
            for f in g.get("files") or []:
                data[f.split("=", 1)[0] if "=" in f else Path(f).name] = None
            for envfile in g.get("envs") or []:
                p = self.directory / envfile
                if p.exists():
                    for line in p.read_text().splitlines():
                        line = line.strip()
                        if line and not line.startswith("#") and "=" in line:
                            k, _, v = line.partition("=")
                            data[k.strip()] = v.strip()
            out[g.get("name", "")] = data
        return out

    def configmap_data(self, name: str) -> Optional[Dict[str, Optional[str]]]:
        d = self.find("ConfigMap", name)
        if d is not None:
            return {str(k): (None if v is None else str(v))
                    for k, v in (d.obj.get("data") or {}).items()}
        return self.generated_configmaps().get(name)

    def secret_keys(self, name: str) -> Optional[Set[str]]:
        d = self.find("Secret", name)
        if d is not None:
            return set((d.obj.get("data") or {}).keys()) | set((d.obj.get("stringData") or {}).keys())
        return self.generated_secrets().get(name)


def load_context(directory: Path = HERE, binary: Optional[Path] = None, use_binary: bool = True,
                 report: Optional[Report] = None) -> Tuple[Context, Report]:
    report = report or Report()
    docs: List[Doc] = []
    kustomization = None
    files = sorted(p for p in directory.iterdir()
                   if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        report.error(str(directory), "no YAML files")
    for p in files:
        try:
            loaded = list(yaml.safe_load_all(p.read_text()))
        except yaml.YAMLError as e:
            report.error(p.name, f"does not parse: {e}")
            continue
        if p.name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
            kustomization = loaded[0] if loaded else None
            continue
        for i, obj in enumerate(loaded):
            if obj is None:
                continue
            if not isinstance(obj, dict):
                report.error(f"{p.name}[{i}]", "a document is not a mapping")
                continue
            docs.append(Doc(p, i, obj))
    if binary is None and use_binary:
        binary = default_server_binary()
    flags = load_server_flags(binary if use_binary else None, report)
    dockerfile = REPO / "Dockerfile"
    setup = REPO / "scripts" / "setup.sh"
    ctx = Context(directory, docs, kustomization, flags,
                  dockerfile.read_text() if dockerfile.exists() else None,
                  setup.read_text() if setup.exists() else None)
    return ctx, report


# --------------------------------------------------------------------------------------------
# Helpers over pod specs


def pod_spec(doc: Doc) -> Dict[str, Any]:
    return ((doc.obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def pod_labels(doc: Doc) -> Dict[str, str]:
    return (((doc.obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "labels") or {}


def selects(selector: Dict[str, Any], labels: Dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) or a Service's plain selector map."""
    if not selector:
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        ml = selector.get("matchLabels") or {}
        exprs = selector.get("matchExpressions") or []
    else:
        ml, exprs = selector, []
    if any(labels.get(k) != v for k, v in ml.items()):
        return False
    for e in exprs:
        key, op, values = e.get("key"), e.get("operator"), set(e.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def containers(doc: Doc) -> List[Dict[str, Any]]:
    return list(pod_spec(doc).get("containers") or [])


def container_ports(c: Dict[str, Any]) -> Dict[Any, int]:
    """port name and number -> number."""
    out: Dict[Any, int] = {}
    for p in c.get("ports") or []:
        n = p.get("containerPort")
        if isinstance(n, int):
            out[n] = n
            if p.get("name"):
                out[p["name"]] = n
    return out


def resolve_port(c: Dict[str, Any], port: Any) -> Optional[int]:
    return container_ports(c).get(port)


def effective_security(pod: Dict[str, Any], c: Dict[str, Any]) -> Dict[str, Any]:
    """The container's securityContext with the pod's defaults filled in (the fields both
    have)."""
    ps = pod.get("securityContext") or {}
    cs = dict(c.get("securityContext") or {})
    for k in ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile"):
        if k not in cs and k in ps:
            cs[k] = ps[k]
    return cs


def volumes_by_name(doc: Doc) -> Dict[str, Dict[str, Any]]:
    out = {v.get("name"): v for v in pod_spec(doc).get("volumes") or []}
    for t in (doc.obj.get("spec") or {}).get("volumeClaimTemplates") or []:
        out[(t.get("metadata") or {}).get("name")] = {"name": (t.get("metadata") or {}).get(
            "name"), "persistentVolumeClaimTemplate": t}
    return out


def mount_for(path: str, c: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The volumeMount whose mountPath is path or its closest parent."""
    best = None
    for m in c.get("volumeMounts") or []:
        mp = str(m.get("mountPath", "")).rstrip("/") or "/"
        if path == mp or path.startswith(mp + "/") or mp == "/":
            if best is None or len(mp) > len(str(best.get("mountPath", ""))):
                best = m
    return best


@dataclasses.dataclass
class EnvVar:
    name: str
    value: Optional[str]  # None: not known statically (valueFrom, or a Secret's content)
    origin: str
    secret: bool = False


def effective_env(ctx: Context, doc: Doc, c: Dict[str, Any], report: Report) -> Dict[str, EnvVar]:
    """envFrom (in order), then env (which wins), as the kubelet composes them."""
    where = f"{doc.where} container {c.get('name')}"
    env: Dict[str, EnvVar] = {}
    for src in c.get("envFrom") or []:
        prefix = src.get("prefix", "")
        if "configMapRef" in src:
            ref = src["configMapRef"]
            data = ctx.configmap_data(ref.get("name", ""))
            if data is None:
                if not ref.get("optional"):
                    report.error(where, f"envFrom ConfigMap '{ref.get('name')}' is not defined "
                                 "in these manifests")
                continue
            for k, v in data.items():
                env[prefix + k] = EnvVar(prefix + k, v, f"ConfigMap {ref.get('name')}")
        elif "secretRef" in src:
            ref = src["secretRef"]
            keys = ctx.secret_keys(ref.get("name", ""))
            if keys is None:
                if not ref.get("optional"):
                    report.error(where, f"envFrom Secret '{ref.get('name')}' is not defined")
                continue
            for k in keys:
                env[prefix + k] = EnvVar(prefix + k, None, f"Secret {ref.get('name')}", True)
    for e in c.get("env") or []:
        name = e.get("name", "")
        if "value" in e:
            env[name] = EnvVar(name, None if e["value"] is None else str(e["value"]), "env")
            continue
        vf = e.get("valueFrom") or {}
        if "configMapKeyRef" in vf:
            ref = vf["configMapKeyRef"]
            data = ctx.configmap_data(ref.get("name", ""))
            if data is None or ref.get("key") not in data:
                if not ref.get("optional"):
                    report.error(where, f"{name}: ConfigMap key {ref.get('name')}/"
                                 f"{ref.get('key')} is not defined")
                continue
            env[name] = EnvVar(name, data[ref["key"]], f"ConfigMap {ref.get('name')}")
        elif "secretKeyRef" in vf:
            ref = vf["secretKeyRef"]
            keys = ctx.secret_keys(ref.get("name", ""))
            if (keys is None or ref.get("key") not in keys) and not ref.get("optional"):
                report.error(where, f"{name}: Secret key {ref.get('name')}/{ref.get('key')} "
                             "is not defined")
            env[name] = EnvVar(name, None, f"Secret {ref.get('name')}", True)
        elif "resourceFieldRef" in vf:
            ref = vf["resourceFieldRef"]
            env[name] = EnvVar(name, resource_field_value(doc, c, ref),
                               f"resourceFieldRef {ref.get('resource')}")
        else:
            env[name] = EnvVar(name, None, "valueFrom")
    return env


def resource_field_value(doc: Doc, c: Dict[str, Any], ref: Dict[str, Any]) -> Optional[str]:
    """What the Downward API puts in the variable: the container's request or limit divided by
    the divisor, rounded up. None when not known statically (an unset limit is the node's
    allocatable amount)."""
    name = ref.get("containerName")
    target = c if not name else next((x for x in containers(doc) if x.get("name") == name), None)
    kind, _, resource = str(ref.get("resource", "")).partition(".")
    if target is None or kind not in ("requests", "limits") or not resource:
        return None
    res = target.get("resources") or {}
    q = (res.get(kind) or {}).get(resource)
    if q is None and kind == "requests":
        q = (res.get("limits") or {}).get(resource)  # the API server defaults requests to limits
    amount, divisor = parse_quantity(q), parse_quantity(ref.get("divisor", "1"))
    if amount is None or not divisor:
        return None
    return str(math.ceil(amount / divisor))


def cli_flags(c: Dict[str, Any]) -> List[Tuple[str, Optional[str]]]:
    """--flag / --flag=value / --flag value from command[1:] and args."""
    tokens = [str(t) for t in list(c.get("command") or [])[1:] + list(c.get("args") or [])]
    out = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.startswith("--"):
            name, eq, value = t[2:].partition("=")
            if not eq and i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
                value = tokens[i + 1]
                i += 1
            out.append((name, value if (eq or value) else None))
        i += 1
    return out


def settings(ctx: Context, doc: Doc, c: Dict[str, Any], report: Report) -> Dict[str, EnvVar]:
    """Server settings by flag name: command-line flags win over KV_* variables (CLI11)."""
    out: Dict[str, EnvVar] = {}
    for var in effective_env(ctx, doc, c, report).values():
        f = ctx.flags.by_env(var.name)
        if f is not None:
            out[f.name] = var
    for name, value in cli_flags(c):
        out[name] = EnvVar(name, value, "command line")
    return out


def prestop_seconds(c: Dict[str, Any]) -> int:
    ps = ((c.get("lifecycle") or {}).get("preStop")) or {}
    if "sleep" in ps:
        return int((ps["sleep"] or {}).get("seconds", 0))
    cmd = [str(x) for x in ((ps.get("exec") or {}).get("command") or [])]
    for i, t in enumerate(cmd):
        if t.endswith("sleep") and i + 1 < len(cmd):
            try:
                return int(float(cmd[i + 1]))
            except ValueError:
                return 0
        m = re.search(r"sleep\s+(\d+)", t)
        if m:
            return int(m.group(1))
    return 0


# --------------------------------------------------------------------------------------------
# Checks


def check_documents(ctx: Context, report: Report) -> None:
    seen: Set[Tuple[str, str]] = set()
    for d in ctx.docs:
        api, kind = d.obj.get("apiVersion"), d.obj.get("kind")
        meta = d.obj.get("metadata")
        if not isinstance(api, str) or not api:
            report.error(d.where, "no apiVersion")
        if not isinstance(kind, str) or not kind:
            report.error(d.where, "no kind")
        if isinstance(api, str) and isinstance(kind, str) and (api, kind) not in KNOWN_KINDS:
            report.error(d.where, f"unknown apiVersion/kind {api} {kind}")
        if not isinstance(meta, dict) or not meta.get("name"):
            report.error(d.where, "no metadata.name")
            continue
        name = str(meta["name"])
        pattern = _DNS1123_LABEL if kind in ("Service",) else _DNS1123_SUBDOMAIN
        limit = 63 if kind == "Service" else 253
        if not pattern.match(name) or len(name) > limit:
            report.error(d.where, f"metadata.name '{name}' is not a valid DNS name")
        if kind == "StatefulSet" and len(name) > 52:
            report.warning(d.where, "StatefulSet names over 52 characters break pod labels")
        if "namespace" in meta:
            report.error(d.where, "metadata.namespace is set: keep the manifests "
                         "namespace-agnostic (kubectl apply -k ... -n NS)")
        if (kind, name) in seen:
            report.error(d.where, "defined twice")
        seen.add((str(kind), name))
        labels = meta.get("labels") or {}
        if "app.kubernetes.io/name" not in labels:
            report.warning(d.where, "no app.kubernetes.io/name label")


def check_kustomization(ctx: Context, report: Report) -> None:
    k = ctx.kustomization
    if k is None:
        report.error("kustomization.yaml", "missing")
        return
    if k.get("apiVersion") != "kustomize.config.k8s.io/v1beta1" or k.get("kind") != "Kustomization":
        report.error("kustomization.yaml", "apiVersion/kind should be "
                     "kustomize.config.k8s.io/v1beta1 Kustomization")
    if "namespace" in k:
        report.error("kustomization.yaml", "sets a namespace: keep it namespace-agnostic")
    resources = [str(r) for r in k.get("resources") or []]
    if len(set(resources)) != len(resources):
        report.error("kustomization.yaml", "a resource is listed twice")
    files = {d.path.name for d in ctx.docs}
    for r in resources:
        if not (ctx.directory / r).exists():
            report.error("kustomization.yaml", f"resource {r} does not exist")
    for f in sorted(files - set(resources)):
        report.error("kustomization.yaml", f"{f} is not listed in resources")
    for g in k.get("secretGenerator") or []:
        for f in g.get("files") or []:
            path = f.split("=", 1)[1] if "=" in f else f
            if not (ctx.directory / path).exists():
                report.note(f"kustomization.yaml: secretGenerator {g.get('name')} reads {path}, "
                            "which you create before `kubectl apply -k` (see README.md)")
    image_names = {i.get("name") for i in k.get("images") or []}
    for w in ctx.workloads():
        for c in containers(w):
            image = str(c.get("image", ""))
            base = re.sub(r"[:@].*$", "", image.rsplit("/", 1)[-1]) if image else ""
            full = re.sub(r"(:[^/:]+|@.*)$", "", image)
            if image_names and full not in image_names and base not in image_names:
                report.warning(w.where, f"image {image} is not in kustomization images: "
                               "newName/newTag will not apply")


def _check_probe(report: Report, where: str, c: Dict[str, Any], key: str, paths: Iterable[str],
                 http_port: Optional[int]) -> Optional[Dict[str, Any]]:
    probe = c.get(key)
    if not probe:
        report.error(where, f"no {key}")
        return None
    get = probe.get("httpGet")
    if not get:
        report.error(where, f"{key} is not an httpGet probe on the HTTP port")
        return probe
    if get.get("path") not in set(paths):
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


def check_workloads(ctx: Context, report: Report) -> None:
    for w in ctx.workloads():
        spec = w.obj.get("spec") or {}
        pod = pod_spec(w)
        labels = pod_labels(w)
        sel = spec.get("selector") or {}
        if not sel or not selects(sel, labels):
            report.error(w.where, "spec.selector does not match the pod template's labels")
        if not pod.get("containers"):
            report.error(w.where, "no containers")
            continue
        if pod.get("automountServiceAccountToken") is not False:
            report.warning(w.where, "automountServiceAccountToken is not false (the server "
                           "never calls the API)")
        if pod.get("enableServiceLinks") is not False:
            report.warning(w.where, "enableServiceLinks is not false: a Service named kv-... "
                           "could inject KV_* variables")
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            report.error(w.where, "uses the host's network/PID/IPC namespace")
        vols = volumes_by_name(w)
        for c in list(pod.get("initContainers") or []) + list(pod.get("containers") or []):
            _check_container_security(report, f"{w.where} container {c.get('name')}", pod, c)
        for c in containers(w):
            _check_container(ctx, report, w, pod, c, vols)
        if w.kind == "StatefulSet":
            _check_statefulset(ctx, report, w)


def _check_container_security(report: Report, where: str, pod: Dict[str, Any],
                              c: Dict[str, Any]) -> None:
    sc = effective_security(pod, c)
    if sc.get("runAsNonRoot") is not True:
        report.error(where, "securityContext.runAsNonRoot is not true")
    if sc.get("runAsUser") == 0:
        report.error(where, "runAsUser is 0 (root)")
    elif "runAsUser" not in sc:
        report.warning(where, "no runAsUser: the image's USER decides")
    if sc.get("readOnlyRootFilesystem") is not True:
        report.error(where, "securityContext.readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        report.error(where, "securityContext.allowPrivilegeEscalation is not false")
    if sc.get("privileged"):
        report.error(where, "privileged")
    caps = sc.get("capabilities") or {}
    if "ALL" not in [str(x).upper() for x in caps.get("drop") or []]:
        report.error(where, "securityContext.capabilities.drop does not contain ALL")
    if caps.get("add"):
        report.error(where, f"adds capabilities {caps['add']}")
    if ((sc.get("seccompProfile") or {}).get("type")) != "RuntimeDefault":
        report.error(where, "seccompProfile.type is not RuntimeDefault")


def _check_container(ctx: Context, report: Report, w: Doc, pod: Dict[str, Any],
                     c: Dict[str, Any], vols: Dict[str, Dict[str, Any]]) -> None:
    where = f"{w.where} container {c.get('name')}"
    if not c.get("image"):
        report.error(where, "no image")

    # Volumes: every mount has a volume; /tmp is a writable emptyDir.
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

    # Resources.
    res = c.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    for key, src in (("cpu", req), ("memory", req), ("memory", lim)):
        kind = "requests" if src is req else "limits"
        if key not in src:
            report.error(where, f"no resources.{kind}.{key}")
        elif parse_quantity(src[key]) is None:
            report.error(where, f"resources.{kind}.{key} '{src[key]}' is not a quantity")
    mem_req, mem_lim = parse_quantity(req.get("memory")), parse_quantity(lim.get("memory"))
    if mem_req is not None and mem_lim is not None and mem_req > mem_lim:
        report.error(where, "requests.memory is above limits.memory")

    # Server settings: names, then values.
    env = effective_env(ctx, w, c, report)
    for var in env.values():
        if not var.name.startswith("KV_"):
            continue
        if var.name in ctx.flags.extra_env:
            continue
        f = ctx.flags.by_env(var.name)
        if f is None:
            report.error(where, f"{var.name} (from {var.origin}) is not a server flag's "
                         "variable: the server would ignore it")
        elif f.planned:
            report.warning(where, f"{var.name} (--{f.name}) is in DESIGN.md but not in this "
                           "server build yet: until it lands the server ignores it")
    for name, value in cli_flags(c):
        f = ctx.flags.flags.get(name)
        if f is None:
            report.error(where, f"--{name} is not a server flag: the server would refuse to "
                         "start")
        elif f.planned:
            report.warning(where, f"--{name} is not in this server build yet: the server would "
                           "refuse to start")
    s = settings(ctx, w, c, report)
    for name, var in s.items():
        f = ctx.flags.flags.get(name)
        if f is not None and var.value is not None:
            why = check_flag_value(f, var.value)
            if why:
                report.error(where, f"{f.env if var.origin != 'command line' else '--' + name}"
                             f" (from {var.origin}): {why}")

    def value(flag: str) -> Optional[str]:
        v = s.get(flag)
        if v is not None:
            return v.value
        f = ctx.flags.flags.get(flag)
        return f.default if f is not None else None

    ports = container_ports(c)

    # Listening addresses.
    bind = value("bind")
    hp = split_host_port(bind) if bind else None
    if hp is None:
        report.error(where, f"--bind/KV_BIND '{bind}' is not host:port")
    else:
        if hp[0] not in WILDCARD_HOSTS:
            report.error(where, f"KV_BIND listens on {hp[0]}: other pods cannot reach it "
                         "(use 0.0.0.0)")
        if hp[1] not in ports.values():
            report.error(where, f"KV_BIND port {hp[1]} is not a containerPort")
        elif ports.get("kv") not in (None, hp[1]):
            report.error(where, f"container port 'kv' is {ports['kv']}, KV_BIND says {hp[1]}")
    http = value("http-bind")
    http_port = None
    if "http-bind" not in s:
        report.error(where, "KV_HTTP_BIND is not set: the default 127.0.0.1:7380 is "
                     "unreachable for the kubelet's probes and Prometheus")
    elif http == "none" or http is None or split_host_port(http) is None:
        report.error(where, f"KV_HTTP_BIND '{http}': the probes and /metrics need it")
    else:
        host, http_port = split_host_port(http)  # type: ignore[misc]
        if host not in WILDCARD_HOSTS:
            report.error(where, f"KV_HTTP_BIND listens on {host}: the kubelet's probes cannot "
                         "reach it (use 0.0.0.0)")
        if http_port not in ports.values():
            report.error(where, f"KV_HTTP_BIND port {http_port} is not a containerPort")

    # Probes.
    _check_probe(report, where, c, "livenessProbe", ["/health", "/healthz", "/livez"], http_port)
    _check_probe(report, where, c, "readinessProbe", ["/ready", "/readyz"], http_port)
    startup = _check_probe(report, where, c, "startupProbe",
                           ["/ready", "/readyz", "/health", "/healthz"], http_port)
    live = c.get("livenessProbe") or {}
    if live and int(live.get("timeoutSeconds", 1)) < 2:
        report.warning(where, "livenessProbe.timeoutSeconds < 2: /health waits up to 1 s for "
                       "the shards")

    # Mode: a data dir makes it a store.
    data_dir = value("data-dir")
    mode = "store" if data_dir else "cache"
    if startup:
        budget = int(startup.get("periodSeconds", 10)) * int(startup.get("failureThreshold", 3))
        if budget < MIN_STARTUP_BUDGET_S[mode]:
            report.error(where, f"startupProbe allows {budget} s; recovery of a {mode} needs "
                         f">= {MIN_STARTUP_BUDGET_S[mode]} s (periodSeconds x failureThreshold)")

    # Password: from a Secret, never a literal.
    pw = s.get("password-file")
    pw_env = env.get("KV_PASSWORD")
    if pw_env is not None and not pw_env.secret:
        report.error(where, "KV_PASSWORD is a literal value in the manifests: use a Secret "
                     "(a mounted file for KV_PASSWORD_FILE)")
    if pw is not None and pw.value:
        m = mount_for(pw.value, c)
        vol = vols.get(m.get("name")) if m else None
        if m is None or vol is None or "secret" not in vol:
            report.error(where, f"KV_PASSWORD_FILE {pw.value} is not on a Secret volume")
        else:
            rel = pw.value[len(str(m["mountPath"]).rstrip("/")) + 1:]
            sec = vol["secret"]
            items = sec.get("items")
            names = ({i.get("path") for i in items} if items
                     else (ctx.secret_keys(sec.get("secretName", "")) or set()))
            if rel not in names:
                report.error(where, f"KV_PASSWORD_FILE {pw.value}: the Secret volume "
                             f"{vol.get('name')} has no file '{rel}'")
    elif pw_env is None:
        report.error(where, "no password (KV_PASSWORD_FILE from a Secret): any pod in the "
                     "cluster could read and write")

    # Memory: limit >= --max-memory, with headroom.
    mm = value("max-memory")
    mm_bytes = parse_server_size(mm) if mm else None
    if mm_bytes is None:
        if mode == "cache":
            report.error(where, "cache without KV_MAX_MEMORY: it grows until the kernel "
                         "OOM-kills it")
        else:
            report.warning(where, "store without KV_MAX_MEMORY: no tiering to disk, memory "
                           "grows with the data")
    elif mem_lim is not None:
        if mem_lim < mm_bytes:
            report.error(where, f"limits.memory ({lim.get('memory')}) is below --max-memory "
                         f"({mm}): the kernel kills the pod before the server evicts or tiers")
        elif mem_lim < mm_bytes * Decimal(str(MEMORY_HEADROOM_WARN)):
            report.warning(where, f"limits.memory ({lim.get('memory')}) leaves under "
                           f"{int((MEMORY_HEADROOM_WARN - 1) * 100)}% headroom over "
                           f"--max-memory ({mm}) for buffers and fragmentation")

    # Mode-specific.
    eviction = value("eviction")
    if mode == "cache":
        if eviction in (None, "noeviction"):
            report.warning(where, "cache with noeviction: writes fail when full")
    else:
        if w.kind != "StatefulSet":
            report.error(where, f"KV_DATA_DIR set in a {w.kind}: a data dir needs a "
                         "StatefulSet with a PersistentVolumeClaim per pod")
        m = mount_for(data_dir, c)
        vol = vols.get(m.get("name")) if m else None
        if m is None or vol is None or not (
                "persistentVolumeClaimTemplate" in vol or "persistentVolumeClaim" in vol):
            report.error(where, f"KV_DATA_DIR {data_dir} is not on a PersistentVolumeClaim")
        elif m.get("readOnly"):
            report.error(where, f"the data volume at {m.get('mountPath')} is read-only")
        if eviction not in (None, "noeviction"):
            report.warning(where, f"store with eviction {eviction}: results could vanish before "
                           "they are read")

    # Shutdown: the grace period covers preStop + drain (+ final snapshot).
    timeout_ms = value("shutdown-timeout-ms")
    try:
        timeout_s = int(timeout_ms) / 1000 if timeout_ms is not None else 10.0
    except ValueError:
        timeout_s = 10.0
    grace = pod.get("terminationGracePeriodSeconds", DEFAULT_GRACE_S)
    need = prestop_seconds(c) + timeout_s * (2 if mode == "store" else 1) + GRACE_MARGIN_S
    if grace < need:
        report.error(where, f"terminationGracePeriodSeconds {grace} < {need:g} s (preStop "
                     f"{prestop_seconds(c)} s + {'2 x ' if mode == 'store' else ''}"
                     f"shutdown-timeout {timeout_s:g} s + {GRACE_MARGIN_S} s): SIGKILL would cut "
                     "the shutdown flush")

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
    templates = spec.get("volumeClaimTemplates") or []
    mounted = {m.get("name") for c in containers(w) for m in c.get("volumeMounts") or []}
    for t in templates:
        name = (t.get("metadata") or {}).get("name")
        storage = (((t.get("spec") or {}).get("resources") or {}).get("requests") or {}).get(
            "storage")
        if parse_quantity(storage) is None:
            report.error(w.where, f"volumeClaimTemplate {name} requests no storage")
        if not (t.get("spec") or {}).get("accessModes"):
            report.error(w.where, f"volumeClaimTemplate {name} has no accessModes")
        if name not in mounted:
            report.warning(w.where, f"volumeClaimTemplate {name} is never mounted")
    if int(spec.get("replicas", 1)) > 1:
        report.warning(w.where, "more than one store replica: each is an independent store "
                       "(no cluster mode yet)")


def check_services(ctx: Context, report: Report) -> None:
    for s in ctx.of_kind("Service"):
        spec = s.obj.get("spec") or {}
        sel = spec.get("selector") or {}
        targets = [w for w in ctx.workloads() if selects(sel, pod_labels(w))]
        if not sel:
            report.error(s.where, "no selector")
            continue
        if not targets:
            report.error(s.where, f"selector {sel} matches no workload's pods")
            continue
        if len(targets) > 1:
            report.warning(s.where, "selects the pods of several workloads: "
                           + ", ".join(t.where for t in targets))
        for p in spec.get("ports") or []:
            tp = p.get("targetPort", p.get("port"))
            for w in targets:
                if not any(resolve_port(c, tp) is not None for c in containers(w)):
                    report.error(s.where, f"port {p.get('name')}: targetPort {tp!r} is not a "
                                 f"container port of {w.where}")
            if not p.get("name"):
                report.warning(s.where, f"port {p.get('port')} has no name (the ServiceMonitor "
                               "selects ports by name)")
    for w in ctx.workloads():
        if not any(selects((s.obj.get("spec") or {}).get("selector") or {}, pod_labels(w))
                   for s in ctx.of_kind("Service")):
            report.error(w.where, "no Service selects these pods")


def check_servicemonitors(ctx: Context, report: Report) -> None:
    monitors = ctx.of_kind("ServiceMonitor")
    if not monitors:
        report.error("servicemonitor", "no ServiceMonitor")
        return
    scraped: Set[str] = set()
    for sm in monitors:
        spec = sm.obj.get("spec") or {}
        sel = spec.get("selector") or {}
        ns = spec.get("namespaceSelector") or {}
        if ns.get("matchNames"):
            report.warning(sm.where, "namespaceSelector names namespaces: the manifests are "
                           "meant to be namespace-agnostic")
        services = [s for s in ctx.of_kind("Service")
                    if selects(sel, (s.obj.get("metadata") or {}).get("labels") or {})]
        if not services:
            report.error(sm.where, f"selector {sel} matches no Service's labels")
            continue
        endpoints = spec.get("endpoints") or []
        if not endpoints:
            report.error(sm.where, "no endpoints")
        for ep in endpoints:
            if ep.get("path", "/metrics") != "/metrics":
                report.error(sm.where, f"endpoint path {ep.get('path')}: the server serves "
                             "/metrics")
            if not ep.get("port"):
                report.error(sm.where, "endpoint without a port name")
                continue
            for s in services:
                ports = {p.get("name"): p for p in (s.obj.get("spec") or {}).get("ports") or []}
                p = ports.get(ep["port"])
                if p is None:
                    report.error(sm.where, f"Service {s.name} has no port named {ep['port']}")
                    continue
                tp = p.get("targetPort", p.get("port"))
                for w in ctx.workloads():
                    if not selects((s.obj.get("spec") or {}).get("selector") or {}, pod_labels(w)):
                        continue
                    for c in containers(w):
                        n = resolve_port(c, tp)
                        hb = settings(ctx, w, c, Report()).get("http-bind")
                        hp = split_host_port(hb.value) if hb and hb.value else None
                        if n is not None and hp is not None and n != hp[1]:
                            report.error(sm.where, f"Service {s.name} port {ep['port']} reaches "
                                         f"{n}, not the HTTP port {hp[1]} of {w.where}")
                    scraped.add(w.where)
    for w in ctx.workloads():
        if w.where not in scraped:
            report.error(w.where, "no ServiceMonitor scrapes these pods")


def check_pdbs(ctx: Context, report: Report) -> None:
    covered: Set[str] = set()
    for p in ctx.of_kind("PodDisruptionBudget"):
        spec = p.obj.get("spec") or {}
        if p.obj.get("apiVersion") != "policy/v1":
            report.error(p.where, "use apiVersion policy/v1")
        if ("minAvailable" in spec) == ("maxUnavailable" in spec):
            report.error(p.where, "needs exactly one of minAvailable and maxUnavailable")
        sel = spec.get("selector") or {}
        targets = [w for w in ctx.workloads() if selects(sel, pod_labels(w))]
        if not targets:
            report.error(p.where, f"selector {sel} matches no workload's pods")
        if len(targets) > 1:
            report.error(p.where, "selects the pods of several workloads: "
                         + ", ".join(t.where for t in targets))
        for w in targets:
            covered.add(w.where)
            replicas = int((w.obj.get("spec") or {}).get("replicas", 1))
            if spec.get("maxUnavailable") in (0, "0", "0%") or (
                    isinstance(spec.get("minAvailable"), int) and spec["minAvailable"] >= replicas):
                report.note(f"{p.where}: allows no voluntary eviction of {w.where}: node drains "
                            "wait for an operator (intended for the single store pod)")
    for w in ctx.workloads():
        if w.where not in covered:
            report.error(w.where, "no PodDisruptionBudget selects these pods")


# --------------------------------------------------------------------------------------------
# Dockerfile


def _logical_lines(text: str) -> List[str]:
    out, cur = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") and not cur:
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        out.append(cur + line)
        cur = ""
    if cur:
        out.append(cur)
    return out


def dockerfile_stages(text: str) -> List[Tuple[str, List[str]]]:
    stages: List[Tuple[str, List[str]]] = [("(global)", [])]
    for line in _logical_lines(text):
        m = re.match(r"^\s*FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            stages.append((m.group(2) or f"stage{len(stages)}", []))
        stages[-1][1].append(line.strip())
    return stages


def dockerfile_arg(text: str, name: str) -> Optional[str]:
    for line in _logical_lines(text):
        m = re.match(rf'^\s*ARG\s+{name}=(?:"([^"]*)"|(\S*))', line)
        if m:
            return m.group(1) if m.group(1) is not None else m.group(2)
    return None


def apt_install_packages(lines: Iterable[str]) -> Set[str]:
    out: Set[str] = set()
    for line in lines:
        for m in re.finditer(r"apt-get\s+install\s+(.*?)(?:&&|;|$)", line):
            out |= {t for t in m.group(1).split() if not t.startswith("-") and "$" not in t}
    return out


def setup_sh_groups(text: str) -> Dict[str, Set[str]]:
    """scripts/setup.sh's PACKAGES=( ... ) by comment group ("Build", "C++ libraries", ...)."""
    m = re.search(r"PACKAGES=\((.*?)\n\)", text, re.S)
    groups: Dict[str, Set[str]] = {}
    current = "(none)"
    for line in (m.group(1) if m else "").splitlines():
        line = line.strip()
        if line.startswith("#"):
            current = line.lstrip("# ").split(":")[0].strip()
            continue
        groups.setdefault(current, set()).update(line.split())
    return groups


def check_dockerfile(ctx: Context, report: Report) -> None:
    text = ctx.dockerfile
    if text is None:
        report.warning("Dockerfile", "no Dockerfile at the repository root")
        return
    stages = dockerfile_stages(text)
    final = stages[-1][1]
    users = [re.match(r"^USER\s+(\S+)", line).group(1) for line in final
             if re.match(r"^USER\s+", line)]
    uid = users[-1].split(":")[0] if users else None
    if uid is None or not uid.isdigit() or uid == "0":
        report.error("Dockerfile", f"the final stage's USER is {uid}: use a numeric non-root "
                     "uid (runAsNonRoot checks it)")
    exposed: Set[int] = set()
    for line in final:
        if line.upper().startswith("EXPOSE"):
            exposed |= {int(p.split("/")[0]) for p in line.split()[1:] if p.split("/")[0].isdigit()}
    installed: Set[str] = set()
    for line in final:
        m = re.match(r"^COPY\s+(?:--\S+\s+)*(.+)$", line)
        if m:
            parts = m.group(1).split()
            dest = parts[-1]
            for src in parts[:-1]:
                installed.add(dest + Path(src).name if dest.endswith("/") else dest)
    for w in ctx.workloads():
        pod = pod_spec(w)
        for c in containers(w):
            where = f"{w.where} container {c.get('name')}"
            sc = effective_security(pod, c)
            if uid and uid.isdigit() and sc.get("runAsUser") is not None and str(
                    sc["runAsUser"]) != uid:
                report.error(where, f"runAsUser {sc['runAsUser']} differs from the image's "
                             f"USER {uid}")
            cmd = c.get("command") or []
            if cmd and cmd[0] not in installed:
                report.error(where, f"command {cmd[0]} is not a file the Dockerfile installs "
                             f"({', '.join(sorted(installed))})")
            for p in container_ports(c).values():
                if exposed and p not in exposed:
                    report.warning(where, f"port {p} is not EXPOSEd by the Dockerfile")
    # Build packages: everything setup.sh installs for the build and the libraries.
    build_stage = next((lines for name, lines in stages if name == "build"), None)
    if build_stage is None:
        report.error("Dockerfile", "no stage named 'build'")
    elif ctx.setup_sh is not None and not any("setup.sh" in line for line in build_stage):
        groups = setup_sh_groups(ctx.setup_sh)
        want = set().union(*(v for k, v in groups.items()
                             if k.lower().startswith(("build", "c++"))))
        missing = want - apt_install_packages(build_stage)
        if missing:
            report.error("Dockerfile", "the build stage does not install "
                         f"{sorted(missing)} (scripts/setup.sh's build/library packages)")
    if dockerfile_arg(text, "RUNTIME_PACKAGES") is None:
        report.error("Dockerfile", "no ARG RUNTIME_PACKAGES")


def runtime_packages(ctx: Context) -> List[str]:
    value = dockerfile_arg(ctx.dockerfile or "", "RUNTIME_PACKAGES") or ""
    return value.replace("\\", " ").split()


def _owners(paths: Iterable[str]) -> Dict[str, List[str]]:
    """path -> the packages dpkg says own exactly that path (one dpkg -S for all of them;
    dpkg -S matches substrings, so only exact paths count)."""
    paths = sorted(set(paths))
    try:
        res = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    want = set(paths)
    out: Dict[str, List[str]] = {}
    for line in res.stdout.splitlines():
        pkgs, sep, p = line.partition(": ")
        if sep and p in want:
            out.setdefault(p, []).extend(x.split(":")[0] for x in pkgs.split(", "))
    return out


def _spellings(lib: str) -> List[str]:
    """With Debian 12's merged /usr, ldd and dpkg may name /lib or /usr/lib for one file, and
    the file may be a symlink to a versioned name."""
    real = os.path.realpath(lib)
    out = []
    for p in (lib, real):
        out += [p, p[4:] if p.startswith("/usr/") else "/usr" + p]
    return list(dict.fromkeys(out))


def library_packages(elf_files: Iterable[Path]) -> Tuple[Dict[str, List[str]], List[str]]:
    """ldd + dpkg -S (as deploy/docker/runtime-deps.sh): library -> packages; and the libraries
    ldd could not find or no package owns."""
    libs: Set[str] = set()
    problems: List[str] = []
    for f in elf_files:
        res = subprocess.run(["ldd", str(f)], capture_output=True, text=True, timeout=30)
        for line in res.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1] == "=>":
                if parts[2] == "not":
                    problems.append(f"{parts[0]} (needed by {f.name}) not found")
                elif parts[2].startswith("/"):
                    libs.add(parts[2])
            elif parts and parts[0].startswith("/"):
                libs.add(parts[0])
    owners = _owners(p for lib in libs for p in _spellings(lib))
    out: Dict[str, List[str]] = {}
    for lib in sorted(libs):
        pkgs = next((owners[p] for p in _spellings(lib) if p in owners), [])
        if pkgs:
            out[lib] = sorted(set(pkgs))
        else:
            problems.append(f"no installed package owns {lib}")
    return out, problems


def is_debian_12() -> bool:
    try:
        return Path("/etc/debian_version").read_text().strip().startswith("12")
    except OSError:
        return False


def image_binaries() -> List[Path]:
    bb = REPO / "bazel-bin"
    return [p for p in (bb / "server" / "data-bridge-kv-server", bb / "tools" / "data-bridge-kv-cli",
                        bb / "plugins" / "examples" / "throttle.so") if p.exists()]


def check_runtime_libraries(ctx: Context, report: Report) -> None:
    """The shared libraries of the built binaries all come from RUNTIME_PACKAGES (needs the
    binaries, ldd and dpkg: skipped elsewhere); each package has an apt candidate."""
    listed = runtime_packages(ctx)
    if not listed:
        return
    tools = shutil.which("ldd") and shutil.which("dpkg")
    if not is_debian_12() or not tools:
        report.note("runtime libraries: not Debian 12 with ldd and dpkg here, skipped")
        return
    binaries = image_binaries()
    if not binaries or binaries[0].name != "data-bridge-kv-server":
        report.note("runtime libraries: the server is not built in bazel-bin/, skipped")
    else:
        owners, problems = library_packages(binaries)
        for p in problems:
            report.error("Dockerfile", f"runtime library: {p}")
        needed = sorted({pkgs[0] for pkgs in owners.values()
                         if not set(pkgs) & set(listed)})
        for lib, pkgs in owners.items():
            if not set(pkgs) & set(listed):
                report.error("Dockerfile", f"{lib} comes from {'/'.join(pkgs)}, not in "
                             "RUNTIME_PACKAGES: the image would not start")
        unused = sorted(set(listed) - {p for pkgs in owners.values() for p in pkgs})
        for p in unused:
            report.warning("Dockerfile", f"RUNTIME_PACKAGES lists {p}, which no binary loads")
        report.note(f"runtime libraries: {len(owners)} shared libraries of "
                    f"{', '.join(b.name for b in binaries)} -> "
                    f"{', '.join(sorted({p for v in owners.values() for p in v}))}"
                    + (f"; missing: {', '.join(needed)}" if needed else ""))
    if shutil.which("apt-cache"):
        try:
            res = subprocess.run(["apt-cache", "policy", *listed], capture_output=True, text=True,
                                 timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            report.note(f"apt-cache policy failed: {e}")
            return
        candidates: Dict[str, str] = {}
        current = None
        for line in res.stdout.splitlines():
            if line and not line[0].isspace() and line.endswith(":"):
                current = line[:-1].split(":")[0]
            elif current and line.strip().startswith("Candidate:"):
                candidates[current] = line.split(":", 1)[1].strip()
        for p in listed:
            if candidates.get(p) in (None, "(none)"):
                report.error("Dockerfile", f"runtime package {p} has no candidate in Debian 12 "
                             "(apt-cache policy)")


# --------------------------------------------------------------------------------------------

ALL_CHECKS = (check_documents, check_kustomization, check_workloads, check_services,
              check_servicemonitors, check_pdbs, check_dockerfile, check_runtime_libraries)


def run_checks(ctx: Context, report: Optional[Report] = None, checks=ALL_CHECKS) -> Report:
    report = report or Report()
    for check in checks:
        check(ctx, report)
    # One finding per (level, where, message), in order.
    seen: Set[Finding] = set()
    unique = []
    for f in report.findings:
        if f not in seen:
            seen.add(f)
            unique.append(f)
    report.findings = unique
    return report


def planned_flags_in_use(ctx: Context) -> Dict[str, Set[str]]:
    """Planned (not yet real) flags the manifests use -> where."""
    out: Dict[str, Set[str]] = {}
    for w in ctx.workloads():
        for c in containers(w):
            for name, var in settings(ctx, w, c, Report()).items():
                f = ctx.flags.flags.get(name)
                if f is not None and f.planned:
                    out.setdefault(name, set()).add(w.where)
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=HERE, help="manifest folder (default: here)")
    ap.add_argument("--server", type=Path, help="server binary whose --help lists the flags "
                    "(default: $DBKV_SERVER or bazel-bin/server/data-bridge-kv-server)")
    ap.add_argument("--no-binary", action="store_true", help="read flags from server/*.cc only")
    ap.add_argument("--strict", action="store_true", help="warnings are errors")
    ap.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    args = ap.parse_args(argv)

    ctx, report = load_context(args.dir, args.server, not args.no_binary)
    run_checks(ctx, report)
    if not args.quiet:
        print(f"server flags from: {'; '.join(ctx.flags.sources) or 'nothing'}")
        planned = sorted(n for n, f in ctx.flags.flags.items() if f.planned)
        if planned:
            print(f"not in the server yet (DESIGN.md): {', '.join('--' + p for p in planned)}")
        print(f"checked {len(ctx.docs)} objects in {len({d.path for d in ctx.docs})} files")
        for n in report.notes:
            print(f"note    {n}")
    for f in report.findings:
        if f.level == "error" or not args.quiet or args.strict:
            print(f)
    failed = report.errors or (args.strict and report.warnings)
    print(f"{'FAILED' if failed else 'OK'}: {len(report.errors)} errors, "
          f"{len(report.warnings)} warnings")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
