#!/usr/bin/env bash
# Builds Debian's CAF 0.17.6 (the source package of libcaf-dev, actor-framework) with
# ThreadSanitizer, once, for `make test-tsan`. Debian's own libcaf_core is not instrumented:
# TSan cannot see the synchronization inside it (mailboxes, the scheduler's queues), so every
# message that crosses threads looks like a data race. Linked against this build instead, TSan
# sees CAF's atomics and locks, and what it reports is real.
#
# Installed under /usr/local (headers in a directory of their own, found through -isystem in
# .bazelrc's tsan config; /usr/local/include is one of the compiler's own include directories,
# which Bazel's header checks accept). Idempotent: does nothing once installed.
set -euo pipefail

VERSION=0.17.6
DEBIAN_REVISION=2.1
PREFIX_INC=/usr/local/include/caf-tsan-$VERSION
PREFIX_LIB=/usr/local/lib/caf-tsan-$VERSION
[ -f "$PREFIX_LIB/libcaf_io.so.$VERSION" ] && exit 0

POOL=${DEBIAN_POOL:-http://deb.debian.org/debian/pool/main/a/actor-framework}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
dsc=actor-framework_$VERSION-$DEBIAN_REVISION.dsc
orig=actor-framework_$VERSION.orig.tar.gz
echo "caf-tsan: fetching Debian's source of CAF $VERSION"
curl -fsS -o "$dsc" "$POOL/$dsc"
curl -fsS -o "$orig" "$POOL/$orig"
# The tarball must be the one Debian's source package names (its SHA-256 is in the .dsc).
want=$(awk -v f="$orig" '/^Checksums-Sha256:/{s=1; next} s && $3 == f {print $1; exit}' "$dsc")
echo "$want  $orig" | sha256sum -c --quiet
tar xzf "$orig"
cd "actor-framework-$VERSION"
mkdir build && cd build
# -include limits: CAF 0.17.6 misses it in one header with GCC 12 (Debian patches the same).
cmake .. -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -O1 -g -include limits" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
  -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_TOOLS=yes -DCAF_NO_OPENSSL=yes \
  -DCAF_NO_OPENCL=yes -DCAF_NO_PYTHON=yes -DCAF_NO_SUMMARY=yes \
  -DCMAKE_INSTALL_PREFIX="$work/install" >/dev/null
echo "caf-tsan: building (a few minutes)"
make -j"$(nproc)" install >/dev/null
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO mkdir -p "$PREFIX_INC" "$PREFIX_LIB"
$SUDO cp -r "$work/install/include/caf" "$PREFIX_INC/"
$SUDO cp -a "$work/install/lib/"libcaf_* "$PREFIX_LIB/"
echo "caf-tsan: installed in $PREFIX_LIB"
