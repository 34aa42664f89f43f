"""The checks in order, and the command line (deploy/k8s/validate.py)."""
from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from .dockerfile import check_dockerfile
from .findings import Report
from .manifests import K8S_DIR, Context, load_context
from .objects import (
    check_documents,
    check_kustomization,
    check_pdbs,
    check_servicemonitors,
    check_services,
)
from .podfiles import check_pod_files
from .runtime_libs import check_runtime_libraries
from .security import check_security
from .server_config import check_server_config
from .workloads import check_workloads

Check = Callable[[Context, Report], None]

ALL_CHECKS: tuple[Check, ...] = (
    check_documents, check_kustomization, check_server_config, check_workloads, check_security,
    check_pod_files, check_services, check_servicemonitors, check_pdbs, check_dockerfile,
    check_runtime_libraries)


def run_checks(ctx: Context, report: Report | None = None,
               checks: Sequence[Check] = ALL_CHECKS) -> Report:
    report = report or Report()
    for check in checks:
        check(ctx, report)
    report.deduplicate()
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Checks the Kubernetes manifests in deploy/k8s/ without a cluster; the "
                    "server binary (--check-config) judges every container's settings.")
    ap.add_argument("--dir", type=Path, default=K8S_DIR, help="manifest folder (default: here)")
    ap.add_argument("--server", type=Path, help="the server binary (default: $DBKV_SERVER, "
                    "else bazel-bin/server/data-bridge-kv-server)")
    ap.add_argument("--no-binary", action="store_true", help="skip what only the server binary "
                    "can check (flag names and values, TLS, plugins, data dir): a note, not an "
                    "error")
    ap.add_argument("--strict", action="store_true", help="warnings are errors")
    ap.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    args = ap.parse_args(argv)

    ctx, report = load_context(args.dir, args.server, not args.no_binary)
    run_checks(ctx, report)
    if not args.quiet:
        server = f"{ctx.server.path} --check-config" if ctx.server else "none"
        print(f"server: {server}")
        print(f"checked {len(ctx.docs)} objects in {len({d.path for d in ctx.docs})} files")
        for n in report.notes:
            print(f"note    {n}")
    for f in report.findings:
        if f.level == "error" or not args.quiet or args.strict:
            print(f)
    failed = bool(report.errors) or (args.strict and bool(report.warnings))
    print(f"{'FAILED' if failed else 'OK'}: {len(report.errors)} errors, "
          f"{len(report.warnings)} warnings")
    return 1 if failed else 0
