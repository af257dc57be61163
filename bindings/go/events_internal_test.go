package rlc

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Every event handle is deleted once its client is closed: by Close itself, or,
// for a Close inside a callback, by the library's closing thread once the last
// event has been delivered. (A second Delete of a cgo.Handle would panic.)
func TestEventHandlesAreDeletedOnceClosed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	// Clients closed inside callbacks by earlier tests may still be finishing.
	settle := func(want int64, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for liveEventHandles.Load() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%d live event handles %s, want %d", liveEventHandles.Load(), what, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	settle(0, "before the test")
	const before = 0

	c, err := NewClient(Config{BaseURL: srv.URL, OnEvent: func(Event) {}})
	if err != nil {
		t.Fatal(err)
	}
	if got := liveEventHandles.Load(); got != before+1 {
		t.Fatalf("%d live event handles, want %d", got, before+1)
	}
	_ = c.Close()
	_ = c.Close()
	if got := liveEventHandles.Load(); got != before {
		t.Fatalf("%d live event handles after Close, want %d", got, before)
	}

	// A refused config leaves no handle.
	if _, err := NewClient(Config{BaseURL: "not a url", OnEvent: func(Event) {}}); err == nil {
		t.Fatal("a bad base URL was accepted")
	}
	if got := liveEventHandles.Load(); got != before {
		t.Fatalf("%d live event handles after a failed NewClient, want %d", got, before)
	}

	// Closed inside a callback.
	c, err = NewClient(Config{BaseURL: srv.URL, OnEvent: func(Event) {}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	if _, err := c.Submit(NewRequest("GET", "/"), 0, func(*Response, error) {
		_ = c.Close()
		close(done)
	}); err != nil {
		t.Fatal(err)
	}
	<-done
	_ = c.Close()
	settle(before, "after a Close inside a callback")
}
