#!/bin/sh
# Prints, one per line, the Debian packages that provide the shared libraries the given ELF
# files load (ldd, then dpkg -S on each library's path). Exits 1 if ldd reports a library as
# "not found" or if no installed package owns a library.
#
#   deploy/docker/runtime-deps.sh bazel-bin/server/data-bridge-kv-server
#
# The Dockerfile's build stage runs it to check RUNTIME_PACKAGES; deploy/k8s/validate.py does
# the same check from Python.
set -eu
[ "$#" -gt 0 ] || { echo "usage: $0 ELF..." >&2; exit 2; }

# Exact owner of one path ("pkg:arch, pkg2:arch: /path" lines; dpkg -S matches substrings).
owner() {
  dpkg -S "$1" 2>/dev/null | awk -v want="$1" '{
      i = index($0, ": "); if (i == 0) next
      if (substr($0, i + 2) != want) next
      n = split(substr($0, 1, i - 1), p, ", ")
      for (k = 1; k <= n; k++) { sub(/:.*/, "", p[k]); print p[k] }
    }'
}

libs=$(for f in "$@"; do ldd "$f"; done | awk '
  $2 == "=>" && $3 == "not" { print "NOT-FOUND:" $1; next }
  $2 == "=>" && $3 ~ /^\// { print $3; next }
  $1 ~ /^\// { print $1 }' | sort -u)

status=0
found=""
for lib in $libs; do
  case "$lib" in
    NOT-FOUND:*) echo "runtime-deps: ${lib#NOT-FOUND:} not found by ldd" >&2; status=1; continue ;;
  esac
  real=$(readlink -f "$lib")
  pkgs=""
  # Debian 12 merges /usr: ldd and dpkg may name /lib or /usr/lib for the same file, and the
  # file itself may be a symlink to a versioned name. Try each spelling.
  for cand in "$lib" "$real" "/usr$lib" "${lib#/usr}" "/usr$real" "${real#/usr}"; do
    pkgs=$(owner "$cand")
    [ -n "$pkgs" ] && break
  done
  if [ -z "$pkgs" ]; then
    echo "runtime-deps: no installed package owns $lib" >&2
    status=1
    continue
  fi
  found="$found $pkgs"
done
for p in $found; do echo "$p"; done | sort -u
exit $status
