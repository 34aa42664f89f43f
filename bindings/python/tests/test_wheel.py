"""The repaired wheel (make wheel) installs and works on its own, as a user would get it.

A virtualenv of its own in a temporary directory; the wheel (copied out of the repository)
installed with `pip install --no-index` (the package needs nothing else); then Python run from a
temporary directory with a sanitized environment (no PYTHONPATH, no LD_LIBRARY_PATH, no
VIRTUAL_ENV, a HOME of its own) sets and gets through the package's API against a real server.
It must import the package from that virtualenv, map no file of the repository or of Bazel's
output tree, and every shared library the extension needs outside the manylinux policy must
resolve to the copies auditwheel put inside the wheel.

Runs when DBKV_WHEEL names the wheel: `make test-wheel` builds it and sets it (skipped
otherwise, e.g. under `make test-python`).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[3]
WHEEL = os.environ.get("DBKV_WHEEL", "")

pytestmark = [
    pytest.mark.skipif(not WHEEL, reason="DBKV_WHEEL not set: run `make test-wheel`"),
    pytest.mark.timeout(300),
    pytest.mark.slow,
]

# Libraries every manylinux policy lets a wheel take from the system (auditwheel's policy
# lists, narrowed to those this extension could need); anything else must come in the wheel.
SYSTEM_LIBS = {
    "linux-vdso.so.1", "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0",
    "libdl.so.2", "librt.so.1", "libstdc++.so.6", "libgcc_s.so.1",
}

CHILD = r'''
import json, os, sys
from decimal import Decimal

import data_bridge.kv
from data_bridge.kv import KvClient, _native

url = sys.argv[1]
with KvClient(url, timeout=10) as kv:
    assert kv.ping() is True
    kv.set("wheel:price", Decimal("1.10"))
    kv.set("wheel:bytes", b"\x00\xff")
    kv.set("wheel:list", [1, "two", 3.5, None, {"k": True}])
    got = {
        "price": str(kv.get("wheel:price")),
        "price_type": type(kv.get("wheel:price")).__name__,
        "bytes": kv.get("wheel:bytes").hex(),
        "list": repr(kv.get("wheel:list")),
        "missing": kv.get("wheel:missing", "default"),
    }

maps = sorted({line.split(None, 5)[5].strip() for line in open("/proc/self/maps")
               if len(line.split(None, 5)) == 6 and line.split(None, 5)[5].startswith("/")})
print(json.dumps({
    "got": got,
    "package": data_bridge.kv.__file__,
    "native": _native.__file__,
    "prefix": sys.prefix,
    "sys_path": sys.path,
    "maps": maps,
}))
'''


def clean_env(home: Path) -> Dict[str, str]:
    """What a user's shell would pass, and nothing of the build's: no PYTHONPATH,
    LD_LIBRARY_PATH, VIRTUAL_ENV, PYTHONHOME or pip configuration."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_CONFIG_FILE": os.devnull,
    }


def run(cmd: List[str], cwd: Path, env: Dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=240)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}"
    return proc.stdout


def forbidden_roots() -> List[str]:
    """The repository and Bazel's output tree (bazel-out and its execroot)."""
    roots = {os.path.realpath(ROOT)}
    for link in ("bazel-out", "bazel-bin", f"bazel-{ROOT.name}"):
        p = ROOT / link
        if p.exists():
            roots.add(os.path.realpath(p))
    return sorted(roots)


def under(path: str, roots: List[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r + os.sep) for r in roots)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python, env, cwd): a fresh virtualenv with the wheel installed, and where to run it."""
    wheel = Path(WHEEL)
    assert wheel.is_file(), f"DBKV_WHEEL={WHEEL}: no such file"
    assert "manylinux" in wheel.name, f"{wheel.name} is not a repaired (manylinux) wheel"
    base = tmp_path_factory.mktemp("wheel")
    home = base / "home"
    work = base / "work"
    home.mkdir()
    work.mkdir()
    env = clean_env(home)
    local_wheel = base / wheel.name
    shutil.copy2(wheel, local_wheel)
    venv = base / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=work, env=env)
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", "--no-index", "--no-cache-dir",
         str(local_wheel)], cwd=work, env=env)
    return python, env, work


def test_wheel_installs_imports_and_talks_to_server(installed, server, namespace):
    python, env, work = installed
    script = work / "use_wheel.py"
    script.write_text(CHILD)
    out = run([str(python), str(script), server.url(namespace)], cwd=work, env=env)
    report = json.loads(out.strip().splitlines()[-1])

    assert report["got"] == {
        "price": "1.10", "price_type": "Decimal", "bytes": "00ff",
        "list": "[1, 'two', 3.5, None, {'k': True}]", "missing": "default",
    }
    venv = os.path.realpath(python.parent.parent)
    assert os.path.realpath(report["prefix"]) == venv
    for key in ("package", "native"):
        assert under(report[key], [venv]), f"{key} imported from {report[key]}, not the venv"
    roots = forbidden_roots()
    assert not [p for p in report["sys_path"] if p and under(p, roots)], report["sys_path"]
    leaked = [p for p in report["maps"] if under(p, roots)]
    assert not leaked, f"the process mapped files of the source or build tree: {leaked}"

    # Every library the extension needs beyond the policy's resolves inside the wheel's copy.
    ldd = run(["ldd", report["native"]], cwd=work, env=env)
    outside = []
    grafted = []
    for line in ldd.splitlines():
        parts = line.split()
        if not parts:
            continue
        name = os.path.basename(parts[0])
        if "not found" in line:
            outside.append(line.strip())
        elif name in SYSTEM_LIBS:
            continue
        elif "=>" in parts and under(parts[parts.index("=>") + 1], [venv]):
            grafted.append(name)
        else:
            outside.append(line.strip())
    assert not outside, f"libraries not shipped in the wheel:\n{ldd}"
    # OpenSSL (TLS in the C++ client) is the one today; see make wheel.
    assert any(n.startswith("libssl") for n in grafted), f"no libssl in the wheel:\n{ldd}"
