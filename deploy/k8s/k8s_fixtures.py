"""Shared by test_manifests.py and test_server_config.py: the manifests loaded once, and copies
of them broken on purpose (in memory)."""
from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from k8s_validate.cli import ALL_CHECKS, Check, run_checks
from k8s_validate.findings import Report
from k8s_validate.manifests import Context, Doc, load_context

CACHE = ("Deployment", "data-bridge-kv-cache")
STORE = ("StatefulSet", "data-bridge-kv-store")


def load() -> Context:
    """The manifests with the server binary ($DBKV_SERVER, else bazel-bin): a test failure,
    saying how to build it, when it is not there (as test_dashboard.py)."""
    ctx, report = load_context()
    if ctx.server is None:
        pytest.fail("\n".join(str(f) for f in report.errors))
    assert not report.errors, "\n".join(map(str, report.errors))
    return ctx


def errors(report: Report) -> str:
    return "\n".join(str(f) for f in report.errors)


def run(ctx: Context, *checks: Check) -> Report:
    return run_checks(ctx, Report(), checks or ALL_CHECKS)


def mutated(ctx: Context, kind: str, name: str, change: Callable[[dict[str, Any]], None],
            extra: tuple[dict[str, Any], ...] = ()) -> Context:
    """A copy of ctx where change(obj) was applied to the object kind/name, plus the extra
    objects (as if from another file)."""
    docs = copy.deepcopy(ctx.docs)
    hit = [d for d in docs if d.kind == kind and d.name == name]
    assert hit, f"{kind}/{name} not in the manifests"
    for d in hit:
        change(d.obj)
    docs += [Doc(ctx.directory / "extra.yaml", i, copy.deepcopy(o)) for i, o in enumerate(extra)]
    return dataclasses.replace(ctx, docs=docs, kustomization=copy.deepcopy(ctx.kustomization))


def container(obj: dict[str, Any], name: str = "server") -> dict[str, Any]:
    return next(c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def set_env(obj: dict[str, Any], name: str, value: str) -> None:
    """Sets name in the server container's env (which wins over the ConfigMaps)."""
    env = container(obj).setdefault("env", [])
    env[:] = [e for e in env if e["name"] != name] + [{"name": name, "value": value}]
