package rlc

// Events: what a client tells a watcher as it goes (rlc_event in rlc.h), delivered
// to Config.OnEvent and logged to Config.Logger. This file holds an //export'ed
// trampoline; cgo then allows only declarations in its preamble (the C side lives
// in events.c).

/*
#include "events.h"
#include "shim.h"
*/
import "C"

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"math"
	"runtime/cgo"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// EventKind says what an [Event] reports.
type EventKind uint32

const (
	// EventBreaker: the circuit breaker changed state (BreakerFrom, BreakerTo).
	EventBreaker EventKind = 0
	// EventRetry: a failed attempt will be retried: ID, Attempt (the one that
	// failed, 1 for the first), Delay before the next one, and Status (its HTTP
	// status) or Reason (why no response came; 0 when one did).
	EventRetry EventKind = 1
	// EventPause: the server asked the whole client to pause: Delay (after the
	// cap), Status, Header (which header asked) and Capped (the pause was cut to
	// Config.MaxServerPause).
	EventPause EventKind = 2
	// EventDropped: a request was dropped unsent. Reason is ErrQueueFull or
	// ErrCircuitOpen at submit (ID 0: Submit returned that error), ErrCircuitOpen
	// or ErrTimeout (its deadline passed) in the queue (ID set).
	EventDropped EventKind = 3
	// EventLimit: a rate limit changed while the client runs (LimitMax per
	// LimitWindow).
	EventLimit EventKind = 4
	// EventRedis: the shared limit's Redis was lost (Reason ErrRedis: the failure
	// policy applies) or is back (Reason 0, Delay the time without it).
	EventRedis EventKind = 50
)

// The kinds are written out for the documentation; this fails to compile when one
// differs from the header's.
func _() {
	var x [1]struct{}
	_ = x[EventBreaker-C.RLC_EVENT_BREAKER]
	_ = x[EventRetry-C.RLC_EVENT_RETRY]
	_ = x[EventPause-C.RLC_EVENT_PAUSE]
	_ = x[EventDropped-C.RLC_EVENT_DROPPED]
	_ = x[EventLimit-C.RLC_EVENT_LIMIT]
	_ = x[EventRedis-C.RLC_EVENT_REDIS]
}

var eventKindNames = [...]string{"breaker", "retry", "pause", "dropped", "limit"}

// String returns "breaker", "retry", "pause", "dropped", "limit" or "redis".
func (k EventKind) String() string {
	if k == EventRedis {
		return "redis"
	}
	if int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint32(k))
}

// Event is one thing a client did that a watcher may want to see without polling
// [Client.Metrics]. Fields that do not apply to its Kind are zero.
type Event struct {
	Kind EventKind
	// ID is the request concerned (EventRetry, EventDropped in the queue), or 0.
	ID RequestID
	// Attempt is the attempt that failed (EventRetry), 1 for the first.
	Attempt int
	// Delay is the wait before the next attempt (EventRetry) or the pause
	// (EventPause).
	Delay time.Duration
	// Status is the HTTP status of the response (EventRetry, EventPause), 0 when
	// none came.
	Status int
	// Reason is why no response came (EventRetry; 0 when one did) or why the
	// request was dropped (EventDropped).
	Reason Code
	// Header is the header that asked for a pause (EventPause): "Retry-After",
	// "X-RateLimit-Reset", "RateLimit-Reset" or "RateLimit".
	Header string
	// Capped is true when the server asked for a longer pause than
	// Config.MaxServerPause allows and the pause was cut (EventPause).
	Capped bool
	// BreakerFrom and BreakerTo are the states the breaker left and entered
	// (EventBreaker).
	BreakerFrom, BreakerTo BreakerState
	// LimitMax requests are allowed per LimitWindow now (EventLimit).
	LimitMax    int
	LimitWindow time.Duration
}

// LogValue makes an Event log as a group of the attributes of its kind.
func (e Event) LogValue() slog.Value {
	return slog.GroupValue(append([]slog.Attr{slog.String("kind", e.Kind.String())}, e.attrs()...)...)
}

// attrs are the attributes that apply to e's kind.
func (e Event) attrs() []slog.Attr {
	var a []slog.Attr
	if e.ID != 0 {
		a = append(a, slog.Uint64("id", uint64(e.ID)))
	}
	switch e.Kind {
	case EventBreaker:
		a = append(a, slog.String("from", e.BreakerFrom.String()), slog.String("to", e.BreakerTo.String()))
	case EventRetry:
		a = append(a, slog.Int("attempt", e.Attempt), slog.Duration("delay", e.Delay))
		if e.Status != 0 {
			a = append(a, slog.Int("status", e.Status))
		}
		if e.Reason != codeOK {
			a = append(a, slog.String("reason", e.Reason.String()))
		}
	case EventPause:
		a = append(a, slog.Duration("delay", e.Delay), slog.Int("status", e.Status),
			slog.String("header", e.Header), slog.Bool("capped", e.Capped))
	case EventDropped:
		a = append(a, slog.String("reason", e.Reason.String()))
	case EventLimit:
		a = append(a, slog.Int("max", e.LimitMax), slog.Duration("window", e.LimitWindow))
	case EventRedis:
		a = append(a, slog.Bool("connected", e.Reason == codeOK), slog.Duration("down_for", e.Delay))
	}
	return a
}

