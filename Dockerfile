# syntax=docker/dockerfile:1
#
# data-bridge-kv server image: Debian 12 (bookworm), two stages.
#
#   docker build -t data-bridge-kv:0.1.0 .
#   docker run --rm -p 7379:7379 -p 7380:7380 data-bridge-kv:0.1.0
#
# The build stage installs the build packages (the "Build" and "C++ libraries" groups of
# scripts/setup.sh; deploy/k8s/test_manifests.py checks the two lists stay in step) and runs the
# offline Bazel build. The runtime stage installs only the shared libraries the binaries load
# (RUNTIME_PACKAGES), checked twice: the build stage maps `ldd` of every binary to Debian
# packages (deploy/docker/runtime-deps.sh) and fails if one is not listed, and the runtime stage
# fails if `ldd` reports a library as "not found".
#
# Kubernetes manifests: deploy/k8s/ (they run the binary with `command:` only, so the CMD below
# does not apply there; every setting comes from KV_* environment variables).

ARG DEBIAN_IMAGE=debian:bookworm-slim

# Shared libraries the server, the CLI and the example plugin link (ldd + dpkg -S on Debian 12):
#   libabsl20220623            libabsl_raw_hash_set, _hash, _city, ... .so.20220623
#   libcaf-core0.17            libcaf_core.so.0.17.6
#   libcaf-io0.17              libcaf_io.so.0.17.6
#   libprometheus-cpp-core1.0  libprometheus-cpp-core.so.1.0 (/metrics)
#   libssl3                    libssl.so.3, libcrypto.so.3 (--tls-cert/--tls-key/--tls-ca)
#   libspdlog1.10              libspdlog.so.1.10
#   libfmt9                    libfmt.so.9
#   libxxhash0                 libxxhash.so.0
#   zlib1g                     libz.so.1
#   libstdc++6, libgcc-s1      libstdc++.so.6, libgcc_s.so.1
#   libc6                      libc, libm, libpthread, ld-linux
# (libstdc++6, libgcc-s1, zlib1g and libc6 are already in debian:bookworm-slim; they are listed
# so that the list is the whole truth.) When a binary starts linking another library, the build
# stage stops with "add to RUNTIME_PACKAGES: ..."; deploy/k8s/validate.py says the same from
# bazel-bin/ before any image is built.
ARG RUNTIME_PACKAGES="\
    libabsl20220623 \
    libcaf-core0.17 \
    libcaf-io0.17 \
    libprometheus-cpp-core1.0 \
    libssl3 \
    libspdlog1.10 \
    libfmt9 \
    libxxhash0 \
    libzstd1 \
    libjemalloc2 \
    zlib1g \
    libstdc++6 \
    libgcc-s1 \
    libc6"

# ---------------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
ARG RUNTIME_PACKAGES
# Extra Bazel flags, e.g. --build-arg BAZEL_FLAGS="--jobs=4".
ARG BAZEL_FLAGS=""
ENV DEBIAN_FRONTEND=noninteractive

# The "Build" and "C++ libraries" groups of scripts/setup.sh (its tooling group, clang, redis,
# valgrind, is for tests and benchmarks only).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      bazel-bootstrap bazel-rules-java default-jdk-headless g++ make python3 python3-venv python3-dev \
      libcaf-dev libboost-dev libboost-system-dev libmsgpack-cxx-dev libssl-dev libspdlog-dev \
      libfmt-dev catch2 libcli11-dev prometheus-cpp-dev libzstd-dev libxxhash-dev libabsl-dev \
      zlib1g-dev pybind11-dev libjemalloc-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# Offline build (WORKSPACE declares every repository locally). Bazel's output base and the
# repository's --disk_cache (~/.cache/bazel-disk) both live under /root/.cache, kept between
# builds by the cache mount; the bazel-bin symlinks point into it, so the binaries are copied
# out in the same step. --spawn_strategy=local: a build container usually may not create the
# namespaces Bazel's linux-sandbox needs (Docker's default seccomp profile), and the container is
# the sandbox anyway.
RUN --mount=type=cache,target=/root/.cache \
    bazel build --spawn_strategy=local ${BAZEL_FLAGS} \
      //server:data-bridge-kv-server //tools:data-bridge-kv-cli //plugins/examples:throttle.so \
 && mkdir -p /out \
 && cp -L bazel-bin/server/data-bridge-kv-server bazel-bin/tools/data-bridge-kv-cli \
          bazel-bin/plugins/examples/throttle.so /out/ \
 && bazel shutdown

# Every library the binaries load must come from a package in RUNTIME_PACKAGES.
RUN set -eu; \
    needed=$(sh deploy/docker/runtime-deps.sh /out/data-bridge-kv-server /out/data-bridge-kv-cli /out/throttle.so); \
    listed=" $(echo ${RUNTIME_PACKAGES}) "; missing=""; \
    for p in $needed; do case "$listed" in *" $p "*) ;; *) missing="$missing $p" ;; esac; done; \
    if [ -n "$missing" ]; then echo "Dockerfile: add to RUNTIME_PACKAGES:$missing" >&2; exit 1; fi; \
    echo "runtime packages needed:" $needed

# ---------------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE}
ARG RUNTIME_PACKAGES
ENV DEBIAN_FRONTEND=noninteractive

RUN apt-get update \
 && apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*

# A fixed, non-root uid/gid (10001): the Kubernetes manifests set runAsUser/runAsGroup/fsGroup
# to the same numbers.
RUN groupadd --system --gid 10001 kv \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin kv \
 && install -d -o 10001 -g 10001 -m 0750 /data

COPY --from=build /out/data-bridge-kv-server /out/data-bridge-kv-cli /usr/local/bin/
# The example plugin (THROTTLE): load it with --plugin / KV_PLUGIN.
COPY --from=build /out/throttle.so /usr/local/lib/data-bridge-kv/plugins/throttle.so

# Fail the image build, not the first start, if a shared library is missing.
RUN for f in /usr/local/bin/data-bridge-kv-server /usr/local/bin/data-bridge-kv-cli \
             /usr/local/lib/data-bridge-kv/plugins/throttle.so; do \
      if ldd "$f" | grep "not found"; then echo "missing shared library for $f" >&2; exit 1; fi; \
    done \
 && /usr/local/bin/data-bridge-kv-server --version

USER 10001:10001
# Relative paths (none by default) land in /data; mount a volume there and pass
# --data-dir /data (KV_DATA_DIR=/data) to persist. Without --data-dir the server keeps
# everything in memory.
WORKDIR /data

# 7379: the binary protocol; 7380: HTTP /metrics, /health, /ready.
EXPOSE 7379 7380
# The server handles SIGTERM itself (drain, flush, final snapshot, exit 0) and ignores SIGPIPE,
# so it runs as PID 1 without an init. No HEALTHCHECK: orchestrators probe /health and /ready.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/data-bridge-kv-server"]
CMD ["--bind", "0.0.0.0:7379", "--http-bind", "0.0.0.0:7380"]
