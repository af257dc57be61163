package rlc_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rlc "github.com/rlc-project/rlc/bindings/go"
)

func newClient(t *testing.T, cfg rlc.Config) *rlc.Client {
	t.Helper()
	c, err := rlc.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func get(path string) *rlc.Request { return rlc.NewRequest("GET", path) }

// isCode checks that err is an *rlc.Error with code, matched both ways.
func isCode(t *testing.T, err error, code rlc.Code) {
	t.Helper()
	if !errors.Is(err, code) {
		t.Fatalf("got error %v, want %v", err, code)
	}
	var e *rlc.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("got %#v, want an *rlc.Error with code %v", err, code)
	}
}

func TestVersion(t *testing.T) {
	if v := rlc.Version(); v == "" || !strings.Contains(v, ".") {
		t.Fatalf("Version() = %q", v)
	}
}

func TestDoSuccess(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL})
	resp, err := c.Do(context.Background(), get("/ok"), 0)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.Status != 200 || string(resp.Body) != "ok" || resp.Attempts != 1 {
		t.Fatalf("got status %d body %q attempts %d", resp.Status, resp.Body, resp.Attempts)
	}
	if got := resp.Header.Get("X-Test"); got != "yes" {
		t.Fatalf("X-Test = %q", got)
	}
	if got := resp.Header.Values("X-Two"); len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Fatalf("X-Two = %q, want [1 2]", got)
	}
	// An absolute URL works as well, and ignores the base URL.
	resp, err = c.Do(context.Background(), get(s.URL+"/ok"), 0)
	if err != nil || resp.Status != 200 {
		t.Fatalf("absolute URL: %v %+v", err, resp)
	}
}

func TestHTTPErrorStatusIsAResponse(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL})
	resp, err := c.Do(context.Background(), get("/status?code=404"), 0)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.Status != 404 || resp.Attempts != 1 {
		t.Fatalf("status %d attempts %d, want 404 after 1", resp.Status, resp.Attempts)
	}
}

func TestHeadersAndBinaryBody(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{
		BaseURL:        s.URL,
		DefaultHeaders: map[string]string{"X-Default": "d", "X-Overridden": "default"},
	})
	body := make([]byte, 4*256)
	for i := range body {
		body[i] = byte(i)
	}
	req := rlc.NewRequest("POST", "/echo")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.Header.Set("X-Overridden", "mine")
	req.Header.Set("Authorization", "Bearer secret-token")
	req.Body = body
	resp, err := c.Do(context.Background(), req, 0)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if !bytes.Equal(resp.Body, body) {
		t.Fatalf("body came back as %d bytes, not the %d sent", len(resp.Body), len(body))
	}
	h := resp.Header
	if got := h.Get("X-Method"); got != "POST" {
		t.Fatalf("method %q", got)
	}
	if got := h.Values("X-Echo-X-Multi"); len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Fatalf("X-Multi arrived as %q", got)
	}
	if got := h.Get("X-Echo-X-Default"); got != "d" {
		t.Fatalf("default header arrived as %q", got)
	}
	if got := h.Values("X-Echo-X-Overridden"); len(got) != 1 || got[0] != "mine" {
		t.Fatalf("the request's header should win over the default: %q", got)
	}
	if got := h.Get("X-Echo-Authorization"); got != "Bearer secret-token" {
		t.Fatalf("Authorization arrived as %q", got)
	}
	if got := h.Get("Content-Type"); got != "application/octet-stream" {
		t.Fatalf("Content-Type %q", got)
	}
	// The body is Go memory: it stays valid and changeable after the callback.
	resp.Body[0] = 0xff

	// An empty body, and a body with only NULs.
	for _, b := range [][]byte{nil, {0, 0, 0}} {
		req := rlc.NewRequest("PUT", "/echo")
		req.Body = b
		resp, err := c.Do(context.Background(), req, 0)
		if err != nil || !bytes.Equal(resp.Body, b) || resp.Body == nil {
			t.Fatalf("body %v: %v %v", b, err, resp)
		}
	}
}

