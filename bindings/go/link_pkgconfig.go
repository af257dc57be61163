//go:build !rlc_inrepo

package rlc

// Outside the rlc repository (a `go get` into the module cache) librlc is the
// installed one, found by pkg-config (`make install` writes rlc.pc). The header is
// the module's own copy of rlc.h, so it always matches this Go code.

// #cgo pkg-config: rlc
import "C"
