#!/usr/bin/env python3
"""Writes compile_commands.json for clang-tidy from what Bazel compiles (bazel aquery).

Every C++ compile action of //... becomes one entry, with Bazel's own arguments, run from the
repository's root (Bazel's relative paths resolve there too: sources are the repository's own
files, bazel-out is Bazel's link). GCC-only options that clang does not know are dropped, so
that clang-tidy parses the files exactly as GCC builds them otherwise.

    scripts/compile_commands.py            # writes ./compile_commands.json
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

# Options of GCC (ours in copts.bzl, and Bazel's defaults) that clang rejects or warns about,
# and -Werror: the compiler's warnings are GCC's job (copts.bzl), clang-tidy reports its checks.
GCC_ONLY = {"-fno-canonical-system-headers", "-Wduplicated-cond", "-Wlogical-op", "-Werror",
            "-Wno-free-nonheap-object", "-Wunused-but-set-parameter"}


def main() -> int:
    bazel = os.environ.get("BAZEL", "bazel")
    root = os.getcwd()
    # Generated headers (genrules) must exist for the sources that include them to parse.
    genrules = subprocess.check_output(
        [bazel, "query", 'kind("genrule", //...)'], text=True).split()
    if genrules:
        subprocess.check_call([bazel, "build", *genrules])
    out = subprocess.check_output(
        [bazel, "aquery", 'mnemonic("CppCompile", //...)', "--output=jsonproto"], text=True)
    actions = json.loads(out).get("actions", [])
    entries = []
    for action in actions:
        args = [a for a in action["arguments"] if a not in GCC_ONLY]
        if "-c" not in args:
            continue
        source = args[args.index("-c") + 1]
        if source.startswith(("external/", "bazel-out/")):
            continue
        args[0] = "clang++-14"
        entries.append({"directory": root, "file": source, "arguments": args})
    # One entry per source file (a file compiled by two targets is checked once).
    unique = {e["file"]: e for e in entries}
    with open("compile_commands.json", "w") as f:
        json.dump(sorted(unique.values(), key=lambda e: e["file"]), f, indent=1)
    print(f"compile_commands.json: {len(unique)} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