func TestSubmitCallback(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL})
	type result struct {
		resp *rlc.Response
		err  error
	}
	ch := make(chan result, 1)
	id, err := c.Submit(get("/ok"), 5, func(r *rlc.Response, err error) { ch <- result{r, err} })
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if id == 0 {
		t.Fatal("request id 0")
	}
	select {
	case r := <-ch:
		if r.err != nil || r.resp.Status != 200 {
			t.Fatalf("callback got %v %v", r.resp, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no callback")
	}
	// Cancelling a finished request is ErrUnknownRequest.
	isCode(t, c.Cancel(id), rlc.ErrUnknownRequest)
}

// With CallbacksOnWorkers, every Submit still gets exactly one callback, from
// several threads at once, and Do works as before.
func TestCallbacksOnWorkers(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL, Workers: 4, CallbacksOnWorkers: true})
	const n = 200
	var wg sync.WaitGroup
	var calls, good atomic.Int64
	seen := sync.Map{}
	wg.Add(n)
	for i := 0; i < n; i++ {
		id, err := c.Submit(get("/ok"), 0, func(r *rlc.Response, err error) {
			defer wg.Done()
			calls.Add(1)
			if err == nil && r.Status == 200 {
				good.Add(1)
			}
		})
		if err != nil {
			t.Fatalf("Submit: %v", err)
		}
		if _, dup := seen.LoadOrStore(id, true); dup {
			t.Fatalf("id %d given twice", id)
		}
	}
	wg.Wait()
	if calls.Load() != n || good.Load() != n {
		t.Fatalf("%d callbacks, %d good; want %d", calls.Load(), good.Load(), n)
	}
	resp, err := c.Do(context.Background(), get("/ok"), 0)
	if err != nil || resp.Status != 200 {
		t.Fatalf("Do: %v %v", resp, err)
	}
}

func TestPriorities(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{
		BaseURL:   s.URL,
		RateLimit: &rlc.RateLimit{Max: 1, Window: 150 * time.Millisecond},
		Burst:     1,
		Workers:   1,
	})
	// The blocker takes the only token; everything after it queues behind the limit.
	if _, err := c.Do(context.Background(), get("/record?id=blocker"), 0); err != nil {
		t.Fatalf("blocker: %v", err)
	}
	order := []struct {
		id   string
		prio int
	}{{"a1", 1}, {"b5", 5}, {"c10", 10}, {"d5", 5}, {"e1", 1}, {"f10", 10}, {"g-3", -3}}
	var wg sync.WaitGroup
	for _, o := range order {
		wg.Add(1)
		_, err := c.Submit(get("/record?id="+o.id), o.prio, func(*rlc.Response, error) { wg.Done() })
		if err != nil {
			t.Fatalf("Submit %s: %v", o.id, err)
		}
	}
	within(t, 30*time.Second, "the queued requests", wg.Wait)
	want := "blocker,c10,f10,b5,d5,a1,e1,g-3"
	if got := joinIDs(s.arrivalOrder()); got != want {
		t.Fatalf("server saw %s, want %s (priority desc, FIFO among equals)", got, want)
	}
}

func TestQueueFull(t *testing.T) {
	s := newTestServer(t)
	c, err := rlc.NewClient(rlc.Config{
		BaseURL:      s.URL,
		RateLimit:    &rlc.RateLimit{Max: 1, Window: time.Minute},
		Workers:      1,
		MaxQueueSize: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), get("/record?id=blocker"), 0); err != nil {
		t.Fatalf("blocker: %v", err)
	}
	var calls sync.Map // id -> *int32
	accepted := 0
	var full error
	for i := 0; i < 10 && full == nil; i++ {
		var n int32
		id, err := c.Submit(get("/record?id=queued"), 0, func(_ *rlc.Response, err error) {
			atomic.AddInt32(&n, 1)
		})
		if err != nil {
			full = err
			break
		}
		calls.Store(id, &n)
		accepted++
	}
	isCode(t, full, rlc.ErrQueueFull)
	var e *rlc.Error
	errors.As(full, &e)
	if e.Message == "" {
		t.Fatal("ErrQueueFull without the library's message")
	}
	if accepted < 2 || accepted > 4 {
		t.Fatalf("%d accepted before the queue of 2 was full", accepted)
	}
	m, err := c.Metrics()
	if err != nil || m.QueueFull < 1 {
		t.Fatalf("metrics %+v %v", m, err)
	}
	within(t, 30*time.Second, "Close", func() { _ = c.Close() })
	calls.Range(func(k, v any) bool {
		if n := atomic.LoadInt32(v.(*int32)); n != 1 {
			t.Errorf("request %v: %d callbacks, want 1", k, n)
		}
		return true
	})
	if s.sawArrival("queued") {
		t.Fatal("a queued request was sent despite the limit")
	}
}