// logEvent logs e to l: breaker transitions and drops at Warn, the rest at Info.
func logEvent(l *slog.Logger, e Event) {
	level, msg := slog.LevelInfo, ""
	switch e.Kind {
	case EventBreaker:
		level, msg = slog.LevelWarn, "rlc: circuit breaker "+e.BreakerTo.String()
	case EventRetry:
		msg = "rlc: retry scheduled"
	case EventPause:
		msg = "rlc: server asked to pause"
	case EventDropped:
		level, msg = slog.LevelWarn, "rlc: request dropped"
	case EventLimit:
		msg = "rlc: rate limit changed"
	case EventRedis:
		if e.Reason == codeOK {
			msg = "rlc: back on Redis"
		} else {
			level, msg = slog.LevelWarn, "rlc: Redis lost, the failure policy applies"
		}
	default:
		return
	}
	l.LogAttrs(context.Background(), level, msg, e.attrs()...)
}

// millisToDuration converts the library's milliseconds, saturating.
func millisToDuration(ms C.uint64_t) time.Duration {
	if uint64(ms) > uint64(math.MaxInt64/int64(time.Millisecond)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ms) * time.Millisecond
}

// eventFromC copies the borrowed event (already padded to our layout by events.c);
// false for a kind this binding does not know (from a newer library): ignored.
func eventFromC(ev *C.struct_rlc_event) (Event, bool) {
	kind := EventKind(ev.kind)
	if kind > EventLimit && kind != EventRedis {
		return Event{}, false
	}
	return Event{
		Kind:        kind,
		ID:          RequestID(ev.id),
		Attempt:     int(ev.attempt),
		Delay:       millisToDuration(ev.delay_ms),
		Status:      int(ev.status),
		Reason:      Code(ev.reason),
		Header:      C.GoString(ev.header),
		Capped:      bool(ev.capped),
		BreakerFrom: BreakerState(ev.breaker_from),
		BreakerTo:   BreakerState(ev.breaker_to),
		LimitMax:    int(ev.limit_max),
		LimitWindow: millisToDuration(ev.limit_window_ms),
	}, true
}

// eventSink is what a client's event handle refers to. It holds no *Client, so a
// client that became unreachable can still be finalized.
type eventSink struct {
	serial uint64 // the client's, for the C shim's in-callback marker
	fn     func(Event)
	logger *slog.Logger
}

// liveEventHandles counts the event handles not yet deleted (for the tests).
var liveEventHandles atomic.Int64

// attachEvents points ccfg's event callback at a new handle for cfg's OnEvent and
// Logger, and returns it; 0 when neither is set. The caller deletes it with
// deleteEventHandle once the library can no longer call it.
func (cfg *Config) attachEvents(ccfg *C.rlc_config, serial uint64) (cgo.Handle, error) {
	if cfg.OnEvent == nil && cfg.Logger == nil {
		return 0, nil
	}
	h := cgo.NewHandle(&eventSink{serial: serial, fn: cfg.OnEvent, logger: cfg.Logger})
	liveEventHandles.Add(1)
	if err := check(C.rlcgo_set_event_callback(ccfg, C.uintptr_t(h))); err != nil {
		deleteEventHandle(h)
		return 0, err
	}
	return h, nil
}

func deleteEventHandle(h cgo.Handle) {
	if h != 0 {
		h.Delete()
		liveEventHandles.Add(-1)
	}
}

// free frees the library's client, then the event handle: at once when this
// waits for the shutdown. Inside one of c's callbacks the library finishes the
// shutdown (and may still deliver events) after the callback returns, so the
// shutdown is handed to the library's closing thread (rlc_client_free_async),
// which deletes the handle once it is all done; the shutdown then starts a moment
// later than rlc_client_free would start it.
func (c *Client) free(ptr *C.rlc_client) {
	if c.events == 0 {
		C.rlc_client_free(ptr)
		return
	}
	if c.inOwnCallback() {
		if C.rlcgo_free_async(ptr, C.uintptr_t(c.events)) == C.RLC_OK {
			return
		}
		// No thread for the async close: the handle must then outlive the client;
		// it is never deleted (a small leak rather than a use after free).
		C.rlc_client_free(ptr)
		return
	}
	C.rlc_client_free(ptr)
	deleteEventHandle(c.events)
}

//export rlcgoEventsClosed
func rlcgoEventsClosed(handle C.uintptr_t) {
	deleteEventHandle(cgo.Handle(handle))
}

// rlcgoEvent is called by events.c on the client's completion thread, in order
// with the request callbacks. It marks the thread as inside a callback of the
// client (so Close and Do there behave as in a request's callback) and hands the
// event to the logger and OnEvent with panics recovered: nothing may unwind into C.
//
//export rlcgoEvent
func rlcgoEvent(handle C.uintptr_t, ev *C.struct_rlc_event) {
	s := cgo.Handle(handle).Value().(*eventSink)
	e, ok := eventFromC(ev)
	if !ok {
		return
	}
	C.rlcgo_set_callback_client(C.uint64_t(s.serial))
	defer C.rlcgo_set_callback_client(0)
	s.deliver(e)
}

func (s *eventSink) deliver(e Event) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		stack := debug.Stack()
		if s.logger != nil {
			defer func() { _ = recover() }() // the logger itself may be what panicked
			s.logger.LogAttrs(context.Background(), slog.LevelError, "rlc: the event handler panicked (recovered)",
				slog.String("kind", e.Kind.String()), slog.Any("panic", v), slog.String("stack", string(stack)))
			return
		}
		log.Printf("rlc: the event handler panicked on a %s event (recovered): %v\n%s", e.Kind, v, stack)
	}()
	if s.logger != nil {
		logEvent(s.logger, e)
	}
	if s.fn != nil {
		s.fn(e)
	}
}
