"""The image's RUNTIME_PACKAGES against the shared libraries the built binaries load."""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from .dockerfile import dockerfile_arg
from .findings import Report
from .manifests import REPO, Context


def runtime_packages(ctx: Context) -> list[str]:
    value = dockerfile_arg(ctx.dockerfile or "", "RUNTIME_PACKAGES") or ""
    return value.replace("\\", " ").split()


def _owners(paths: Iterable[str]) -> dict[str, list[str]]:
    """path -> the packages dpkg says own exactly that path (one dpkg -S for all of them;
    dpkg -S matches substrings, so only exact paths count)."""
    wanted = sorted(set(paths))
    try:
        res = subprocess.run(["dpkg", "-S", *wanted], capture_output=True, text=True,
                             timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    want = set(wanted)
    out: dict[str, list[str]] = {}
    for line in res.stdout.splitlines():
        pkgs, sep, p = line.partition(": ")
        if sep and p in want:
            out.setdefault(p, []).extend(x.split(":")[0] for x in pkgs.split(", "))
    return out


def _spellings(lib: str) -> list[str]:
    """With Debian 12's merged /usr, ldd and dpkg may name /lib or /usr/lib for one file, and
    the file may be a symlink to a versioned name."""
    real = os.path.realpath(lib)
    out = []
    for p in (lib, real):
        out += [p, p[4:] if p.startswith("/usr/") else "/usr" + p]
    return list(dict.fromkeys(out))


def library_packages(elf_files: Iterable[Path]) -> tuple[dict[str, list[str]], list[str]]:
    """ldd + dpkg -S (as deploy/docker/runtime-deps.sh): library -> packages; and the libraries
    ldd could not find or no package owns."""
    libs: set[str] = set()
    problems: list[str] = []
    for f in elf_files:
        res = subprocess.run(["ldd", str(f)], capture_output=True, text=True, timeout=30,
                             check=False)
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
    out: dict[str, list[str]] = {}
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


def image_binaries() -> list[Path]:
    bb = REPO / "bazel-bin"
    return [p for p in (bb / "server" / "data-bridge-kv-server",
                        bb / "tools" / "data-bridge-kv-cli",
                        bb / "plugins" / "examples" / "throttle.so") if p.exists()]


def apt_candidates(packages: list[str]) -> dict[str, str] | None:
    """package -> its apt-cache policy candidate; None if apt-cache could not run."""
    try:
        res = subprocess.run(["apt-cache", "policy", *packages], capture_output=True, text=True,
                             timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    candidates: dict[str, str] = {}
    current = None
    for line in res.stdout.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            current = line[:-1].split(":")[0]
        elif current and line.strip().startswith("Candidate:"):
            candidates[current] = line.split(":", 1)[1].strip()
    return candidates


def check_runtime_libraries(ctx: Context, report: Report) -> None:
    """The shared libraries of the built binaries all come from RUNTIME_PACKAGES (needs the
    binaries, ldd and dpkg: skipped elsewhere); each package has an apt candidate."""
    listed = runtime_packages(ctx)
    if not listed:
        return
    if not is_debian_12() or not (shutil.which("ldd") and shutil.which("dpkg")):
        report.note("runtime libraries: not Debian 12 with ldd and dpkg here, skipped")
        return
    binaries = image_binaries()
    if not binaries or binaries[0].name != "data-bridge-kv-server":
        report.note("runtime libraries: the server is not built in bazel-bin/, skipped")
    else:
        owners, problems = library_packages(binaries)
        for p in problems:
            report.error("Dockerfile", f"runtime library: {p}")
        needed = sorted({pkgs[0] for pkgs in owners.values() if not set(pkgs) & set(listed)})
        for lib, pkgs in owners.items():
            if not set(pkgs) & set(listed):
                report.error("Dockerfile", f"{lib} comes from {'/'.join(pkgs)}, not in "
                             "RUNTIME_PACKAGES: the image would not start")
        for p in sorted(set(listed) - {p for pkgs in owners.values() for p in pkgs}):
            report.warning("Dockerfile", f"RUNTIME_PACKAGES lists {p}, which no binary loads")
        report.note(f"runtime libraries: {len(owners)} shared libraries of "
                    f"{', '.join(b.name for b in binaries)} -> "
                    f"{', '.join(sorted({p for v in owners.values() for p in v}))}"
                    + (f"; missing: {', '.join(needed)}" if needed else ""))
    if shutil.which("apt-cache"):
        candidates = apt_candidates(listed)
        if candidates is None:
            report.note("runtime libraries: apt-cache policy failed")
            return
        for p in listed:
            if candidates.get(p) in (None, "(none)"):
                report.error("Dockerfile", f"runtime package {p} has no candidate in Debian 12 "
                             "(apt-cache policy)")
