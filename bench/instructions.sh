#!/usr/bin/env bash
# Server instructions per request, under callgrind (repeatable to about 0.1%, where wall-clock
# figures on a shared 2-core machine drift by 20%): for each server binary given, runs it under
# valgrind --tool=callgrind (one I/O thread, one worker, one shard), sends N1 and then N2
# requests with data-bridge-kv-bench in two fresh runs, and prints (Ir(N2) - Ir(N1)) / (N2 - N1):
# the start-up and shutdown cancel out. Pipelined runs vary by about 1.5% (batch sizes follow
# timing). Compare a change's before and after builds:
#
#   bench/instructions.sh /tmp/server-before bazel-bin/server/data-bridge-kv-server
#
# WORKLOADS (get set), PIPELINES (1 16), N1 (20000), N2 (120000), VALUE_SIZE (100) override the
# defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=bazel-bin/bench/data-bridge-kv-bench
WORKLOADS=${WORKLOADS:-"get set"}
PIPELINES=${PIPELINES:-"1 16"}
N1=${N1:-20000}
N2=${N2:-120000}
VALUE_SIZE=${VALUE_SIZE:-100}
[ $# -ge 1 ] || { echo "usage: $0 SERVER_BINARY..." >&2; exit 2; }
[ -x "$BENCH" ] || { echo "build //bench:data-bridge-kv-bench first" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Total instructions of one server run that served n requests.
instructions() {
  local bin=$1 n=$2 workload=$3 pipeline=$4
  rm -f "$tmp/port" "$tmp/cg.out"
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$bin" --bind 127.0.0.1:0 \
    --http-bind none --port-file "$tmp/port" --io-threads 1 --workers 1 --shards 1 \
    >/dev/null 2>"$tmp/server.err" &
  local pid=$!
  for _ in $(seq 1 600); do [ -s "$tmp/port" ] && break; sleep 0.1; done
  [ -s "$tmp/port" ] || { cat "$tmp/server.err" >&2; kill "$pid"; return 1; }
  "$BENCH" --url "kv://127.0.0.1:$(head -1 "$tmp/port")" --connections 4 --pipeline "$pipeline" \
    --workload "$workload" --value-size "$VALUE_SIZE" --keys 1000 --requests "$n" --warmup 0 >/dev/null 2>&1
  kill -TERM "$pid"
  wait "$pid" || true
  awk '/^(summary|totals):/ {print $2; exit}' "$tmp/cg.out"
}

printf '| workload | pipeline |'
for bin in "$@"; do printf ' %s |' "$bin"; done
printf '\n|---|---|'
for _ in "$@"; do printf -- '---|'; done
printf '\n'
for workload in $WORKLOADS; do
  for pipeline in $PIPELINES; do
    printf '| %s | %s |' "$workload" "$pipeline"
    for bin in "$@"; do
      a=$(instructions "$bin" "$N1" "$workload" "$pipeline")
      b=$(instructions "$bin" "$N2" "$workload" "$pipeline")
      printf ' %s |' $(((b - a) / (N2 - N1)))
    done
    printf '\n'
  done
done
