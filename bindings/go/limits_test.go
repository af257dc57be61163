package rlc_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rlc "github.com/rlc-project/rlc/bindings/go"
)

// limitsServer answers the routes of the mock API that tests/limits.rs uses:
// /ok, /down (always 503), /flaky/KEY/N[?status=S] (S, 503 by default, for the first
// N calls per key, then 200) and /hidden-limit/N (200 for at most N per rolling
// second, else a bare 429). received counts every request.
type limitsServer struct {
	*httptest.Server
	received atomic.Int64

	mu     sync.Mutex
	flaky  map[string]int
	hidden []time.Time
}

func newLimitsServer(t *testing.T) *limitsServer {
	t.Helper()
	s := &limitsServer{flaky: make(map[string]int)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *limitsServer) serve(w http.ResponseWriter, r *http.Request) {
	s.received.Add(1)
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case parts[0] == "ok":
		_, _ = w.Write([]byte("ok"))
	case parts[0] == "down":
		w.WriteHeader(http.StatusServiceUnavailable)
	case parts[0] == "flaky" && len(parts) == 3:
		n, _ := strconv.Atoi(parts[2])
		status := http.StatusServiceUnavailable
		if st := r.URL.Query().Get("status"); st != "" {
			status, _ = strconv.Atoi(st)
		}
		s.mu.Lock()
		s.flaky[parts[1]]++
		calls := s.flaky[parts[1]]
		s.mu.Unlock()
		if calls <= n {
			w.WriteHeader(status)
			return
		}
		_, _ = w.Write([]byte("ok after " + parts[2]))
	case parts[0] == "hidden-limit" && len(parts) == 2:
		n, _ := strconv.Atoi(parts[1])
		now := time.Now()
		s.mu.Lock()
		for len(s.hidden) > 0 && now.Sub(s.hidden[0]) >= time.Second {
			s.hidden = s.hidden[1:]
		}
		admitted := len(s.hidden) < n
		if admitted {
			s.hidden = append(s.hidden, now)
		}
		s.mu.Unlock()
		if !admitted {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte("ok"))
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// sendAll submits n requests for path at once and waits for them all.
func sendAll(t *testing.T, c *rlc.Client, path string, n int) []*rlc.Response {
	t.Helper()
	var wg sync.WaitGroup
	out := make([]*rlc.Response, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		i := i
		if _, err := c.Submit(get(path), 0, func(r *rlc.Response, err error) {
			out[i], errs[i] = r, err
			wg.Done()
		}); err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return out
}

func metrics(t *testing.T, c *rlc.Client) rlc.Metrics {
	t.Helper()
	m, err := c.Metrics()
	if err != nil {
		t.Fatalf("Metrics: %v", err)
	}
	return m
}

func TestWeightedRequestTakesItsCostFromEveryLimit(t *testing.T) {
	s := newLimitsServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL, RateLimit: &rlc.RateLimit{Max: 10, Window: time.Hour}})
	batch := get("/ok")
	batch.Cost = 7
	if resp, err := c.Do(context.Background(), batch, 0); err != nil || resp.Status != 200 {
		t.Fatalf("Do: %v %+v", err, resp)
	}
	if got := metrics(t, c).TokensAvailable; got != 3 {
		t.Fatalf("TokensAvailable = %d after a cost of 7 out of 10, want 3", got)
	}
	// More than any limit holds can never go: refused at submit, nothing spent.
	huge := get("/ok")
	huge.Cost = 11
	_, err := c.Submit(huge, 0, func(*rlc.Response, error) { t.Error("the callback of a refused submit ran") })
	isCode(t, err, rlc.ErrInvalidArgument)
	huge.Cost = -1
	_, err = c.Submit(huge, 0, func(*rlc.Response, error) { t.Error("the callback of a refused submit ran") })
	isCode(t, err, rlc.ErrInvalidArgument)
	if got := metrics(t, c).TokensAvailable; got != 3 || s.received.Load() != 1 {
		t.Fatalf("TokensAvailable = %d, received %d: want 3 and 1", got, s.received.Load())
	}
}

func TestFailingServerSeesNoMoreRetriesThanTheBudgetAllows(t *testing.T) {
	s := newLimitsServer(t)
	c := newClient(t, rlc.Config{
		BaseURL:     s.URL,
		RetryBudget: &rlc.RetryBudget{Percent: 20},
		Workers:     8,
		// The breaker would cut this short; the budget alone is under test.
		Breaker: &rlc.Breaker{Threshold: 0},
	})
	const n = 200
	for i, r := range sendAll(t, c, "/down", n) {
		if r.Status != 503 {
			t.Fatalf("request %d: status %d, want the last answer, 503", i, r.Status)
		}
	}
	m := metrics(t, c)
	// 3 retries each would be 600; the budget allows 20 % of the 200 first attempts.
	if m.Retries > 50 {
		t.Errorf("%d retries, want at most about 40", m.Retries)
	}
	if got := uint64(s.received.Load()); got != n+m.Retries {
		t.Errorf("the server received %d, want %d first attempts + %d retries", got, n, m.Retries)
	}
	if m.RetriesRefusedByBudget < 100 {
		t.Errorf("RetriesRefusedByBudget = %d, want at least 100", m.RetriesRefusedByBudget)
	}

	off := newClient(t, rlc.Config{BaseURL: s.URL, RetryBudget: &rlc.RetryBudget{}})
	if resp, err := off.Do(context.Background(), get("/down"), 0); err != nil || resp.Attempts != 1 {
		t.Fatalf("a zero budget retried: %v %+v", err, resp)
	}
}

func TestRetriedStatusesAndPerRequestRetriesAreTheCallersChoice(t *testing.T) {
	s := newLimitsServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL, RetryOnStatus: []int{500}})
	try := func(req *rlc.Request, status, attempts int) {
		t.Helper()
		resp, err := c.Do(context.Background(), req, 0)
		if err != nil || resp.Status != status || resp.Attempts != attempts {
			t.Fatalf("%s: %v %+v, want status %d after %d attempts", req.Path, err, resp, status, attempts)
		}
	}
	try(get("/flaky/five-hundred/2?status=500"), 200, 3)
	try(get("/flaky/not-503/1"), 503, 1) // 503 is no longer retried
	once := get("/flaky/once/5?status=500")
	one := 1
	once.MaxRetries = &one
	try(once, 500, 2)
	never := get("/flaky/never/5?status=500")
	zero := 0
	never.MaxRetries = &zero
	try(never, 500, 1)

	none := newClient(t, rlc.Config{BaseURL: s.URL, RetryOnStatus: []int{}})
	if resp, err := none.Do(context.Background(), get("/flaky/none/1"), 0); err != nil || resp.Attempts != 1 {
		t.Fatalf("an empty RetryOnStatus still retried: %v %+v", err, resp)
	}
	for _, codes := range [][]int{{99}, {500, 600}} {
		_, err := rlc.NewClient(rlc.Config{BaseURL: s.URL, RetryOnStatus: codes})
		isCode(t, err, rlc.ErrInvalidArgument)
	}
}