func TestCircuitBreaker(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{
		BaseURL: s.URL,
		Breaker: &rlc.Breaker{Threshold: 2, RecoveryTimeout: time.Minute},
		Retry:   &rlc.Retry{MaxRetries: 0},
	})
	var open error
	for i := 0; i < 10; i++ {
		resp, err := c.Do(context.Background(), get("/always503"), 0)
		if err != nil {
			open = err
			break
		}
		if resp.Status != 503 || resp.Attempts != 1 {
			t.Fatalf("status %d attempts %d, want 503 after 1", resp.Status, resp.Attempts)
		}
	}
	isCode(t, open, rlc.ErrCircuitOpen)
	if n := s.hitCount("/always503"); n < 2 || n > 3 {
		t.Fatalf("server hit %d times; the breaker should open after 2", n)
	}
	// Refused at submit, synchronously: Submit's callback is never called.
	called := make(chan struct{}, 1)
	_, err := c.Submit(get("/always503"), 0, func(*rlc.Response, error) { called <- struct{}{} })
	isCode(t, err, rlc.ErrCircuitOpen)
	m, err := c.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if m.BreakerState != rlc.BreakerOpen || m.CircuitOpen < 2 || m.HTTP5xx < 2 {
		t.Fatalf("metrics: state %v circuit_open %d 5xx %d", m.BreakerState, m.CircuitOpen, m.HTTP5xx)
	}
	select {
	case <-called:
		t.Fatal("callback called after a refused submit")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestRetries(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{
		BaseURL: s.URL,
		Retry:   &rlc.Retry{MaxRetries: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
		Breaker: &rlc.Breaker{Threshold: 0}, // off: this test is about retries
	})
	resp, err := c.Do(context.Background(), get("/flaky?key=get&fail=2"), 0)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.Status != 200 || resp.Attempts != 3 || string(resp.Body) != "call 3" {
		t.Fatalf("status %d attempts %d body %q, want 200 after 3", resp.Status, resp.Attempts, resp.Body)
	}
	// POST is not retried unless asked.
	resp, err = c.Do(context.Background(), rlc.NewRequest("POST", "/flaky?key=post&fail=2"), 0)
	if err != nil || resp.Status != 503 || resp.Attempts != 1 {
		t.Fatalf("POST without opt-in: %v %+v", err, resp)
	}
	req := rlc.NewRequest("POST", "/flaky?key=post-opt-in&fail=2")
	req.RetryNonIdempotent = true
	resp, err = c.Do(context.Background(), req, 0)
	if err != nil || resp.Status != 200 || resp.Attempts != 3 {
		t.Fatalf("POST with opt-in: %v %+v", err, resp)
	}
	// More failures than retries: the last response (503) comes back.
	resp, err = c.Do(context.Background(), get("/flaky?key=many&fail=10"), 0)
	if err != nil || resp.Status != 503 || resp.Attempts != 4 {
		t.Fatalf("exhausted retries: %v %+v", err, resp)
	}
	m, _ := c.Metrics()
	if m.Retries < 7 {
		t.Fatalf("metrics count %d retries, want >= 7", m.Retries)
	}
}

func slowLimitClient(t *testing.T, s *testServer) *rlc.Client {
	c := newClient(t, rlc.Config{
		BaseURL:   s.URL,
		RateLimit: &rlc.RateLimit{Max: 1, Window: time.Minute},
		Workers:   1,
	})
	if _, err := c.Do(context.Background(), get("/record?id=blocker"), 0); err != nil {
		t.Fatalf("blocker: %v", err)
	}
	return c
}

func TestCancelQueued(t *testing.T) {
	s := newTestServer(t)
	c := slowLimitClient(t, s)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, get("/record?id=queued"), 0)
		errc <- err
	}()
	eventually(t, "the request to be queued", func() bool {
		m, _ := c.Metrics()
		return m.QueueDepth >= 1
	})
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Do after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Do did not return after cancel")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancel of a queued request took %v", d)
	}

	// Submit + Cancel: the callback gets ErrCancelled, exactly once.
	got := make(chan error, 2)
	id, err := c.Submit(get("/record?id=queued2"), 0, func(_ *rlc.Response, err error) { got <- err })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(id); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	select {
	case err := <-got:
		isCode(t, err, rlc.ErrCancelled)
	case <-time.After(10 * time.Second):
		t.Fatal("no callback after Cancel")
	}
	isCode(t, c.Cancel(id), rlc.ErrUnknownRequest)
	isCode(t, c.Cancel(987654321), rlc.ErrUnknownRequest)
	if s.sawArrival("queued") || s.sawArrival("queued2") {
		t.Fatal("a cancelled request reached the server")
	}
	m, _ := c.Metrics()
	if m.Cancelled < 2 {
		t.Fatalf("metrics count %d cancelled, want >= 2", m.Cancelled)
	}
}

