package rlc

// The persistent queue: Config.Journal, Request.Tag, Response.Tag and
// Client.Recover. This file holds an //export'ed trampoline; cgo then allows only
// declarations in its preamble (the C side lives in journal.c).

/*
#include <stdlib.h>
#include "journal.h"
#include "shim.h"
*/
import "C"

import (
	"context"
	"math"
	"runtime/cgo"
	"sync/atomic"
)

// recovery is what the cgo.Handle of one Recover call refers to: one callback for
// every recovered request, and a count of those still to run. The count starts at a
// bias, which Recover takes back less the number queued once the library has told
// it; so it reaches zero exactly when every callback has run.
type recovery struct {
	client  *Client
	fn      func(tag string, r *Response, err error)
	handle  cgo.Handle
	pending atomic.Int64
	done    chan struct{}
}

const recoveryBias = int64(1) << 40

// release counts n callbacks (or the bias) as done; the last frees the handle.
func (rec *recovery) release(n int64) {
	if rec.pending.Add(-n) == 0 {
		rec.handle.Delete()
		close(rec.done)
	}
}

// rlcgoRecovered is called by the C side on the client's completion thread, once
// per recovered request, like rlcgoComplete.
//
//export rlcgoRecovered
func rlcgoRecovered(handle C.uintptr_t, id C.rlc_request_id, result C.enum_rlc_result, resp *C.rlc_response) {
	rec := cgo.Handle(handle).Value().(*recovery)
	tag := responseTag(resp)
	r, err := copyCompletion(result, resp)
	c := rec.client
	C.rlcgo_set_callback_client(C.uint64_t(c.serial))
	defer func() {
		C.rlcgo_set_callback_client(0)
		c.release()
		rec.release(1)
	}()
	c.runCallback(RequestID(id), func(r *Response, err error) { rec.fn(tag, r, err) }, r, err)
}

// Recover queues every request that the journal (Config.Journal) holds from an
// earlier process — one that crashed, or closed with requests unsent — with
// priority 0, oldest first, and waits until each has completed or ctx is done. fn
// runs exactly once per request, on the completion thread, with the request's Tag
// and its outcome, like a Submit callback; a request whose deadline passed while no
// process ran gets ErrTimeout without being sent. It returns how many requests it
// queued, and ctx.Err() if ctx ended first (the rest still complete, and fn still
// runs for them). Only the first call finds anything. ErrInvalidState without a
// journal. Delivery is at least once: a request that was in flight when the earlier
// process died is sent again, with the same Idempotency-Key header.
func (c *Client) Recover(ctx context.Context, fn func(tag string, r *Response, err error)) (int, error) {
	return c.RecoverWithPriority(ctx, 0, fn)
}

// RecoverWithPriority is [Client.Recover] with the priority the recovered requests
// are queued with (higher goes first), so they can go ahead of new work or after it.
func (c *Client) RecoverWithPriority(ctx context.Context, priority int, fn func(tag string, r *Response, err error)) (int, error) {
	if fn == nil {
		return 0, newError(ErrInvalidArgument, "the callback must not be nil")
	}
	if priority < math.MinInt32 || priority > math.MaxInt32 {
		return 0, newError(ErrInvalidArgument, "the priority %d is out of the int32 range", priority)
	}
	if c.inOwnCallback() {
		return 0, newError(ErrInvalidState, "Recover waits for its requests: not inside a callback")
	}
	rec := &recovery{client: c, fn: fn, done: make(chan struct{})}
	rec.pending.Store(recoveryBias)
	rec.handle = cgo.NewHandle(rec)
	var count C.size_t
	err := call(func() error {
		c.mu.RLock()
		defer c.mu.RUnlock()
		if c.ptr == nil {
			return errClosed()
		}
		// Held across the call: a Close meanwhile must wait for these callbacks too.
		c.pending.Add(recoveryBias)
		r := C.rlcgo_recover(c.ptr, C.int32_t(priority), C.uintptr_t(rec.handle), &count)
		c.pending.Add(-(recoveryBias - int64(count)))
		return check(r)
	})
	if err != nil {
		if count == 0 {
			rec.handle.Delete()
			c.maybeDone()
		}
		return 0, err
	}
	rec.release(recoveryBias - int64(count))
	select {
	case <-rec.done:
		return int(count), nil
	case <-ctx.Done():
		return int(count), ctx.Err()
	}
}

// journalSetting gives the library the journal's path, when one is set.
func (cfg *Config) journalSetting(c *C.rlc_config) error {
	if cfg.Journal == "" {
		return nil
	}
	return withCStrings(func(cs []*C.char) C.enum_rlc_result {
		return C.rlc_config_set_journal(c, cs[0])
	}, []string{"Journal"}, cfg.Journal)
}

// tagSetting gives the library the request's tag, when one is set.
func (r *Request) tagSetting(req *C.rlc_request) error {
	if r.Tag == "" {
		return nil
	}
	return withCStrings(func(cs []*C.char) C.enum_rlc_result {
		return C.rlc_request_set_tag(req, cs[0])
	}, []string{"Tag"}, r.Tag)
}

// responseTag reads the tag a completion carries ("" when none).
func responseTag(resp *C.rlc_response) string {
	if resp == nil {
		return ""
	}
	if t := C.rlc_response_tag(resp); t != nil {
		return C.GoString(t)
	}
	return ""
}
