package rlc

/*
#include <stdlib.h>
#include "rlc.h"
*/
import "C"

import (
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"
	"unsafe"
)

// Config configures a [Client]. The zero value of every field means the library's
// default: no rate limit, 4 workers, a queue of 10,000, 3 retries from 100 ms up to
// 30 s, a breaker after 5 consecutive failures with 30 s recovery, 30 s per attempt,
// a 16 MiB response cap, up to 10 redirects (never https to http), server-requested
// pauses cut to 5 minutes. Durations are passed to the library in whole milliseconds
// (a positive duration below 1 ms counts as 1 ms).
type Config struct {
	// BaseURL is joined to request paths that start with '/': "http://" or
	// "https://", a host, optionally a port and a path prefix.
	BaseURL string
	// RateLimit, when set, allows at most Max requests per Window (a token bucket
	// refilled continuously). Without one, requests are not rate limited.
	RateLimit *RateLimit
	// Redis, when set, shares the rate limits with every client on the same Redis
	// and key, in any process or host (see [Redis]).
	Redis *Redis
	// Burst is the bucket capacity of RateLimit (how many may go at once after an
	// idle spell); 0 means Max. It needs RateLimit.
	Burst int
	// StrictWindow makes RateLimit strict: no sliding window of length Window ever
	// holds more than Max sends (for servers that count a rolling window).
	StrictWindow bool
	// ExtraRateLimits are further limits stacked beside RateLimit (e.g. 1000 per
	// hour beside 10 per second): a request goes only when every limit allows it.
	ExtraRateLimits []StackedRateLimit
	// Retry, when set, replaces the default retry policy.
	Retry *Retry
	// Breaker, when set, replaces the default circuit breaker.
	Breaker *Breaker
	// MaxQueueSize bounds the queue: a submit past it fails with ErrQueueFull.
	MaxQueueSize int
	// Workers is the number of worker threads: the most requests in flight at once.
	Workers int
	// Timeout bounds one attempt, from connect to the last byte of the body.
	Timeout time.Duration
	// DefaultHeaders are sent with every request (a request's own header of the
	// same name wins).
	DefaultHeaders map[string]string
	// MaxResponseBytes caps response bodies; a larger one fails with ErrBodyTooLarge.
	MaxResponseBytes int64
	// UserAgent is sent when a request sets none (default "rlc/<version>").
	UserAgent string
	// Name is the client label of every sample in PrometheusMetrics, so that the
	// metrics of several clients can be told apart (default "default"): 1 to 128
	// bytes without a control character.
	Name string
	// Journal, when set, is the path of an SQLite file that keeps every accepted
	// request until its callback has run (the persistent queue): Submit returns only
	// once the request is on disk, and after a crash the next process's
	// [Client.Recover] finishes what is left. Each journaled request gets an
	// Idempotency-Key header unless it has one. NewClient fails with ErrJournal when
	// the file is locked by another live client, corrupt, from a newer rlc,
	// read-only, or not rlc's (it is never overwritten).
	Journal string
	// CABundleFile is a PEM file whose certificates are trusted instead of the
	// built-in Mozilla roots. TLS is always verified; this changes what against.
	CABundleFile string
	// Redirects, when set, replaces the default redirect policy (up to 10 hops,
	// never from https to http).
	Redirects *Redirects
	// SensitiveHeaders are credentials besides Authorization, Cookie and
	// Proxy-Authorization (which are always dropped): a redirect to another origin
	// drops them, whether a request or DefaultHeaders set them (an X-Api-Key, say).
	SensitiveHeaders []string
	// MaxServerPause is the longest pause a server's Retry-After or rate-limit
	// headers may impose on the client or on a retry; longer ones are cut to it
	// (and counted in Metrics.ServerPausesCapped). 0 means 5 minutes.
	MaxServerPause time.Duration
	// OnCallbackPanic, when set, is called (on the completion thread) with the
	// recovered value and the stack when a callback given to Submit panics. The
	// panic cannot be re-raised: the callback runs on a native thread with no Go
	// caller to unwind to. Without a hook the panic is logged with the log package.
	OnCallbackPanic func(id RequestID, recovered any, stack []byte)
	// OnEvent, when set, is called with every event of the client (breaker
	// transitions, retries scheduled, server-requested pauses, requests dropped
	// unsent, limit changes) on its completion thread, in order with the callbacks:
	// it must return quickly, like a callback. A panic in it is recovered and logged.
	OnEvent func(Event)
	// Logger, when set, logs every event: breaker transitions and dropped requests
	// at Warn, retries, pauses and limit changes at Info, with the event's fields
	// as attributes. It is called before OnEvent, on the same thread.
	Logger *slog.Logger
	// RetryBudget, when set, replaces the default retry budget (20 % of recent
	// first attempts plus 10 per second); see [RetryBudget].
	RetryBudget *RetryBudget
	// RetryOnStatus, when not nil, replaces the retried statuses (429, 502, 503 and
	// 504); an empty, non-nil slice retries no status. Transport errors and
	// timeouts stay retried.
	RetryOnStatus []int
	// Adaptive finds a limit the server does not publish: a throttle (a 429, or a
	// 503 with Retry-After, without quota headers to pace from) cuts the rate limit
	// to three quarters, and every quiet second climbs back toward RateLimit (fast
	// while well below the rate last throttled, slowly near it). RateLimit is the ceiling, so it is required (NewClient fails with
	// ErrInvalidArgument without one). Metrics.RateLimit shows the rate in force.
	Adaptive bool
	// CallbacksOnWorkers runs the callback of a request that a worker finished on
	// that worker's thread, at once, instead of handing it to the client's one
	// completion thread: no hand-off per request, for the highest throughput. Submit
	// callbacks then run concurrently, in no order across workers, and a slow one
	// holds its worker. Requests the client completes itself (cancelled, timed out
	// or refused while queued, shut down) and events still come on the completion
	// thread. Do and Transport are unaffected in what they return.
	CallbacksOnWorkers bool
	// CostLimits are limits counted in points (a GraphQL API's cost budget), taken
	// by Client.GraphQL.
	CostLimits []CostLimit
}

