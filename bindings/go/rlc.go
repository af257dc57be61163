// Package rlc is the Go binding of rlc, a rate-limited HTTP client written in Rust
// and shipped as the C library librlc.
//
// A [Client] takes requests with a priority, keeps them in a priority queue, sends
// them without breaking the API's rate limit, retries transient failures with
// jittered exponential backoff, stops hammering a server that is down (a circuit
// breaker), and reports what happened through [Client.Metrics].
//
//	client, err := rlc.NewClient(rlc.Config{
//		BaseURL:   "https://api.example.com",
//		RateLimit: &rlc.RateLimit{Max: 10, Window: time.Second},
//	})
//	if err != nil { ... }
//	defer client.Close()
//	resp, err := client.Do(ctx, rlc.NewRequest("GET", "/users/1"), 0)
//
// # Linking
//
// The package carries its own copy of rlc.h (a test keeps it identical to the
// repository's include/rlc.h) and links librlc through pkg-config: after `make
// install PREFIX=/usr/local` (with PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig for a
// prefix pkg-config does not search) a plain `go build` works from the module
// cache. Inside the rlc repository, the build tag rlc_inrepo links
// ../../target/release/librlc.so instead, with an rpath (`make test-go` uses it).
// See README.md.
//
// # Callbacks and threads
//
// The library calls every completion on one dedicated native thread per client,
// one at a time, in the order requests finish. A callback given to
// [Client.Submit] runs there: it must return quickly (hand slow work to a
// goroutine), because the next completion waits for it. A panic in a callback is
// recovered so it never unwinds into C, and reported to [Config.OnCallbackPanic]
// (or logged). A callback must not call runtime.Goexit (so no t.FailNow in tests).
//
// # Errors
//
// Every error the library reports is an [*Error] carrying a [Code] and the
// library's sentence; match it with errors.Is against the sentinel codes
// ([ErrQueueFull], [ErrCircuitOpen], [ErrTimeout], ...). [Client.Do] returns
// ctx.Err() itself when its context ends first.
package rlc

/*
#include <stdlib.h>
#include "rlc.h"
*/
import "C"

// Version returns the version of the linked librlc, such as "0.1.0".
func Version() string {
	return C.GoString(C.rlc_version())
}
