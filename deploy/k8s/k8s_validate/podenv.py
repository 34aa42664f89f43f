"""What a container runs with: its command line (the image's ENTRYPOINT/CMD filled in) and its
environment as the kubelet composes it (envFrom, env, ConfigMaps, Secrets, the Downward API)."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from .dockerfile import image_command
from .findings import Report
from .manifests import Context, Doc, parse_quantity
from .pods import container_where, containers

SERVER_PROGRAM = "data-bridge-kv-server"


@dataclasses.dataclass
class EnvVar:
    name: str
    value: str | None  # None: not known statically (valueFrom, or a Secret's content)
    origin: str
    secret: bool = False


def effective_env(ctx: Context, doc: Doc, c: dict[str, Any], report: Report) -> dict[str, EnvVar]:
    """envFrom (in order), then env (which wins), as the kubelet composes them; references to
    ConfigMaps and Secrets these manifests do not define are errors."""
    where = container_where(doc, c)
    env: dict[str, EnvVar] = {}
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
        elif "fieldRef" in vf:
            env[name] = EnvVar(name, None, f"fieldRef {(vf['fieldRef'] or {}).get('fieldPath')}")
        else:
            env[name] = EnvVar(name, None, "valueFrom")
    return env


def resource_field_value(doc: Doc, c: dict[str, Any], ref: dict[str, Any]) -> str | None:
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


def container_command(ctx: Context, c: dict[str, Any]) -> list[str] | None:
    """The argv the container runs: command + args, or the image's ENTRYPOINT + (args, else
    CMD) when command is not set (as the kubelet does). None if that depends on an image whose
    Dockerfile is not here."""
    args = [str(a) for a in c.get("args") or []]
    if c.get("command"):
        return [str(t) for t in c["command"]] + args
    if ctx.dockerfile is None:
        return None
    entrypoint, cmd = image_command(ctx.dockerfile)
    argv = entrypoint + (args if "args" in c else cmd)
    return argv or None


def server_args(ctx: Context, c: dict[str, Any]) -> list[str] | None:
    """The server's arguments (argv[1:]) if the container runs the server, else None."""
    argv = container_command(ctx, c)
    if not argv or Path(argv[0]).name != SERVER_PROGRAM:
        return None
    return argv[1:]


def cli_flags(tokens: list[str]) -> list[tuple[str, str | None]]:
    """(name, value) of --flag / --flag=value / --flag value in the server's arguments."""
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


def flag_for_env(name: str) -> str | None:
    """KV_X_Y -> x-y: every server flag --x-y reads KV_X_Y (the server's --help says so)."""
    return name[3:].lower().replace("_", "-") if name.startswith("KV_") else None


def settings(ctx: Context, doc: Doc, c: dict[str, Any], report: Report) -> dict[str, EnvVar]:
    """The server's settings by flag name, as the manifests state them (not defaults): command-
    line flags win over KV_* variables (CLI11)."""
    out: dict[str, EnvVar] = {}
    for var in effective_env(ctx, doc, c, report).values():
        flag = flag_for_env(var.name)
        if flag:
            out[flag] = var
    for name, value in cli_flags(server_args(ctx, c) or []):
        out[name] = EnvVar(name, value, "command line")
    return out