// RateLimit is at most Max requests per Window.
type RateLimit struct {
	Max    int
	Window time.Duration
}

// StackedRateLimit is a further limit: at most Max requests per Window, with a
// bucket capacity of Burst (0 means Max).
type StackedRateLimit struct {
	Max    int
	Window time.Duration
	Burst  int
}

// Retry is the retry policy: up to MaxRetries further attempts (0 disables
// retries) for transport errors, timeouts, 429, 502, 503 and 504 of idempotent
// requests, after min(MaxDelay, BaseDelay * 2^n) with full jitter, or the server's
// longer Retry-After. A zero BaseDelay means 100 ms, a zero MaxDelay 30 s (or
// BaseDelay when that is larger).
type Retry struct {
	MaxRetries int
	BaseDelay  time.Duration
	MaxDelay   time.Duration
}

// Breaker is the circuit breaker: it opens after Threshold consecutive failures
// (transport errors, timeouts, 5xx), fails requests fast with ErrCircuitOpen for
// RecoveryTimeout, then lets one probe through. Threshold 0 disables the breaker;
// a zero RecoveryTimeout means 30 s.
type Breaker struct {
	Threshold       int
	RecoveryTimeout time.Duration
}

// Redirects is how redirects (301, 302, 303, 307, 308 with a Location) are
// followed. Each hop is sent like a request of its own: it takes a token and counts
// in the strict window. A hop to the same origin keeps every header; one to another
// origin drops the credentials (see Config.SensitiveHeaders). 303, and 301/302 after
// a POST, become a GET without a body; 307/308 repeat the method and the body. A
// loop, more than Max hops or an unreadable Location fail with ErrRedirect.
type Redirects struct {
	// Max is the most hops followed; 0 hands every 3xx response to the caller.
	Max int
	// AllowHTTPSToHTTP follows a redirect from https to http (sending the request,
	// and whatever it carries, in clear text); by default it fails with ErrRedirect.
	AllowHTTPSToHTTP bool
}

// millis converts d to whole milliseconds for the library, rounding a positive
// sub-millisecond remainder up so that a small positive duration never becomes 0.
func millis(d time.Duration) C.uint64_t {
	if d <= 0 {
		return 0
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	return C.uint64_t(ms)
}

func u32(name string, v int) (C.uint32_t, error) {
	if v < 0 || uint64(v) > math.MaxUint32 {
		return 0, newError(ErrInvalidArgument, "%s is out of range: %d", name, v)
	}
	return C.uint32_t(v), nil
}

func nonNegative(name string, d time.Duration) error {
	if d < 0 {
		return newError(ErrInvalidArgument, "%s must not be negative: %v", name, d)
	}
	return nil
}

// cstring copies s to C memory; the caller frees it. Strings holding NUL are
// refused: C would silently cut them short.
func cstring(what, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, newError(ErrInvalidArgument, "%s holds a NUL byte", what)
	}
	return C.CString(s), nil
}

