package rlc_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	rlc "github.com/rlc-project/rlc/bindings/go"
)

// eventLog collects what the completion thread delivers, events and completions
// alike, in the order it delivered them.
type eventLog struct {
	mu    sync.Mutex
	lines []string
	all   []rlc.Event
}

func (l *eventLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *eventLog) onEvent(e rlc.Event) {
	var line string
	switch e.Kind {
	case rlc.EventBreaker:
		line = fmt.Sprintf("breaker %v->%v", e.BreakerFrom, e.BreakerTo)
	case rlc.EventRetry:
		line = fmt.Sprintf("retry %d %d %s", e.Attempt, e.Status, e.Reason.String())
	case rlc.EventPause:
		line = fmt.Sprintf("pause %d %s %v", e.Status, e.Header, e.Capped)
	case rlc.EventDropped:
		line = fmt.Sprintf("dropped %v %s", e.ID != 0, e.Reason.String())
	default:
		line = e.Kind.String()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	l.all = append(l.all, e)
}

func (l *eventLog) snapshot() ([]string, []rlc.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...), append([]rlc.Event(nil), l.all...)
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("delivered\n  %q\nwant\n  %q", got, want)
	}
}

func TestEventsRetriesComeBeforeTheirCompletion(t *testing.T) {
	s := newTestServer(t)
	var l eventLog
	c := newClient(t, rlc.Config{
		BaseURL: s.URL,
		Retry:   &rlc.Retry{MaxRetries: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
		OnEvent: l.onEvent,
	})
	done := make(chan struct{})
	id, err := c.Submit(get("/flaky?key=events&fail=2"), 0, func(r *rlc.Response, err error) {
		if err != nil {
			l.add("done " + err.Error())
		} else {
			l.add(fmt.Sprintf("done %d", r.Status))
		}
		close(done)
	})
	if err != nil {
		t.Fatal(err)
	}
	<-done
	lines, events := l.snapshot()
	wantLines(t, lines, "retry 1 503 RLC_OK", "retry 2 503 RLC_OK", "done 200")
	for _, e := range events {
		if e.ID != id || e.Delay < 0 || e.Delay > 5*time.Millisecond || e.Kind.String() != "retry" {
			t.Errorf("retry event %+v: want ID %d and a delay within the policy", e, id)
		}
	}
}

func TestEventsTheBreakersRoundIsDeliveredAndLogged(t *testing.T) {
	s := newTestServer(t)
	var l eventLog
	var out syncBuffer
	recovery := 50 * time.Millisecond
	c, err := rlc.NewClient(rlc.Config{
		BaseURL: s.URL,
		Retry:   &rlc.Retry{MaxRetries: 0},
		Breaker: &rlc.Breaker{Threshold: 1, RecoveryTimeout: recovery},
		OnEvent: l.onEvent,
		Logger:  slog.New(slog.NewTextHandler(&out, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), get("/status?code=500"), 0); err != nil {
		t.Fatal(err)
	}
	_, err = c.Submit(get("/ok"), 0, func(*rlc.Response, error) { t.Error("a refused request was called back") })
	isCode(t, err, rlc.ErrCircuitOpen)
	time.Sleep(2 * recovery)
	if _, err := c.Do(context.Background(), get("/ok"), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	lines, _ := l.snapshot()
	wantLines(t, lines,
		"breaker closed->open",
		"dropped false RLC_E_CIRCUIT_OPEN",
		"breaker open->half-open",
		"breaker half-open->closed")
	text := out.String()
	for _, want := range []string{
		`level=WARN msg="rlc: circuit breaker open" from=closed to=open`,
		`level=WARN msg="rlc: request dropped" reason=RLC_E_CIRCUIT_OPEN`,
		`level=WARN msg="rlc: circuit breaker closed" from=half-open to=closed`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the log lacks %q:\n%s", want, text)
		}
	}
}

func TestEventsPausesAreDeliveredAndLoggedAtInfo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	var l eventLog
	var out syncBuffer
	c := newClient(t, rlc.Config{
		BaseURL:        srv.URL,
		Retry:          &rlc.Retry{MaxRetries: 0},
		MaxServerPause: 100 * time.Millisecond,
		OnEvent:        l.onEvent,
		Logger:         slog.New(slog.NewJSONHandler(&out, nil)),
	})
	if _, err := c.Do(context.Background(), get("/"), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	lines, events := l.snapshot()
	wantLines(t, lines, "pause 429 Retry-After true")
	if d := events[0].Delay; d != 100*time.Millisecond {
		t.Errorf("the pause lasts %v, want the 100ms cap", d)
	}
	want := `"level":"INFO","msg":"rlc: server asked to pause","delay":100000000,"status":429,"header":"Retry-After","capped":true`
	if !strings.Contains(out.String(), want) {
		t.Errorf("the log lacks %s:\n%s", want, out.String())
	}
}

func TestEventsDroppedRequestsSayWhy(t *testing.T) {
	s := newTestServer(t)
	var l eventLog
	c := newClient(t, rlc.Config{BaseURL: s.URL, Workers: 1, MaxQueueSize: 1, OnEvent: l.onEvent})
	results := make(chan error, 2)
	record := func(_ *rlc.Response, err error) { results <- err }
	if _, err := c.Submit(get("/slow?ms=300&id=busy"), 0, record); err != nil {
		t.Fatal(err)
	}
	<-s.arrived // the one worker is busy
	short := get("/ok")
	short.Deadline = 50 * time.Millisecond
	shortID, err := c.Submit(short, 0, record)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Submit(get("/ok"), 0, func(*rlc.Response, error) { t.Error("a refused request was called back") })
	isCode(t, err, rlc.ErrQueueFull)
	<-results
	<-results
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	lines, events := l.snapshot()
	wantLines(t, lines, "dropped false RLC_E_QUEUE_FULL", "dropped true RLC_E_TIMEOUT")
	if events[1].ID != shortID {
		t.Errorf("the dropped request is %d, want %d", events[1].ID, shortID)
	}
}

func TestEventsHandlerPanicIsRecoveredAndLogged(t *testing.T) {
	s := newTestServer(t)
	var out syncBuffer
	log.SetOutput(&out)
	defer log.SetOutput(os.Stderr)
	c := newClient(t, rlc.Config{
		BaseURL: s.URL,
		Retry:   &rlc.Retry{MaxRetries: 1, BaseDelay: time.Millisecond},
		OnEvent: func(rlc.Event) { panic("a watcher's bug") },
	})
	resp, err := c.Do(context.Background(), get("/flaky?key=panic&fail=1"), 0)
	if err != nil || resp.Status != 200 || resp.Attempts != 2 {
		t.Fatalf("after a panicking handler: %v %v", resp, err)
	}
	if !strings.Contains(out.String(), "the event handler panicked on a retry event (recovered): a watcher's bug") {
		t.Errorf("the panic was not logged:\n%s", out.String())
	}
}

func TestEventsDoAndCloseInsideTheHandler(t *testing.T) {
	s := newTestServer(t)
	var client sync.Map // the handler finds its client here, once made
	inside := make(chan error, 1)
	c, err := rlc.NewClient(rlc.Config{
		BaseURL: s.URL,
		Retry:   &rlc.Retry{MaxRetries: 1, BaseDelay: time.Millisecond},
		OnEvent: func(e rlc.Event) {
			v, _ := client.Load("c")
			c := v.(*rlc.Client)
			_, err := c.Do(context.Background(), get("/ok"), 0)
			inside <- err
			_ = c.Close() // inside the handler: returns at once
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	client.Store("c", c)
	within(t, 10*time.Second, "a request whose retry closes the client", func() {
		// The shutdown starts on rlc's closing thread: the retry may or may not
		// have been sent by then, but the request completes either way.
		resp, err := c.Do(context.Background(), get("/flaky?key=close&fail=1"), 0)
		if err != nil && !errors.Is(err, rlc.ErrShutdown) {
			t.Errorf("the request closed under its retry: %v %v", resp, err)
		}
		if err := <-inside; !errors.Is(err, rlc.ErrInvalidState) {
			t.Errorf("Do inside the handler: %v, want ErrInvalidState", err)
		}
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
}
