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
        install format format-check cross-aarch64 stress clean generic lint \
        fuzz fault soak help

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
## ASan: allow_user_segv_handler=1 (the runtime's default, spelled out) lets
## the library's guard-page handler take stack overflows. abort_on_error=1
## turns a leak report at the exit of a Criterion worker into a crash that
## fails the run (an exit code there goes unnoticed).
ASAN_OPTIONS_TEST = detect_leaks=1:abort_on_error=1:allow_user_segv_handler=1
asan: deps-test
	@$(CMAKE) -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
	    -DTULIP_SANITIZE=address,undefined -DTULIP_WERROR=ON >/dev/null
	@$(CMAKE) --build build-asan -j$(JOBS)
	@cd build-asan && ASAN_OPTIONS=$(ASAN_OPTIONS_TEST) \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CTEST) $(CTEST_ARGS)

## TSan: Criterion cannot start under TSan (its BoxFort arena cannot be
## mapped: "Could not initialize inheritable arena", Criterion issue #274),
## so this runs the plain programs: the thread-crossing tests of
## tests/tsan/ (label thread: call_soon_threadsafe, the pools, signals,
## loops in several threads), the examples and the benchmark smoke runs.
## halt_on_error=1: the first report fails the program. TSan counts every
## coroutine as a thread (a fiber) and dies beyond 8128 live ones: the
## smoke runs that hold more (TSAN_EXCLUDE) are left out.
TSAN_EXCLUDE ?= ^smoke_bench_(gen|task)$$
tsan: deps-test
	@$(CMAKE) -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug \
	    -DTULIP_SANITIZE=thread -DTULIP_WERROR=ON -DTULIP_BUILD_BENCH=ON \
	    -DTULIP_BUILD_TESTS=ON >/dev/null
	@$(CMAKE) --build build-tsan -j$(JOBS)
	@cd build-tsan && TSAN_OPTIONS=halt_on_error=1 \
	    $(CTEST) $(CTEST_ARGS) -L '^(thread|example|bench)$$' \
	    -E '$(TSAN_EXCLUDE)'

