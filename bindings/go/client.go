package rlc

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"math"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"unsafe"
)

// RequestID identifies an accepted request within its client; never 0.
type RequestID uint64

// Client is a rate-limited HTTP client: a priority queue, a scheduler, a pool of
// worker threads and one completion thread, all inside librlc. Its methods may be
// called from any goroutine, and from inside callbacks (see Close and Do for the
// two that behave differently there).
//
// Close frees it; a finalizer closes a client that became unreachable without
// Close, but only as a backstop: call Close.
type Client struct {
	// mu guards ptr: calls into the library hold it for reading; Close takes it
	// for writing only to swap ptr to nil, never while waiting for callbacks.
	mu  sync.RWMutex
	ptr *C.rlc_client

	serial  uint64 // identifies this client to the C shim's thread-local marker
	onPanic func(RequestID, any, []byte)
	events  cgo.Handle // the OnEvent/Logger sink given to the library, or 0 (events.go)

	pending  atomic.Int64 // accepted requests whose callback has not yet returned
	closing  atomic.Bool  // set once the library has been told to shut down
	done     chan struct{}
	doneOnce sync.Once
}

var nextSerial atomic.Uint64

// NewClient starts a client configured by cfg (zero fields mean the library's
// defaults). Bad values give an *Error with ErrInvalidArgument.
func NewClient(cfg Config) (*Client, error) {
	var ptr *C.rlc_client
	var events cgo.Handle
	serial := nextSerial.Add(1)
	err := call(func() error {
		ccfg, err := cfg.build()
		if err != nil {
			return err
		}
		defer C.rlc_config_free(ccfg)
		if events, err = cfg.attachEvents(ccfg, serial); err != nil {
			return err
		}
		if err := check(C.rlc_client_new(ccfg, &ptr)); err != nil {
			deleteEventHandle(events)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := &Client{
		ptr:     ptr,
		serial:  serial,
		onPanic: cfg.OnCallbackPanic,
		events:  events,
		done:    make(chan struct{}),
	}
	runtime.SetFinalizer(c, func(c *Client) { _ = c.Close() })
	return c, nil
}

func errClosed() error {
	return newError(ErrShutdown, "the client is closed")
}

// Submit queues req with priority (higher goes first: 100 before 1; first come,
// first served among equals) and returns its id. On success fn is called exactly
// once, later, on the client's completion thread, with a *Response for an HTTP
// response of any status, or an *Error (ErrTimeout, ErrConnect, ErrCancelled,
// ErrShutdown, ErrCircuitOpen, ...). On error (ErrQueueFull, ErrCircuitOpen,
// ErrShutdown, ErrInvalidArgument) fn is never called. fn must return quickly and
// must not block on other completions of this client (they wait for it).
func (c *Client) Submit(req *Request, priority int, fn func(*Response, error)) (RequestID, error) {
	if fn == nil {
		return 0, newError(ErrInvalidArgument, "the callback must not be nil")
	}
	return c.submit(req, priority, fn)
}

func (c *Client) submit(req *Request, priority int, fn func(*Response, error)) (RequestID, error) {
	if req == nil {
		return 0, newError(ErrInvalidArgument, "the request must not be nil")
	}
	if priority < math.MinInt32 || priority > math.MaxInt32 {
		return 0, newError(ErrInvalidArgument, "the priority %d is out of the int32 range", priority)
	}
	var id C.rlc_request_id
	err := call(func() error {
		c.mu.RLock()
		defer c.mu.RUnlock()
		if c.ptr == nil {
			return errClosed()
		}
		creq, err := req.build()
		if err != nil {
			return err
		}
		c.pending.Add(1)
		h := cgo.NewHandle(&pending{client: c, fn: fn})
		// rlc_submit takes creq in every case.
		r := C.rlcgo_submit(c.ptr, creq, C.int32_t(priority), C.uintptr_t(h), &id)
		if r != C.RLC_OK {
			// The callback will never be called: the handle is ours to delete.
			h.Delete()
			c.release()
			return lastError(r)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return RequestID(id), nil
}

type outcome struct {
	resp *Response
	err  error
}

// Do submits req with priority and waits for its outcome: a *Response for an HTTP
// response of any status, or an error. It honours ctx: a ctx already done returns
// ctx.Err() without submitting; when ctx ends first (cancel or deadline), Do
// cancels the request in the library and returns ctx.Err() at once, without
// waiting for an attempt in flight to end (its completion comes later and is
// dropped; its handle is still released exactly once, by the callback).
//
// Do inside a callback of the same client returns ErrInvalidState: waiting there
// would deadlock the completion thread. Use Submit there.
func (c *Client) Do(ctx context.Context, req *Request, priority int) (*Response, error) {
	if ctx == nil {
		return nil, newError(ErrInvalidArgument, "the context must not be nil")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.inOwnCallback() {
		return nil, newError(ErrInvalidState, "Do inside a callback of the same client would deadlock; use Submit")
	}
	ch := make(chan outcome, 1)
	id, err := c.submit(req, priority, func(r *Response, err error) { ch <- outcome{r, err} })
	if err != nil {
		return nil, err
	}
	select {
	case o := <-ch:
		return o.resp, o.err
	case <-ctx.Done():
		// The callback still comes exactly once, later, and sends into ch, whose
		// buffer of one means it never blocks the completion thread; nobody reads
		// it. ErrUnknownRequest (it just finished) and ErrShutdown (the client is
		// closing, which completes it anyway) need nothing more.
		_ = c.Cancel(id)
		return nil, ctx.Err()
	}
}

// Cancel cancels request id: a queued request completes at once with
// ErrCancelled; one in flight completes with ErrCancelled when its attempt ends.
// ErrUnknownRequest when the request is done, already cancelled, or never was;
// ErrShutdown after Close.
func (c *Client) Cancel(id RequestID) error {
	return call(func() error {
		c.mu.RLock()
		defer c.mu.RUnlock()
		if c.ptr == nil {
			return errClosed()
		}
		return check(C.rlc_cancel(c.ptr, C.rlc_request_id(id)))
	})
}

// Metrics returns a snapshot of the client's counters, gauges and latencies.
func (c *Client) Metrics() (Metrics, error) {
	var m C.rlc_metrics
	var extra counters
	err := call(func() error {
		c.mu.RLock()
		defer c.mu.RUnlock()
		if c.ptr == nil {
			return errClosed()
		}
		if err := check(C.rlc_client_metrics(c.ptr, &m)); err != nil {
			return err
		}
		return readCounters(c.ptr, &extra)
	})
	if err != nil {
		return Metrics{}, err
	}
	metrics := metricsFromC(&m)
	extra.into(&metrics)
	return metrics, nil
}

// PrometheusMetrics returns the client's metrics in the Prometheus text
// exposition format: names prefixed "rlc_", every sample labelled with
// client=Config.Name, counters ending "_total", latencies as histograms in seconds.
func (c *Client) PrometheusMetrics() (string, error) {
	var text string
	err := call(func() error {
		c.mu.RLock()
		defer c.mu.RUnlock()
		if c.ptr == nil {
			return errClosed()
		}
		size := C.size_t(4096)
		for {
			buf := (*C.char)(C.malloc(size))
			var needed C.size_t
			r := C.rlc_client_metrics_prometheus(c.ptr, buf, size, &needed)
			if r != C.RLC_OK {
				C.free(unsafe.Pointer(buf))
				return lastError(r)
			}
			if needed <= size {
				text = C.GoString(buf)
				C.free(unsafe.Pointer(buf))
				return nil
			}
			C.free(unsafe.Pointer(buf))
			size = needed + 1024 // the text may grow between calls
		}
	})
	return text, err
}

// Close shuts the client down: it stops intake, completes every queued request
// with ErrShutdown, waits for the requests in flight (bounded by their timeouts),
// delivers every remaining callback, and frees the library's client. It then
// returns nil; so does every later call. It is safe to call from several
// goroutines at once: each returns once the shutdown is complete.
//
// Inside a callback of this client, Close does all of that but the waiting (the
// remaining callbacks run after the current one returns), so it cannot deadlock.
// Do not wait inside a callback for a Close running elsewhere: it waits for you.
func (c *Client) Close() error {
	c.mu.Lock()
	ptr := c.ptr
	c.ptr = nil
	c.mu.Unlock()
	if ptr != nil {
		runtime.SetFinalizer(c, nil)
		// No Go caller can reach ptr now; callbacks that call methods of c get
		// ErrShutdown from Go. Inside our own callback the library does not join.
		c.free(ptr)
		c.closing.Store(true)
		c.maybeDone()
	}
	if c.inOwnCallback() {
		return nil
	}
	<-c.done
	return nil
}

// release marks one accepted request's callback as returned.
func (c *Client) release() {
	c.pending.Add(-1)
	c.maybeDone()
}

func (c *Client) maybeDone() {
	if c.closing.Load() && c.pending.Load() == 0 {
		c.doneOnce.Do(func() { close(c.done) })
	}
}

// inOwnCallback reports whether the caller runs inside one of c's callbacks. A
// callback's goroutine is bound to the completion thread for the whole callback,
// and no other goroutine ever runs there, so the thread-local mark is exact.
func (c *Client) inOwnCallback() bool {
	return uint64(C.rlcgo_callback_client()) == c.serial
}
