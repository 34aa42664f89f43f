"""The manifests as loaded: documents, kustomization.yaml, the Dockerfile, the server binary."""
from __future__ import annotations

import dataclasses
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from .findings import Report
from .server_binary import REPO, Server, ServerError, load_server, locate

K8S_DIR = REPO / "deploy" / "k8s"

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


@dataclasses.dataclass
class Doc:
    path: Path
    index: int
    obj: dict[str, Any]

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
    docs: list[Doc]
    kustomization: dict[str, Any] | None
    server: Server | None  # None: not found (an error) or --no-binary (skipped)
    dockerfile: str | None = None
    setup_sh: str | None = None

    def of_kind(self, kind: str) -> list[Doc]:
        return [d for d in self.docs if d.kind == kind]

    def find(self, kind: str, name: str) -> Doc | None:
        return next((d for d in self.docs if d.kind == kind and d.name == name), None)

    def workloads(self) -> list[Doc]:
        return [d for d in self.docs if d.kind in WORKLOAD_KINDS]

    def generated_secrets(self) -> dict[str, set[str]]:
        """Secrets made by kustomization.yaml's secretGenerator: name -> keys."""
        out: dict[str, set[str]] = {}
        for g in (self.kustomization or {}).get("secretGenerator") or []:
            keys: set[str] = set()
            for f in g.get("files") or []:
                keys.add(f.split("=", 1)[0] if "=" in f else Path(f).name)
            for lit in g.get("literals") or []:
                keys.add(lit.split("=", 1)[0])
            out[g.get("name", "")] = keys
        return out

    def generated_configmaps(self) -> dict[str, dict[str, str | None]]:
        """ConfigMaps made by configMapGenerator: name -> key -> value (None: a file's)."""
        out: dict[str, dict[str, str | None]] = {}
        for g in (self.kustomization or {}).get("configMapGenerator") or []:
            data: dict[str, str | None] = {}
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

    def configmap_data(self, name: str) -> dict[str, str | None] | None:
        d = self.find("ConfigMap", name)
        if d is not None:
            return {str(k): (None if v is None else str(v))
                    for k, v in (d.obj.get("data") or {}).items()}
        return self.generated_configmaps().get(name)

    def secret_keys(self, name: str) -> set[str] | None:
        d = self.find("Secret", name)
        if d is not None:
            return set(d.obj.get("data") or {}) | set(d.obj.get("stringData") or {})
        return self.generated_secrets().get(name)


def read_documents(directory: Path, report: Report) -> tuple[list[Doc], dict[str, Any] | None]:
    """Every YAML document in directory, and kustomization.yaml apart."""
    docs: list[Doc] = []
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
        if p.name in ("kustomization.yaml", "kustomization.yml"):
            kustomization = loaded[0] if loaded else None
            continue
        for i, obj in enumerate(loaded):
            if obj is None:
                continue
            if not isinstance(obj, dict):
                report.error(f"{p.name}[{i}]", "a document is not a mapping")
                continue
            docs.append(Doc(p, i, obj))
    return docs, kustomization


def load_context(directory: Path = K8S_DIR, binary: Path | None = None, use_binary: bool = True,
                 report: Report | None = None) -> tuple[Context, Report]:
    """The manifests in directory, the repository's Dockerfile and scripts/setup.sh, and the
    server binary (binary, else $DBKV_SERVER, else bazel-bin). Without a usable binary the
    report has an error saying so, unless use_binary is False (an explicit skip, a note)."""
    report = report or Report()
    docs, kustomization = read_documents(directory, report)
    server = None
    if use_binary:
        try:
            server = load_server(locate(binary))
        except ServerError as e:
            report.error("server", f"{e}; without it the server cannot check the manifests' "
                         "settings (--no-binary skips that check explicitly)")
    else:
        report.note("server configuration: NOT CHECKED (--no-binary): flag names and values, "
                    "TLS, plugins and the data dir are only checked by the server binary")
    dockerfile = REPO / "Dockerfile"
    setup = REPO / "scripts" / "setup.sh"
    ctx = Context(directory, docs, kustomization, server,
                  dockerfile.read_text() if dockerfile.exists() else None,
                  setup.read_text() if setup.exists() else None)
    return ctx, report


# --------------------------------------------------------------------------------------------
# Kubernetes quantities

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$")
_BINARY_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIX = {"": 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
                   "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def parse_quantity(value: Any) -> Decimal | None:
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
    mult: Any
    if suffix in _BINARY_SUFFIX:
        mult = _BINARY_SUFFIX[suffix]
    elif suffix in _DECIMAL_SUFFIX:
        mult = _DECIMAL_SUFFIX[suffix]
    else:
        return None
    try:
        return Decimal(number) * Decimal(mult)
    except InvalidOperation:
        return None
