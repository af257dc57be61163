// rlc's Go binding (bindings/go) driven like the Go peer, for the side-by-side table.
// Built by run-peers.sh only when bindings/go exists.
//
//	peer-go-binding binding   URL REQUESTS CONCURRENCY [MAX_SECS] # workers = CONCURRENCY, Do() from 4x as many goroutines
//	peer-go-binding precision URL RATE SECS CONCURRENCY # RATE/s, burst 1
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rlc "github.com/rlc-project/rlc/bindings/go"
)

func pct(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted)) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return sorted[rank-1]
}

func loadavg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}

func do(c *rlc.Client, path string) bool {
	r, err := c.Do(context.Background(), rlc.NewRequest("GET", path), 0)
	return err == nil && r.Status == 200
}

func throughput(url string, n, conc int, maxSecs float64) {
	c, err := rlc.NewClient(rlc.Config{BaseURL: url, Workers: conc, MaxQueueSize: n + 1024})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	callers := conc * 4 // keep the queue fed, as the Rust and C programs do
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); do(c, "/") }()
	}
	wg.Wait()
	var next, ok, errs int64
	lats := make([][]int64, callers)
	start := time.Now()
	deadline := start.Add(time.Duration(maxSecs * float64(time.Second)))
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for atomic.AddInt64(&next, 1) <= int64(n) && time.Now().Before(deadline) {
				t := time.Now()
				if do(c, "/") {
					atomic.AddInt64(&ok, 1)
				} else {
					atomic.AddInt64(&errs, 1)
				}
				lats[i] = append(lats[i], time.Since(t).Nanoseconds())
			}
		}(i)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var all []int64
	for _, l := range lats {
		all = append(all, l...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	rps := float64(ok) / secs
	fmt.Fprintf(os.Stderr, "peer %28s conc %d: %9.0f req/s, errors %d\n", "go-rlc-binding", conc, rps, errs)
	out, _ := json.Marshal(map[string]any{
		"bench": "peer_throughput", "impl": "go-rlc-binding", "runtime": "go", "concurrency": conc,
		"requests": ok + errs, "ok": ok, "errors": errs, "secs": secs, "rps": rps,
		"p50_us": float64(pct(all, 0.5)) / 1e3, "p99_us": float64(pct(all, 0.99)) / 1e3,
		"version": runtime.Version() + ", rlc " + rlc.Version(), "loadavg": loadavg(),
	})
	fmt.Println(string(out))
}

func precision(url string, r int, secs float64, conc int) {
	total := 1 + int(float64(r)*secs) + max(20, int(float64(r)*0.3))
	c, err := rlc.NewClient(rlc.Config{
		BaseURL: url, Workers: conc, MaxQueueSize: total + 16,
		RateLimit: &rlc.RateLimit{Max: r, Window: time.Second}, Burst: 1,
	})
	if err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < total; i++ {
		wg.Add(1)
		if _, err := c.Submit(rlc.NewRequest("GET", "/p"), 0, func(*rlc.Response, error) { wg.Done() }); err != nil {
			panic(err)
		}
	}
	wg.Wait()
	c.Close()
}

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: peer-go-binding binding URL REQUESTS CONCURRENCY | precision URL RATE SECS CONCURRENCY")
		os.Exit(2)
	}
	url := strings.TrimRight(os.Args[2], "/")
	switch os.Args[1] {
	case "binding":
		n, _ := strconv.Atoi(os.Args[3])
		conc, _ := strconv.Atoi(os.Args[4])
		maxSecs := 5.0
		if len(os.Args) > 5 {
			maxSecs, _ = strconv.ParseFloat(os.Args[5], 64)
		}
		throughput(url, n, conc, maxSecs)
	case "precision":
		r, _ := strconv.Atoi(os.Args[3])
		secs, _ := strconv.ParseFloat(os.Args[4], 64)
		conc, _ := strconv.Atoi(os.Args[5])
		precision(url, r, secs, conc)
	default:
		os.Exit(2)
	}
}
