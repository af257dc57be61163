# rlc: the two commands a newcomer needs are `make demo` and `make test`.
# Every target builds what it needs; nothing has to be installed by hand beyond
# what .ci/run installs.

CARGO   ?= cargo
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PROFILE ?= release
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
LIB_DIR := $(TARGET_DIR)/$(PROFILE)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# The soname's number: it changes when the ABI breaks (build.rs sets the soname).
SOMAJOR := 0

.PHONY: all lib header install uninstall test test-rust test-c test-cpp test-go test-node test-python \
        demo examples bench bench-quick bench-python profile install clippy clean test-soak-c soak soak-tsan \
        soak-helgrind fuzz

all: lib

## The shared and static library (target/release/librlc.so, librlc.a).
lib:
	$(CARGO) build --release --lib
	@# cargo names the file librlc.so; programs linked against it ask for its soname.
	ln -sf librlc.so $(LIB_DIR)/librlc.so.$(SOMAJOR)

## Installs librlc.so.$(SOMAJOR) (with the librlc.so symlink), librlc.a, rlc.h, rlc.hpp,
## rlc.pc and a CMake package (lib/cmake/rlc) under PREFIX, so that
## `cc app.c $$(pkg-config --cflags --libs rlc)` works (with
## PKG_CONFIG_PATH=$(PREFIX)/lib/pkgconfig for a PREFIX pkg-config doesn't know), and so
## does find_package(rlc) with target rlc::rlc (CMAKE_PREFIX_PATH=$(PREFIX) likewise).
install: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 755 $(LIB_DIR)/librlc.so $(DESTDIR)$(LIBDIR)/librlc.so.$(VERSION)
	ln -sf librlc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librlc.so.$(SOMAJOR)
	ln -sf librlc.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/librlc.so
	install -m 644 $(LIB_DIR)/librlc.a $(DESTDIR)$(LIBDIR)/librlc.a
	install -m 644 include/rlc.h $(DESTDIR)$(INCLUDEDIR)/rlc.h
	install -m 644 bindings/cpp/rlc.hpp $(DESTDIR)$(INCLUDEDIR)/rlc.hpp
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    rlc.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/rlc.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/rlc.pc
	install -d $(DESTDIR)$(LIBDIR)/cmake/rlc
	for f in rlcConfig rlcConfigVersion; do \
	  sed -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	      -e 's|@VERSION@|$(VERSION)|g' -e 's|@SOMAJOR@|$(SOMAJOR)|g' \
	      cmake/$$f.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/rlc/$$f.cmake && \
	  chmod 644 $(DESTDIR)$(LIBDIR)/cmake/rlc/$$f.cmake || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/librlc.so $(DESTDIR)$(LIBDIR)/librlc.so.$(SOMAJOR) \
	      $(DESTDIR)$(LIBDIR)/librlc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librlc.a \
	      $(DESTDIR)$(INCLUDEDIR)/rlc.h $(DESTDIR)$(INCLUDEDIR)/rlc.hpp \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/rlc.pc \
	      $(DESTDIR)$(LIBDIR)/cmake/rlc/rlcConfig.cmake \
	      $(DESTDIR)$(LIBDIR)/cmake/rlc/rlcConfigVersion.cmake
	-rmdir $(DESTDIR)$(LIBDIR)/cmake/rlc 2>/dev/null

## Regenerates include/rlc.h from src/ffi with cbindgen (the header test checks it),
## and the Go module's copy of it (a Go test checks that).
header:
	RLC_UPDATE_HEADER=1 $(CARGO) test --test header header_is_fresh
	cp include/rlc.h bindings/go/rlc.h

## Every test that exists: Rust (unit, integration, header freshness), C, C++, Go, Node, Python,
## and the examples (run, so they never rot).
test: test-rust test-c test-soak-c test-cpp test-go test-node test-python examples

test-rust:
	$(CARGO) test --workspace

## The C programs in tests/c, built against include/rlc.h and run (under valgrind
## when it is installed) by tests/c_abi.rs.
test-c:
	$(CARGO) test --test c_abi -- --nocapture

## The C soak (tests/soak_c/soak.c) under AddressSanitizer with leak detection, for
## 10 s against the chaos server (tests/c_soak.rs). The Rust soak (tests/soak.rs, 30 s)
## and the property tests (tests/properties.rs) run in test-rust.
test-soak-c:
	$(CARGO) test --test c_soak -- --nocapture

## The long soak: 100,000 requests through the Rust API (release build), then the C
## soak under ASan for 100,000 requests. Tune with RLC_SOAK_REQUESTS / RLC_SOAK_SECONDS.
SOAK_REQUESTS ?= 100000
soak:
	RLC_SOAK_REQUESTS=$(SOAK_REQUESTS) $(CARGO) test --release --test soak -- --nocapture
	RLC_SOAK_REQUESTS=$(SOAK_REQUESTS) RLC_SOAK_SECONDS=$${RLC_SOAK_SECONDS:-900} \
	  $(CARGO) test --release --test c_soak -- --nocapture

## The C soak built with ThreadSanitizer, or run under valgrind's helgrind (short).
soak-tsan:
	RLC_SOAK_SANITIZER=thread RLC_SOAK_SECONDS=$${RLC_SOAK_SECONDS:-10} \
	  $(CARGO) test --test c_soak -- --nocapture
