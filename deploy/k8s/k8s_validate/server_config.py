"""Each server container's configuration, checked by the server binary itself.

The container's arguments and KV_* variables (after ConfigMaps, Secrets and the Downward API)
go to `data-bridge-kv-server --check-config`, which parses them exactly as start-up does and
checks TLS files, plugins and the data dir. Files that exist only in the pod cannot be read
here, so the check gets stand-ins for them (README.md, "Validation"), and check_pod_files
(podfiles.py) checks the pod side: that each file is on the volume it must come from.

* --data-dir: a not-yet-existing directory in a scratch folder (the server only checks that it
  could create it there);
* --password-file: a scratch file holding a stand-in password; KV_PASSWORD from a Secret: a
  stand-in value;
* --tls-cert/--tls-key/--tls-ca: a throwaway self-signed pair made with openssl (the cert is
  its own CA), so the server still checks which TLS flags go together and builds a context;
  without openssl they are left out (a note says so);
* --plugin: a path the Dockerfile installs becomes the plugin built in bazel-bin (or
  $DBKV_PLUGIN_DIR), which the server really loads; one not built here, or on a volume, is
  left out (a note);
* a variable whose value only the pod knows (a Secret's content, a fieldRef) is left out.
"""
from __future__ import annotations

import atexit
import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .dockerfile import image_files
from .findings import Report
from .manifests import REPO, Context, Doc
from .podenv import EnvVar, effective_env, flag_for_env, server_args, settings
from .pods import container_where, containers, mount_for
from .server_binary import CheckResult

# Flags whose values are paths inside the pod; "plugin" takes several.
POD_PATH_FLAGS = ("data-dir", "password-file", "tls-cert", "tls-key", "tls-ca", "plugin")
MULTI_VALUE_FLAGS = ("plugin",)
STAND_IN_PASSWORD = "stand-in-password-for-check-config"


class StandIns:
    """Scratch files for the paths only the pod has; one set per process (removed at exit),
    so that identical configurations give identical invocations (and cached results)."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._tls: dict[str, str] | None = None
        self._tls_tried = False

    def directory(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="dbkv-k8s-check-"))
            atexit.register(shutil.rmtree, self._dir, True)
        return self._dir

    def data_dir(self) -> str:
        return str(self.directory() / "data")

    def password_file(self) -> str:
        p = self.directory() / "password"
        if not p.exists():
            p.write_text(STAND_IN_PASSWORD + "\n")
        return str(p)

    def tls_files(self) -> dict[str, str] | None:
        """A throwaway self-signed pair by flag (tls-cert, tls-key, and tls-ca: a copy of the
        certificate, its own CA), or None without openssl."""
        if not self._tls_tried:
            self._tls_tried = True
            cert, key = self.directory() / "tls.crt", self.directory() / "tls.key"
            ca = self.directory() / "ca.crt"
            openssl = shutil.which("openssl")
            ok = False
            if openssl:
                try:
                    ok = subprocess.run(
                        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                         "/CN=data-bridge-kv stand-in", "-keyout", str(key), "-out", str(cert)],
                        capture_output=True, timeout=60, check=False).returncode == 0
                except (OSError, subprocess.TimeoutExpired):
                    ok = False
            if ok:
                shutil.copyfile(cert, ca)
            self._tls = ({"tls-cert": str(cert), "tls-key": str(key), "tls-ca": str(ca)}
                         if ok else None)
        return self._tls


STAND_INS = StandIns()


def rewrite_args(tokens: list[str], rewrite: Callable[[str, str], str | None]) -> list[str]:
    """tokens with each value of a POD_PATH_FLAGS flag replaced by rewrite(flag, value), or
    dropped when it returns None (the flag too, when no value is left)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        name, eq, value = t[2:].partition("=") if t.startswith("--") else ("", "", "")
        i += 1
        if name not in POD_PATH_FLAGS:
            out.append(t)
            continue
        if eq:
            new = rewrite(name, value)
            out += [f"--{name}={new}"] if new is not None else []
            continue
        values: list[str] = []
        while i < len(tokens) and not tokens[i].startswith("-") and (
                not values or name in MULTI_VALUE_FLAGS):
            values.append(tokens[i])
            i += 1
        if not values:
            out.append(t)  # no value: the server says what it thinks of that
            continue
        kept = [new for v in values if (new := rewrite(name, v)) is not None]
        out += [t, *kept] if kept else []
    return out


def plugin_paths(ctx: Context, doc: Doc, c: dict[str, Any]) -> list[str]:
    """The --plugin paths in the pod: the command line's, else KV_PLUGIN's (comma-separated)."""
    found: list[str] = []

    def collect(flag: str, value: str) -> str:
        if flag == "plugin":
            found.append(value)
        return value

    rewrite_args(server_args(ctx, c) or [], collect)
    if found:
        return found
    var = effective_env(ctx, doc, c, Report()).get("KV_PLUGIN")
    return [p for p in (var.value or "").split(",") if p] if var else []


