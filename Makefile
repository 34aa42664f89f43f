# data-bridge-kv front door. `make run` and `make test` install what is missing first.
SHELL := /bin/bash
BAZEL ?= bazel
BAZEL_FLAGS ?=
SETUP_STAMP := .setup-done

.PHONY: setup build run test test-cpp test-python python wheel test-wheel fuzz lint format clean \
	test-asan test-tsan

PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.deps-done

# scripts/setup.sh is idempotent; the stamp only saves its dpkg queries on repeated runs.
$(SETUP_STAMP): scripts/setup.sh
	scripts/setup.sh
	@touch $@

setup: $(SETUP_STAMP)

build: setup
	$(BAZEL) build $(BAZEL_FLAGS) //...

run: build
	mkdir -p data
	bazel-bin/server/data-bridge-kv-server --data-dir data

test: setup
	$(BAZEL) build $(BAZEL_FLAGS) //...
	$(BAZEL) test $(BAZEL_FLAGS) //...
	scripts/fuzz.sh
	$(MAKE) test-python
	$(MAKE) test-wheel

# One requirements file's packages into the project's virtualenv; the target is its stamp.
define venv-install
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r $<
	@touch $@
endef

# The Python package, installed into a virtualenv with its test dependencies (PyPI).
$(VENV_STAMP): bindings/python/pyproject.toml bindings/python/requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r bindings/python/requirements-test.txt
	@touch $@

python: setup $(VENV_STAMP)
	rm -rf bindings/python/src/*.egg-info bindings/python/build
	BAZEL=$(BAZEL) $(VENV)/bin/pip install -q ./bindings/python

test-python: python
	$(BAZEL) build $(BAZEL_FLAGS) //server:data-bridge-kv-server //plugins/examples:throttle.so
	DBKV_SERVER=$(CURDIR)/bazel-bin/server/data-bridge-kv-server \
	DBKV_PLUGIN_DIR=$(CURDIR)/bazel-bin/plugins/examples \
	  $(VENV)/bin/python -m pytest -q bindings/python/tests deploy/k8s

# The Python package as a wheel for Python users (dist/): pip builds it from the sources Bazel
# lists for //client (bindings/python/setup.py), auditwheel copies in every shared library it
# needs outside the manylinux policy (OpenSSL) and tags it for the oldest glibc it supports:
# manylinux_2_34 (`auditwheel show` on Debian 12's build: GLIBC_2.34, GLIBCXX_3.4.29), so it
# installs on glibc >= 2.34 (Debian 12, Ubuntu 22.04, RHEL 9) for the Python that built it.
# WHEEL_PLAT=auto takes whatever the build allows. About 30 s on 2 cores (bazel query waits
# while another Bazel command runs).
WHEEL_PLAT ?= manylinux_2_34_x86_64
WHEEL_STAMP := $(VENV)/.wheel-deps-done

$(WHEEL_STAMP): bindings/python/requirements-wheel.txt
	$(venv-install)

wheel: setup $(WHEEL_STAMP)
	rm -rf bindings/python/src/*.egg-info bindings/python/build build/wheel
	rm -f dist/data_bridge_kv-*.whl
	BAZEL=$(BAZEL) $(VENV)/bin/pip wheel -q --no-deps -w build/wheel ./bindings/python
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/auditwheel repair --plat $(WHEEL_PLAT) \
	  -w dist build/wheel/data_bridge_kv-*.whl
	@ls -l dist/data_bridge_kv-*.whl

# The wheel installed into a fresh virtualenv, away from the source and build trees, against a
# real server (bindings/python/tests/test_wheel.py): about 5 s once the wheel is built.
test-wheel: wheel $(VENV_STAMP)
	$(BAZEL) build $(BAZEL_FLAGS) //server:data-bridge-kv-server
	DBKV_WHEEL="$$(ls dist/data_bridge_kv-*.whl)" \
	DBKV_SERVER=$(CURDIR)/bazel-bin/server/data-bridge-kv-server \
	  $(VENV)/bin/python -m pytest -q bindings/python/tests/test_wheel.py

test-cpp: setup
	$(BAZEL) test $(BAZEL_FLAGS) //...

# The C++ unit and integration suites under the sanitizers (.bazelrc --config=asan|tsan; each
# builds into an output tree of its own). TSan links a CAF built with it (caf_tsan.sh, once).
# Suppressions: scripts/sanitizers/, only for what is truly a library's own.
SANITIZERS := $(CURDIR)/scripts/sanitizers
ASAN_ENV := --test_env=ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1 \
	--test_env=LSAN_OPTIONS=suppressions=$(SANITIZERS)/lsan.supp:print_suppressions=0 \
	--test_env=UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
TSAN_ENV := --test_env=TSAN_OPTIONS=suppressions=$(SANITIZERS)/tsan.supp:halt_on_error=1:second_deadlock_stack=1:print_suppressions=0

test-asan: setup
	$(BAZEL) test $(BAZEL_FLAGS) --config=asan $(ASAN_ENV) //...

test-tsan: setup
	scripts/sanitizers/caf_tsan.sh
	$(BAZEL) test $(BAZEL_FLAGS) --config=tsan $(TSAN_ENV) //...

fuzz: setup
	FUZZ_SECONDS=$${FUZZ_SECONDS:-60} scripts/fuzz.sh

# Benchmarks against Redis 7 (bench/report.py): the matrix, RSS per key, durability rows;
# about 15 minutes on 2 cores. Writes bench/results/report.md, chart.png and runs.json.
# BENCH_FLAGS=--quick checks the tooling in about 2 minutes (its figures are not for reports).
.PHONY: bench bench-test
BENCH_FLAGS ?=
BENCH_STAMP := $(VENV)/.bench-deps-done

$(BENCH_STAMP): bench/requirements.txt
	$(venv-install)

bench: setup $(BENCH_STAMP)
	$(BAZEL) build $(BAZEL_FLAGS) //server:data-bridge-kv-server //bench:data-bridge-kv-bench
	$(VENV)/bin/python bench/report.py $(BENCH_FLAGS)

# The benchmark tooling's own tests (the load generator's TLS and JSON, report.py): ~15 s.
bench-test: setup $(BENCH_STAMP)
	$(BAZEL) build $(BAZEL_FLAGS) //server:data-bridge-kv-server //bench:data-bridge-kv-bench
	$(VENV)/bin/python bench/bench_test.py

# Static checks: clang-format on every C++ file; clang-tidy (.clang-tidy's checks, about 5
# minutes); ruff and mypy --strict on the Python package (bindings/python/pyproject.toml).
LINT_STAMP := $(VENV)/.lint-deps-done

$(LINT_STAMP): bindings/python/requirements-lint.txt
	$(venv-install)

lint: setup $(LINT_STAMP)
	@files=$$(git ls-files '*.cc' '*.h' '*.cpp'); \
	clang-format --dry-run -Werror $$files && echo "lint: clang-format clean"
	scripts/clang_tidy.sh
	cd bindings/python && ../../$(VENV)/bin/ruff check src && echo "lint: ruff clean"
	cd bindings/python && ../../$(VENV)/bin/mypy src/data_bridge

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	$(BAZEL) clean
	rm -rf $(SETUP_STAMP) $(VENV) bindings/python/build dist build/wheel
