"""The built server binary: where it is, what its --help says, and its --check-config verdict.

The binary is the only judge of flag names and values: validate.py hands it a container's
command line and KV_* variables with --check-config and reports what it says, instead of
re-implementing CLI11 and the server's own value checks. --help is read only for what
--check-config cannot say: which KV_* variables the server reads at all (it ignores unknown
ones silently) and the defaults of the settings the cross-object policy needs.
"""
from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DEFAULT_BINARY = REPO / "bazel-bin" / "server" / "data-bridge-kv-server"
BUILD_HINT = ("bazel build //server:data-bridge-kv-server (make test-python does), or name it "
              "with --server / $DBKV_SERVER")

PREFIX = "data-bridge-kv-server: "
OK_PREFIX = PREFIX + "configuration OK: "
REFUSED_PREFIX = PREFIX + "configuration refused: "
CLI11_HINT = "Run with --help for more information."

# "  --name TYPE[:CHECK][=DEFAULT] (Env:KV_NAME)  description", description maybe on the next line
_HELP_OPTION = re.compile(
    r"^\s+(?:-\w,)?--([a-z0-9][a-z0-9-]*)(?:\s+([A-Z][^(]*?))?\s*(?:\(Env:|$)")
_ENV_NAME = re.compile(r"\bKV_[A-Z0-9_]*[A-Z0-9]\b")


class ServerError(Exception):
    """The binary is missing or unusable: what and why."""


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The server's verdict on one configuration."""

    ok: bool
    message: str  # the summary when ok, else why the server refuses (its own words)

    def summary_field(self, pattern: str) -> str | None:
        m = re.search(pattern, self.message) if self.ok else None
        return m.group(1) if m else None

    @property
    def bind(self) -> str | None:
        return self.summary_field(r"\bbind (\S+?)(?:,| \()")

    @property
    def http_bind(self) -> str | None:
        return self.summary_field(r"\bhttp (\S+?),")

    @property
    def max_memory(self) -> int | None:
        """--max-memory in bytes as the server parsed it (0: unlimited); None if unknown."""
        value = self.summary_field(r"\bmax memory (unlimited|\d+ bytes)")
        if value is None:
            return None
        return 0 if value == "unlimited" else int(value.split()[0])


def parse_help(text: str) -> tuple[dict[str, str | None], set[str]]:
    """--help -> (flag name -> its default, or None), and every KV_* variable it names
    (the flags' (Env:...) and the ones their descriptions mention, such as KV_PASSWORD)."""
    defaults: dict[str, str | None] = {}
    for line in text.splitlines():
        m = _HELP_OPTION.match(line)
        if m and m.group(1) not in ("help", "version"):
            default = re.search(r"=(\S+)$", m.group(2) or "")
            defaults[m.group(1)] = default.group(1) if default else None
    return defaults, set(_ENV_NAME.findall(text))


def host_environment() -> dict[str, str]:
    """This process's environment without KV_* variables (the caller's own settings must not
    leak into a check of the manifests' settings)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KV_")}


@dataclasses.dataclass
class Server:
    path: Path
    defaults: dict[str, str | None]  # flag -> default, from --help
    env_names: set[str]  # every KV_* variable --help names
    _cache: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], CheckResult] = (
        dataclasses.field(default_factory=dict, repr=False))

    def check(self, args: Sequence[str], env: Mapping[str, str]) -> CheckResult:
        """`server --check-config ARGS` with env (KV_* variables) on top of host_environment()."""
        key = (tuple(args), tuple(sorted(env.items())))
        if key not in self._cache:
            self._cache[key] = self._run(list(args), dict(env))
        return self._cache[key]

    def _run(self, args: list[str], env: dict[str, str]) -> CheckResult:
        try:
            res = subprocess.run([str(self.path), "--check-config", *args], capture_output=True,
                                 text=True, timeout=60, env={**host_environment(), **env},
                                 check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            return CheckResult(False, f"could not run {self.path} --check-config: {e}")
        lines = [ln.strip() for ln in (res.stdout + "\n" + res.stderr).splitlines()]
        lines = [ln for ln in lines if ln and ln != CLI11_HINT]
        if res.returncode == 0:
            ok = next((ln for ln in lines if ln.startswith(OK_PREFIX)), None)
            if ok is not None:
                return CheckResult(True, ok[len(OK_PREFIX):])
            return CheckResult(False, "exit 0 without 'configuration OK': " + " / ".join(lines))
        why = " / ".join(ln.removeprefix(REFUSED_PREFIX).removeprefix(PREFIX) for ln in lines)
        if res.returncode != 1:
            why = f"exit status {res.returncode}" + (f": {why}" if why else "")
        return CheckResult(False, why or f"exit status {res.returncode}, no message")


def locate(explicit: Path | None = None) -> Path:
    """--server, else $DBKV_SERVER (make test-python sets it), else bazel-bin."""
    if explicit is not None:
        return explicit
    env = os.environ.get("DBKV_SERVER")
    return Path(env) if env else DEFAULT_BINARY


def load_server(path: Path) -> Server:
    """The binary at path, with what its --help says; ServerError if it cannot check configs."""
    if not path.is_file() or not os.access(path, os.X_OK):
        raise ServerError(f"no server binary at {path}: {BUILD_HINT}")
    try:
        res = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=30,
                             env=host_environment(), check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ServerError(f"cannot run {path} --help: {e}") from e
    defaults, env_names = parse_help(res.stdout)
    if res.returncode != 0 or not defaults:
        raise ServerError(f"{path} --help exited {res.returncode} listing no flags")
    if "check-config" not in defaults:
        raise ServerError(f"{path} has no --check-config: rebuild it ({BUILD_HINT})")
    return Server(path, defaults, env_names)
