"""Object-level checks: documents, kustomization.yaml, Services, the ServiceMonitor, PDBs."""
from __future__ import annotations

import re

from .findings import Report
from .manifests import KNOWN_KINDS, Context
from .podenv import settings
from .pods import containers, pod_labels, resolve_port, selects, split_host_port

_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_documents(ctx: Context, report: Report) -> None:
    seen: set[tuple[str, str]] = set()
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
        pattern = _DNS1123_LABEL if kind == "Service" else _DNS1123_SUBDOMAIN
        limit = 63 if kind == "Service" else 253
        if not pattern.match(name) or len(name) > limit:
            report.error(d.where, f"metadata.name '{name}' is not a valid DNS name")
        if kind == "StatefulSet" and len(name) > 52:
            report.warning(d.where, "StatefulSet names over 52 characters break pod labels")
        if "namespace" in meta:
            report.error(d.where, "metadata.namespace is set: keep the manifests "
                         "namespace-agnostic (kubectl apply -k ... -n NS)")
        if (str(kind), name) in seen:
            report.error(d.where, "defined twice")
        seen.add((str(kind), name))
        if "app.kubernetes.io/name" not in (meta.get("labels") or {}):
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
    for r in resources:
        if not (ctx.directory / r).exists():
            report.error("kustomization.yaml", f"resource {r} does not exist")
    for f in sorted({d.path.name for d in ctx.docs} - set(resources)):
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


def check_services(ctx: Context, report: Report) -> None:
    for s in ctx.of_kind("Service"):
        spec = s.obj.get("spec") or {}
        sel = spec.get("selector") or {}
        if not sel:
            report.error(s.where, "no selector")
            continue
        targets = [w for w in ctx.workloads() if selects(sel, pod_labels(w))]
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
    scraped: set[str] = set()
    for sm in monitors:
        spec = sm.obj.get("spec") or {}
        sel = spec.get("selector") or {}
        if (spec.get("namespaceSelector") or {}).get("matchNames"):
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
    covered: set[str] = set()
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
