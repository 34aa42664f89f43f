#!/usr/bin/env bash
# Builds the wire-codec fuzzers outside Bazel with clang-14 and libFuzzer + ASan + UBSan, seeds
# their corpora with valid input, and runs each for a bounded time:
#   frame_fuzzer (protocol/fuzz/frame_fuzzer.cc): binary frames and msgpack values;
#   resp_fuzzer  (protocol/fuzz/resp_fuzzer.cc): RESP requests (whole and in pieces) and replies.
# The code under test is //protocol:protocol and its dependencies: Bazel lists their sources
# (bazel query: nothing is built by Bazel), compiled here, instrumented, into
# build/fuzz/lib/libcodecs.a.
# Exits non-zero if a build fails or a fuzzer finds a crash, a leak, undefined behaviour or a
# broken invariant (the reproducer is left in build/fuzz/<target>/artifacts/).
#
# Idempotent: rebuilds only when a source is newer than the binary; the corpora in
# build/fuzz/<target>/corpus grow from run to run (build/ is gitignored).
#
#   FUZZ_SECONDS=60 scripts/fuzz.sh          # run each target longer (default 20 s)
#   FUZZ_TARGETS=resp_fuzzer scripts/fuzz.sh # one target only
#   scripts/fuzz.sh build/fuzz/resp_fuzzer/artifacts/crash-...   # replay inputs (the target is
#                                                                # named by the path)
set -euo pipefail

cd "$(dirname "$0")/.."

CXX=${FUZZ_CXX:-clang++-14}
ROOT=build/fuzz
TARGETS=${FUZZ_TARGETS:-frame_fuzzer resp_fuzzer}

# The codecs under test: //protocol:protocol and the libraries it depends on, as Bazel lists
# them (sources, headers, defines, link options: scripts/bazel_cc_sources.py). A source added
# to those BUILD targets is fuzzed with no edit here. Sets CC_SOURCES, CC_HEADERS, CC_DEFINES,
# CC_LINKOPTS.
LIBRARY_TARGET=//protocol:protocol
cc_info=$(scripts/bazel_cc_sources.py --shell "$LIBRARY_TARGET")
eval "$cc_info"

if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "fuzz: $CXX not found; run scripts/setup.sh (clang-14, libfuzzer-14-dev)" >&2
  exit 1
fi

# FUZZ_CXXFLAGS adds flags, e.g. FUZZ_CXXFLAGS=-DDBKV_FUZZ_SKIP_INTEGRAL_DOUBLES=0 (see
# frame_fuzzer.cc).
CXXFLAGS=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=all
  "${CC_DEFINES[@]/#/-D}" ${FUZZ_CXXFLAGS:-} -I.)
LIB=$ROOT/lib/libcodecs.a

# Builds the library sources, instrumented (coverage, ASan, UBSan), into $LIB unless it is up
# to date: rebuilt when missing, older than any source, header or this script, or built from
# another source list or with other flags. Compiles on every core.
build_library() {
  local objdir=$ROOT/lib/obj
  local stamp=("$CXX" "${CXXFLAGS[@]}" -fsanitize=fuzzer-no-link,address,undefined
    "${CC_SOURCES[@]}")
  local rebuild=0
  [ -f "$LIB" ] || rebuild=1
  [ "$(cat "$LIB.cmd" 2>/dev/null)" = "${stamp[*]}" ] || rebuild=1
  for f in "${CC_SOURCES[@]}" "${CC_HEADERS[@]}" "$0" scripts/bazel_cc_sources.py; do
    [ "$f" -nt "$LIB" ] && rebuild=1
  done
  [ "$rebuild" -eq 1 ] || return 0
  echo "fuzz: building $LIB (${#CC_SOURCES[@]} sources of $LIBRARY_TARGET)"
  rm -rf "$objdir" "$LIB"
  mkdir -p "$objdir"
  local jobs pids=() objects=() failed=0 src obj
  jobs=$(nproc 2>/dev/null || echo 2)
  for src in "${CC_SOURCES[@]}"; do
    obj=$objdir/${src//\//_}.o
    objects+=("$obj")
    "$CXX" "${CXXFLAGS[@]}" -fsanitize=fuzzer-no-link,address,undefined -c "$src" -o "$obj" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then
      wait "${pids[0]}" || failed=1
      pids=("${pids[@]:1}")
    fi
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ "$failed" -eq 0 ] || { echo "fuzz: building $LIB failed" >&2; exit 1; }
  ar rcs "$LIB.tmp" "${objects[@]}"
  mv -f "$LIB.tmp" "$LIB"
  echo "${stamp[*]}" >"$LIB.cmd"
}

