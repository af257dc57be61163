package rlc

/*
#include "rlc.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Code is the library's result code (rlc_result). The non-zero codes are the
// sentinel errors of this package: match them with errors.Is(err, rlc.ErrTimeout),
// or compare an [*Error]'s Code field.
type Code int

// The sentinel errors, one per rlc_result code. The library returns them wrapped in
// an [*Error] that carries its message.
const (
	// ErrInvalidArgument: a bad value (bad URL, CR/LF or NUL in a header, a zero
	// rate, a relative path without a base URL, ...).
	ErrInvalidArgument Code = 1
	// ErrQueueFull: refused at submit because the queue is full; nothing was queued.
	ErrQueueFull Code = 2
	// ErrCircuitOpen: the circuit breaker is open; the request failed fast.
	ErrCircuitOpen Code = 3
	// ErrTimeout: an attempt's timeout or the request's deadline passed.
	ErrTimeout Code = 4
	// ErrConnect: DNS failure, connection refused, or reset before a response.
	ErrConnect Code = 5
	// ErrTLS: the TLS handshake or the certificate check failed.
	ErrTLS Code = 6
	// ErrIO: the connection broke mid-response, or the HTTP was malformed.
	ErrIO Code = 7
	// ErrBodyTooLarge: the response body exceeded the configured cap.
	ErrBodyTooLarge Code = 8
	// ErrCancelled: the request was cancelled with [Client.Cancel].
	ErrCancelled Code = 9
	// ErrShutdown: the client closed before the request could be sent.
	ErrShutdown Code = 10
	// ErrUnknownRequest: [Client.Cancel] of a request that is done or never was.
	ErrUnknownRequest Code = 11
	// ErrInvalidState: not allowed now, e.g. [Client.Do] inside a callback.
	ErrInvalidState Code = 12
	// ErrPanic: a bug in rlc, caught at the C boundary.
	ErrPanic Code = 13
	// ErrRedirect: a redirect was refused (a loop, too many hops, https to http,
	// an unreadable Location). Never retried.
	ErrRedirect Code = 14
	// ErrJournal: the journal (Config.Journal) cannot be used: locked by another
	// live client, corrupt, from a newer rlc, read-only, or not rlc's file; or a
	// journal write failed. The message says which.
	ErrJournal Code = 16
	// ErrGraphQL: a GraphQL query that does not parse, holds several operations and
	// no OperationName, is a subscription, or variables that are not an object.
	ErrGraphQL Code = 18
	// ErrRedis: the shared limit's Redis refused the client at its start (a wrong
	// password, no such database); see [Redis].
	ErrRedis Code = 19
)

const codeOK Code = 0

// The codes are written out for the documentation; this fails to compile when one
// differs from the header's (an index out of range), as stringer's check does.
func _() {
	var x [1]struct{}
	_ = x[codeOK-C.RLC_OK]
	_ = x[ErrInvalidArgument-C.RLC_E_INVALID_ARGUMENT]
	_ = x[ErrQueueFull-C.RLC_E_QUEUE_FULL]
	_ = x[ErrCircuitOpen-C.RLC_E_CIRCUIT_OPEN]
	_ = x[ErrTimeout-C.RLC_E_TIMEOUT]
	_ = x[ErrConnect-C.RLC_E_CONNECT]
	_ = x[ErrTLS-C.RLC_E_TLS]
	_ = x[ErrIO-C.RLC_E_IO]
	_ = x[ErrBodyTooLarge-C.RLC_E_BODY_TOO_LARGE]
	_ = x[ErrCancelled-C.RLC_E_CANCELLED]
	_ = x[ErrShutdown-C.RLC_E_SHUTDOWN]
	_ = x[ErrUnknownRequest-C.RLC_E_UNKNOWN_REQUEST]
	_ = x[ErrInvalidState-C.RLC_E_INVALID_STATE]
	_ = x[ErrPanic-C.RLC_E_PANIC]
	_ = x[ErrRedirect-C.RLC_E_REDIRECT]
	_ = x[ErrJournal-C.RLC_E_JOURNAL]
	_ = x[ErrGraphQL-C.RLC_E_GRAPHQL]
	_ = x[ErrRedis-C.RLC_E_REDIS]
}

// String returns the code's C name, such as "RLC_E_QUEUE_FULL".
func (c Code) String() string {
	// The library names every code it has; for any other number it says UNKNOWN.
	if c >= codeOK {
		if name := C.GoString(C.rlc_result_str(C.uint32_t(c))); name != "RLC_E_UNKNOWN" {
			return name
		}
	}
	return fmt.Sprintf("rlc_result(%d)", int(c))
}

// Error makes a Code an error, so it can be a sentinel for errors.Is.
func (c Code) Error() string {
	return "rlc: " + c.String()
}

// Error is what every failure reported by the library looks like: the code, and
// the library's sentence about it. errors.Is(err, rlc.ErrQueueFull) matches on the
// code. Messages never contain header values.
type Error struct {
	// Code says what kind of failure this is; it is one of the Err* sentinels.
	Code Code
	// Message is the library's human sentence (rlc_last_error for a synchronous
	// call, rlc_response_error_message for a completion).
	Message string
	// Attempts is how many attempts of the request reached the network before it
	// failed (0 for a synchronous refusal, or a request that never left the queue).
	Attempts int
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "rlc: " + e.Code.String()
	}
	return "rlc: " + e.Code.String() + ": " + e.Message
}

// Unwrap returns the sentinel Code, for errors.Is.
func (e *Error) Unwrap() error { return e.Code }

// Is reports whether target is an *Error with the same code (so two *Error values
// match whatever their messages).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// newError makes an *Error from Go-side validation, without calling the library.
func newError(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// lastError reads the calling thread's rlc_last_error. The caller must hold
// runtime.LockOSThread since before the failing call, so the read happens on the
// thread that made it.
func lastError(r C.enum_rlc_result) *Error {
	var buf [256]byte
	n := C.rlc_last_error((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	var msg string
	if int(n) <= len(buf) {
		msg = C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
	} else {
		big := make([]byte, int(n))
		C.rlc_last_error((*C.char)(unsafe.Pointer(&big[0])), C.size_t(len(big)))
		msg = C.GoString((*C.char)(unsafe.Pointer(&big[0])))
	}
	return &Error{Code: Code(r), Message: msg}
}

// check turns the result of a synchronous call into an error, reading the last
// error on failure. Same thread contract as lastError.
func check(r C.enum_rlc_result) error {
	if r == C.RLC_OK {
		return nil
	}
	return lastError(r)
}

// call runs f, which makes one or more synchronous library calls, with the
// goroutine pinned to its OS thread, so a failure's rlc_last_error is read on the
// thread that set it.
func call(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return f()
}
