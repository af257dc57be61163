package rlc_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is a real HTTP server on 127.0.0.1 with the handlers the tests need.
type testServer struct {
	*httptest.Server

	mu       sync.Mutex
	hits     map[string]int      // per path
	arrivals []string            // ids seen by /record, in arrival order
	flaky    map[string]int      // calls per key seen by /flaky
	bodies   map[string][]string // request bodies per key seen by /flaky
	arrived  chan string         // ids of requests reaching /slow and /gate
	gate     chan struct{}       // /gate answers once this is closed
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	s := &testServer{
		hits:    make(map[string]int),
		flaky:   make(map[string]int),
		bodies:  make(map[string][]string),
		arrived: make(chan string, 100),
		gate:    make(chan struct{}),
	}
	mux := http.NewServeMux()
	// /ok: 200 with a small body and a header.
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", "yes")
		w.Header().Add("X-Two", "1")
		w.Header().Add("X-Two", "2")
		_, _ = io.WriteString(w, "ok")
	})
	// /echo: the request body back, and each request header as X-Echo-<name>.
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		for name, values := range r.Header {
			for _, v := range values {
				w.Header().Add("X-Echo-"+name, v)
			}
		}
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	})
	// /status?code=N: that status.
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
	})
	// /flaky?key=K&fail=N: 503 for the first N calls per key, then 200; each
	// call's request body is kept (see bodiesFor).
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Query().Get("key")
		fail, _ := strconv.Atoi(r.URL.Query().Get("fail"))
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies[key] = append(s.bodies[key], string(body))
		s.flaky[key]++
		n := s.flaky[key]
		s.mu.Unlock()
		if n <= fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "call "+strconv.Itoa(n))
	})
	// /always503: the server is down.
	mux.HandleFunc("/always503", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	// /slow?ms=N&id=X: announces X on s.arrived, then answers after N ms.
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		select {
		case s.arrived <- r.URL.Query().Get("id"):
		default:
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "slow")
	})
	// /gate?id=X: announces X on s.arrived, then answers once s.gate is closed.
	mux.HandleFunc("/gate", func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.arrived <- r.URL.Query().Get("id"):
		default:
		}
		select {
		case <-s.gate:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "opened")
	})
	// /json: 200 with a JSON object: the request's method, Content-Type and body
	// (decoded as JSON when it is).
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		out := map[string]any{"method": r.Method, "contentType": r.Header.Get("Content-Type")}
		var v any
		if json.Unmarshal(body, &v) == nil {
			out["body"] = v
		} else {
			out["raw"] = string(body)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	// /record?id=X: notes the arrival order.
	mux.HandleFunc("/record", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.arrivals = append(s.arrivals, r.URL.Query().Get("id"))
		s.mu.Unlock()
		_, _ = io.WriteString(w, "recorded")
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) hitCount(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func (s *testServer) bodiesFor(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies[key]...)
}

func (s *testServer) arrivalOrder() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.arrivals...)
}

func (s *testServer) sawArrival(id string) bool {
	for _, a := range s.arrivalOrder() {
		if a == id {
			return true
		}
	}
	return false
}

// eventually polls cond every 10 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// within fails the test if f does not return within d (a deadlock guard).
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not finish within %v (deadlock?)", what, d)
	}
}

func joinIDs(ids []string) string { return strings.Join(ids, ",") }
