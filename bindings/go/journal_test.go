package rlc_test

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	rlc "github.com/rlc-project/rlc/bindings/go"
)

// A client closed with requests unsent leaves them in its journal; the next one
// recovers them, with their tags, and Recover waits for all of them.
func TestRecoverFinishesWhatAClosedClientLeft(t *testing.T) {
	s := newTestServer(t)
	path := filepath.Join(t.TempDir(), "queue.db")
	held := rlc.Config{BaseURL: s.URL, Journal: path, RateLimit: &rlc.RateLimit{Max: 1, Window: time.Minute}}
	first, err := rlc.NewClient(held)
	if err != nil {
		t.Fatal(err)
	}
	// A second live client on the same journal is refused.
	if _, err := rlc.NewClient(rlc.Config{BaseURL: s.URL, Journal: path}); !errors.Is(err, rlc.ErrJournal) {
		t.Fatalf("a second client on a live journal: %v, want ErrJournal", err)
	}
	var mu sync.Mutex
	var shutdown []string
	firstDone := make(chan string, 1)
	for _, tag := range []string{"a", "b", "c"} {
		_, err := first.Submit(&rlc.Request{Method: "POST", Path: "/ok", Tag: tag}, 0, func(r *rlc.Response, err error) {
			if err == nil {
				firstDone <- r.Tag
				return
			}
			if errors.Is(err, rlc.ErrShutdown) {
				mu.Lock()
				shutdown = append(shutdown, "x")
				mu.Unlock()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if tag := <-firstDone; tag != "a" {
		t.Fatalf("the first response carries tag %q", tag)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if len(shutdown) != 2 {
		t.Fatalf("%d requests shut down unsent, want 2", len(shutdown))
	}

	second := newClient(t, rlc.Config{BaseURL: s.URL, Journal: path})
	var tags []string
	n, err := second.Recover(context.Background(), func(tag string, r *rlc.Response, err error) {
		if err != nil || r.Status != 200 || r.Tag != tag {
			t.Errorf("recovered %q: %v, %+v", tag, err, r)
		}
		mu.Lock()
		tags = append(tags, tag)
		mu.Unlock()
	})
	if err != nil || n != 2 {
		t.Fatalf("Recover = %d, %v; want 2", n, err)
	}
	// Recover returned after every callback.
	mu.Lock()
	sort.Strings(tags)
	got := tags
	mu.Unlock()
	if len(got) != 2 || got[0] != "b" || got[1] != "c" {
		t.Fatalf("recovered tags %v, want [b c]", got)
	}
	if n, err := second.Recover(context.Background(), func(string, *rlc.Response, error) {}); n != 0 || err != nil {
		t.Fatalf("a second Recover = %d, %v; want 0", n, err)
	}
}

func TestRecoverWithoutAJournalIsInvalidState(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL})
	_, err := c.Recover(context.Background(), func(string, *rlc.Response, error) {})
	isCode(t, err, rlc.ErrInvalidState)
	if _, err := c.Recover(context.Background(), nil); !errors.Is(err, rlc.ErrInvalidArgument) {
		t.Fatalf("nil callback: %v", err)
	}
}
