"""The Dockerfile at the repository root, against the manifests and scripts/setup.sh."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from .findings import Report
from .manifests import Context
from .pods import container_ports, containers, effective_security, pod_spec


def logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined, comment lines dropped."""
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


def dockerfile_stages(text: str) -> list[tuple[str, list[str]]]:
    """(stage name, its instructions); the first entry holds what precedes the first FROM."""
    stages: list[tuple[str, list[str]]] = [("(global)", [])]
    for line in logical_lines(text):
        m = re.match(r"^\s*FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if m:
            stages.append((m.group(2) or f"stage{len(stages)}", []))
        stages[-1][1].append(line.strip())
    return stages


def dockerfile_arg(text: str, name: str) -> str | None:
    for line in logical_lines(text):
        m = re.match(rf'^\s*ARG\s+{name}=(?:"([^"]*)"|(\S*))', line)
        if m:
            return m.group(1) if m.group(1) is not None else m.group(2)
    return None


def image_files(text: str) -> dict[str, str]:
    """Files the final stage COPYs into the image: path in the image -> source path."""
    out: dict[str, str] = {}
    for line in dockerfile_stages(text)[-1][1]:
        m = re.match(r"^COPY\s+(?:--\S+\s+)*(.+)$", line)
        if m:
            parts = m.group(1).split()
            dest = parts[-1]
            for src in parts[:-1]:
                out[dest + Path(src).name if dest.endswith("/") else dest] = src
    return out


def image_command(text: str) -> tuple[list[str], list[str]]:
    """The final stage's ENTRYPOINT and CMD (exec form; a shell form runs under /bin/sh -c)."""
    found: dict[str, list[str]] = {"ENTRYPOINT": [], "CMD": []}
    for line in dockerfile_stages(text)[-1][1]:
        m = re.match(r"^(ENTRYPOINT|CMD)\s+(.*)$", line, re.IGNORECASE)
        if not m:
            continue
        body = m.group(2).strip()
        try:
            value = json.loads(body)
        except ValueError:
            value = None
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            value = ["/bin/sh", "-c", body]
        found[m.group(1).upper()] = value
    return found["ENTRYPOINT"], found["CMD"]


def apt_install_packages(lines: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for line in lines:
        for m in re.finditer(r"apt-get\s+install\s+(.*?)(?:&&|;|$)", line):
            out |= {t for t in m.group(1).split() if not t.startswith("-") and "$" not in t}
    return out


def setup_sh_groups(text: str) -> dict[str, set[str]]:
    """scripts/setup.sh's PACKAGES=( ... ) by comment group ("Build", "C++ libraries", ...)."""
    m = re.search(r"PACKAGES=\((.*?)\n\)", text, re.DOTALL)
    groups: dict[str, set[str]] = {}
    current = "(none)"
    for line in (m.group(1) if m else "").splitlines():
        line = line.strip()
        if line.startswith("#"):
            current = line.lstrip("# ").split(":")[0].strip()
            continue
        groups.setdefault(current, set()).update(line.split())
    return groups


def image_user(text: str) -> str | None:
    """The uid of the final stage's last USER."""
    users = [line.split()[1] for line in dockerfile_stages(text)[-1][1]
             if re.match(r"^USER\s+\S", line)]
    return users[-1].split(":")[0] if users else None


def exposed_ports(text: str) -> set[int]:
    exposed: set[int] = set()
    for line in dockerfile_stages(text)[-1][1]:
        if line.upper().startswith("EXPOSE"):
            exposed |= {int(p.split("/")[0]) for p in line.split()[1:]
                        if p.split("/")[0].isdigit()}
    return exposed


def check_dockerfile(ctx: Context, report: Report) -> None:
    """USER and runAsUser agree, the command is a file the image installs, EXPOSE covers the
    ports, and the build stage installs scripts/setup.sh's build and library packages."""
    text = ctx.dockerfile
    if text is None:
        report.warning("Dockerfile", "no Dockerfile at the repository root")
        return
    stages = dockerfile_stages(text)
    uid = image_user(text)
    if uid is None or not uid.isdigit() or uid == "0":
        report.error("Dockerfile", f"the final stage's USER is {uid}: use a numeric non-root "
                     "uid (runAsNonRoot checks it)")
    exposed = exposed_ports(text)
    installed = image_files(text)
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
