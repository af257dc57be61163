package rlc

import (
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// A client dropped without Close is closed by its finalizer (the backstop).
func TestFinalizerClosesAnUnreachableClient(t *testing.T) {
	done := func() chan struct{} {
		c, err := NewClient(Config{})
		if err != nil {
			t.Fatal(err)
		}
		return c.done
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-done:
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the finalizer did not close the client")
		}
	}
}

// Durations reach the library in whole milliseconds, never rounded down to 0.
func TestMillis(t *testing.T) {
	for d, want := range map[time.Duration]uint64{
		0: 0, -time.Second: 0, time.Nanosecond: 1, time.Millisecond: 1,
		1500 * time.Microsecond: 2, 150 * time.Millisecond: 150, time.Minute: 60000,
	} {
		if got := uint64(millis(d)); got != want {
			t.Errorf("millis(%v) = %d, want %d", d, got, want)
		}
	}
}

// Small and empty bodies: nil or zero length gives an empty non-nil slice, and the
// bytes are copied, not aliased.
func TestCopyCBytesSmall(t *testing.T) {
	for _, tc := range []struct {
		p unsafe.Pointer
		n uint64
	}{{nil, 0}, {nil, 5}} {
		got, err := copyCBytes(tc.p, tc.n)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("copyCBytes(%v, %d) = %v, %v; want an empty slice", tc.p, tc.n, got, err)
		}
	}
	src := []byte("hello")
	got, err := copyCBytes(unsafe.Pointer(&src[0]), uint64(len(src)))
	if err != nil || string(got) != "hello" {
		t.Fatalf("copyCBytes = %q, %v", got, err)
	}
	src[0] = 'j'
	if string(got) != "hello" {
		t.Fatal("the copy aliases its source")
	}
}
