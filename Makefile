# SPDX-License-Identifier: MIT
# The user's two commands are `make run` and `make test`; everything else is
# optional. Each target installs what it needs (scripts/deps.sh) and drives
# CMake + CTest in a build directory of its own.

JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
BUILD   ?= build
PREFIX  ?= /usr/local
CMAKE   ?= cmake
CTEST   ?= ctest
CTEST_ARGS ?= --output-on-failure -j$(JOBS)

SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || \
            find include src tests examples bench fuzz -name '*.[ch]')

.PHONY: all run test build deps-run deps-test asan tsan valgrind bench docs \
        install format format-check cross-aarch64 stress clean

all: build

deps-run:
	@sh scripts/deps.sh run
deps-test:
	@sh scripts/deps.sh test

build:
	@$(CMAKE) -S . -B $(BUILD) -DTULIP_WERROR=ON >/dev/null
	@$(CMAKE) --build $(BUILD) -j$(JOBS)

## make run: build and run the tour of examples.
run: deps-run
	@$(CMAKE) -S . -B $(BUILD) -DTULIP_BUILD_TESTS=OFF >/dev/null
	@$(CMAKE) --build $(BUILD) -j$(JOBS)
	@sh scripts/tour.sh $(BUILD)/examples

## make test: format check, build with tests, the whole suite, and the
## aarch64 cross check under qemu when its tools are present.
test: deps-test format-check
	@$(CMAKE) -S . -B $(BUILD) -DTULIP_WERROR=ON -DTULIP_BUILD_TESTS=ON -DTULIP_BUILD_BENCH=ON >/dev/null
	@$(CMAKE) --build $(BUILD) -j$(JOBS)
	@cd $(BUILD) && $(CTEST) $(CTEST_ARGS)
	@sh scripts/cross-aarch64.sh

cross-aarch64: deps-test
	@sh scripts/cross-aarch64.sh

## Sanitizer builds: the suite under ASan+UBSan, and under TSan.
asan: deps-test
	@$(CMAKE) -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
	    -DTULIP_SANITIZE=address,undefined -DTULIP_WERROR=ON >/dev/null
	@$(CMAKE) --build build-asan -j$(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    $(CTEST) $(CTEST_ARGS)

tsan: deps-test
	@$(CMAKE) -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug \
	    -DTULIP_SANITIZE=thread -DTULIP_WERROR=ON >/dev/null
	@$(CMAKE) --build build-tsan -j$(JOBS)
	@cd build-tsan && $(CTEST) $(CTEST_ARGS) -L unit

## valgrind memcheck over the core tests.
valgrind: deps-test
	@$(CMAKE) -S . -B build-vg -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@$(CMAKE) --build build-vg -j$(JOBS)
	@sh scripts/valgrind.sh build-vg

## stress: the suite with shrunken internal constants.
stress: deps-test
	@$(CMAKE) -S . -B build-stress -DTULIP_STRESS=ON -DTULIP_WERROR=ON >/dev/null
	@$(CMAKE) --build build-stress -j$(JOBS)
	@cd build-stress && $(CTEST) $(CTEST_ARGS)

bench:
	@sh scripts/deps.sh bench
	@$(CMAKE) -S . -B build-bench -DCMAKE_BUILD_TYPE=Release \
	    -DTULIP_BUILD_BENCH=ON -DTULIP_BUILD_TESTS=OFF >/dev/null
	@$(CMAKE) --build build-bench -j$(JOBS)
	@sh bench/run.sh build-bench

docs:
	@sh scripts/deps.sh docs
	@doxygen docs/Doxyfile

install: build
	@$(CMAKE) --install $(BUILD) --prefix $(PREFIX)

format:
	@clang-format -i $(SOURCES)

format-check:
	@clang-format --dry-run -Werror $(SOURCES)

clean:
	rm -rf build build-asan build-tsan build-vg build-stress build-bench \
	    build-aarch64
