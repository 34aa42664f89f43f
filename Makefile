# data-bridge-kv front door. `make run` and `make test` install what is missing first.
SHELL := /bin/bash
BAZEL ?= bazel
BAZEL_FLAGS ?=
SETUP_STAMP := .setup-done

.PHONY: setup build run test test-cpp fuzz lint format clean

# scripts/setup.sh is idempotent; the stamp only saves its dpkg queries on repeated runs.
$(SETUP_STAMP): scripts/setup.sh
	scripts/setup.sh
	@touch $@

setup: $(SETUP_STAMP)

build: setup
	$(BAZEL) build $(BAZEL_FLAGS) //...

run: build
	mkdir -p data
	bazel-bin/server/data-bridge-kv-server

test: setup
	$(BAZEL) build $(BAZEL_FLAGS) //...
	$(BAZEL) test $(BAZEL_FLAGS) //...
	scripts/fuzz.sh

test-cpp: setup
	$(BAZEL) test $(BAZEL_FLAGS) //...

fuzz: setup
	FUZZ_SECONDS=$${FUZZ_SECONDS:-60} scripts/fuzz.sh

lint:
	@files=$$(git ls-files '*.cc' '*.h'); \
	clang-format --dry-run -Werror $$files && echo "lint: clang-format clean"

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	$(BAZEL) clean
	rm -f $(SETUP_STAMP)
