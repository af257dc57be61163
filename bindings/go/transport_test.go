package rlc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	rlc "github.com/rlc-project/rlc/bindings/go"
)

// plainHTTPClient is how SDKs take a client: a *http.Client, here with rlc's
// Transport, and cookies and redirects left to rlc (none followed by net/http).
func plainHTTPClient(c *rlc.Client) *http.Client {
	return &http.Client{
		Transport:     c.Transport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// echoSDK is code written for net/http, knowing nothing of rlc: it posts a
// payload and decodes the JSON the /json route answers.
type echoSDK struct {
	hc   *http.Client
	base string
}

func (s echoSDK) Post(ctx context.Context, payload any) (map[string]any, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/json", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	var out map[string]any
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

func TestTransportResponseIsWhatNetHTTPReturns(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL, Retry: &rlc.Retry{MaxRetries: 0}})
	hc := plainHTTPClient(c)

	req, _ := http.NewRequest("GET", s.URL+"/ok", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET /ok: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Status != "200 OK" || string(body) != "ok" ||
		resp.ContentLength != 2 || resp.ProtoMajor != 1 || resp.Request != req {
		t.Fatalf("got %d %q body %q length %d proto %d request %p, want 200 \"200 OK\" \"ok\" 2 1 %p",
			resp.StatusCode, resp.Status, body, resp.ContentLength, resp.ProtoMajor, resp.Request, req)
	}
	if resp.Header.Get("X-Test") != "yes" || len(resp.Header.Values("X-Two")) != 2 {
		t.Fatalf("headers %v", resp.Header)
	}

	// Any status is a response, as with net/http's own Transport.
	resp, err = hc.Get(s.URL + "/status?code=404")
	if err != nil || resp.StatusCode != 404 || resp.Status != "404 Not Found" {
		t.Fatalf("GET 404: %v %+v", err, resp)
	}
	resp.Body.Close()

	// Credentials in the URL become Basic auth, as with net/http's Transport.
	resp, err = hc.Get(strings.Replace(s.URL, "http://", "http://ada:s3cret@", 1) + "/echo")
	if err != nil {
		t.Fatalf("GET with userinfo: %v", err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Echo-Authorization"); got != "Basic YWRhOnMzY3JldA==" {
		t.Fatalf("Authorization = %q, want Basic auth of ada:s3cret", got)
	}

	// Method, headers and body go through; a relative URL is joined to BaseURL
	// when RoundTrip is called directly.
	req, _ = http.NewRequest("PUT", "/echo", strings.NewReader("payload"))
	req.Header.Set("X-Custom", "v1")
	resp, err = c.Transport().RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip PUT /echo: %v", err)
	}
	body, _ = io.ReadAll(resp.Body)
	if string(body) != "payload" || resp.Header.Get("X-Method") != "PUT" ||
		resp.Header.Get("X-Echo-X-Custom") != "v1" {
		t.Fatalf("echo: body %q headers %v", body, resp.Header)
	}
}

// Code written for net/http works unchanged over rlc's Transport.
func TestTransportUnderCodeWrittenForNetHTTP(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL})
	sdk := echoSDK{hc: plainHTTPClient(c), base: s.URL}
	out, err := sdk.Post(context.Background(), map[string]any{"name": "ada", "n": 3})
	if err != nil {
		t.Fatalf("sdk.Post: %v", err)
	}
	body, _ := out["body"].(map[string]any)
	if out["method"] != "POST" || out["contentType"] != "application/json" ||
		body["name"] != "ada" || body["n"] != float64(3) {
		t.Fatalf("the server saw %v", out)
	}
	if m, _ := c.Metrics(); m.Submitted != 1 || m.Succeeded != 1 {
		t.Fatalf("the request did not go through rlc: submitted %d succeeded %d", m.Submitted, m.Succeeded)
	}
}

// The body is read once and every retry sends the same bytes.
func TestTransportReplaysTheBodyOnRetries(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL,
		Retry: &rlc.Retry{MaxRetries: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}})
	body := readCounter{r: strings.NewReader("the same bytes")}
	req, _ := http.NewRequest("POST", s.URL+"/flaky?key=replay&fail=2", io.NopCloser(&body))
	req.Header.Set("Idempotency-Key", "k1") // so the POST may be retried
	resp, err := plainHTTPClient(c).Do(req)
	if err != nil {
		t.Fatalf("POST /flaky: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d after retries", resp.StatusCode)
	}
	got := s.bodiesFor("replay")
	if len(got) != 3 {
		t.Fatalf("the server saw %d attempts, want 3 (2 failures, then success)", len(got))
	}
	for i, b := range got {
		if b != "the same bytes" {
			t.Fatalf("attempt %d sent %q", i+1, b)
		}
	}
	if body.eofs != 1 {
		t.Fatalf("the body was read to its end %d times, want once", body.eofs)
	}
}

// readCounter counts how often its reader was read to the end.
type readCounter struct {
	r    io.Reader
	eofs int
}

func (rc *readCounter) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	if err == io.EOF {
		rc.eofs++
	}
	return n, err
}

// rlc.WithPriority on the request's context orders requests that wait together.
func TestTransportPriorityFromContext(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL, Workers: 1})
	var gateOnce sync.Once
	openGate := func() { gateOnce.Do(func() { close(s.gate) }) }
	t.Cleanup(openGate) // before Close (cleanups run last first): Close waits for /gate
	// The only worker is held at the server until the gate opens; meanwhile the
	// four requests below queue up.
	var wg sync.WaitGroup
	wg.Add(1)
	if _, err := c.Submit(get("/gate?id=hold"), 0, func(*rlc.Response, error) { wg.Done() }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the holding request never arrived")
	}
	hc := plainHTTPClient(c)
	errs := make(chan error, 4)
	for _, p := range []int{1, 50, 10, 100} {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			ctx := rlc.WithPriority(context.Background(), p)
			req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/record?id=p%d", s.URL, p), nil)
			resp, err := hc.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errs <- err
		}(p)
	}
	eventually(t, "four queued requests", func() bool {
		m, _ := c.Metrics()
		return m.QueueDepth == 4
	})
	openGate()
	within(t, 30*time.Second, "the queued requests", wg.Wait)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, want := joinIDs(s.arrivalOrder()), "p100,p50,p10,p1"; got != want {
		t.Fatalf("server saw %s, want %s (higher priority first)", got, want)
	}
}

// The context's deadline bounds the request inside rlc: one that cannot get a
// token in time never reaches the server, and the error is the context's.
func TestTransportContextDeadline(t *testing.T) {
	s := newTestServer(t)
	c := slowLimitClient(t, s) // the next token is a minute away
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/record?id=late", nil)
	_, err := plainHTTPClient(c).Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do: %v, want context.DeadlineExceeded", err)
	}
	eventually(t, "the request to end in rlc", func() bool {
		m, _ := c.Metrics()
		return m.QueueDepth == 0
	})
	if s.sawArrival("late") {
		t.Fatal("the request reached the server after its deadline")
	}
}