func TestLiveLimitChangeTakesEffectAtOnce(t *testing.T) {
	s := newLimitsServer(t)
	c := newClient(t, rlc.Config{
		BaseURL:   s.URL,
		RateLimit: &rlc.RateLimit{Max: 1, Window: time.Hour},
		Retry:     &rlc.Retry{MaxRetries: 0},
	})
	if got := metrics(t, c).RateLimit; got != 1 {
		t.Fatalf("RateLimit = %d, want 1", got)
	}
	if _, err := c.Do(context.Background(), get("/ok"), 0); err != nil {
		t.Fatalf("Do: %v", err)
	}
	// The hour's only token is spent: the next two wait until the limit is raised.
	done := make(chan error, 2)
	for i := 0; i < 2; i++ {
		if _, err := c.Submit(get("/ok"), 0, func(_ *rlc.Response, err error) { done <- err }); err != nil {
			t.Fatalf("Submit: %v", err)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("a request went without a token: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := c.SetRateLimit(100, time.Second); err != nil {
		t.Fatalf("SetRateLimit: %v", err)
	}
	for i := 0; i < 2; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the raised limit did not release the waiting requests")
		}
	}
	if got := metrics(t, c).RateLimit; got != 100 {
		t.Fatalf("RateLimit = %d after SetRateLimit(100, 1s), want 100", got)
	}
	isCode(t, c.SetRateLimit(0, time.Second), rlc.ErrInvalidArgument)
	isCode(t, c.SetRateLimit(10, 0), rlc.ErrInvalidArgument)
	isCode(t, c.SetRateLimit(10, -time.Second), rlc.ErrInvalidArgument)
	isCode(t, c.SetRateLimit(-1, time.Second), rlc.ErrInvalidArgument)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	isCode(t, c.SetRateLimit(10, time.Second), rlc.ErrShutdown)
}

func TestAdaptiveLimitingFindsALimitNobodyPublished(t *testing.T) {
	s := newLimitsServer(t)
	// 40/s configured; the server takes 20 per rolling second and says nothing.
	c := newClient(t, rlc.Config{
		BaseURL:   s.URL,
		RateLimit: &rlc.RateLimit{Max: 40, Window: time.Second},
		Burst:     1,
		Retry:     &rlc.Retry{MaxRetries: 0},
		Adaptive:  true,
	})
	throttled := 0
	for _, r := range sendAll(t, c, "/hidden-limit/20", 120) {
		if r.Status == 429 {
			throttled++
		}
	}
	m := metrics(t, c)
	if m.RateLimit >= 40 || m.RateLimit < 10 {
		t.Errorf("RateLimit = %d, want it down from 40 but not below 10", m.RateLimit)
	}
	// A fixed 40/s client would see about half its requests refused.
	if throttled > 40 {
		t.Errorf("%d of 120 throttled", throttled)
	}
	_, err := rlc.NewClient(rlc.Config{BaseURL: s.URL, Adaptive: true})
	isCode(t, err, rlc.ErrInvalidArgument) // adaptive needs a rate limit to start from
}
