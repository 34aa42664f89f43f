"""Builds the native extension data_bridge.kv._native from the repository's C++ client.

The C++ code is the Bazel target //client:client and the libraries it depends on (//protocol,
//core, //third_party's system libraries): their sources, defines and link options come from
the BUILD files through `bazel query` (scripts/bazel_cc_sources.py), so a source added to those
targets reaches the extension with no edit here. They are compiled with Python's compiler flags
(position-independent, hidden visibility) into a static archive that the extension links: the
objects it does not use (the server-side tables of //core) stay out, and -Wl,--as-needed drops
the libraries only those need.

The sources live at the top of the repository, two levels up from this file, and are listed by
Bazel: build from a checkout (`pip install ./bindings/python`, or `make python` / `make wheel`),
not from an sdist. Set DBKV_SOURCE_ROOT to build from elsewhere, BAZEL to name the bazel
binary, DBKV_BUILD_JOBS to limit parallel compiles (default: every core). System packages: a
C++17 compiler, Bazel and the libraries' -dev packages, which scripts/setup.sh installs.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("DBKV_SOURCE_ROOT", HERE.parent.parent)).resolve()
LISTER = ROOT / "scripts" / "bazel_cc_sources.py"
CLIENT_TARGET = "//client:client"

ParallelCompile("DBKV_BUILD_JOBS", default=0).install()


def bazel_cc_info():
    """Sources, headers, defines and link options of CLIENT_TARGET and its dependencies."""
    if not LISTER.exists():
        raise SystemExit(
            f"data-bridge-kv C++ sources not found under {ROOT}: build from the repository "
            "(pip install ./bindings/python) or set DBKV_SOURCE_ROOT")
    proc = subprocess.run([sys.executable, str(LISTER), CLIENT_TARGET], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"could not list the C++ sources of {CLIENT_TARGET} (see above)")
    return json.loads(proc.stdout)


class BuildNative(build_ext):
    """Compiles the library sources into an archive before linking the extension with it."""

    def build_extension(self, ext):
        info = bazel_cc_info()
        for define in info["defines"]:
            name, eq, value = define.partition("=")
            ext.define_macros.append((name, value if eq else None))
        sources = [str(ROOT / path) for path in info["sources"]]
        # The extension is rebuilt when any of these is newer than it.
        ext.depends = sources + [str(ROOT / path) for path in info["headers"]]
        archive_dir = os.path.join(self.build_temp, "dbkv")
        archive = os.path.join(archive_dir, self.compiler.library_filename("dbkv_client"))
        ext.extra_objects = [archive]
        ext.extra_link_args = ["-Wl,--as-needed", *info["linkopts"]]
        if self.force or not os.path.exists(archive) or any(
                os.path.getmtime(dep) > os.path.getmtime(archive) for dep in ext.depends):
            objects = self.compiler.compile(
                sources, output_dir=archive_dir, macros=ext.define_macros,
                include_dirs=ext.include_dirs, debug=self.debug,
                extra_postargs=ext.extra_compile_args, depends=ext.depends)
            if os.path.exists(archive):
                os.remove(archive)  # ar would add to it
            self.compiler.create_static_lib(objects, "dbkv_client", output_dir=archive_dir)
        super().build_extension(ext)


ext = Pybind11Extension(
    "data_bridge.kv._native",
    sources=["src/data_bridge/kv/_native.cpp"],
    include_dirs=[str(ROOT)],
    extra_compile_args=["-O2", "-fvisibility=hidden"],
    cxx_std=17,
)

setup(ext_modules=[ext], cmdclass={"build_ext": BuildNative})
