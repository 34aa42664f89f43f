#!/usr/bin/env python3
"""Prints what it takes to compile Bazel C++ targets outside Bazel, as their BUILD files say.

For the given labels and every cc_library they depend on in this repository (bazel query, no
build, no download): the sources (srcs: .cc), the headers (hdrs and headers in srcs), the
preprocessor defines (`defines`, which Bazel passes on to dependents) and the link options
(`linkopts`; //third_party turns each Debian library into one). Paths are relative to the
repository root, in a stable order. scripts/fuzz.sh and bindings/python/setup.py take their
C++ sources from here, so that a file added to a BUILD.bazel target reaches the fuzzers and the
Python extension with no edit to either.

    scripts/bazel_cc_sources.py //client:client            # JSON
    scripts/bazel_cc_sources.py --shell //protocol         # bash arrays CC_SOURCES, CC_HEADERS,
                                                           # CC_DEFINES, CC_LINKOPTS

`copts` are left out on purpose: they are GCC warning flags (-Werror among them) for Bazel's
toolchain, and the callers build with another compiler (clang for the fuzzers) or with Python's
flags. Anything this script cannot reproduce faithfully is an error rather than a silent gap:
a generated source, an external repository, select(), `local_defines`, `includes`,
`include_prefix`/`strip_include_prefix`, a rule other than cc_library among the dependencies.
$BAZEL names the bazel binary (default: bazel).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent

SOURCE_EXTS = (".cc", ".cpp", ".cxx")
HEADER_EXTS = (".h", ".hh", ".hpp", ".inc")
# Attributes that change how a library compiles or links and that a flat list cannot carry.
UNSUPPORTED_ATTRS = ("local_defines", "includes", "include_prefix", "strip_include_prefix",
                     "additional_linker_inputs", "implementation_deps")
# Label-valued attributes whose inputs are accounted for; any other input of a rule (a
# config_setting behind a select(), a linker script...) is unsupported.
KNOWN_LABEL_ATTRS = ("srcs", "hdrs", "textual_hdrs", "deps")


class Error(Exception):
    pass


def label_path(label: str) -> str:
    if label.startswith("@"):
        raise Error(f"{label}: a file of an external repository")
    if not label.startswith("//"):
        raise Error(f"{label}: not an absolute label")
    package, _, name = label[2:].partition(":")
    if not name:
        name = package.rsplit("/", 1)[-1]
    return f"{package}/{name}" if package else name


def query(targets: List[str]) -> ET.Element:
    bazel = os.environ.get("BAZEL", "bazel")
    expr = "deps(" + " + ".join(targets) + ")"
    cmd = [bazel, "query", "--noimplicit_deps", "--output=xml", expr]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    except FileNotFoundError:
        raise Error(f"{bazel} not found: the C++ sources are listed by Bazel "
                    "(scripts/setup.sh installs it)") from None
    if proc.returncode != 0:
        raise Error(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.strip()}")
    return ET.fromstring(proc.stdout)


def attr_values(rule: ET.Element, name: str) -> List[str]:
    for child in rule:
        if child.get("name") == name:
            if child.tag == "list":
                return [item.get("value", "") for item in child]
            return [child.get("value", "")]
    return []


def collect(targets: List[str]) -> Dict[str, List[str]]:
    root = query(targets)
    sources: List[str] = []
    headers: List[str] = []
    defines: List[str] = []
    linkopts: List[str] = []
    for elem in root:
        if elem.tag == "source-file":
            continue
        name = elem.get("name", "?")
        if elem.tag == "generated-file":
            raise Error(f"{name}: a generated file (from {elem.get('generating-rule')}); "
                        "only checked-in sources can be built outside Bazel")
        if elem.tag != "rule":
            continue
        kind = elem.get("class")
        if kind != "cc_library":
            raise Error(f"{name}: a {kind}; only cc_library dependencies are supported")
        for attr in UNSUPPORTED_ATTRS:
            if attr_values(elem, attr):
                raise Error(f"{name}: sets {attr}, which scripts/bazel_cc_sources.py does "
                            "not reproduce")
        known = set()
        for attr in KNOWN_LABEL_ATTRS:
            known.update(attr_values(elem, attr))
        for inp in elem.iter("rule-input"):
            if inp.get("name") not in known:
                raise Error(f"{name}: depends on {inp.get('name')} through an attribute or a "
                            "select() that scripts/bazel_cc_sources.py does not reproduce")
        for label in attr_values(elem, "srcs"):
            path = label_path(label)
            if path.endswith(SOURCE_EXTS):
                sources.append(path)
            elif path.endswith(HEADER_EXTS):
                headers.append(path)
            else:
                raise Error(f"{name}: source {label} is neither C++ nor a header")
        for attr in ("hdrs", "textual_hdrs"):
            headers.extend(label_path(label) for label in attr_values(elem, attr))
        defines.extend(attr_values(elem, "defines"))
        linkopts.extend(attr_values(elem, "linkopts"))
    if not sources:
        raise Error(f"no C++ sources under {' '.join(targets)}")

    def unique(items: List[str]) -> List[str]:
        return list(dict.fromkeys(items))

    return {
        "sources": sorted(set(sources)),
        "headers": sorted(set(headers)),
        "defines": unique(defines),
        "linkopts": unique(linkopts),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shell", action="store_true",
                        help="print bash array assignments instead of JSON")
    parser.add_argument("targets", nargs="+", metavar="LABEL")
    args = parser.parse_args()
    try:
        info = collect(args.targets)
    except Error as e:
        print(f"bazel_cc_sources: {e}", file=sys.stderr)
        return 1
    if args.shell:
        for key, values in info.items():
            print(f"CC_{key.upper()}=(" + " ".join(shlex.quote(v) for v in values) + ")")
    else:
        json.dump(info, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