## generic: the portable ucontext switch (src/arch/generic) under the
## coroutine tests and the examples.
GENERIC_TESTS ?= ^(test_(gen|yield_from|stack|overflow)|example_)
CORO_TARGETS = $(basename $(notdir $(wildcard tests/test_gen*.c \
    tests/test_yield_from*.c tests/test_stack*.c tests/test_overflow*.c \
    examples/*.c)))
generic: deps-test
	@$(CMAKE) -S . -B build-generic -DTULIP_ARCH=generic \
	    -DTULIP_WERROR=ON >/dev/null
	@$(CMAKE) --build build-generic -j$(JOBS) --target $(CORO_TARGETS)
	@cd build-generic && $(CTEST) $(CTEST_ARGS) -R '$(GENERIC_TESTS)'

## valgrind memcheck over the core tests (coroutines, loop, tasks, sync,
## contextvars) and the examples; VALGRIND_TESTS=. for every test program.
VALGRIND_TESTS ?= ^test_(gen|yield_from|stack|loop|timer|task|future|scope|group|combine|run|handoff|lock|event|cond|sem|barrier|queue|chan|context|agen)$$
valgrind: deps-test
	@$(CMAKE) -S . -B build-vg -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@$(CMAKE) --build build-vg -j$(JOBS)
	@TULIP_VALGRIND_TESTS='$(VALGRIND_TESTS)' sh scripts/valgrind.sh build-vg

## stress: the suite twice in a stress build (TULIP_STRESS in src/config.h:
## one event per poll, a poll after every ready callback, the minimum
## stack...): as it is, then with TULIP_STRESS_YIELD=1, a yield at every
## suspension point. The second pass leaves out the examples whose
## expected output follows from asyncio's fast paths (docs/checks.md).
STRESS_YIELD_EXCLUDE ?= ^example_(futures|pipeline)$$
stress: deps-test
	@$(CMAKE) -S . -B build-stress -DTULIP_STRESS=ON -DTULIP_WERROR=ON -DTULIP_BUILD_TESTS=ON >/dev/null
	@$(CMAKE) --build build-stress -j$(JOBS)
	@echo "stress: pass 1, the shrunken constants"
	@cd build-stress && $(CTEST) $(CTEST_ARGS)
	@echo "stress: pass 2, a forced yield at every suspension point"
	@cd build-stress && TULIP_STRESS_YIELD=1 $(CTEST) $(CTEST_ARGS) -E '$(STRESS_YIELD_EXCLUDE)'

## fault: the fault sweep (tests/fault, docs/testing.md) in a testing build
## (build-fault, -DTULIP_TESTING=ON): five programs, each allocation and
## syscall failed in turn with each error its site meets, persistently and
## at random, on both backends; every run must end correct or with a clear
## error, leak nothing and not hang. One failure: TULIP_FAULT=... to replay.
fault: deps-test
	@$(CMAKE) -S . -B build-fault -DTULIP_TESTING=ON -DTULIP_WERROR=ON >/dev/null
	@$(CMAKE) --build build-fault -j$(JOBS) --target fault_sweep test_fault
	@cd build-fault && $(CTEST) $(CTEST_ARGS) -L fault

## soak: 2,000 echo connections churning over loopback for SOAK_SECONDS,
## with resets and cancelled handlers; RSS within 5% of its level after
## warm-up, fds and library memory back at the end (ctest runs 25 s).
SOAK_SECONDS ?= 180
soak: deps-test
	@$(CMAKE) -S . -B $(BUILD) -DTULIP_WERROR=ON -DTULIP_BUILD_TESTS=ON >/dev/null
	@$(CMAKE) --build $(BUILD) -j$(JOBS) --target soak
	@$(BUILD)/tests/soak --seconds $(SOAK_SECONDS)

## fuzz: the libFuzzer harnesses (fuzz/fuzz_*.c; clang, ASan+UBSan), each
## for FUZZ_SECONDS from its checked-in corpus (fuzz/corpus/<harness>).
## The corpus replay itself runs in `make test` (ctest -L fuzz).
FUZZ_SECONDS ?= 60
fuzz:
	@sh scripts/deps.sh fuzz
	@sh scripts/fuzz-smoke.sh $(FUZZ_SECONDS) build-fuzz

## bench: every benchmark next to its peers, in one sitting: 3 runs of
## each program (BENCH_REPS); the whole takes about 18 minutes on a quiet
## 2-core machine, and no run starts after 25 (BENCH_BUDGET, seconds), so
## a slow machine stays under half an hour. Writes
## bench/results/latest.md and latest.png, and the README's summary.
bench:
	@sh scripts/deps.sh bench
	@$(CMAKE) -S . -B build-bench -DCMAKE_BUILD_TYPE=Release \
	    -DTULIP_BUILD_BENCH=ON -DTULIP_BUILD_TESTS=OFF >/dev/null
	@$(CMAKE) --build build-bench -j$(JOBS)
	@BENCH_REPS=$${BENCH_REPS:-3} BENCH_BUDGET=$${BENCH_BUDGET:-1500} \
	    sh bench/run.sh build-bench

## lint: clang-tidy (.clang-tidy) and cppcheck over the library's sources,
## from the compile database of build-tool (and build-tool/generic for the
## ucontext switch): zero findings, suppressions justified in place (a
## NOLINT or cppcheck-suppress comment) or in .clang-tidy. A gate of
## .ci/run, not of `make test`. cppcheck's variableScope is off:
## declarations at the top of a block are the house style.
LINT_SRC = $(shell git ls-files 'src/*.c' | grep -v '^src/arch/generic/')
CPPCHECK_ARGS = --std=c11 --enable=warning,style,performance,portability \
    --inline-suppr --error-exitcode=1 -q --suppress=variableScope \
    -DTULIP_BUILDING -Iinclude -Isrc
lint:
	@sh scripts/deps.sh lint
	@$(CMAKE) -S . -B build-tool >/dev/null
	@$(CMAKE) -S . -B build-tool/generic -DTULIP_ARCH=generic \
	    -DTULIP_BUILD_TESTS=OFF -DTULIP_BUILD_EXAMPLES=OFF >/dev/null
	@{ for f in $(LINT_SRC); do echo build-tool $$f; done; \
	   echo build-tool/generic src/arch/generic/switch.c; } | \
	 xargs -L1 -P$(JOBS) sh -c 'out=$$(clang-tidy -p "$$0" --quiet "$$1" 2>&1); \
	     rc=$$?; printf "%s\n" "$$out" | grep -v "warnings generated" | grep .; \
	     exit $$rc'
	@cppcheck $(CPPCHECK_ARGS) -j$(JOBS) -D__x86_64__ -D__linux__ $(LINT_SRC)
	@cppcheck $(CPPCHECK_ARGS) -DTULIP_ARCH_GENERIC=1 src/arch/generic/switch.c
	@echo "lint: clean"

## docs: the reference from include/tulip.h into build-docs/ (warnings fail).
docs:
	@sh scripts/deps.sh docs
	@doxygen docs/Doxyfile
	@echo "docs: build-docs/html/index.html"

install: build
	@$(CMAKE) --install $(BUILD) --prefix $(PREFIX)

format:
	@clang-format -i $(SOURCES)

format-check:
	@clang-format --dry-run -Werror $(SOURCES)

## help: this list (the "## " lines of the Makefile).
help:
	@sed -n 's/^## \{0,1\}//p' Makefile

clean:
	rm -rf build build-asan build-tsan build-vg build-stress build-bench \
	    build-aarch64 build-generic build-docs build-tool build-fuzz \
	    build-fault
