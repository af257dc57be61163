package rlc_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	rlc "github.com/rlc-project/rlc/bindings/go"
)

// redirector is a server whose /to?u=URL answers 302 to URL and whose /loop
// redirects to itself.
func redirector(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func TestRedirectToAnotherOriginDropsCredentials(t *testing.T) {
	other := newTestServer(t)
	first := redirector(t)
	c := newClient(t, rlc.Config{
		BaseURL:          first.URL,
		DefaultHeaders:   map[string]string{"X-Api-Key": "k1", "X-Trace": "t1"},
		SensitiveHeaders: []string{"X-Api-Key"},
	})
	req := get("/to?u=" + other.URL + "/echo")
	req.Header.Set("Authorization", "Bearer secret")
	req.Header.Set("X-Keep", "kept")
	resp, err := c.Do(context.Background(), req, 0)
	if err != nil || resp.Status != 200 {
		t.Fatalf("Do: %v %+v", err, resp)
	}
	for _, dropped := range []string{"X-Echo-Authorization", "X-Echo-X-Api-Key"} {
		if v := resp.Header.Get(dropped); v != "" {
			t.Errorf("%s reached another origin: %q", dropped, v)
		}
	}
	if resp.Header.Get("X-Echo-X-Keep") != "kept" || resp.Header.Get("X-Echo-X-Trace") != "t1" {
		t.Errorf("ordinary headers were dropped: %v", resp.Header)
	}
	m, err := c.Metrics()
	if err != nil || m.Redirects != 1 {
		t.Fatalf("Metrics: %v, Redirects = %d, want 1", err, m.Redirects)
	}
}

func TestRedirectLoopIsErrRedirectAndMaxZeroHandsBackTheRedirect(t *testing.T) {
	s := redirector(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL})
	_, err := c.Do(context.Background(), get("/loop"), 0)
	if !errors.Is(err, rlc.ErrRedirect) {
		t.Fatalf("a loop gave %v, want ErrRedirect", err)
	}
	off := newClient(t, rlc.Config{BaseURL: s.URL, Redirects: &rlc.Redirects{Max: 0}})
	resp, err := off.Do(context.Background(), get("/loop"), 0)
	if err != nil || resp.Status != 302 || resp.Header.Get("Location") != "/loop" {
		t.Fatalf("with redirects off: %v %+v", err, resp)
	}
}

func TestMaxServerPauseCutsAYearLongRetryAfter(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "31536000")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	c := newClient(t, rlc.Config{
		BaseURL:        s.URL,
		Retry:          &rlc.Retry{MaxRetries: 0},
		MaxServerPause: 200 * time.Millisecond,
	})
	if resp, err := c.Do(context.Background(), get("/busy"), 0); err != nil || resp.Status != 503 {
		t.Fatalf("/busy: %v %+v", err, resp)
	}
	// Without the cap this would wait a year; the context's generous bound says it did not.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if resp, err := c.Do(ctx, get("/ok"), 0); err != nil || resp.Status != 200 {
		t.Fatalf("/ok after the pause: %v %+v", err, resp)
	}
	if m, _ := c.Metrics(); m.ServerPausesCapped != 1 {
		t.Fatalf("ServerPausesCapped = %d, want 1", m.ServerPausesCapped)
	}
}
