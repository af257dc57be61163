// Go peer: net/http (bare) and net/http + golang.org/x/time/rate.
//
//	peer-go bare      URL REQUESTS CONCURRENCY [MAX_SECS]
//	peer-go limited   URL REQUESTS CONCURRENCY [MAX_SECS]  # rate.Inf: on the path, never binding
//	peer-go precision URL RATE SECS CONCURRENCY  # rate.NewLimiter(RATE, 1): burst 1
//
// Throughput modes stop after REQUESTS or MAX_SECS (default 5), whichever comes
// first, and print one JSON line. Precision mode sends RATE x SECS + 0.3 s worth
// of requests through the limiter to the counter server at URL, which records the
// arrival times (judged afterwards by rlc-bench-precision --analyse).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

func client(conc int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// One idle connection per goroutine, as the raw-ureq baseline and rlc keep.
	t.MaxIdleConns = conc * 4
	t.MaxIdleConnsPerHost = conc
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

func get(c *http.Client, url string) bool {
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err == nil && resp.StatusCode == 200
}

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

func throughput(name, url string, n, conc int, lim *rate.Limiter, maxSecs float64) {
	c := client(conc)
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ { // warm-up: one connection per goroutine
		wg.Add(1)
		go func() { defer wg.Done(); get(c, url) }()
	}
	wg.Wait()
	var next, ok, errs int64
	lats := make([][]int64, conc)
	start := time.Now()
	deadline := start.Add(time.Duration(maxSecs * float64(time.Second)))
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for atomic.AddInt64(&next, 1) <= int64(n) && time.Now().Before(deadline) {
				t := time.Now()
				if lim != nil {
					_ = lim.Wait(context.Background())
				}
				if get(c, url) {
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
	fmt.Fprintf(os.Stderr, "peer %28s conc %d: %9.0f req/s, errors %d\n", name, conc, rps, errs)
	out, _ := json.Marshal(map[string]any{
		"bench": "peer_throughput", "impl": name, "runtime": "go", "concurrency": conc,
		"requests": ok + errs, "ok": ok, "errors": errs, "secs": secs, "rps": rps,
		"p50_us": float64(pct(all, 0.5)) / 1e3, "p99_us": float64(pct(all, 0.99)) / 1e3,
		"version": runtime.Version() + ", GOMAXPROCS " + strconv.Itoa(runtime.GOMAXPROCS(0)),
		"loadavg": loadavg(),
	})
	fmt.Println(string(out))
}

func precision(url string, r int, secs float64, conc int) {
	lim := rate.NewLimiter(rate.Limit(r), 1)
	total := int64(1 + int(float64(r)*secs) + max(20, int(float64(r)*0.3)))
	c := client(conc)
	var wg sync.WaitGroup
	var left = total
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&left, -1) >= 0 {
				_ = lim.Wait(context.Background())
				get(c, url+"/p")
			}
		}()
	}
	wg.Wait()
}

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: peer-go bare|limited URL REQUESTS CONCURRENCY | precision URL RATE SECS CONCURRENCY")
		os.Exit(2)
	}
	mode, url := os.Args[1], strings.TrimRight(os.Args[2], "/")
	switch mode {
	case "bare", "limited":
		n, _ := strconv.Atoi(os.Args[3])
		conc, _ := strconv.Atoi(os.Args[4])
		maxSecs := 5.0
		if len(os.Args) > 5 {
			maxSecs, _ = strconv.ParseFloat(os.Args[5], 64)
		}
		if mode == "bare" {
			throughput("go-nethttp", url+"/", n, conc, nil, maxSecs)
		} else {
			throughput("go-nethttp+x/time/rate", url+"/", n, conc, rate.NewLimiter(rate.Inf, 1), maxSecs)
		}
	case "precision":
		r, _ := strconv.Atoi(os.Args[3])
		secs, _ := strconv.ParseFloat(os.Args[4], 64)
		conc, _ := strconv.Atoi(os.Args[5])
		precision(url, r, secs, conc)
	default:
		os.Exit(2)
	}
}
