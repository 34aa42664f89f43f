#!/usr/bin/env python3
"""Checks the Kubernetes manifests in deploy/k8s/ without a cluster, against the server.

    python3 deploy/k8s/validate.py [--strict] [--server PATH] [--no-binary] [-q]

Needs PyYAML and the built server (bazel build //server:data-bridge-kv-server; --server or
$DBKV_SERVER names another). Each container's command line and KV_* variables (ConfigMaps,
Secrets and the Downward API resolved) go to `data-bridge-kv-server --check-config`, which
judges flag names and values exactly as start-up does; files that exist only in the pod get
stand-ins and are checked against the pod's volumes instead (README.md, "Validation"). The
rest is policy across objects: probes, security context, resources, memory against
--max-memory, grace periods, claims, Services, the ServiceMonitor, PDBs, the Dockerfile and
the runtime libraries. The checks live in k8s_validate/ (one module per area).

Without the binary this is an error; --no-binary skips the server's check explicitly (a
note). --strict makes every warning an error. Exit status: 0 clean, 1 errors.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from k8s_validate.cli import main

if __name__ == "__main__":
    sys.exit(main())
