package rlc

/*
#include <stdlib.h>
#include "rlc.h"
*/
import "C"

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"
	"unsafe"
)

// Request is one HTTP request. Build it with [NewRequest] or as a literal; the
// client copies everything when the request is submitted, so a Request may be
// reused or changed afterwards.
type Request struct {
	// Method is the HTTP method, such as "GET" or "POST"; "" means GET.
	Method string
	// Path is a path starting with '/', joined to the client's BaseURL, or an
	// absolute http:// or https:// URL.
	Path string
	// Header holds the request's headers; a name with several values sends several
	// header lines.
	Header http.Header
	// Body is sent as is (any bytes); nil or empty sends no body.
	Body []byte
	// Timeout bounds each attempt, overriding the client's Timeout; 0 means the
	// client's.
	Timeout time.Duration
	// Deadline bounds the whole life of the request, from submit over queueing and
	// every retry; past it the request fails with ErrTimeout. 0 means none.
	// (A context deadline given to Do is honoured as well, by cancelling.)
	Deadline time.Duration
	// RetryNonIdempotent allows retries even though the method is not idempotent
	// (e.g. POST). Without it only GET, HEAD, PUT, DELETE, OPTIONS, TRACE and
	// requests with an Idempotency-Key header are retried.
	RetryNonIdempotent bool
	// Cost is how many tokens the request takes from every rate limit of the client
	// (0 means 1): a batch call that the API counts as ten costs 10. A cost above the
	// smallest burst of the client's limits could never go: Submit refuses it with
	// ErrInvalidArgument.
	Cost int
	// MaxRetries, when set, is how many times this request is retried instead of the
	// client's Retry.MaxRetries (0: never). The client's RetryBudget still applies.
	MaxRetries *int
	// Tag is the application's own name for the request (an order number...),
	// kept in the journal with it and handed back by [Client.Recover] in the next
	// process; also in [Response.Tag]. At most 4 KiB.
	Tag string

	// graphql, for a request of Client.GraphQL, is what the library builds it from.
	graphql *graphqlOp

	// json is the value JSONBody gave, encoded at submit; hasJSON tells a nil
	// value (sent as "null") from none.
	json    any
	hasJSON bool
}

// RequestOption changes a request being made by [NewRequest].
type RequestOption func(*Request)

// NewRequest returns a request for method and path (a path starting with '/', or
// an absolute URL) with an empty Header, ready for Header.Set and Body, and
// changed by opts (such as [JSONBody]).
func NewRequest(method, path string, opts ...RequestOption) *Request {
	r := &Request{Method: method, Path: path, Header: make(http.Header)}
	for _, opt := range opts {
		opt(r)
	}
	return r
}

// JSONBody makes v, encoded with encoding/json, the request's body, and sets
// Content-Type: application/json unless the request sets a Content-Type itself:
//
//	req := rlc.NewRequest("POST", "/items", rlc.JSONBody(item))
//
// v is encoded when the request is submitted (a value that encoding/json refuses
// fails the submit with ErrInvalidArgument); a request may not have both a Body
// and a JSON body.
func JSONBody(v any) RequestOption {
	return func(r *Request) {
		r.json = v
		r.hasJSON = true
	}
}

// body is what the request sends: Body, or the JSON encoding of JSONBody's value.
func (r *Request) body() ([]byte, error) {
	if !r.hasJSON {
		return r.Body, nil
	}
	if len(r.Body) > 0 {
		return nil, newError(ErrInvalidArgument, "the request has both a Body and a JSONBody")
	}
	b, err := json.Marshal(r.json)
	if err != nil {
		return nil, &Error{Code: ErrInvalidArgument, Message: "JSONBody: " + err.Error()}
	}
	return b, nil
}

// build makes an rlc_request from r. The caller owns the result (rlc_submit takes
// it) and holds the OS thread locked.
func (r *Request) build() (*C.rlc_request, error) {
	if r.graphql != nil {
		return r.buildGraphQL()
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	cmethod, err := cstring("the method", method)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cmethod))
	cpath, err := cstring("the path", r.Path)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cpath))
	req := C.rlc_request_new(cmethod, cpath)
	if req == nil {
		return nil, lastError(C.RLC_E_INVALID_ARGUMENT)
	}
	if err := r.fill(req); err != nil {
		C.rlc_request_free(req)
		return nil, err
	}
	return req, nil
}

func (r *Request) fill(req *C.rlc_request) error {
	body, err := r.body()
	if err != nil {
		return err
	}
	header := r.Header
	if r.hasJSON && header.Get("Content-Type") == "" {
		header = header.Clone()
		if header == nil {
			header = make(http.Header)
		}
		header.Set("Content-Type", "application/json")
	}
	// Sorted by name, so the wire order (and the first error) is the same each run.
	names := make([]string, 0, len(header))
	for name := range header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, value := range header[name] {
			err := withCStrings(func(cs []*C.char) C.enum_rlc_result {
				return C.rlc_request_set_header(req, cs[0], cs[1])
			}, []string{"a header name", "the value of header " + safeName(name)}, name, value)
			if err != nil {
				return err
			}
		}
	}
	if len(body) > 0 {
		// The library copies the bytes; Go memory holding no Go pointers may be
		// passed for the duration of the call.
		data := (*C.uint8_t)(unsafe.Pointer(&body[0]))
		if err := check(C.rlc_request_set_body(req, data, C.size_t(len(body)))); err != nil {
			return err
		}
	}
	if r.Timeout != 0 {
		if err := nonNegative("Request.Timeout", r.Timeout); err != nil {
			return err
		}
		if err := check(C.rlc_request_set_timeout(req, millis(r.Timeout))); err != nil {
			return err
		}
	}
	if r.Deadline != 0 {
		if err := nonNegative("Request.Deadline", r.Deadline); err != nil {
			return err
		}
		if err := check(C.rlc_request_set_deadline(req, millis(r.Deadline))); err != nil {
			return err
		}
	}
	if r.RetryNonIdempotent {
		if err := check(C.rlc_request_set_retry_non_idempotent(req, true)); err != nil {
			return err
		}
	}
	if err := r.tagSetting(req); err != nil {
		return err
	}
	return r.fillLimits(req)
}
