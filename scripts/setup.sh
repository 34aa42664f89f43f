#!/usr/bin/env bash
# Installs every system package the build, the tests and the benchmarks need.
# Idempotent: packages already present are skipped; safe to run on every `make`.
set -euo pipefail

PACKAGES=(
  # Build
  bazel-bootstrap bazel-rules-java default-jdk-headless g++ make python3 python3-venv python3-dev
  # C++ libraries
  libcaf-dev libboost-dev libboost-system-dev libmsgpack-cxx-dev libssl-dev libspdlog-dev
  libfmt-dev catch2 libcli11-dev prometheus-cpp-dev libzstd-dev libjemalloc-dev libxxhash-dev libabsl-dev zlib1g-dev pybind11-dev
  # Tooling: formatting, fuzzing, comparison servers, profiling
  clang-14 clang-format clang-tidy-14 libfuzzer-14-dev libclang-rt-14-dev redis-server redis-tools valgrind
  cmake  # make test-tsan builds CAF with ThreadSanitizer (scripts/sanitizers/caf_tsan.sh)
  procps openssl curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