func TestCancelInFlight(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL, Retry: &rlc.Retry{MaxRetries: 0}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, get("/slow?ms=1000&id=inflight"), 0)
		errc <- err
	}()
	select {
	case <-s.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never arrived")
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Do after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Do did not return after cancelling an in-flight request")
	}
	eventually(t, "the cancel to be counted", func() bool {
		m, _ := c.Metrics()
		return m.Cancelled+m.Succeeded >= 1 && m.InFlight == 0
	})
}

func TestContextDeadline(t *testing.T) {
	s := newTestServer(t)
	c := slowLimitClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Do(ctx, get("/record?id=late"), 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 10*time.Second {
		t.Fatalf("Do returned after %v", d)
	}
	if s.sawArrival("late") {
		t.Fatal("the request reached the server after its deadline")
	}
}

func TestContextAlreadyDone(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Do(ctx, get("/ok"), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do: %v, want context.Canceled", err)
	}
	m, err := c.Metrics()
	if err != nil || m.Submitted != 0 {
		t.Fatalf("submitted %d (%v), want nothing submitted", m.Submitted, err)
	}
}

func TestTimeouts(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL, Retry: &rlc.Retry{MaxRetries: 0}})
	req := get("/slow?ms=3000&id=timeout")
	req.Timeout = 100 * time.Millisecond
	_, err := c.Do(context.Background(), req, 0)
	isCode(t, err, rlc.ErrTimeout)
	var e *rlc.Error
	errors.As(err, &e)
	if e.Message == "" || e.Attempts != 1 {
		t.Fatalf("timeout error %#v: want a message and 1 attempt", e)
	}

	// The library's own deadline bounds queueing too.
	lim := slowLimitClient(t, s)
	req = get("/record?id=deadline")
	req.Deadline = 100 * time.Millisecond
	_, err = lim.Do(context.Background(), req, 0)
	isCode(t, err, rlc.ErrTimeout)
}

func TestConnectError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newClient(t, rlc.Config{Retry: &rlc.Retry{MaxRetries: 0}})
	_, err = c.Do(context.Background(), get("http://"+addr+"/nothing"), 0)
	isCode(t, err, rlc.ErrConnect)
}

func TestConcurrentSubmitters(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL, Workers: 4})
	const goroutines, each = 16, 10
	var ok atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, goroutines*each)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-start
			for i := 0; i < each; i++ {
				resp, err := c.Do(context.Background(), get("/ok"), g%3)
				if err != nil {
					errs <- err
					continue
				}
				if resp.Status == 200 {
					ok.Add(1)
				}
			}
		}(g)
	}
	close(start)
	within(t, 60*time.Second, "16 goroutines", wg.Wait)
	close(errs)
	for err := range errs {
		t.Errorf("Do: %v", err)
	}
	if ok.Load() != goroutines*each || s.hitCount("/ok") != goroutines*each {
		t.Fatalf("%d ok, server saw %d, want %d", ok.Load(), s.hitCount("/ok"), goroutines*each)
	}
	m, _ := c.Metrics()
	if m.Submitted != goroutines*each || m.Succeeded != goroutines*each {
		t.Fatalf("metrics: submitted %d succeeded %d", m.Submitted, m.Succeeded)
	}
	if m.LatencyP50 <= 0 || m.LatencyP99 < m.LatencyP50 {
		t.Fatalf("latencies p50 %v p99 %v", m.LatencyP50, m.LatencyP99)
	}
}

