package rlc

import (
	"runtime"
	"testing"
	"time"
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
