package rlc

/*
#include "rlc.h"
*/
import "C"

import (
	"time"
	"unsafe"
)

// RetryBudget bounds retries so that a failing API never sees a retry storm: over
// any ten seconds, at most Percent % of the first attempts, plus MinPerSecond per
// second (the library's default is 20 % and 10/s). RetryBudget{} (0 and 0) turns
// retries off. A retry the budget refuses completes the request with its last
// response or error, and counts in Metrics.RetriesRefusedByBudget.
type RetryBudget struct {
	Percent      int
	MinPerSecond int
}

// applyLimits sets the retry budget, the retried statuses and adaptive limiting.
func (cfg *Config) applyLimits(c *C.rlc_config) error {
	if b := cfg.RetryBudget; b != nil {
		percent, err := u32("RetryBudget.Percent", b.Percent)
		if err != nil {
			return err
		}
		floor, err := u32("RetryBudget.MinPerSecond", b.MinPerSecond)
		if err != nil {
			return err
		}
		if err := check(C.rlc_config_set_retry_budget(c, percent, floor)); err != nil {
			return err
		}
	}
	if cfg.RetryOnStatus != nil {
		codes := make([]C.uint16_t, len(cfg.RetryOnStatus))
		for i, code := range cfg.RetryOnStatus {
			if code < 100 || code > 599 {
				return newError(ErrInvalidArgument, "RetryOnStatus holds %d, not an HTTP status (100..599)", code)
			}
			codes[i] = C.uint16_t(code)
		}
		var ptr *C.uint16_t
		if len(codes) > 0 {
			// Go memory holding no Go pointers may be passed for the call; it is copied.
			ptr = (*C.uint16_t)(unsafe.Pointer(&codes[0]))
		}
		if err := check(C.rlc_config_set_retry_on_status(c, ptr, C.size_t(len(codes)))); err != nil {
			return err
		}
	}
	if cfg.Adaptive {
		if err := check(C.rlc_config_set_adaptive(c, true)); err != nil {
			return err
		}
	}
	return nil
}

// fillLimits sets the request's cost and its own retry count.
func (r *Request) fillLimits(req *C.rlc_request) error {
	if r.Cost != 0 {
		cost, err := u32("Request.Cost", r.Cost)
		if err != nil {
			return err
		}
		if err := check(C.rlc_request_set_cost(req, cost)); err != nil {
			return err
		}
	}
	if r.MaxRetries != nil {
		n, err := u32("Request.MaxRetries", *r.MaxRetries)
		if err != nil {
			return err
		}
		if err := check(C.rlc_request_set_max_retries(req, n)); err != nil {
			return err
		}
	}
	return nil
}

// SetRateLimit changes the rate limit of the running client at once: at most max
// requests per window, with a burst of max. The tokens the limit held carry over
// (none is lost or invented), and requests waiting for a token see the new rate at
// once. It adds a limit when the client had none; Config.ExtraRateLimits stay. With
// Config.Adaptive, max becomes the new ceiling. Metrics.RateLimit shows the rate in
// force. ErrInvalidArgument for a max or window that is not positive; ErrShutdown
// after Close. May be called from any goroutine, callbacks included.
func (c *Client) SetRateLimit(max int, window time.Duration) error {
	n, err := u32("the rate limit's max", max)
	if err != nil {
		return err
	}
	if err := nonNegative("the rate limit's window", window); err != nil {
		return err
	}
	return call(func() error {
		c.mu.RLock()
		defer c.mu.RUnlock()
		if c.ptr == nil {
			return errClosed()
		}
		return check(C.rlc_client_set_rate_limit(c.ptr, n, millis(window)))
	})
}