// withCStrings copies the strings to C, runs f with them, and frees them.
func withCStrings(f func(cs []*C.char) C.enum_rlc_result, whats []string, ss ...string) error {
	cs := make([]*C.char, 0, len(ss))
	defer func() {
		for _, c := range cs {
			C.free(unsafe.Pointer(c))
		}
	}()
	for i, s := range ss {
		c, err := cstring(whats[i], s)
		if err != nil {
			return err
		}
		cs = append(cs, c)
	}
	return check(f(cs))
}

// build makes an rlc_config from cfg. The caller frees it, and holds the OS
// thread locked (the setters' failures are read from rlc_last_error).
func (cfg *Config) build() (*C.rlc_config, error) {
	c := C.rlc_config_new()
	if c == nil {
		return nil, newError(ErrPanic, "rlc_config_new returned NULL")
	}
	if err := cfg.apply(c); err != nil {
		C.rlc_config_free(c)
		return nil, err
	}
	return c, nil
}

func (cfg *Config) apply(c *C.rlc_config) error {
	if cfg.BaseURL != "" {
		err := withCStrings(func(cs []*C.char) C.enum_rlc_result {
			return C.rlc_config_set_base_url(c, cs[0])
		}, []string{"BaseURL"}, cfg.BaseURL)
		if err != nil {
			return err
		}
	}
	if rl := cfg.RateLimit; rl != nil {
		max, err := u32("RateLimit.Max", rl.Max)
		if err != nil {
			return err
		}
		if err := nonNegative("RateLimit.Window", rl.Window); err != nil {
			return err
		}
		if err := check(C.rlc_config_set_rate_limit(c, max, millis(rl.Window))); err != nil {
			return err
		}
	}
	if cfg.Burst != 0 {
		burst, err := u32("Burst", cfg.Burst)
		if err != nil {
			return err
		}
		if err := check(C.rlc_config_set_burst(c, burst)); err != nil {
			return err
		}
	}
	if cfg.StrictWindow {
		if err := check(C.rlc_config_set_strict_window(c, true)); err != nil {
			return err
		}
	}
	for _, l := range cfg.ExtraRateLimits {
		max, err := u32("ExtraRateLimits.Max", l.Max)
		if err != nil {
			return err
		}
		burst := l.Burst
		if burst == 0 {
			burst = l.Max
		}
		b, err := u32("ExtraRateLimits.Burst", burst)
		if err != nil {
			return err
		}
		if err := nonNegative("ExtraRateLimits.Window", l.Window); err != nil {
			return err
		}
		if err := check(C.rlc_config_add_rate_limit(c, max, millis(l.Window), b)); err != nil {
			return err
		}
	}
	if r := cfg.Retry; r != nil {
		n, err := u32("Retry.MaxRetries", r.MaxRetries)
		if err != nil {
			return err
		}
		if err := nonNegative("Retry.BaseDelay", r.BaseDelay); err != nil {
			return err
		}
		if err := nonNegative("Retry.MaxDelay", r.MaxDelay); err != nil {
			return err
		}
		base, maxDelay := r.BaseDelay, r.MaxDelay
		if base == 0 {
			base = 100 * time.Millisecond
		}
		if maxDelay == 0 {
			maxDelay = 30 * time.Second
			if base > maxDelay {
				maxDelay = base
			}
		}
		if err := check(C.rlc_config_set_retry(c, n, millis(base), millis(maxDelay))); err != nil {
			return err
		}
	}
	if b := cfg.Breaker; b != nil {
		n, err := u32("Breaker.Threshold", b.Threshold)
		if err != nil {
			return err
		}
		if err := nonNegative("Breaker.RecoveryTimeout", b.RecoveryTimeout); err != nil {
			return err
		}
		recovery := b.RecoveryTimeout
		if recovery == 0 {
			recovery = 30 * time.Second
		}
		if err := check(C.rlc_config_set_circuit_breaker(c, n, millis(recovery))); err != nil {
			return err
		}
	}
	if cfg.MaxQueueSize != 0 {
		if cfg.MaxQueueSize < 0 {
			return newError(ErrInvalidArgument, "MaxQueueSize must not be negative: %d", cfg.MaxQueueSize)
		}
		if err := check(C.rlc_config_set_max_queue_size(c, C.size_t(cfg.MaxQueueSize))); err != nil {
			return err
		}
	}
	if cfg.Workers != 0 {
		w, err := u32("Workers", cfg.Workers)
		if err != nil {
			return err
		}
		if err := check(C.rlc_config_set_workers(c, w)); err != nil {
			return err
		}
	}
	if cfg.Timeout != 0 {
		if err := nonNegative("Timeout", cfg.Timeout); err != nil {
			return err
		}
		if err := check(C.rlc_config_set_timeout(c, millis(cfg.Timeout))); err != nil {
			return err
		}
	}
	// Sorted, so that the first bad header reported is the same on every run.
	names := make([]string, 0, len(cfg.DefaultHeaders))
	for name := range cfg.DefaultHeaders {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		err := withCStrings(func(cs []*C.char) C.enum_rlc_result {
			return C.rlc_config_set_default_header(c, cs[0], cs[1])
		}, []string{"a default header name", "the value of default header " + safeName(name)}, name, cfg.DefaultHeaders[name])
		if err != nil {
			return err
		}
	}
	if cfg.MaxResponseBytes != 0 {
		if cfg.MaxResponseBytes < 0 {
			return newError(ErrInvalidArgument, "MaxResponseBytes must not be negative: %d", cfg.MaxResponseBytes)
		}
		if err := check(C.rlc_config_set_max_response_bytes(c, C.uint64_t(cfg.MaxResponseBytes))); err != nil {
			return err
		}
	}
	if cfg.UserAgent != "" {
		err := withCStrings(func(cs []*C.char) C.enum_rlc_result {
			return C.rlc_config_set_user_agent(c, cs[0])
		}, []string{"UserAgent"}, cfg.UserAgent)
		if err != nil {
			return err
		}
	}
	if err := cfg.journalSetting(c); err != nil {
		return err
	}
	if cfg.Name != "" {
		err := withCStrings(func(cs []*C.char) C.enum_rlc_result {
			return C.rlc_config_set_name(c, cs[0])
		}, []string{"Name"}, cfg.Name)
		if err != nil {
			return err
		}
	}
	if cfg.CABundleFile != "" {
		err := withCStrings(func(cs []*C.char) C.enum_rlc_result {
			return C.rlc_config_set_ca_bundle(c, cs[0])
		}, []string{"CABundleFile"}, cfg.CABundleFile)
		if err != nil {
			return err
		}
	}
	return cfg.applyHardening(c)
}

