#!/usr/bin/env bash
# Builds the wire-codec fuzzer (protocol/fuzz/frame_fuzzer.cc) outside Bazel with clang-14 and
# libFuzzer + ASan + UBSan, seeds a corpus with valid frames, and runs it for a bounded time.
# Exits non-zero if the build fails or the fuzzer finds a crash, a leak, undefined behaviour or
# a broken invariant (the reproducer is left in build/fuzz/artifacts/).
#
# Idempotent: rebuilds only when a source is newer than the binary; the corpus in
# build/fuzz/corpus grows from run to run (build/ is gitignored).
#
#   FUZZ_SECONDS=60 scripts/fuzz.sh         # run longer (default 20 s)
#   scripts/fuzz.sh build/fuzz/artifacts/crash-...   # replay one input
set -euo pipefail

cd "$(dirname "$0")/.."

CXX=${FUZZ_CXX:-clang++-14}
OUT=build/fuzz
BIN=$OUT/frame_fuzzer
CORPUS=$OUT/corpus
ARTIFACTS=$OUT/artifacts

SOURCES=(
  protocol/fuzz/frame_fuzzer.cc
  protocol/frame.cc
  protocol/value_codec.cc
  core/status.cc
  core/decimal.cc
  core/value.cc
)
HEADERS=(protocol/*.h core/status.h core/decimal.h core/value.h core/reply.h)

if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "fuzz: $CXX not found; run scripts/setup.sh (clang-14, libfuzzer-14-dev)" >&2
  exit 1
fi

mkdir -p "$OUT" "$CORPUS" "$ARTIFACTS"

# Same msgpack defines as //third_party:msgpack. FUZZ_CXXFLAGS adds flags, e.g.
# FUZZ_CXXFLAGS=-DDBKV_FUZZ_SKIP_INTEGRAL_DOUBLES=0 (see frame_fuzzer.cc).
BUILD_CMD=("$CXX" -std=c++17 -O1 -g -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -DMSGPACK_NO_BOOST -DMSGPACK_DISABLE_LEGACY_NIL ${FUZZ_CXXFLAGS:-}
  -I. "${SOURCES[@]}")

# Rebuild when the binary is missing, older than any source, header or this script, or was
# built with other flags.
rebuild=0
[ -x "$BIN" ] || rebuild=1
[ "$(cat "$BIN.cmd" 2>/dev/null)" = "${BUILD_CMD[*]}" ] || rebuild=1
for f in "${SOURCES[@]}" "${HEADERS[@]}" "$0"; do
  [ "$f" -nt "$BIN" ] && rebuild=1
done
if [ "$rebuild" -eq 1 ]; then
  echo "fuzz: building $BIN"
  "${BUILD_CMD[@]}" -o "$BIN.tmp"
  mv -f "$BIN.tmp" "$BIN"
  echo "${BUILD_CMD[*]}" >"$BIN.cmd"
fi

# Seeds: valid frames (see protocol/PROTOCOL.md for the layout), written every run so that a
# changed seed replaces the old one. Header: length u32 | version 1 | code | flags 0 0 | id u32.
seed() { printf "$2" >"$CORPUS/seed-$1"; }
# PING by opcode, no arguments: [].
seed ping '\x00\x00\x00\x09\x01\x01\x00\x00\x00\x00\x00\x01\x90'
# SET k1 1.10 by opcode (the worked example), then GET k1 by name: two pipelined frames.
seed set-get '\x00\x00\x00\x12\x01\x11\x00\x00\x00\x00\x00\x01\x92\xa2k1\xd6\x011.10\x00\x00\x00\x10\x01\x00\x00\x00\x00\x00\x00\x02\x92\xa3GET\xa2k1'
# SET k [nil, true, -1, 2.5, bin "b", {"m": 1.0E+3}, float32 1.5] EX 10 by opcode.
seed set-list '\x00\x00\x00\x30\x01\x11\x00\x00\x00\x00\x00\x07\x94\xa1k\x97\xc0\xc3\xff\xcb\x40\x04\x00\x00\x00\x00\x00\x00\xc4\x01b\x81\xa1m\xc7\x06\x011.0E+3\xca\x3f\xc0\x00\x00\xa2EX\x0a'
# HELLO 1 NAMESPACE jobs by name.
seed hello '\x00\x00\x00\x1f\x01\x00\x00\x00\x00\x00\x00\x03\x94\xa5HELLO\x01\xa9NAMESPACE\xa4jobs'
# Replies: OK (simple status), an int, an error (code 1, text).
seed reply-ok '\x00\x00\x00\x0c\x01\x00\x00\x00\x00\x00\x00\x01\xd5\x02OK'
seed reply-int '\x00\x00\x00\x0b\x01\x00\x00\x00\x00\x00\x00\x02\xcd\x01\x00'
seed reply-err '\x00\x00\x00\x16\x01\x01\x00\x00\x00\x00\x00\x04\xad\x73yntax error!'
# A frame too large for the small limit, and a half frame.
seed toobig '\x00\x00\x10\x00\x01\x10\x00\x00\x00\x00\x00\x05\x91'
seed half '\x00\x00\x00\x20\x01\x10\x00\x00\x00\x00\x00\x06\x92\xa3GE'

# Replay mode: run the given inputs once.
if [ $# -gt 0 ]; then
  exec "$BIN" "$@"
fi

seconds=${FUZZ_SECONDS:-20}
echo "fuzz: running $BIN for ${seconds}s on $CORPUS"
"$BIN" "$CORPUS" \
  -max_total_time="$seconds" \
  -max_len=4096 \
  -timeout=10 \
  -rss_limit_mb=2048 \
  -print_final_stats=1 \
  -artifact_prefix="$ARTIFACTS/" 2>"$OUT/last-run.log" || {
  status=$?
  tail -n 60 "$OUT/last-run.log" >&2
  echo "fuzz: FAILED (exit $status); reproducer in $ARTIFACTS/, full log $OUT/last-run.log" >&2
  exit "$status"
}
grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' \
  "$OUT/last-run.log" || true
echo "fuzz: OK, no crash in ${seconds}s"
