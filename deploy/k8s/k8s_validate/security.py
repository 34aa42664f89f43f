"""Pod and container security: the restricted Pod Security Standard and the pod-level switches
a server pod does not need."""
from __future__ import annotations

from typing import Any

from .findings import Report
from .manifests import Context
from .pods import container_where, effective_security, pod_spec


def check_security(ctx: Context, report: Report) -> None:
    for w in ctx.workloads():
        pod = pod_spec(w)
        if pod.get("automountServiceAccountToken") is not False:
            report.warning(w.where, "automountServiceAccountToken is not false (the server "
                           "never calls the API)")
        if pod.get("enableServiceLinks") is not False:
            report.warning(w.where, "enableServiceLinks is not false: a Service named kv-... "
                           "could inject KV_* variables")
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            report.error(w.where, "uses the host's network/PID/IPC namespace")
        for c in list(pod.get("initContainers") or []) + list(pod.get("containers") or []):
            check_container_security(report, container_where(w, c), pod, c)


def check_container_security(report: Report, where: str, pod: dict[str, Any],
                             c: dict[str, Any]) -> None:
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
