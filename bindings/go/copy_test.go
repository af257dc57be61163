//go:build !race

// The race detector shadows every byte a copy touches, so a copy of more than 2 GiB
// would need several times that in shadow memory: this file runs in the plain `go
// test` that `make test-go` adds after the -race run.

package rlc

import (
	"syscall"
	"testing"
	"unsafe"
)

// A body over 2 GiB is copied whole: C.GoBytes(p, C.int(n)) panicked on it (the
// length wrapped negative). The source is an anonymous private mapping with
// MAP_NORESERVE: its untouched pages read as zeros and cost nothing, so only the
// few pages written here and the Go copy itself take memory.
func TestCopyCBytesOver2GiB(t *testing.T) {
	const n = 2<<30 + 3*4096 + 17 // past 2^31, not page-aligned
	src, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		t.Skipf("cannot map %d bytes: %v", n, err)
	}
	defer func() { _ = syscall.Munmap(src) }()
	// Marks on both sides of 2^31 and at the very end prove the copy went that far.
	marks := map[int]byte{0: 1, 1<<31 - 1: 2, 1 << 31: 3, n - 1: 4}
	for off, v := range marks {
		src[off] = v
	}
	got, err := copyCBytes(unsafe.Pointer(&src[0]), uint64(n))
	if err != nil {
		t.Fatalf("copyCBytes: %v", err)
	}
	if len(got) != n {
		t.Fatalf("copied %d bytes, want %d", len(got), n)
	}
	for off, v := range marks {
		if got[off] != v {
			t.Errorf("byte %d = %d, want %d", off, got[off], v)
		}
	}
	if got[n/2] != 0 {
		t.Errorf("an untouched byte is %d, want 0", got[n/2])
	}
	// A fresh slice, not a view of the C memory (which the library frees).
	if &got[0] == &src[0] {
		t.Fatal("copyCBytes returned a view of the source, not a copy")
	}
}
