"""Reading pod templates: containers, ports, labels, volumes, mounts, security contexts."""
from __future__ import annotations

import re
from typing import Any

from .manifests import Context, Doc


def pod_spec(doc: Doc) -> dict[str, Any]:
    return ((doc.obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def pod_labels(doc: Doc) -> dict[str, str]:
    return (((doc.obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "labels") or {}


def containers(doc: Doc) -> list[dict[str, Any]]:
    return list(pod_spec(doc).get("containers") or [])


def container_where(doc: Doc, c: dict[str, Any]) -> str:
    return f"{doc.where} container {c.get('name')}"


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
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


def container_ports(c: dict[str, Any]) -> dict[Any, int]:
    """port name and number -> number."""
    out: dict[Any, int] = {}
    for p in c.get("ports") or []:
        n = p.get("containerPort")
        if isinstance(n, int):
            out[n] = n
            if p.get("name"):
                out[p["name"]] = n
    return out


def resolve_port(c: dict[str, Any], port: Any) -> int | None:
    return container_ports(c).get(port)


def split_host_port(text: str) -> tuple[str, int] | None:
    """host:port (last colon; a [v6] host keeps its brackets). Only for reading an address the
    server accepted or a manifest states; the server itself judges the values."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        return None
    return host, int(port)


def effective_security(pod: dict[str, Any], c: dict[str, Any]) -> dict[str, Any]:
    """The container's securityContext with the pod's defaults filled in (the fields both
    have)."""
    ps = pod.get("securityContext") or {}
    cs = dict(c.get("securityContext") or {})
    for k in ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile"):
        if k not in cs and k in ps:
            cs[k] = ps[k]
    return cs


def volumes_by_name(doc: Doc) -> dict[Any, dict[str, Any]]:
    """The pod's volumes, and a StatefulSet's claim templates as persistentVolumeClaimTemplate."""
    out = {v.get("name"): v for v in pod_spec(doc).get("volumes") or []}
    for t in (doc.obj.get("spec") or {}).get("volumeClaimTemplates") or []:
        name = (t.get("metadata") or {}).get("name")
        out[name] = {"name": name, "persistentVolumeClaimTemplate": t}
    return out


def mount_for(path: str, c: dict[str, Any]) -> dict[str, Any] | None:
    """The volumeMount whose mountPath is path or its closest parent."""
    best = None
    for m in c.get("volumeMounts") or []:
        mp = str(m.get("mountPath", "")).rstrip("/") or "/"
        under = path == mp or path.startswith(mp + "/") or mp == "/"
        if under and (best is None or len(mp) > len(str(best.get("mountPath", "")))):
            best = m
    return best


def files_of_volume(ctx: Context, vol: dict[str, Any]) -> set[str] | None:
    """The file names a Secret or ConfigMap volume shows (its items' paths, else its keys);
    None when not known (another kind of volume, or an object these manifests do not define)."""
    for kind, name_key, keys_of in (("secret", "secretName", ctx.secret_keys),
                                    ("configMap", "name", ctx.configmap_data)):
        src = vol.get(kind)
        if src is None:
            continue
        items = src.get("items")
        if items:
            return {str(i.get("path")) for i in items}
        keys = keys_of(str(src.get(name_key, "")))
        return set(keys) if keys is not None else None
    return None


def prestop_seconds(c: dict[str, Any]) -> int:
    """How long the container's preStop hook sleeps (a sleep action or an exec of sleep)."""
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