def host_plugin(ctx: Context, c: dict[str, Any], path: str) -> tuple[str | None, str]:
    """The file on this host standing in for plugin path in the pod, or None and why not."""
    mount = mount_for(path, c)
    if mount is not None and str(mount.get("mountPath", "")).rstrip("/"):
        return None, f"plugin {path} comes from volume {mount.get('name')}: not loaded here"
    if ctx.dockerfile is None or path not in image_files(ctx.dockerfile):
        return None, f"plugin {path} is not a file the image installs: not loaded here"
    name = Path(path).name
    dirs = [Path(os.environ["DBKV_PLUGIN_DIR"])] if os.environ.get("DBKV_PLUGIN_DIR") else []
    plugins = REPO / "bazel-bin" / "plugins"
    dirs += [plugins, *sorted(p for p in plugins.glob("*") if p.is_dir())]
    for d in dirs:
        if (d / name).is_file():
            return str(d / name), ""
    return None, (f"plugin {path}: {name} is not built here (bazel build //plugins/...): "
                  "not loaded here")


@dataclasses.dataclass
class Invocation:
    """What --check-config gets for one container, and what was changed for it."""

    args: list[str]
    env: dict[str, str]
    stand_ins: dict[str, str] = dataclasses.field(default_factory=dict)  # stand-in -> pod path
    left_out: list[str] = dataclasses.field(default_factory=list)  # what was not passed, why

    def in_pod_terms(self, text: str) -> str:
        for stand_in, pod_path in self.stand_ins.items():
            text = text.replace(stand_in, pod_path)
        return text


def build_invocation(ctx: Context, doc: Doc, c: dict[str, Any], args: list[str],
                     env: dict[str, EnvVar]) -> Invocation:
    inv = Invocation([], {})

    def stand_in(flag: str, value: str) -> str | None:
        if not value:
            return value
        new: str | None
        if flag == "data-dir":
            new = STAND_INS.data_dir()
        elif flag == "password-file":
            new = STAND_INS.password_file()
        elif flag == "plugin":
            # Not mapped back in messages: a refusal names the file that was really loaded.
            new, why = host_plugin(ctx, c, value)
            if why:
                inv.left_out.append(why)
            return new
        else:  # tls-*
            files = STAND_INS.tls_files()
            if files is None:
                inv.left_out.append(f"--{flag} {value}: no openssl here for a stand-in pair")
                return None
            new = files[flag]
        if new is not None and new != value:
            inv.stand_ins.setdefault(new, value)
        return new

    inv.args = rewrite_args(args, stand_in)
    for var in env.values():
        if not var.name.startswith("KV_") or var.name == "KV_CHECK_CONFIG":
            continue
        flag = flag_for_env(var.name) or ""
        if var.value is None:
            if var.name == "KV_PASSWORD" and var.secret:
                inv.env[var.name] = STAND_IN_PASSWORD
            else:
                inv.left_out.append(f"{var.name} (from {var.origin}) is known only in the pod")
            continue
        values = var.value.split(",") if flag in MULTI_VALUE_FLAGS else [var.value]
        if flag in POD_PATH_FLAGS:
            values = [new for v in values if (new := stand_in(flag, v)) is not None]
            if not values:
                continue
        inv.env[var.name] = ",".join(values)
    return inv


def server_result(ctx: Context, doc: Doc,
                  c: dict[str, Any]) -> tuple[CheckResult, Invocation] | None:
    """The server's verdict on the container's configuration; None without a server binary or
    for a container that does not run the server."""
    args = server_args(ctx, c)
    if ctx.server is None or args is None:
        return None
    inv = build_invocation(ctx, doc, c, args, effective_env(ctx, doc, c, Report()))
    return ctx.server.check(inv.args, inv.env), inv


def _origins(message: str, s: dict[str, EnvVar]) -> str:
    """Where the flags the server's message names were set."""
    out = []
    for flag in dict.fromkeys(re.findall(r"--([a-z0-9][a-z0-9-]*)", message)):
        var = s.get(flag)
        if var is None:
            continue
        if var.origin == "command line":
            out.append(f"--{flag} on the command line")
        else:
            out.append(f"{var.name}={var.value!r} from {var.origin}")
    return f" ({'; '.join(out)})" if out else ""


def check_server_config(ctx: Context, report: Report) -> None:
    """Every server container's flags and KV_* variables, judged by --check-config; KV_*
    variables the server does not read (it ignores them silently); no --check-config in a pod."""
    if ctx.server is None:
        return
    for w in ctx.workloads():
        for c in containers(w):
            where = container_where(w, c)
            args = server_args(ctx, c)
            if args is None:
                report.note(f"{where}: does not run the server: its configuration not checked")
                continue
            env = effective_env(ctx, w, c, report)
            for var in env.values():
                if var.name.startswith("KV_") and var.name not in ctx.server.env_names:
                    report.error(where, f"{var.name} (from {var.origin}) is not a variable the "
                                 "server reads (its --help does not name it): it would be ignored")
            check_var = env.get("KV_CHECK_CONFIG")
            if "--check-config" in args or (check_var is not None and check_var.value not in (
                    "", "0", "false")):
                report.error(where, "--check-config/KV_CHECK_CONFIG is set: the server would "
                             "check its configuration and exit instead of serving")
            result = server_result(ctx, w, c)
            if result is None:
                continue
            res, inv = result
            for why in inv.left_out:
                report.note(f"{where}: {why}: not part of the server's check")
            if res.ok:
                report.note(f"{where}: the server accepts it: {inv.in_pod_terms(res.message)}")
            else:
                message = inv.in_pod_terms(res.message)
                report.error(where, f"the server refuses this configuration: {message}"
                             + _origins(message, settings(ctx, w, c, Report())))