func TestCloseWithPending(t *testing.T) {
	s := newTestServer(t)
	c, err := rlc.NewClient(rlc.Config{
		BaseURL:   s.URL,
		RateLimit: &rlc.RateLimit{Max: 1, Window: time.Minute},
		Workers:   1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), get("/record?id=blocker"), 0); err != nil {
		t.Fatalf("blocker: %v", err)
	}
	// 20 callbacks, counted per request.
	var mu sync.Mutex
	calls := make(map[rlc.RequestID]int)
	codes := make(map[rlc.RequestID]error)
	for i := 0; i < 20; i++ {
		var id rlc.RequestID
		idReady := make(chan struct{})
		id, err := c.Submit(get(fmt.Sprintf("/record?id=q%d", i)), i%4, func(_ *rlc.Response, err error) {
			<-idReady
			mu.Lock()
			calls[id]++
			codes[id] = err
			mu.Unlock()
		})
		if err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
		mu.Lock()
		calls[id] += 0
		mu.Unlock()
		close(idReady)
	}
	// 4 goroutines blocked in Do.
	doErrs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			_, err := c.Do(context.Background(), get("/record?id=do"), 0)
			doErrs <- err
		}()
	}
	eventually(t, "24 queued requests", func() bool {
		m, _ := c.Metrics()
		return m.QueueDepth+m.InFlight >= 24
	})
	// Close from several goroutines at once: each returns once all is done.
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}()
	}
	within(t, 30*time.Second, "Close", wg.Wait)

	mu.Lock()
	if len(calls) != 20 {
		t.Fatalf("%d requests tracked", len(calls))
	}
	for id, n := range calls {
		if n != 1 {
			t.Errorf("request %d: %d callbacks, want exactly 1", id, n)
		}
		if !errors.Is(codes[id], rlc.ErrShutdown) {
			t.Errorf("request %d completed with %v, want ErrShutdown", id, codes[id])
		}
	}
	mu.Unlock()
	for i := 0; i < 4; i++ {
		select {
		case err := <-doErrs:
			isCode(t, err, rlc.ErrShutdown)
		case <-time.After(10 * time.Second):
			t.Fatal("a Do call did not return after Close")
		}
	}
	// Everything after Close is refused, and Close stays idempotent.
	_, err = c.Submit(get("/ok"), 0, func(*rlc.Response, error) {})
	isCode(t, err, rlc.ErrShutdown)
	_, err = c.Do(context.Background(), get("/ok"), 0)
	isCode(t, err, rlc.ErrShutdown)
	isCode(t, c.Cancel(1), rlc.ErrShutdown)
	_, err = c.Metrics()
	isCode(t, err, rlc.ErrShutdown)
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := s.arrivalOrder(); len(got) != 1 {
		t.Fatalf("server saw %v; only the blocker should have gone", got)
	}
}

