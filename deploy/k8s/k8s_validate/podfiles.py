"""The files the server reads or writes in the pod, against the volumes that must hold them.

The server's --check-config runs on this host with stand-ins for these paths (server_config.py);
what it cannot see is checked here: the password and TLS files are on Secret volumes that have
them, the data dir is on a writable PersistentVolumeClaim, a plugin is in the image or on a
volume, and a port file is on a writable volume (the root filesystem is read-only).
"""
from __future__ import annotations

from typing import Any

from .dockerfile import image_files
from .findings import Report
from .manifests import Context, Doc
from .podenv import EnvVar, server_args, settings
from .pods import (
    container_where,
    containers,
    files_of_volume,
    mount_for,
    pod_spec,
    volumes_by_name,
)
from .server_config import plugin_paths

# flag -> the kinds of volume its file may come from.
SECRET_FILES = {"password-file": ("secret",), "tls-cert": ("secret",), "tls-key": ("secret",),
                "tls-ca": ("secret", "configMap")}
WRITABLE_VOLUMES = ("emptyDir", "persistentVolumeClaim", "persistentVolumeClaimTemplate")


def setting_name(flag: str, var: EnvVar) -> str:
    return f"--{flag}" if var.origin == "command line" else var.name


def check_pod_files(ctx: Context, report: Report) -> None:
    for w in ctx.workloads():
        vols = volumes_by_name(w)
        for c in containers(w):
            if server_args(ctx, c) is None:
                continue
            where = container_where(w, c)
            s = settings(ctx, w, c, Report())
            for flag, kinds in SECRET_FILES.items():
                var = s.get(flag)
                if var is not None and var.value:
                    _check_mounted_file(ctx, report, where, c, vols, setting_name(flag, var),
                                        var.value, kinds)
            data = s.get("data-dir")
            if data is not None and data.value:
                _check_data_dir(report, w, where, c, vols, setting_name("data-dir", data),
                                data.value)
            port_file = s.get("port-file")
            if port_file is not None and port_file.value:
                m = mount_for(port_file.value, c)
                vol = vols.get(m.get("name")) if m else None
                if m is None or m.get("readOnly") or not any(k in (vol or {})
                                                             for k in WRITABLE_VOLUMES):
                    report.error(where, f"{setting_name('port-file', port_file)} "
                                 f"{port_file.value} is not on a writable volume (the root "
                                 "filesystem is read-only)")
            installed = image_files(ctx.dockerfile) if ctx.dockerfile else None
            for path in plugin_paths(ctx, w, c):
                m = mount_for(path, c)
                on_volume = m is not None and str(m.get("mountPath", "")).rstrip("/") != ""
                if not on_volume and installed is not None and path not in installed:
                    report.error(where, f"plugin {path} is neither a file the image installs "
                                 "(Dockerfile) nor on a volume")


def _check_mounted_file(ctx: Context, report: Report, where: str, c: dict[str, Any],
                        vols: dict[Any, dict[str, Any]], name: str, path: str,
                        kinds: tuple[str, ...]) -> None:
    """path is a file of a mounted volume of one of kinds, which has that file."""
    what = " or ".join("Secret" if k == "secret" else "ConfigMap" for k in kinds)
    m = mount_for(path, c)
    vol = vols.get(m.get("name")) if m else None
    if m is None or vol is None or not any(k in vol for k in kinds):
        report.error(where, f"{name} {path} is not on a {what} volume")
        return
    if m.get("subPath"):
        return  # a single file mounted as path: the key is checked with the volume
    rel = path[len(str(m["mountPath"]).rstrip("/")) + 1:]
    files = files_of_volume(ctx, vol)
    if files is not None and rel not in files:
        report.error(where, f"{name} {path}: the {what} volume {vol.get('name')} has no file "
                     f"'{rel}'")


def _check_data_dir(report: Report, w: Doc, where: str, c: dict[str, Any],
                    vols: dict[Any, dict[str, Any]], name: str, path: str) -> None:
    """On a PersistentVolumeClaim, mounted read-write, writable by the non-root server."""
    m = mount_for(path, c)
    vol = vols.get(m.get("name")) if m else None
    if m is None or vol is None or not (
            "persistentVolumeClaimTemplate" in vol or "persistentVolumeClaim" in vol):
        report.error(where, f"{name} {path} is not on a PersistentVolumeClaim")
    elif m.get("readOnly"):
        report.error(where, f"the data volume at {m.get('mountPath')} is read-only")
    elif (pod_spec(w).get("securityContext") or {}).get("fsGroup") is None:
        report.warning(where, f"{name} {path} is on a PersistentVolumeClaim but the pod sets no "
                       "fsGroup: a new volume is usually owned by root, and the non-root server "
                       "could not write it")
