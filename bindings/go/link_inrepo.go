//go:build rlc_inrepo

package rlc

// Inside the rlc repository (`go test -tags rlc_inrepo`, as `make test-go` runs it)
// the package links the library that `cargo build --release --lib` just built, with
// an rpath so tests run without LD_LIBRARY_PATH. Without the tag these paths are not
// used: from the module cache they would point nowhere.

// #cgo LDFLAGS: -L${SRCDIR}/../../target/release -lrlc -Wl,-rpath,${SRCDIR}/../../target/release
import "C"
