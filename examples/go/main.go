// A small program that uses rlc from Go: it sends a few requests to an API without
// breaking its rate limit, with priorities, retries and a timeout, then prints the
// client's metrics.
//
// Build librlc first, from the repository root:
//
//	cargo build --release --lib && ln -sf librlc.so target/release/librlc.so.0
//
// then, here:
//
//	go run . http://127.0.0.1:8080        # or: RLC_BASE_URL=http://... go run .
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	rlc "github.com/rlc-project/rlc/bindings/go"
)

func main() {
	// The API's base URL: the first argument, or $RLC_BASE_URL.
	baseURL := os.Getenv("RLC_BASE_URL")
	if len(os.Args) > 1 {
		baseURL = os.Args[1]
	}
	if baseURL == "" {
		fmt.Fprintln(os.Stderr, "usage: example BASE_URL   (or set RLC_BASE_URL)")
		os.Exit(2)
	}

	// One client per API. Zero fields keep the library's defaults; note that
	// there is no rate limit unless you set one.
	client, err := rlc.NewClient(rlc.Config{
		BaseURL:   baseURL,
		RateLimit: &rlc.RateLimit{Max: 5, Window: time.Second}, // at most 5 per second
		Retry:     &rlc.Retry{MaxRetries: 3, BaseDelay: 100 * time.Millisecond},
		Timeout:   10 * time.Second, // per attempt
		DefaultHeaders: map[string]string{
			"Accept": "application/json",
		},
	})
	if err != nil {
		log.Fatalf("rlc: %v", err)
	}
	// Close waits for every request still queued or in flight to complete.
	defer client.Close()

	// 1. A blocking request, bounded by a context.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := client.Do(ctx, rlc.NewRequest("GET", "/"), 0)
	switch {
	case errors.Is(err, rlc.ErrCircuitOpen):
		log.Fatal("the API is down (circuit breaker open)")
	case err != nil:
		log.Fatalf("GET /: %v", err) // an *rlc.Error, or ctx.Err()
	}
	// Any HTTP status is a response, not an error: check it.
	fmt.Printf("GET / -> %d after %d attempt(s), %d bytes\n", resp.Status, resp.Attempts, len(resp.Body))

	// 2. Many requests at once, with priorities: higher numbers go first when
	// the rate limit makes them wait.
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		priority := 0
		if i%5 == 0 {
			priority = 10 // urgent
		}
		req := rlc.NewRequest("GET", fmt.Sprintf("/?n=%d", i))
		req.Header.Set("X-Request-Number", fmt.Sprint(i))
		wg.Add(1)
		// The callback runs on the client's completion thread: keep it short.
		_, err := client.Submit(req, priority, func(resp *rlc.Response, err error) {
			defer wg.Done()
			if err != nil {
				fmt.Printf("request %d (priority %d) failed: %v\n", i, priority, err)
				return
			}
			fmt.Printf("request %d (priority %d) -> %d\n", i, priority, resp.Status)
		})
		if err != nil { // refused at once (queue full, breaker open): no callback
			wg.Done()
			fmt.Printf("request %d refused: %v\n", i, err)
		}
	}
	wg.Wait()

	// 3. What happened.
	m, err := client.Metrics()
	if err == nil {
		fmt.Printf("submitted %d, succeeded %d, 4xx %d, 5xx %d, retries %d, p50 %v, p99 %v\n",
			m.Submitted, m.Succeeded, m.HTTP4xx, m.HTTP5xx, m.Retries, m.LatencyP50, m.LatencyP99)
	}
}
