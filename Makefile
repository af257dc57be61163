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
        demo examples bench bench-quick bench-python install clippy clean

all: lib

## The shared and static library (target/release/librlc.so, librlc.a).
lib:
	$(CARGO) build --release --lib
	@# cargo names the file librlc.so; programs linked against it ask for its soname.
	ln -sf librlc.so $(LIB_DIR)/librlc.so.$(SOMAJOR)

## Installs librlc.so.$(SOMAJOR) (with the librlc.so symlink), librlc.a, rlc.h, rlc.hpp and
## rlc.pc under PREFIX, so that `cc app.c $$(pkg-config --cflags --libs rlc)` works
## (with PKG_CONFIG_PATH=$(PREFIX)/lib/pkgconfig for a PREFIX pkg-config doesn't know).
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

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/librlc.so $(DESTDIR)$(LIBDIR)/librlc.so.$(SOMAJOR) \
	      $(DESTDIR)$(LIBDIR)/librlc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librlc.a \
	      $(DESTDIR)$(INCLUDEDIR)/rlc.h $(DESTDIR)$(INCLUDEDIR)/rlc.hpp \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/rlc.pc

## Regenerates include/rlc.h from src/ffi with cbindgen (the header test checks it).
header:
	RLC_UPDATE_HEADER=1 $(CARGO) test --test header header_is_fresh

## Every test that exists: Rust (unit, integration, header freshness), C, C++, Go, Node, Python,
## and the examples (run, so they never rot).
test: test-rust test-c test-cpp test-go test-node test-python examples

test-rust:
	$(CARGO) test --workspace

## The C programs in tests/c, built against include/rlc.h and run (under valgrind
## when it is installed) by tests/c_abi.rs.
test-c:
	$(CARGO) test --test c_abi -- --nocapture

## The C++ binding (bindings/cpp/rlc.hpp): the programs in tests/cpp, built with g++
## as C++17 and run (under valgrind when it is installed) by tests/cpp_abi.rs.
test-cpp:
	$(CARGO) test --test cpp_abi -- --nocapture

## Go binding: vet, the tests under the race detector, and the example's build.
## cgo links $(LIB_DIR)/librlc.so with an rpath (bindings/go/README.md tells how to
## use an installed librlc instead); the librlc.so.$(SOMAJOR) link is its soname, to run.
test-go: lib
	cd bindings/go && export CGO_LDFLAGS="-L$(LIB_DIR) -Wl,-rpath,$(LIB_DIR)" && \
	  go vet ./... && go test -race -count=1 ./...
	cd examples/go && export CGO_LDFLAGS="-L$(LIB_DIR) -Wl,-rpath,$(LIB_DIR)" && \
	  go vet ./... && go build -o /dev/null .

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

## Only the Python peers (aiohttp, aiohttp + aiolimiter), rlc's Python binding and, as its
## ceiling, rlc's C ABI: about 2 min.
bench-python:
	CARGO="$(CARGO)" bash benches/run.sh python

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