func TestCloseAndDoInsideCallback(t *testing.T) {
	s := newTestServer(t)
	c, err := rlc.NewClient(rlc.Config{
		BaseURL:   s.URL,
		RateLimit: &rlc.RateLimit{Max: 1, Window: time.Minute},
		Workers:   1,
	})
	if err != nil {
		t.Fatal(err)
	}
	doErr := make(chan error, 1)
	closeErr := make(chan error, 1)
	_, err = c.Submit(get("/record?id=first"), 10, func(*rlc.Response, error) {
		_, err := c.Do(context.Background(), get("/ok"), 0)
		doErr <- err
		closeErr <- c.Close() // must not deadlock: it does not wait here
	})
	if err != nil {
		t.Fatal(err)
	}
	var others sync.WaitGroup
	var shutdowns atomic.Int32
	for i := 0; i < 5; i++ {
		others.Add(1)
		_, err := c.Submit(get("/record?id=later"), 0, func(_ *rlc.Response, err error) {
			if errors.Is(err, rlc.ErrShutdown) {
				shutdowns.Add(1)
			}
			others.Done()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-doErr:
		isCode(t, err, rlc.ErrInvalidState)
	case <-time.After(10 * time.Second):
		t.Fatal("the callback never ran")
	}
	select {
	case err := <-closeErr:
		if err != nil {
			t.Fatalf("Close in a callback: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close inside a callback deadlocked")
	}
	within(t, 10*time.Second, "the remaining callbacks", others.Wait)
	if shutdowns.Load() != 5 {
		t.Fatalf("%d of 5 queued requests completed with ErrShutdown", shutdowns.Load())
	}
	within(t, 10*time.Second, "Close after Close-in-callback", func() { _ = c.Close() })
}

func TestCallbackPanicIsRecovered(t *testing.T) {
	s := newTestServer(t)
	type report struct {
		id    rlc.RequestID
		v     any
		stack []byte
	}
	reports := make(chan report, 1)
	c := newClient(t, rlc.Config{
		BaseURL: s.URL,
		OnCallbackPanic: func(id rlc.RequestID, v any, stack []byte) {
			reports <- report{id, v, stack}
		},
	})
	id, err := c.Submit(get("/ok"), 0, func(*rlc.Response, error) { panic("boom") })
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-reports:
		if r.id != id || r.v != "boom" || !bytes.Contains(r.stack, []byte("panic")) {
			t.Fatalf("report %v %v", r.id, r.v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the panic was not reported")
	}
	// The client still works.
	if resp, err := c.Do(context.Background(), get("/ok"), 0); err != nil || resp.Status != 200 {
		t.Fatalf("after a panic: %v %v", resp, err)
	}
}

func TestBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  rlc.Config
	}{
		{"bad base URL", rlc.Config{BaseURL: "not a url"}},
		{"base URL without scheme", rlc.Config{BaseURL: "example.com"}},
		{"zero rate", rlc.Config{RateLimit: &rlc.RateLimit{Max: 0, Window: time.Second}}},
		{"zero window", rlc.Config{RateLimit: &rlc.RateLimit{Max: 1}}},
		{"negative rate", rlc.Config{RateLimit: &rlc.RateLimit{Max: -1, Window: time.Second}}},
		{"burst without a rate limit", rlc.Config{Burst: 3}},
		{"negative workers", rlc.Config{Workers: -1}},
		{"too many workers", rlc.Config{Workers: 100000}},
		{"negative queue", rlc.Config{MaxQueueSize: -1}},
		{"negative timeout", rlc.Config{Timeout: -time.Second}},
		{"max delay below base", rlc.Config{Retry: &rlc.Retry{MaxRetries: 1, BaseDelay: time.Second, MaxDelay: time.Millisecond}}},
		{"CRLF in a default header", rlc.Config{DefaultHeaders: map[string]string{"X-A": "a\r\nX-Injected: 1"}}},
		{"NUL in a default header", rlc.Config{DefaultHeaders: map[string]string{"X-A": "a\x00b"}}},
		{"bad header name", rlc.Config{DefaultHeaders: map[string]string{"X A": "a"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := rlc.NewClient(tc.cfg)
			if err == nil {
				c.Close()
				t.Fatal("NewClient accepted it")
			}
			isCode(t, err, rlc.ErrInvalidArgument)
			var e *rlc.Error
			errors.As(err, &e)
			if e.Message == "" {
				t.Fatal("no message")
			}
			if strings.Contains(e.Message, "X-Injected") || strings.Contains(e.Message, "a\x00b") {
				t.Fatalf("the message quotes a header value: %q", e.Message)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	s := newTestServer(t)
	noBase := newClient(t, rlc.Config{})
	_, err := noBase.Do(context.Background(), get("/ok"), 0)
	isCode(t, err, rlc.ErrInvalidArgument)

	c := newClient(t, rlc.Config{BaseURL: s.URL})
	header := func(name, value string) *rlc.Request {
		r := get("/ok")
		r.Header.Set(name, value)
		return r
	}
	cases := []struct {
		name string
		req  *rlc.Request
		prio int
	}{
		{"nil request", nil, 0},
		{"bad method", rlc.NewRequest("GE T", "/ok"), 0},
		{"space in path", get("/o k"), 0},
		{"NUL in path", get("/ok\x00/evil"), 0},
		{"CRLF in header value", header("X-A", "a\r\nX-Injected: 1"), 0},
		{"NUL in header value", header("X-A", "a\x00b"), 0},
		{"bad header name", header("X:A", "a"), 0},
		{"negative timeout", &rlc.Request{Path: "/ok", Timeout: -1}, 0},
		{"priority out of range", get("/ok"), math.MaxInt32 + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Do(context.Background(), tc.req, tc.prio)
			isCode(t, err, rlc.ErrInvalidArgument)
		})
	}
	_, err = c.Submit(get("/ok"), 0, nil)
	isCode(t, err, rlc.ErrInvalidArgument)
	if n := s.hitCount("/ok"); n != 0 {
		t.Fatalf("a bad request reached the server (%d)", n)
	}
}

func TestMetricsAndPrometheus(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL, Retry: &rlc.Retry{MaxRetries: 0}})
	for _, p := range []string{"/ok", "/ok", "/status?code=404", "/always503"} {
		if _, err := c.Do(context.Background(), get(p), 0); err != nil {
			t.Fatal(err)
		}
	}
	m, err := c.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if m.Submitted != 4 || m.Succeeded != 2 || m.HTTP4xx != 1 || m.HTTP5xx != 1 {
		t.Fatalf("metrics %+v", m)
	}
	if m.BreakerState != rlc.BreakerClosed || m.BreakerState.String() != "closed" {
		t.Fatalf("breaker %v", m.BreakerState)
	}
	if m.TokensAvailable != math.MaxUint64 {
		t.Fatalf("tokens %d without a rate limit", m.TokensAvailable)
	}
	text, err := c.PrometheusMetrics()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "rlc_") {
		t.Fatalf("prometheus text: %q", text)
	}
}

func TestNameLabelsPrometheusMetrics(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL, Name: "orders"})
	if _, err := c.Do(context.Background(), get("/ok"), 0); err != nil {
		t.Fatal(err)
	}
	text, err := c.PrometheusMetrics()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`rlc_requests_submitted_total{client="orders"} 1`,
		`rlc_latency_seconds_count{client="orders"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("no %q in:\n%s", want, text)
		}
	}
	for _, bad := range []string{"line\nbreak", strings.Repeat("x", 129)} {
		_, err := rlc.NewClient(rlc.Config{Name: bad})
		isCode(t, err, rlc.ErrInvalidArgument)
	}
}

func TestErrorMatching(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &rlc.Error{Code: rlc.ErrTimeout, Message: "attempt took too long"})
	if !errors.Is(err, rlc.ErrTimeout) || errors.Is(err, rlc.ErrIO) {
		t.Fatal("errors.Is does not match on the code")
	}
	if !errors.Is(err, &rlc.Error{Code: rlc.ErrTimeout}) {
		t.Fatal("two *Error with the same code should match")
	}
	if got := err.Error(); got != "wrapped: rlc: RLC_E_TIMEOUT: attempt took too long" {
		t.Fatalf("Error() = %q", got)
	}
	codes := []rlc.Code{rlc.ErrInvalidArgument, rlc.ErrQueueFull, rlc.ErrCircuitOpen, rlc.ErrTimeout,
		rlc.ErrConnect, rlc.ErrTLS, rlc.ErrIO, rlc.ErrBodyTooLarge, rlc.ErrCancelled, rlc.ErrShutdown,
		rlc.ErrUnknownRequest, rlc.ErrInvalidState, rlc.ErrPanic, rlc.ErrRedirect}
	for i, c := range codes {
		if int(c) != i+1 || !strings.HasPrefix(c.String(), "RLC_E_") {
			t.Fatalf("code %d is %d %q", i+1, int(c), c.String())
		}
	}
}

func TestBodyTooLarge(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL, MaxResponseBytes: 16, Retry: &rlc.Retry{MaxRetries: 0}})
	req := rlc.NewRequest("POST", "/echo")
	req.Body = bytes.Repeat([]byte("x"), 1000)
	_, err := c.Do(context.Background(), req, 0)
	isCode(t, err, rlc.ErrBodyTooLarge)
}

func TestFinalizerBackstop(t *testing.T) {
	// A client dropped without Close is closed by its finalizer; this only checks
	// that doing so neither crashes nor races.
	for i := 0; i < 3; i++ {
		if _, err := rlc.NewClient(rlc.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a log destination that the completion thread writes to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestCallbackPanicIsLoggedWithoutAHook(t *testing.T) {
	s := newTestServer(t)
	var out syncBuffer
	log.SetOutput(&out)
	defer log.SetOutput(os.Stderr)
	c := newClient(t, rlc.Config{BaseURL: s.URL})
	if _, err := c.Submit(get("/ok"), 0, func(*rlc.Response, error) { panic("unhandled") }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the panic to be logged", func() bool {
		return strings.Contains(out.String(), "panicked (recovered): unhandled")
	})
	if resp, err := c.Do(context.Background(), get("/ok"), 0); err != nil || resp.Status != 200 {
		t.Fatalf("after a panic: %v %v", resp, err)
	}
}

// Close racing with 8 goroutines that submit as fast as they can: every accepted
// request gets exactly one callback, every refusal is ErrShutdown, and Close
// returns only after the last callback.
func TestCloseRacesWithSubmitters(t *testing.T) {
	s := newTestServer(t)
	c, err := rlc.NewClient(rlc.Config{BaseURL: s.URL, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var accepted, callbacks atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for { // until Close makes Submit fail
				_, err := c.Submit(get("/ok"), 0, func(*rlc.Response, error) { callbacks.Add(1) })
				if err != nil {
					if !errors.Is(err, rlc.ErrShutdown) {
						errs <- err
					}
					return
				}
				accepted.Add(1)
			}
		}()
	}
	eventually(t, "some traffic", func() bool { return accepted.Load() >= 50 })
	within(t, 30*time.Second, "Close under load", func() { _ = c.Close() })
	afterClose := callbacks.Load()
	within(t, 10*time.Second, "the submitters to stop", wg.Wait)
	close(errs)
	for err := range errs {
		t.Errorf("Submit during Close: %v", err)
	}
	if a, cb := accepted.Load(), callbacks.Load(); cb != a || afterClose != cb {
		t.Fatalf("%d accepted, %d callbacks (%d when Close returned)", a, cb, afterClose)
	}
}

// Close inside a callback while another goroutine is closing returns at once.
func TestCloseInsideCallbackDuringClose(t *testing.T) {
	s := newTestServer(t)
	c, err := rlc.NewClient(rlc.Config{BaseURL: s.URL, Retry: &rlc.Retry{MaxRetries: 0}})
	if err != nil {
		t.Fatal(err)
	}
	closing := make(chan struct{})
	inner := make(chan error, 1)
	_, err = c.Submit(get("/slow?ms=300&id=x"), 0, func(*rlc.Response, error) {
		<-closing
		time.Sleep(50 * time.Millisecond) // let the outer Close reach rlc_client_free
		inner <- c.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	<-s.arrived
	close(closing)
	within(t, 15*time.Second, "Close with a callback that closes", func() { _ = c.Close() })
	select {
	case err := <-inner:
		if err != nil {
			t.Fatalf("inner Close: %v", err)
		}
	default:
		t.Fatal("the outer Close returned before the callback ran")
	}
}

// TLS is verified by default: the server's certificate, from a CA of the test's
// own, is refused, unless a CA bundle trusts that CA.
func TestTLSVerifiedByDefault(t *testing.T) {
	caPEM, leaf := testPKI(t)
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello over TLS"))
	}))
	// Refused handshakes are logged by the server; keep that quiet.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	s.StartTLS()
	defer s.Close()

	c := newClient(t, rlc.Config{BaseURL: s.URL, Retry: &rlc.Retry{MaxRetries: 0}})
	_, err := c.Do(context.Background(), get("/"), 0)
	isCode(t, err, rlc.ErrTLS)

	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	trusting := newClient(t, rlc.Config{BaseURL: s.URL, CABundleFile: bundle})
	resp, err := trusting.Do(context.Background(), get("/"), 0)
	if err != nil || resp.Status != 200 || string(resp.Body) != "hello over TLS" {
		t.Fatalf("with the CA bundle: %v %+v", err, resp)
	}
	// A bundle that is not there is a bad config.
	_, err = rlc.NewClient(rlc.Config{CABundleFile: filepath.Join(t.TempDir(), "missing.pem")})
	isCode(t, err, rlc.ErrInvalidArgument)
}

// testPKI makes a CA (returned as PEM) and a server certificate for 127.0.0.1
// signed by it.
func testPKI(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rlc test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
}

// Do returns as soon as its context ends, without waiting for the attempt in
// flight (8 s at the server here); the completion that comes later is dropped and
// its callback still runs exactly once (Close, which waits for every callback,
// returns; a second delete of its handle would panic).
func TestDoReturnsAtOnceWhenCancelledInFlight(t *testing.T) {
	s := newTestServer(t)
	c, err := rlc.NewClient(rlc.Config{BaseURL: s.URL, Retry: &rlc.Retry{MaxRetries: 0}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		_, err := c.Do(ctx, get("/slow?ms=8000&id=long"), 0)
		done <- result{err, time.Now()}
	}()
	select {
	case <-s.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never arrived")
	}
	cancelled := time.Now()
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Do did not return")
	}
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Do: %v, want context.Canceled", r.err)
	}
	// Half the attempt's 8 s: far more than a return "at once" needs, far less
	// than waiting for the attempt.
	if d := r.at.Sub(cancelled); d > 4*time.Second {
		t.Fatalf("Do returned %v after the cancel: it waited for the attempt", d)
	}
	if m, _ := c.Metrics(); m.InFlight != 1 {
		t.Fatalf("in flight %d right after Do returned, want 1 (the attempt goes on)", m.InFlight)
	}
	within(t, 30*time.Second, "Close after the late completion", func() { _ = c.Close() })
}