# Builds $1 (protocol/fuzz/$1.cc, linked with $LIB) into build/fuzz/$1/$1 unless it is up to
# date. The archive brings in the objects the fuzzer uses; --as-needed drops the libraries
# only the others need.
build() {
  local target=$1 out=$ROOT/$1
  local bin=$out/$target
  build_library
  # Before the RESP fuzzer, build/fuzz/frame_fuzzer was the binary itself: make way.
  [ -d "$out" ] || rm -f "$out"
  mkdir -p "$out/corpus" "$out/artifacts"
  local cmd=("$CXX" "${CXXFLAGS[@]}" -fsanitize=fuzzer,address,undefined
    "protocol/fuzz/$target.cc" "$LIB" -Wl,--as-needed "${CC_LINKOPTS[@]}")
  # Rebuild when the binary is missing, older than the library, its source, a header or this
  # script, or was built with other flags.
  local rebuild=0
  [ -x "$bin" ] || rebuild=1
  [ "$(cat "$bin.cmd" 2>/dev/null)" = "${cmd[*]}" ] || rebuild=1
  for f in "protocol/fuzz/$target.cc" "$LIB" "${CC_HEADERS[@]}" "$0"; do
    [ "$f" -nt "$bin" ] && rebuild=1
  done
  if [ "$rebuild" -eq 1 ]; then
    echo "fuzz: building $bin"
    "${cmd[@]}" -o "$bin.tmp"
    mv -f "$bin.tmp" "$bin"
    echo "${cmd[*]}" >"$bin.cmd"
  fi
}

# Seeds: valid input, written every run so that a changed seed replaces the old one.
seed_frame_fuzzer() {
  local corpus=$ROOT/frame_fuzzer/corpus
  seed() { printf "$2" >"$corpus/seed-$1"; }
  # Header: length u32 | version 1 | code | flags 0 0 | id u32 (protocol/PROTOCOL.md).
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
}

seed_resp_fuzzer() {
  local corpus=$ROOT/resp_fuzzer/corpus
  seed() { printf '%b' "$2" >"$corpus/seed-$1"; }
  # Requests: multibulk, pipelined, inline with quotes, empty ones, a half one.
  seed set-get '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nv!\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n'
  seed inline 'PING\r\nSET k "a b\\x41" x\r\n\r\n*0\r\n*-1\r\n'
  seed half '*2\r\n$4\r\nLPOP\r\n$100\r\nabc'
  seed bad '*2\r\n:1\r\n'
  # Replies of every RESP3 type, nested.
  seed replies '+OK\r\n-ERR syntax error\r\n:42\r\n$-1\r\n$3\r\nabc\r\n*2\r\n:1\r\n*-1\r\n_\r\n#t\r\n,1.5\r\n(123\r\n=8\r\ntxt:some\r\n%1\r\n$1\r\nk\r\n~1\r\n>1\r\n:0\r\n'
  # A msgpack value (for the encoder): [nil, true, 1.10, {"k": [1, 2.5]}].
  printf '\x94\xc0\xc3\xd6\x011.10\x81\xa1k\x92\x01\xcb\x40\x04\x00\x00\x00\x00\x00\x00' \
    >"$corpus/seed-msgpack"
}

# Replay mode: run the given inputs once, with the target their path names.
if [ $# -gt 0 ]; then
  target=frame_fuzzer
  case "$1" in *resp_fuzzer*) target=resp_fuzzer ;; esac
  build "$target"
  exec "$ROOT/$target/$target" "$@"
fi

seconds=${FUZZ_SECONDS:-20}
for target in $TARGETS; do
  build "$target"
  "seed_$target"
  out=$ROOT/$target
  echo "fuzz: running $target for ${seconds}s on $out/corpus"
  "$out/$target" "$out/corpus" \
    -max_total_time="$seconds" \
    -max_len=4096 \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/" 2>"$out/last-run.log" || {
    status=$?
    tail -n 60 "$out/last-run.log" >&2
    echo "fuzz: $target FAILED (exit $status); reproducer in $out/artifacts/, full log" \
      "$out/last-run.log" >&2
    exit "$status"
  }
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' \
    "$out/last-run.log" || true
  echo "fuzz: $target OK, no crash in ${seconds}s"
done