soak-helgrind:
	RLC_SOAK_HELGRIND=1 RLC_SOAK_SECONDS=$${RLC_SOAK_SECONDS:-10} RLC_SOAK_REQUESTS=$${RLC_SOAK_REQUESTS:-2000} \
	  $(CARGO) test --test c_soak -- --nocapture

## cargo-fuzz targets (fuzz/README.md): each runs FUZZ_SECONDS (default 60), one after
## the other on one core. Needs cargo-fuzz (installed here when missing); the
## toolchain is stable, so RUSTC_BOOTSTRAP=1 unlocks the sanitizer flags.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= retry_after rate_limit_headers url_and_headers c_abi_sequence
fuzz:
	command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  mkdir -p corpus/$$t && \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O $$t corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
	    || exit 1; \
	done

## The C++ binding (bindings/cpp/rlc.hpp): the programs in tests/cpp, built with g++
## as C++17 and run (under valgrind when it is installed) by tests/cpp_abi.rs.
test-cpp:
	$(CARGO) test --test cpp_abi -- --nocapture

## Go binding: vet, the tests under the race detector, the test that copies a body
## over 2 GiB (without -race, whose shadow memory would be several times that), and
## the example's build. The build tag rlc_inrepo links the repository's
## target/release/librlc.so with an rpath (CGO_LDFLAGS adds $(LIB_DIR), for a
## CARGO_TARGET_DIR elsewhere); without the tag the package uses pkg-config, as from
## the module cache (a test builds a program that way against `make install
## PREFIX=<tmp>`). The librlc.so.$(SOMAJOR) link is the soname, to run.
GO_TAGS := -tags rlc_inrepo
GO_ENV  := export CGO_LDFLAGS="-L$(LIB_DIR) -Wl,-rpath,$(LIB_DIR)"
test-go: lib
	cd bindings/go && $(GO_ENV) && go vet $(GO_TAGS) ./... && \
	  go test $(GO_TAGS) -race -count=1 ./... && \
	  go test $(GO_TAGS) -count=1 -run 'TestCopyCBytesOver2GiB' ./...
	cd examples/go && $(GO_ENV) && go vet $(GO_TAGS) ./... && go build $(GO_TAGS) -o /dev/null .

## Node binding: builds the lib, installs koffi from the lock file, runs node --test.
test-node: lib
	cd bindings/node && npm ci --no-audit --no-fund && node --test test/

## Python binding (ctypes, no compiler needed): pytest against a local server and the
## mock API, then mypy --strict on the package. .ci/run installs pytest and mypy.
PYTHON ?= python3
test-python: lib
	$(CARGO) build --release -p mock-api --bin rlc-mock-api
	cd bindings/python && RLC_LIBRARY_PATH=$(LIB_DIR)/librlc.so \
	  RLC_MOCK_API=$(LIB_DIR)/rlc-mock-api $(PYTHON) -m pytest -q
	cd bindings/python && $(PYTHON) -m mypy --strict

## The main job: a demo against an embedded mock API, on 127.0.0.1 only (about 25 s once
## built). Prints a table, writes target/demo/timeline.svg, fails if the API's limit broke.
demo:
	$(CARGO) run --release -p demo

## The example programs in examples/c and examples/cpp, built into target/examples
## against target/release/librlc.so (found at run time through an rpath) and run once
## each against rlc-mock-api on a free port (examples/run.sh).
EXAMPLES_DIR := $(TARGET_DIR)/examples
EXAMPLE_CFLAGS   := -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude
EXAMPLE_CXXFLAGS := -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -Ibindings/cpp
EXAMPLE_LDFLAGS  := -L$(LIB_DIR) -Wl,-rpath,$(LIB_DIR) -lrlc -pthread

examples: lib
	$(CARGO) build --release -p mock-api --bin rlc-mock-api
	mkdir -p $(EXAMPLES_DIR)/c $(EXAMPLES_DIR)/cpp
	$(CC) $(EXAMPLE_CFLAGS) examples/c/basic.c -o $(EXAMPLES_DIR)/c/basic $(EXAMPLE_LDFLAGS)
	$(CC) $(EXAMPLE_CFLAGS) examples/c/priority.c -o $(EXAMPLES_DIR)/c/priority $(EXAMPLE_LDFLAGS)
	$(CXX) $(EXAMPLE_CXXFLAGS) examples/cpp/basic.cpp -o $(EXAMPLES_DIR)/cpp/basic $(EXAMPLE_LDFLAGS)
	examples/run.sh $(TARGET_DIR)/release/rlc-mock-api \
	    $(EXAMPLES_DIR)/c/basic $(EXAMPLES_DIR)/c/priority $(EXAMPLES_DIR)/cpp/basic

bench:
	CARGO="$(CARGO)" bash benches/run.sh full

bench-quick:
	CARGO="$(CARGO)" bash benches/run.sh quick

## Instructions per request, rlc against raw ureq, by callgrind (steady on a busy
## machine): writes benches/PROFILE.md. About 3 min.
profile:
	CARGO="$(CARGO)" bash benches/profile.sh --commit

## Only the Python peers (aiohttp, aiohttp + aiolimiter), rlc's Python binding and, as its
## ceiling, rlc's C ABI: about 2 min.
bench-python:
	CARGO="$(CARGO)" bash benches/run.sh python

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