// applyHardening sets the redirect policy, the sensitive headers and the pause cap.
func (cfg *Config) applyHardening(c *C.rlc_config) error {
	if r := cfg.Redirects; r != nil {
		max, err := u32("Redirects.Max", r.Max)
		if err != nil {
			return err
		}
		if err := check(C.rlc_config_set_max_redirects(c, max)); err != nil {
			return err
		}
		if err := check(C.rlc_config_set_redirect_to_http(c, C.bool(r.AllowHTTPSToHTTP))); err != nil {
			return err
		}
	}
	for _, name := range cfg.SensitiveHeaders {
		err := withCStrings(func(cs []*C.char) C.enum_rlc_result {
			return C.rlc_config_add_sensitive_header(c, cs[0])
		}, []string{"a sensitive header name"}, name)
		if err != nil {
			return err
		}
	}
	if cfg.MaxServerPause != 0 {
		if err := nonNegative("MaxServerPause", cfg.MaxServerPause); err != nil {
			return err
		}
		if err := check(C.rlc_config_set_max_server_pause(c, millis(cfg.MaxServerPause))); err != nil {
			return err
		}
	}
	if cfg.CallbacksOnWorkers {
		if err := check(C.rlc_config_set_callbacks_on_workers(c, true)); err != nil {
			return err
		}
	}
	if err := cfg.applyLimits(c); err != nil {
		return err
	}
	if err := cfg.applyGraphQL(c); err != nil {
		return err
	}
	return cfg.applyRedis(c)
}

// safeName quotes a header name for an error message, unless it holds characters
// that have no place in one (then it is left out).
func safeName(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] < 0x21 || name[i] > 0x7e {
			return "(with an invalid name)"
		}
	}
	return "\"" + name + "\""
}
